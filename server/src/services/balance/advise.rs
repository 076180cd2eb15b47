//! The balance advisor's arithmetic (issue 18, first piece): how uneven the
//! fleet is, and the moves that even it out, each with its numbers. No
//! libvirt and no clock here: the caller brings each host's capacity and
//! load, each guest's use and where its pre-flight passes, and the guests
//! that moved lately; `advise` answers the moves, best first.
//!
//! Imbalance is the coefficient of variation (population standard deviation
//! over the mean) of the hosts' load shares, per resource; the combined
//! imbalance is that of each host's larger share (the resource that binds
//! it), so a nearly idle resource's noise does not steer the moves. A move
//! is proposed only if it lowers the combined imbalance by at least
//! `min_gain`, keeps its target under the headroom, and the guest did not
//! move lately; a move that would only mirror the imbalance gains nothing,
//! so it is never proposed (no ping-pong). The moves together must lower the
//! imbalance by at least `margin` of it, or none is proposed: many small
//! moves for a small gain are not worth their cost.

/// A host the advisor may move guests from or to.
#[derive(Debug, Clone, PartialEq)]
pub struct HostLoad {
    pub host: String,
    /// What the host gives to guests: CPUs and memory (MiB).
    pub cpus: f64,
    pub memory_mib: f64,
    /// CPUs the guests use now (cores), memory their running guests commit (MiB).
    pub cpu_used: f64,
    pub memory_committed_mib: f64,
}

impl HostLoad {
    fn cpu_share(&self) -> f64 {
        self.cpu_used / self.cpus.max(f64::MIN_POSITIVE)
    }

    fn memory_share(&self) -> f64 {
        self.memory_committed_mib / self.memory_mib.max(f64::MIN_POSITIVE)
    }
}

/// A running guest the advisor may move.
#[derive(Debug, Clone, PartialEq)]
pub struct GuestLoad {
    pub uuid: String,
    pub name: String,
    pub host: String,
    pub cpu_used: f64,
    pub memory_mib: f64,
    /// The hosts whose pre-flight checks it passes.
    pub eligible: Vec<String>,
    /// Its move is recommended now: it stays the choice unless another move
    /// is better by at least `min_gain`, so the advice does not flip between
    /// near-equal guests with every sample's noise.
    pub standing: bool,
}

/// How the advisor decides.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Moves are proposed only above this combined imbalance.
    pub threshold: f64,
    /// The moves together must lower the combined imbalance by this share of it.
    pub margin: f64,
    /// Each move must lower the combined imbalance by at least this much.
    pub min_gain: f64,
    /// A target may not go above these shares.
    pub cpu_headroom: f64,
    pub memory_headroom: f64,
    /// Nothing is proposed while every host is below this share of both.
    pub min_load: f64,
    /// At most this many moves in one answer.
    pub max_moves: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            threshold: 0.15,
            margin: 0.10,
            min_gain: 0.005,
            cpu_headroom: 0.8,
            memory_headroom: 0.9,
            min_load: 0.5,
            max_moves: 10,
        }
    }
}

/// Why a move is proposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    BalanceCpu,
    BalanceMemory,
    /// Its host is above the headroom.
    EvacuateOverloadedHost,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::BalanceCpu => "balance-cpu",
            Reason::BalanceMemory => "balance-memory",
            Reason::EvacuateOverloadedHost => "evacuate-overloaded-host",
        }
    }
}

/// The imbalance of the fleet, per resource and combined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Imbalance {
    pub cpu: f64,
    pub memory: f64,
    pub combined: f64,
}

/// One proposed move, with its numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct Move {
    pub uuid: String,
    pub name: String,
    pub from: String,
    pub to: String,
    pub reason: Reason,
    /// 1 (most urgent) to 5.
    pub priority: u8,
    pub before: Imbalance,
    pub after: Imbalance,
    /// The target's shares once the guest is there.
    pub target_cpu_after: f64,
    pub target_memory_after: f64,
    pub explanation: String,
}

/// Population coefficient of variation; 0 for an empty or idle fleet.
pub fn variation(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if mean <= f64::EPSILON {
        return 0.0;
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    var.sqrt() / mean
}

pub fn imbalance(hosts: &[HostLoad]) -> Imbalance {
    let cpu: Vec<f64> = hosts.iter().map(HostLoad::cpu_share).collect();
    let memory: Vec<f64> = hosts.iter().map(HostLoad::memory_share).collect();
    imbalance_of(&cpu, &memory)
}

/// The imbalance from each host's CPU and memory shares.
fn imbalance_of(cpu: &[f64], memory: &[f64]) -> Imbalance {
    let binding: Vec<f64> = cpu.iter().zip(memory).map(|(c, m)| c.max(*m)).collect();
    Imbalance {
        cpu: variation(cpu),
        memory: variation(memory),
        combined: variation(&binding),
    }
}

/// Running sums of the hosts' shares (CPU, memory, binding): the imbalance
/// after a trial move in constant time, however many hosts there are.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    n: f64,
    cpu: (f64, f64),
    memory: (f64, f64),
    binding: (f64, f64),
}

