//! Numbers as people read them.

/// KiB as a short binary size: `512 MiB`, `1.5 GiB`, `24 GiB`.
pub fn kib(kib: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = kib as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 || value >= 100.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::kib;

    #[test]
    fn sizes_read_like_a_person_writes_them() {
        assert_eq!(kib(512), "512 KiB");
        assert_eq!(kib(524_288), "512 MiB");
        assert_eq!(kib(1_572_864), "1.5 GiB");
        assert_eq!(kib(25_165_824), "24 GiB");
        assert_eq!(kib(0), "0 KiB");
    }
}
