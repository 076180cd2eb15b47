//! Where guests go when they leave a host (maintenance) or may move
//! (balance): arithmetic over what each host can give and what the guests
//! take. No libvirt here: the callers bring each host's allocatable and
//! committed memory, and for each guest the hosts its pre-flight passed.
//!
//! Each guest goes to the eligible host that keeps the fleet most even: the
//! lowest share of its allocatable memory committed once the guest is there
//! (then the lowest vCPU share), never above the headroom. The largest guests
//! are placed first, so that small ones fill the gaps they leave.

/// A host that can take guests, as it is before the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    /// What the host gives to guests (`allocatable_memory_mib`).
    pub allocatable_mib: u64,
    /// Memory of the guests running there now.
    pub committed_mib: u64,
    pub cpus: u32,
    pub committed_vcpus: u32,
}

/// A guest to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mover {
    pub uuid: String,
    pub memory_mib: u64,
    pub vcpus: u32,
    /// The hosts whose pre-flight checks this guest passed.
    pub eligible: Vec<String>,
    /// The host the user chose for it.
    pub pin: Option<String>,
}

/// A guest that found no place, and why (with the numbers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unplaced {
    pub uuid: String,
    pub reason: String,
    /// It was refused for want of room (not of a passing pre-flight).
    pub for_room: bool,
}

/// A target before and after the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetAfter {
    pub host: String,
    pub allocatable_mib: u64,
    /// The most the headroom lets be committed.
    pub limit_mib: u64,
    pub committed_before_mib: u64,
    pub committed_after_mib: u64,
}

/// The outcome of `place`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// (guest UUID, host), in the order they were placed.
    pub placed: Vec<(String, String)>,
    pub unplaced: Vec<Unplaced>,
    pub targets: Vec<TargetAfter>,
}

impl Plan {
    /// The memory that found no room (MiB): what the fleet lacks.
    pub fn shortfall_mib(&self, movers: &[Mover]) -> u64 {
        self.unplaced
            .iter()
            .filter(|u| u.for_room)
            .filter_map(|u| movers.iter().find(|m| m.uuid == u.uuid))
            .map(|m| m.memory_mib)
            .sum()
    }

    /// Where the plan sends this guest.
    pub fn destination(&self, uuid: &str) -> Option<&str> {
        self.placed
            .iter()
            .find(|(u, _)| u == uuid)
            .map(|(_, h)| h.as_str())
    }
}

/// A host's allocatable memory when the configuration names none: its
/// memory less a reserve for the host itself of 10 % or 2 GiB, whichever is
/// larger.
pub fn default_allocatable_mib(total_mib: u64) -> u64 {
    total_mib.saturating_sub((total_mib / 10).max(2048))
}

/// Places `movers` on `targets`, committing at most `headroom_percent` of
/// each target's allocatable memory.
pub fn place(targets: &[Target], movers: &[Mover], headroom_percent: u64) -> Plan {
    let mut state: Vec<TargetAfter> = targets
        .iter()
        .map(|t| TargetAfter {
            host: t.host.clone(),
            allocatable_mib: t.allocatable_mib,
            limit_mib: t.allocatable_mib.saturating_mul(headroom_percent) / 100,
            committed_before_mib: t.committed_mib,
            committed_after_mib: t.committed_mib,
        })
        .collect();
    let mut vcpus: Vec<(u32, u32)> = targets
        .iter()
        .map(|t| (t.cpus.max(1), t.committed_vcpus))
        .collect();
    // Pinned guests first (the user decided), then the largest.
    let mut order: Vec<&Mover> = movers.iter().collect();
    order.sort_by(|a, b| {
        b.pin
            .is_some()
            .cmp(&a.pin.is_some())
            .then(b.memory_mib.cmp(&a.memory_mib))
            .then(b.vcpus.cmp(&a.vcpus))
            .then(a.uuid.cmp(&b.uuid))
    });
    let mut plan = Plan::default();
    for m in order {
        let fits = |t: &TargetAfter| t.committed_after_mib + m.memory_mib <= t.limit_mib;
        let allowed = |t: &TargetAfter| {
            m.eligible.contains(&t.host) && m.pin.as_ref().is_none_or(|p| *p == t.host)
        };
        let share = |i: usize| {
            let t = &state[i];
            let memory =
                (t.committed_after_mib + m.memory_mib) as f64 / t.allocatable_mib.max(1) as f64;
            let cpu = (vcpus[i].1 + m.vcpus) as f64 / vcpus[i].0 as f64;
            (memory, cpu)
        };
        let best = (0..state.len())
            .filter(|&i| allowed(&state[i]) && fits(&state[i]))
            .min_by(|&a, &b| {
                share(a)
                    .partial_cmp(&share(b))
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then_with(|| state[a].host.cmp(&state[b].host))
            });
        match best {
            Some(i) => {
                state[i].committed_after_mib += m.memory_mib;
                vcpus[i].1 += m.vcpus;
                plan.placed.push((m.uuid.clone(), state[i].host.clone()));
            }
            None => plan.unplaced.push(why_not(m, &state, headroom_percent)),
        }
    }
    plan.targets = state;
    plan
}