impl Sums {
    fn of(cpu: &[f64], memory: &[f64]) -> Sums {
        let mut s = Sums::default();
        for (c, m) in cpu.iter().zip(memory) {
            s.add(*c, *m, 1.0);
        }
        s.n = cpu.len() as f64;
        s
    }

    /// Adds (`sign` 1) or takes away (-1) one host's shares.
    fn add(&mut self, c: f64, m: f64, sign: f64) {
        let b = c.max(m);
        self.cpu.0 += sign * c;
        self.cpu.1 += sign * c * c;
        self.memory.0 += sign * m;
        self.memory.1 += sign * m * m;
        self.binding.0 += sign * b;
        self.binding.1 += sign * b * b;
    }

    fn imbalance(&self) -> Imbalance {
        let cv = |(sum, squares): (f64, f64)| {
            if self.n == 0.0 {
                return 0.0;
            }
            let mean = sum / self.n;
            if mean <= f64::EPSILON {
                return 0.0;
            }
            (squares / self.n - mean * mean).max(0.0).sqrt() / mean
        };
        Imbalance {
            cpu: cv(self.cpu),
            memory: cv(self.memory),
            combined: cv(self.binding),
        }
    }
}

fn percent(share: f64) -> String {
    format!("{:.0} %", share * 100.0)
}

