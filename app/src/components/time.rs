//! Times and durations as people read them, the same on the server and in the
//! browser (no time-zone database: everything is UTC).

/// Milliseconds since the Unix epoch (0 on the server).
pub fn now_ms() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0.0
    }
}

/// Whole seconds as `12 s` or `2 min 05 s`.
pub fn elapsed(ms: f64) -> String {
    let s = (ms.max(0.0) / 1000.0) as u64;
    if s < 60 {
        format!("{s} s")
    } else {
        format!("{} min {:02} s", s / 60, s % 60)
    }
}

/// Days since 1970-01-01 as (year, month, day) (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Seconds since the epoch as `2026-11-27 00:47 UTC`.
pub fn utc(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// An RFC 3339 UTC time as `2026-11-27 00:47:12 UTC`.
pub fn rfc3339(text: &str) -> String {
    let t = text.replacen('T', " ", 1);
    let t = t.split('.').next().unwrap_or(&t).trim_end_matches('Z');
    format!("{t} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_798_332_447), "2026-12-27 00:47 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(rfc3339("2026-11-27T00:47:12.5Z"), "2026-11-27 00:47:12 UTC");
    }

    #[test]
    fn durations_read_in_minutes_and_seconds() {
        assert_eq!(elapsed(65_000.0), "1 min 05 s");
        assert_eq!(elapsed(12_400.0), "12 s");
        assert_eq!(elapsed(-5.0), "0 s");
    }
}
