//! The advisor's status line: where it stands, in a sentence.

use app::api::balance::{BalanceMode, BalanceSettings};

use super::advise::{self, HostLoad};
use super::MIN_GAIN;

/// Where the advisor stands, in a sentence.
pub(super) fn status_of(
    s: &BalanceSettings,
    i: &advise::Imbalance,
    held: u32,
    loads: &[HostLoad],
    ready: bool,
    proposed: usize,
) -> String {
    if s.mode == BalanceMode::Off {
        return "the advisor is off: hosts are sampled for the charts only".into();
    }
    if loads.len() < 2 {
        return "fewer than two hosts can be weighed: nothing to balance".into();
    }
    let busy = loads.iter().any(|h| {
        h.cpu_used / h.cpus > s.min_load || h.memory_committed_mib / h.memory_mib > s.min_load
    });
    if !busy {
        return format!(
            "the fleet is lightly loaded (no host above {:.0} % of its CPU or memory): nothing to do",
            s.min_load * 100.0
        );
    }
    if i.combined <= s.threshold {
        return format!(
            "balanced: the imbalance {:.2} is under the threshold {:.2}",
            i.combined, s.threshold
        );
    }
    if !ready {
        return format!(
            "the imbalance {:.2} is above the threshold {:.2} for {held} of {} samples",
            i.combined, s.threshold, s.hold_samples
        );
    }
    if proposed == 0 {
        return format!(
            "the imbalance {:.2} is above the threshold {:.2}, but no move would lower it enough \
             (each must gain at least {MIN_GAIN}, all together {:.0} % of it, within the targets' headroom)",
            i.combined,
            s.threshold,
            s.margin * 100.0
        );
    }
    format!(
        "the imbalance {:.2} is above the threshold {:.2}: {proposed} move(s) proposed",
        i.combined, s.threshold
    )
}