/// The moves that even the fleet out, best first, each applied before the
/// next is chosen. `moved_lately` guests are left where they are.
pub fn advise(
    hosts: &[HostLoad],
    guests: &[GuestLoad],
    moved_lately: &[String],
    s: &Settings,
) -> Vec<Move> {
    let mut hosts = hosts.to_vec();
    let mut guests: Vec<GuestLoad> = guests
        .iter()
        .filter(|g| !moved_lately.contains(&g.uuid))
        .cloned()
        .collect();
    let start = imbalance(&hosts).combined;
    let mut moves: Vec<Move> = Vec::new();
    // Whether to start at all: some host above the minimum load. Once
    // started, the moves go on to the threshold even if every host drops
    // below it on the way (an evened-out fleet is often below it).
    let busy = hosts
        .iter()
        .any(|h| h.cpu_share() > s.min_load || h.memory_share() > s.min_load);
    while moves.len() < s.max_moves {
        let before = imbalance(&hosts);
        let overloaded =
            |h: &HostLoad| h.cpu_share() > s.cpu_headroom || h.memory_share() > s.memory_headroom;
        let any_overloaded = hosts.iter().any(overloaded);
        if !any_overloaded && (!busy || before.combined <= s.threshold) {
            break;
        }
        let positions: std::collections::HashMap<String, usize> = hosts
            .iter()
            .enumerate()
            .map(|(i, h)| (h.host.clone(), i))
            .collect();
        let index = |name: &str| positions.get(name).copied();
        let cpu: Vec<f64> = hosts.iter().map(HostLoad::cpu_share).collect();
        let memory: Vec<f64> = hosts.iter().map(HostLoad::memory_share).collect();
        let base = Sums::of(&cpu, &memory);
        let mut best: Option<(usize, usize, Imbalance)> = None;
        for (gi, g) in guests.iter().enumerate() {
            let Some(from) = index(&g.host) else { continue };
            for to_name in &g.eligible {
                let Some(to) = index(to_name) else { continue };
                if to == from {
                    continue;
                }
                let t = &hosts[to];
                let cpu_after = (t.cpu_used + g.cpu_used) / t.cpus.max(f64::MIN_POSITIVE);
                let mem_after =
                    (t.memory_committed_mib + g.memory_mib) / t.memory_mib.max(f64::MIN_POSITIVE);
                if cpu_after > s.cpu_headroom || mem_after > s.memory_headroom {
                    continue;
                }
                let f = &hosts[from];
                let mut trial = base;
                trial.add(cpu[from], memory[from], -1.0);
                trial.add(cpu[to], memory[to], -1.0);
                trial.add(
                    (f.cpu_used - g.cpu_used) / f.cpus.max(f64::MIN_POSITIVE),
                    (f.memory_committed_mib - g.memory_mib) / f.memory_mib.max(f64::MIN_POSITIVE),
                    1.0,
                );
                trial.add(cpu_after, mem_after, 1.0);
                let after = trial.imbalance();
                // Relieving an overloaded host counts even if the fleet gets no more even.
                let relieves = overloaded(&hosts[from]);
                let gain = before.combined - after.combined;
                if !relieves && gain < s.min_gain {
                    continue;
                }
                let better = match &best {
                    None => true,
                    Some((bg, _, b)) => {
                        let bg_relieves = overloaded(&hosts[index(&guests[*bg].host).unwrap_or(0)]);
                        if relieves != bg_relieves {
                            relieves
                        } else if (after.combined - b.combined).abs() >= s.min_gain {
                            after.combined < b.combined
                        } else {
                            // As good: the standing advice, else the first.
                            g.standing && !guests[*bg].standing
                        }
                    }
                };
                if better {
                    best = Some((gi, to, after));
                }
            }
        }
        let Some((gi, to, after)) = best else { break };
        let g = guests.remove(gi);
        let from = index(&g.host).expect("the guest's host is a host");
        let reason = if overloaded(&hosts[from]) {
            Reason::EvacuateOverloadedHost
        } else if hosts[from].cpu_share() > hosts[from].memory_share() {
            Reason::BalanceCpu
        } else {
            Reason::BalanceMemory
        };
        let priority = match (reason, before.combined) {
            (Reason::EvacuateOverloadedHost, _) => 1,
            (_, c) if c >= 0.6 => 2,
            (_, c) if c >= 0.4 => 3,
            (_, c) if c >= 0.25 => 4,
            _ => 5,
        };
        let (share, what): (fn(&HostLoad) -> f64, &str) = match reason {
            Reason::BalanceCpu => (HostLoad::cpu_share, "uses"),
            _ => (HostLoad::memory_share, "commits"),
        };
        let resource = if reason == Reason::BalanceCpu {
            "CPU"
        } else {
            "memory"
        };
        let (f0, t0) = (share(&hosts[from]), share(&hosts[to]));
        hosts[from].cpu_used -= g.cpu_used;
        hosts[from].memory_committed_mib -= g.memory_mib;
        hosts[to].cpu_used += g.cpu_used;
        hosts[to].memory_committed_mib += g.memory_mib;
        let (f1, t1) = (share(&hosts[from]), share(&hosts[to]));
        let size = if reason == Reason::BalanceCpu {
            format!("{:.1} CPUs", g.cpu_used)
        } else {
            format!("{:.0} MiB", g.memory_mib)
        };
        let explanation = format!(
            "{} {what} {} of its {resource} and {} {}; moving {} ({size}) makes them {} and {}: imbalance {:.2} → {:.2}",
            hosts[from].host,
            percent(f0),
            hosts[to].host,
            percent(t0),
            g.name,
            percent(f1),
            percent(t1),
            before.combined,
            after.combined
        );
        moves.push(Move {
            uuid: g.uuid.clone(),
            name: g.name.clone(),
            from: hosts[from].host.clone(),
            to: hosts[to].host.clone(),
            reason,
            priority,
            before,
            after,
            target_cpu_after: hosts[to].cpu_share(),
            target_memory_after: hosts[to].memory_share(),
            explanation,
        });
    }
    // Worth it only together: the margin, or below the threshold, or a host relieved.
    let end = moves.last().map_or(start, |m| m.after.combined);
    let relieved = moves
        .iter()
        .any(|m| m.reason == Reason::EvacuateOverloadedHost);
    if !relieved && end > s.threshold && start - end < s.margin * start {
        return Vec::new();
    }
    moves
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str, memory_mib: f64, committed: f64) -> HostLoad {
        HostLoad {
            host: name.into(),
            cpus: 4.0,
            memory_mib,
            cpu_used: 0.1,
            memory_committed_mib: committed,
        }
    }

    fn guest(name: &str, host: &str, memory_mib: f64, eligible: &[&str]) -> GuestLoad {
        GuestLoad {
            uuid: format!("{name}-uuid"),
            name: name.into(),
            host: host.into(),
            cpu_used: 0.05,
            memory_mib,
            eligible: eligible.iter().map(|h| h.to_string()).collect(),
            standing: false,
        }
    }

    #[test]
    fn the_issues_example_reads_as_written() {
        // lab-a commits 94 %, lab-b 12 %: moving a 2 GiB guest evens them.
        let hosts = [host("lab-a", 6400.0, 6016.0), host("lab-b", 6400.0, 768.0)];
        let guests = [guest("web3", "lab-a", 2048.0, &["lab-b"])];
        let moves = advise(&hosts, &guests, &[], &Settings::default());
        assert_eq!(moves.len(), 1, "{moves:?}");
        let m = &moves[0];
        assert_eq!(
            (m.from.as_str(), m.to.as_str(), m.reason),
            ("lab-a", "lab-b", Reason::EvacuateOverloadedHost)
        );
        assert_eq!(m.priority, 1);
        assert_eq!(
            m.explanation,
            "lab-a commits 94 % of its memory and lab-b 12 %; moving web3 (2048 MiB) makes them 62 % and 44 %: imbalance 0.77 → 0.17"
        );
    }

    #[test]
    fn one_move_evens_three_guests_and_a_second_would_only_mirror_it() {
        // The lab test's fleet: 1024 MiB each, lab-a runs three 256 MiB guests.
        let hosts = [host("lab-a", 1024.0, 768.0), host("lab-b", 1024.0, 0.0)];
        let guests: Vec<GuestLoad> = ["g1", "g2", "g3"]
            .iter()
            .map(|n| guest(n, "lab-a", 256.0, &["lab-b"]))
            .collect();
        let moves = advise(&hosts, &guests, &[], &Settings::default());
        assert_eq!(moves.len(), 1, "{moves:?}");
        assert_eq!(moves[0].reason, Reason::BalanceMemory);
        assert!((moves[0].before.memory - 1.0).abs() < 1e-9);
        assert!((moves[0].after.memory - 1.0 / 3.0).abs() < 1e-9);
        // After the move: nothing more, even with every guest free to move.
        let hosts = [host("lab-a", 1024.0, 512.0), host("lab-b", 1024.0, 256.0)];
        let guests = [
            guest("g1", "lab-a", 256.0, &["lab-b"]),
            guest("g2", "lab-a", 256.0, &["lab-b"]),
            guest("g3", "lab-b", 256.0, &["lab-a"]),
        ];
        assert_eq!(advise(&hosts, &guests, &[], &Settings::default()), vec![]);
        // Not only because the fleet is below the minimum load: a mirror move gains nothing.
        let eager = Settings {
            min_load: 0.0,
            ..Settings::default()
        };
        assert_eq!(advise(&hosts, &guests, &[], &eager), vec![]);
    }

    /// Three guests alike but for a little CPU noise: the advice names the
    /// one it named before until another is better by the minimum gain.
    #[test]
    fn the_standing_advice_holds_against_noise() {
        let hosts = [host("a", 1024.0, 768.0), host("b", 1024.0, 0.0)];
        let mut guests: Vec<GuestLoad> = ["g1", "g2", "g3"]
            .iter()
            .map(|n| guest(n, "a", 256.0, &["b"]))
            .collect();
        guests[0].cpu_used = 0.050;
        guests[1].cpu_used = 0.052;
        guests[2].cpu_used = 0.048;
        let first = |hosts: &[HostLoad], guests: &[GuestLoad]| {
            advise(hosts, guests, &[], &Settings::default())[0]
                .name
                .clone()
        };
        let fresh = first(&hosts, &guests);
        assert_ne!(fresh, "g2");
        guests.iter_mut().for_each(|g| g.standing = g.name == "g2");
        assert_eq!(
            first(&hosts, &guests),
            "g2",
            "near-equal: the standing advice holds"
        );
        guests.iter_mut().for_each(|g| g.standing = g.name == fresh);
        assert_eq!(first(&hosts, &guests), fresh);
        // A clearly better move replaces it: g3 takes half of a's CPU along.
        let mut busy = hosts.clone();
        busy[0].cpu_used = 2.0;
        guests[2].cpu_used = 1.0;
        guests.iter_mut().for_each(|g| g.standing = g.name == "g2");
        assert_eq!(first(&busy, &guests), "g3");
    }

    #[test]
    fn an_idle_fleet_moved_guests_and_full_targets_are_left_alone() {
        let idle = [host("a", 8192.0, 2048.0), host("b", 8192.0, 0.0)];
        let guests = [guest("g", "a", 1024.0, &["b"])];
        assert_eq!(
            advise(&idle, &guests, &[], &Settings::default()),
            vec![],
            "below the minimum load"
        );
        let busy = [host("a", 8192.0, 6144.0), host("b", 8192.0, 0.0)];
        assert_eq!(
            advise(
                &busy,
                &guests,
                &["g-uuid".to_string()],
                &Settings::default()
            ),
            vec![],
            "moved lately"
        );
        let guests = [guest("g", "a", 1024.0, &[])];
        assert_eq!(
            advise(&busy, &guests, &[], &Settings::default()),
            vec![],
            "no target passes its pre-flight"
        );
        let full = [host("a", 8192.0, 6144.0), host("b", 2048.0, 1000.0)];
        let guests = [guest("g", "a", 1024.0, &["b"])];
        assert_eq!(
            advise(&full, &guests, &[], &Settings::default()),
            vec![],
            "the target would pass 90 %"
        );
    }

    #[test]
    fn variation_is_the_population_coefficient() {
        assert_eq!(variation(&[]), 0.0);
        assert_eq!(variation(&[0.0, 0.0]), 0.0);
        assert!((variation(&[0.94, 0.12]) - 0.7736).abs() < 1e-3);
        assert!((variation(&[0.5, 0.5, 0.5])).abs() < 1e-12);
    }
}
