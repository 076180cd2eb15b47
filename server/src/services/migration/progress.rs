//! Turns libvirt's job statistics into the progress a person reads: a phase,
//! a percentage that never goes backwards (memory dirtied again makes
//! libvirt's "remaining" grow), speed, dirty rate and time left.

use app::api::migrations::Progress;

use crate::libvirt::migration::Sample;

#[derive(Debug, Default)]
pub struct Tracker {
    best_percent: f64,
}

impl Tracker {
    pub fn update(&mut self, s: &Sample) -> Progress {
        let raw = if s.data_processed + s.data_remaining == 0 {
            0.0
        } else {
            s.data_processed as f64 * 100.0 / (s.data_processed + s.data_remaining) as f64
        };
        // Never backwards, and not 100 before libvirt says it is done.
        self.best_percent = self.best_percent.max(raw).min(99.9);
        let speed = s.mem_bps + s.disk_bps;
        let phase = if s.postcopy_broken {
            app::api::migrations::PHASE_POSTCOPY_BROKEN.to_string()
        } else if !s.active {
            "starting".to_string()
        } else if s.disk_total > 0 && s.disk_remaining > 0 {
            "copying storage".to_string()
        } else if s.postcopy || s.postcopy_requests > 0 {
            "post-copy".to_string()
        } else if s.iteration <= 1 {
            "copying memory".to_string()
        } else {
            format!("re-copying dirty memory (pass {})", s.iteration)
        };
        Progress {
            phase,
            percent: (self.best_percent * 10.0).round() / 10.0,
            data_processed: s.data_processed,
            data_remaining: s.data_remaining,
            data_total: s.data_total,
            dirty_rate: s.dirty_pages_rate.saturating_mul(s.page_size),
            speed,
            iteration: s.iteration,
            expected_downtime_ms: s.downtime_ms,
            elapsed_ms: s.elapsed_ms,
            eta_ms: (speed > 0).then(|| s.data_remaining.saturating_mul(1000) / speed),
            sampled_at: s.read_at.map(|t| {
                time::OffsetDateTime::from(t)
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default()
            }),
        }
    }

    /// The last progress of a migration that ended well.
    pub fn done(&self, last: Option<Progress>, elapsed_ms: u64) -> Progress {
        let mut p = last.unwrap_or_default();
        p.phase = "done".into();
        p.percent = 100.0;
        p.data_processed = p.data_processed.max(p.data_total);
        p.data_remaining = 0;
        p.eta_ms = Some(0);
        p.elapsed_ms = p.elapsed_ms.max(elapsed_ms);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(processed: u64, remaining: u64, iteration: u64) -> Sample {
        Sample {
            active: true,
            data_total: 256 << 20,
            data_processed: processed,
            data_remaining: remaining,
            mem_bps: 10 << 20,
            dirty_pages_rate: 100,
            page_size: 4096,
            iteration,
            ..Default::default()
        }
    }

    #[test]
    fn percent_never_goes_backwards_when_memory_is_dirtied_again() {
        let mut t = Tracker::default();
        let a = t.update(&sample(100 << 20, 100 << 20, 1));
        assert_eq!(a.percent, 50.0);
        assert_eq!(a.phase, "copying memory");
        // The guest dirtied memory: remaining grew.
        let b = t.update(&sample(110 << 20, 200 << 20, 2));
        assert_eq!(b.percent, 50.0, "held, not 35.5");
        assert_eq!(b.phase, "re-copying dirty memory (pass 2)");
        let c = t.update(&sample(300 << 20, 0, 3));
        assert_eq!(c.percent, 99.9, "100 only once libvirt says done");
        assert_eq!(t.done(Some(c), 5000).percent, 100.0);
    }

    #[test]
    fn rates_are_bytes_per_second_and_eta_follows_speed() {
        let mut t = Tracker::default();
        let p = t.update(&sample(0, 100 << 20, 1));
        assert_eq!(p.dirty_rate, 409_600, "pages times page size");
        assert_eq!(p.speed, 10 << 20);
        assert_eq!(p.eta_ms, Some(10_000));
        let idle = t.update(&Sample::default());
        assert_eq!(idle.phase, "starting");
        assert_eq!(idle.eta_ms, None);
    }
}