/// Why `m` found no target, in numbers.
fn why_not(m: &Mover, state: &[TargetAfter], headroom_percent: u64) -> Unplaced {
    let unplaced = |reason: String, for_room: bool| Unplaced {
        uuid: m.uuid.clone(),
        reason,
        for_room,
    };
    if let Some(pin) = &m.pin {
        let Some(t) = state.iter().find(|t| t.host == *pin) else {
            return unplaced(
                format!("it is pinned to {pin}, which is not a target"),
                false,
            );
        };
        if !m.eligible.contains(pin) {
            return unplaced(
                format!("it is pinned to {pin}, whose pre-flight checks it does not pass"),
                false,
            );
        }
        return unplaced(
            format!(
                "it is pinned to {pin}, which has {} MiB free under its {headroom_percent} % headroom; it needs {} MiB",
                t.limit_mib.saturating_sub(t.committed_after_mib),
                m.memory_mib
            ),
            true,
        );
    }
    let roomiest = state
        .iter()
        .filter(|t| m.eligible.contains(&t.host))
        .max_by_key(|t| t.limit_mib.saturating_sub(t.committed_after_mib));
    match roomiest {
        None => unplaced("no target passes its pre-flight checks".into(), false),
        Some(t) => unplaced(
            format!(
                "no target has room: it needs {} MiB, and the most any has free under the {headroom_percent} % headroom is {} MiB ({})",
                m.memory_mib,
                t.limit_mib.saturating_sub(t.committed_after_mib),
                t.host
            ),
            true,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(host: &str, allocatable_mib: u64, committed_mib: u64) -> Target {
        Target {
            host: host.into(),
            allocatable_mib,
            committed_mib,
            cpus: 8,
            committed_vcpus: 0,
        }
    }

    fn mover(uuid: &str, memory_mib: u64, eligible: &[&str]) -> Mover {
        Mover {
            uuid: uuid.into(),
            memory_mib,
            vcpus: 1,
            eligible: eligible.iter().map(|h| h.to_string()).collect(),
            pin: None,
        }
    }

    #[test]
    fn guests_spread_to_keep_the_fleet_even() {
        let targets = [target("b", 4096, 0), target("c", 4096, 1024)];
        let movers: Vec<Mover> = ["1", "2", "3", "4"]
            .iter()
            .map(|u| mover(u, 512, &["b", "c"]))
            .collect();
        let plan = place(&targets, &movers, 90);
        assert!(plan.unplaced.is_empty());
        let after: Vec<u64> = plan.targets.iter().map(|t| t.committed_after_mib).collect();
        // b takes three (1536), c one (1536): even.
        assert_eq!(after, [1536, 1536]);
    }

    #[test]
    fn shares_count_not_megabytes_and_cpus_break_ties() {
        // Same memory share after either choice: the host with fewer vCPUs committed wins.
        let mut b = target("b", 2048, 1024);
        b.committed_vcpus = 6;
        let c = target("c", 4096, 2048);
        let plan = place(&[b, c], &[mover("1", 0, &["b", "c"])], 90);
        assert_eq!(plan.destination("1"), Some("c"));
        // A larger host with more in it is still the emptier share.
        let plan = place(
            &[target("small", 2048, 1024), target("big", 8192, 2048)],
            &[mover("1", 256, &["small", "big"])],
            90,
        );
        assert_eq!(plan.destination("1"), Some("big"));
    }

    #[test]
    fn the_largest_go_first_so_everything_fits() {
        // In the given order (small first) the small ones would split the room
        // and the big one would fit nowhere.
        let targets = [target("b", 2000, 0), target("c", 2000, 0)];
        let movers = [
            mover("s1", 600, &["b", "c"]),
            mover("s2", 600, &["b", "c"]),
            mover("big", 1500, &["b", "c"]),
        ];
        let plan = place(&targets, &movers, 100);
        assert!(plan.unplaced.is_empty(), "{plan:?}");
        let big = plan.destination("big").unwrap();
        assert!(plan.placed.iter().filter(|(_, h)| h == big).count() == 1);
    }

    #[test]
    fn the_headroom_is_never_passed_and_the_shortfall_is_told() {
        let targets = [target("b", 1000, 500)];
        let movers = [mover("1", 300, &["b"]), mover("2", 300, &["b"])];
        let plan = place(&targets, &movers, 90);
        // 500 + 300 = 800 <= 900; another 300 would be 1100.
        assert_eq!(plan.placed.len(), 1);
        assert_eq!(plan.targets[0].committed_after_mib, 800);
        assert_eq!(plan.shortfall_mib(&movers), 300);
        assert_eq!(
            plan.unplaced[0].reason,
            "no target has room: it needs 300 MiB, and the most any has free under the 90 % headroom is 100 MiB (b)"
        );
    }

    #[test]
    fn the_pre_flight_and_pins_are_obeyed() {
        let targets = [target("b", 4096, 0), target("c", 4096, 0)];
        let mut pinned = mover("p", 512, &["b", "c"]);
        pinned.pin = Some("c".into());
        let mut badly = mover("x", 512, &["b"]);
        badly.pin = Some("c".into());
        let movers = [
            pinned,
            badly,
            mover("only-b", 512, &["b"]),
            mover("none", 512, &[]),
        ];
        let plan = place(&targets, &movers, 90);
        assert_eq!(plan.destination("p"), Some("c"));
        assert_eq!(plan.destination("only-b"), Some("b"));
        let reasons: Vec<(&str, &str, bool)> = plan
            .unplaced
            .iter()
            .map(|u| (u.uuid.as_str(), u.reason.as_str(), u.for_room))
            .collect();
        assert_eq!(
            reasons,
            [
                (
                    "x",
                    "it is pinned to c, whose pre-flight checks it does not pass",
                    false
                ),
                ("none", "no target passes its pre-flight checks", false),
            ]
        );
        assert_eq!(plan.shortfall_mib(&movers), 0);
    }

    #[test]
    fn the_default_reserve_is_ten_percent_or_2_gib() {
        assert_eq!(default_allocatable_mib(16 * 1024), 14 * 1024);
        assert_eq!(default_allocatable_mib(64 * 1024), 64 * 1024 - 6553);
        assert_eq!(default_allocatable_mib(1024), 0);
    }
}
