//! What a running migration's samples mean over time: the steps worth a line
//! in its timeline (a new phase, a new pass over memory), whether it still
//! gets closer to the end, and what the convergence policy does when it does
//! not (raise the maximum downtime, switch to post-copy) — and, after
//! `stall_timeout` without progress, that it must be aborted.
//!
//! Progress means: the first pass (or the storage copy, or post-copy) moves
//! data, or a pass over memory ends with less left to copy than every pass
//! before it (by 10 %). Within a pass libvirt's "remaining" always falls to
//! near zero, and jumps back at the next pass by what the guest dirtied in
//! the meantime, so the most a pass had left to copy is what is compared.

use std::time::{Duration, Instant};

use app::api::migrations::{Convergence, DOWNTIME_STEPS_MS};

use crate::libvirt::migration::Sample;

/// Timeline lines of passes over memory beyond this are summed up, one in ten.
const PASSES_NOTED: u64 = 30;

/// Something the job does because of a sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Set the migration's maximum downtime (milliseconds).
    SetDowntime(u64),
    /// Switch to post-copy.
    StartPostcopy,
    /// No progress for the stall timeout: abort, the guest stays on the source.
    Abort,
}

/// A line for the timeline: phase and text.
pub type Note = (&'static str, String);

#[derive(Debug)]
pub struct Policy {
    convergence: Option<Convergence>,
    stall_timeout: Duration,
    /// The maximum downtime in force (ms), if virtdeck set one.
    downtime_ms: Option<u64>,
    iteration: u64,
    /// The most the current pass had left to copy.
    pass_max: u64,
    /// The least any finished pass (after the first) had left to copy at its start.
    best_pass: Option<u64>,
    stalled_passes: u32,
    last_processed: u64,
    last_progress: Instant,
    started_copy: bool,
    in_postcopy: bool,
    throttle: u64,
    aborted: bool,
}

impl Policy {
    pub fn new(
        convergence: Option<Convergence>,
        max_downtime_ms: Option<u64>,
        stall_timeout: Duration,
        now: Instant,
    ) -> Policy {
        Policy {
            convergence,
            stall_timeout,
            downtime_ms: max_downtime_ms,
            iteration: 0,
            pass_max: 0,
            best_pass: None,
            stalled_passes: 0,
            last_processed: 0,
            last_progress: now,
            started_copy: false,
            in_postcopy: false,
            throttle: 0,
            aborted: false,
        }
    }

    /// The maximum downtime to set before the migration starts: the first
    /// step of *minimal downtime*, unless the user chose one.
    pub fn initial_downtime(&mut self) -> Option<u64> {
        match (self.convergence, self.downtime_ms) {
            (Some(Convergence::MinimalDowntime), None) => {
                self.downtime_ms = Some(DOWNTIME_STEPS_MS[0]);
                self.downtime_ms
            }
            _ => None,
        }
    }

    /// The user changed the maximum downtime: the policy carries on from there.
    pub fn downtime_set(&mut self, ms: u64) {
        self.downtime_ms = Some(ms);
    }

    /// Reads one sample of a running migration.
    pub fn observe(&mut self, s: &Sample, now: Instant) -> (Vec<Note>, Vec<Action>) {
        let (mut notes, mut actions) = (Vec::new(), Vec::new());
        if !s.active {
            return (notes, actions);
        }
        // The first sample with sizes (libvirt's very first may have none yet).
        if !self.started_copy && (s.data_total > 0 || s.disk_total > 0) {
            self.started_copy = true;
            notes.push(if s.disk_total > 0 && s.disk_remaining > 0 {
                (
                    "copying storage",
                    format!("copying {} of disks", mib(s.disk_total)),
                )
            } else {
                (
                    "copying memory",
                    format!("copying {} of memory", mib(s.data_total)),
                )
            });
        }
        let moved = s.data_processed > self.last_processed;
        self.last_processed = self.last_processed.max(s.data_processed);
        if s.postcopy_requests > 0 && !self.in_postcopy {
            self.in_postcopy = true;
            notes.push((
                "post-copy",
                "the guest runs on the destination; the rest of its memory follows".into(),
            ));
        }
        // The first pass, the storage copy and post-copy progress while data moves.
        if moved && (s.iteration <= 1 || s.disk_remaining > 0 || self.in_postcopy) {
            self.last_progress = now;
        }
        if s.iteration > self.iteration && self.iteration >= 1 {
            // A pass ended: did it leave less to copy than every pass before?
            let ended = self.iteration;
            let left = self.pass_max;
            if ended >= 2 {
                match self.best_pass {
                    Some(best) if left * 10 >= best * 9 => {
                        self.stalled_passes += 1;
                        self.on_stall(s.iteration, &mut notes, &mut actions);
                    }
                    _ => {
                        self.best_pass = Some(left);
                        self.last_progress = now;
                    }
                }
            } else {
                // The first pass ended: what it dirtied is the start of the next.
                self.last_progress = now;
            }
            self.pass_max = 0;
            if s.iteration <= PASSES_NOTED || s.iteration.is_multiple_of(10) {
                notes.push((
                    "iteration",
                    format!(
                        "iteration {}: {} dirtied during the last pass is copied again",
                        s.iteration,
                        mib(s.data_remaining)
                    ),
                ));
            }
        }
        self.iteration = self.iteration.max(s.iteration);
        self.pass_max = self.pass_max.max(s.data_remaining);
        if s.cpu_throttle != self.throttle && s.cpu_throttle > 0 {
            self.throttle = s.cpu_throttle;
            notes.push((
                "tuned",
                format!(
                    "iteration {}: guest CPUs throttled by {} %",
                    s.iteration, s.cpu_throttle
                ),
            ));
        }
        if !self.aborted && now.duration_since(self.last_progress) >= self.stall_timeout {
            self.aborted = true;
            actions.push(Action::Abort);
        }
        (notes, actions)
    }

    fn on_stall(&mut self, iteration: u64, notes: &mut Vec<Note>, actions: &mut Vec<Action>) {
        match self.convergence {
            Some(Convergence::MinimalDowntime) => {
                let current = self.downtime_ms.unwrap_or(0);
                if let Some(next) = DOWNTIME_STEPS_MS.iter().copied().find(|&ms| ms > current) {
                    self.downtime_ms = Some(next);
                    actions.push(Action::SetDowntime(next));
                    notes.push((
                        "tuned",
                        format!("iteration {iteration}: maximum downtime raised to {next} ms"),
                    ));
                }
            }
            Some(Convergence::PostcopyWhenStalled)
                if self.stalled_passes >= 2 && !self.in_postcopy =>
            {
                self.in_postcopy = true;
                actions.push(Action::StartPostcopy);
                notes.push((
                    "post-copy",
                    format!("iteration {iteration}: two passes stalled, switched to post-copy"),
                ));
            }
            _ => {}
        }
    }

    /// Why the migration was aborted, for the job's reason.
    pub fn stall_reason(&self, s: Option<&Sample>) -> String {
        let secs = self.stall_timeout.as_secs();
        match s {
            Some(s) if s.dirty_pages_rate > 0 => format!(
                "no progress for {secs} s: the guest dirties memory ({}/s) about as fast as it is copied ({}/s), so the copy never caught up",
                mib(s.dirty_pages_rate.saturating_mul(s.page_size)),
                mib(s.mem_bps + s.disk_bps)
            ),
            _ => format!("no progress for {secs} s"),
        }
    }
}

/// Bytes as MiB for a sentence.
fn mib(bytes: u64) -> String {
    let m = bytes as f64 / (1u64 << 20) as f64;
    if m >= 10.0 {
        format!("{m:.0} MiB")
    } else {
        format!("{m:.1} MiB")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(iteration: u64, processed: u64, remaining: u64) -> Sample {
        Sample {
            active: true,
            data_total: 256 << 20,
            data_processed: processed << 20,
            data_remaining: remaining << 20,
            mem_bps: 16 << 20,
            dirty_pages_rate: 25_000,
            page_size: 4096,
            iteration,
            ..Default::default()
        }
    }

    /// Feeds passes of `sizes` MiB left at their start, one second apart.
    fn run(policy: &mut Policy, t0: Instant, sizes: &[u64]) -> (Vec<Note>, Vec<Action>) {
        let (mut notes, mut actions) = (Vec::new(), Vec::new());
        let mut processed = 0;
        for (i, size) in sizes.iter().enumerate() {
            let iteration = i as u64 + 1;
            for left in [*size, size / 2, 1] {
                processed += 10;
                let (n, a) = policy.observe(
                    &sample(iteration, processed, left),
                    t0 + Duration::from_secs(iteration * 3 + processed / 100),
                );
                notes.extend(n);
                actions.extend(a);
            }
        }
        (notes, actions)
    }

    #[test]
    fn minimal_downtime_steps_up_as_passes_stall_and_says_so() {
        let t0 = Instant::now();
        let mut p = Policy::new(
            Some(Convergence::MinimalDowntime),
            None,
            Duration::from_secs(600),
            t0,
        );
        assert_eq!(p.initial_downtime(), Some(100));
        // A guest that dirties 100 MiB a pass, for ever.
        let (notes, actions) = run(&mut p, t0, &[256, 100, 100, 100, 100, 100, 100, 100, 100]);
        let raised: Vec<u64> = actions
            .iter()
            .filter_map(|a| match a {
                Action::SetDowntime(ms) => Some(*ms),
                _ => None,
            })
            .collect();
        assert_eq!(
            raised,
            [150, 200, 300, 400, 500],
            "one step per stalled pass, up to 500 ms"
        );
        assert!(
            notes
                .iter()
                .any(|(_, t)| t == "iteration 4: maximum downtime raised to 150 ms"),
            "{notes:?}"
        );
        assert_eq!(notes[0].0, "copying memory");
        assert!(!actions.contains(&Action::Abort));
    }

    #[test]
    fn a_converging_guest_is_left_alone() {
        let t0 = Instant::now();
        let mut p = Policy::new(
            Some(Convergence::MinimalDowntime),
            Some(300),
            Duration::from_secs(600),
            t0,
        );
        assert_eq!(p.initial_downtime(), None, "the user's downtime stands");
        let (_, actions) = run(&mut p, t0, &[256, 100, 60, 30, 10]);
        assert!(actions.is_empty(), "{actions:?}");
    }

    #[test]
    fn postcopy_after_two_stalled_passes_and_never_twice() {
        let t0 = Instant::now();
        let mut p = Policy::new(
            Some(Convergence::PostcopyWhenStalled),
            None,
            Duration::from_secs(600),
            t0,
        );
        let (notes, actions) = run(&mut p, t0, &[256, 100, 100, 100, 100, 100]);
        assert_eq!(actions, [Action::StartPostcopy]);
        assert!(notes.iter().any(|(phase, _)| *phase == "post-copy"));
    }

    #[test]
    fn no_progress_for_the_stall_timeout_aborts_once() {
        let t0 = Instant::now();
        let mut p = Policy::new(None, None, Duration::from_secs(30), t0);
        let first = sample(2, 300, 100);
        p.observe(&sample(1, 100, 150), t0);
        p.observe(&first, t0 + Duration::from_secs(1));
        // The same pass, no byte moved (a silent peer) for 29 s: carry on.
        let (_, a) = p.observe(&first, t0 + Duration::from_secs(29));
        assert!(a.is_empty());
        let (_, a) = p.observe(&first, t0 + Duration::from_secs(31));
        assert_eq!(a, [Action::Abort]);
        let (_, a) = p.observe(&first, t0 + Duration::from_secs(40));
        assert!(a.is_empty(), "aborted once");
        assert!(p
            .stall_reason(Some(&first))
            .starts_with("no progress for 30 s: the guest dirties memory"));
    }

    #[test]
    fn the_first_pass_progresses_while_data_moves() {
        let t0 = Instant::now();
        let mut p = Policy::new(None, None, Duration::from_secs(10), t0);
        for second in 0..60 {
            let (_, a) = p.observe(
                &sample(1, second * 4, 250 - second * 4),
                t0 + Duration::from_secs(second),
            );
            assert!(a.is_empty(), "second {second}");
        }
    }
}
