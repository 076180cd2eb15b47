//! The balance advisor on synthetic fleets (`scripts/bench-balance`):
//! - fleets of 4, 8 and 16 hosts with 10–50 guests each, started with a
//!   combined imbalance of at least 0.4: the imbalance the advisor's moves
//!   reach (goal 0.15 or less) and how many moves it takes; for 4-host
//!   fleets also the fewest moves an exhaustive search finds (up to 3);
//! - 24 simulated hours (a sample every 10 s, a move only after 3 samples
//!   in a row above the threshold) of ±10 % CPU noise around a balanced
//!   fleet: the moves made (goal 0);
//! - the time to plan 1,000 guests on 20 hosts (goal 200 ms or less).
//!
//! Figures only; seeded, so a run is repeatable.

use std::time::Instant;

use rand::{rngs::StdRng, Rng, SeedableRng};
use server::services::balance::advise::{advise, imbalance, GuestLoad, HostLoad, Settings};

const MEMORY_MIB: f64 = 65536.0;
const CPUS: f64 = 32.0;

fn fleet(rng: &mut StdRng, hosts: usize) -> (Vec<HostLoad>, Vec<GuestLoad>) {
    let names: Vec<String> = (0..hosts).map(|i| format!("h{i}")).collect();
    let mut loads: Vec<HostLoad> = names
        .iter()
        .map(|n| HostLoad {
            host: n.clone(),
            cpus: CPUS,
            memory_mib: MEMORY_MIB,
            cpu_used: 0.0,
            memory_committed_mib: 0.0,
        })
        .collect();
    let mut guests = Vec::new();
    for (i, h) in loads.iter_mut().enumerate() {
        // The first quarter of the hosts is crowded, the rest lightly used.
        let crowded = i < hosts.div_ceil(4);
        let n = if crowded {
            rng.gen_range(35..=50)
        } else {
            rng.gen_range(10..=20)
        };
        for j in 0..n {
            let memory = [512.0, 1024.0, 1024.0, 2048.0][rng.gen_range(0..4)];
            let cpu = rng.gen_range(0.05..0.5);
            if h.memory_committed_mib + memory > MEMORY_MIB * 0.98 {
                break;
            }
            h.memory_committed_mib += memory;
            h.cpu_used += cpu;
            guests.push(GuestLoad {
                uuid: format!("{}-{j}", h.host),
                name: format!("{}-g{j}", h.host),
                host: h.host.clone(),
                cpu_used: cpu,
                memory_mib: memory,
                eligible: names.clone(),
                standing: false,
            });
        }
    }
    (loads, guests)
}

fn apply(hosts: &mut [HostLoad], guests: &mut [GuestLoad], uuid: &str, to: &str) {
    let g = guests.iter_mut().find(|g| g.uuid == uuid).unwrap();
    let from = hosts.iter().position(|h| h.host == g.host).unwrap();
    let to_i = hosts.iter().position(|h| h.host == to).unwrap();
    hosts[from].cpu_used -= g.cpu_used;
    hosts[from].memory_committed_mib -= g.memory_mib;
    hosts[to_i].cpu_used += g.cpu_used;
    hosts[to_i].memory_committed_mib += g.memory_mib;
    g.host = to.to_string();
}

/// Whether `depth` moves or fewer can bring the fleet to `goal` (depth-first).
fn reachable(
    hosts: &mut Vec<HostLoad>,
    guests: &mut Vec<GuestLoad>,
    depth: usize,
    goal: f64,
) -> bool {
    if imbalance(hosts).combined <= goal {
        return true;
    }
    if depth == 0 {
        return false;
    }
    let names: Vec<String> = hosts.iter().map(|h| h.host.clone()).collect();
    for gi in 0..guests.len() {
        let (uuid, home) = (guests[gi].uuid.clone(), guests[gi].host.clone());
        for to in names.iter().filter(|n| **n != home) {
            apply(hosts, guests, &uuid, to);
            let ok = reachable(hosts, guests, depth - 1, goal);
            apply(hosts, guests, &uuid, &home);
            if ok {
                return true;
            }
        }
    }
    false
}

fn main() {
    let mut rng = StdRng::seed_from_u64(17);
    let settings = Settings {
        max_moves: 10_000,
        ..Settings::default()
    };
    println!(
        "advisor settings: threshold {}, margin {} of the imbalance, headroom {} CPU / {} memory",
        settings.threshold, settings.margin, settings.cpu_headroom, settings.memory_headroom
    );
    for hosts in [4usize, 8, 16] {
        let mut worst: f64 = 0.0;
        let mut moves_all = Vec::new();
        for _ in 0..5 {
            let (mut loads, mut guests) = loop {
                let (l, g) = fleet(&mut rng, hosts);
                if imbalance(&l).combined >= 0.4 {
                    break (l, g);
                }
            };
            let start = imbalance(&loads).combined;
            let moves = advise(&loads, &guests, &[], &settings);
            for m in &moves {
                apply(&mut loads, &mut guests, &m.uuid, &m.to);
            }
            let end = imbalance(&loads).combined;
            worst = worst.max(end);
            moves_all.push(format!("{start:.2}→{end:.2} in {}", moves.len()));
        }
        println!(
            "{hosts:>2} hosts: {} (worst end {worst:.2}; goal 0.15 or less)",
            moves_all.join(", ")
        );
    }

    // 4-host fleets: greedy moves against the fewest an exhaustive search finds.
    let mut rows = Vec::new();
    for seed in 0..5u64 {
        let mut r = StdRng::seed_from_u64(100 + seed);
        let (loads, guests) = loop {
            let (mut l, mut g) = fleet(&mut r, 4);
            // Small fleets (the search is exhaustive): 12 guests a host at most.
            let keep: Vec<String> = l.iter().map(|h| h.host.clone()).collect();
            for h in &keep {
                let mine: Vec<String> = g
                    .iter()
                    .filter(|x| x.host == *h)
                    .skip(12)
                    .map(|x| x.uuid.clone())
                    .collect();
                for u in mine {
                    let x = g.iter().position(|x| x.uuid == u).unwrap();
                    let x = g.remove(x);
                    let hi = l.iter().position(|hh| hh.host == x.host).unwrap();
                    l[hi].cpu_used -= x.cpu_used;
                    l[hi].memory_committed_mib -= x.memory_mib;
                }
            }
            if imbalance(&l).combined >= 0.4 {
                break (l, g);
            }
        };
        // Small fleets are lightly loaded: the minimum load is not asked for here.
        let small = Settings {
            min_load: 0.0,
            ..settings.clone()
        };
        let moves = advise(&loads, &guests, &[], &small);
        let (mut l, mut g) = (loads.clone(), guests.clone());
        for m in &moves {
            apply(&mut l, &mut g, &m.uuid, &m.to);
        }
        let goal = imbalance(&l).combined.max(0.15);
        let mut fewest = None;
        for depth in 0..=3.min(moves.len()) {
            let (mut l, mut g) = (loads.clone(), guests.clone());
            if reachable(&mut l, &mut g, depth, goal) {
                fewest = Some(depth);
                break;
            }
        }
        rows.push(match fewest {
            Some(f) => format!("{} moves, fewest {f}", moves.len()),
            None => format!("{} moves, fewest > 3", moves.len()),
        });
    }
    println!(" 4 hosts, exhaustive search: {}", rows.join("; "));

    // A balanced fleet under ±10 % CPU noise for 24 hours, 10 s samples.
    let (mut loads, mut guests) = fleet(&mut rng, 8);
    for m in advise(&loads, &guests, &[], &settings) {
        apply(&mut loads, &mut guests, &m.uuid, &m.to);
    }
    let base: Vec<f64> = guests.iter().map(|g| g.cpu_used).collect();
    let (mut above, mut moves) = (0, 0);
    for _ in 0..(24 * 360) {
        for (g, b) in guests.iter_mut().zip(&base) {
            g.cpu_used = b * rng.gen_range(0.9..1.1);
        }
        for h in loads.iter_mut() {
            h.cpu_used = guests
                .iter()
                .filter(|g| g.host == h.host)
                .map(|g| g.cpu_used)
                .sum();
        }
        let proposed = advise(
            &loads,
            &guests,
            &[],
            &Settings {
                max_moves: 1,
                ..settings.clone()
            },
        );
        above = if proposed.is_empty() { 0 } else { above + 1 };
        if above >= 3 {
            moves += 1;
            above = 0;
            let m = &proposed[0];
            apply(&mut loads, &mut guests, &m.uuid, &m.to);
        }
    }
    println!("24 h of ±10 % CPU noise around a balanced 8-host fleet ({} guests): {moves} moves (goal 0)", guests.len());

    // Planning time: 1,000 guests on 20 hosts.
    let mut r = StdRng::seed_from_u64(7);
    let (loads, guests) = loop {
        let (l, g) = fleet(&mut r, 20);
        if g.len() >= 500 {
            break (l, g);
        }
    };
    let mut guests = guests;
    while guests.len() < 1000 {
        let mut g = guests[guests.len() % 500].clone();
        g.uuid = format!("{}-x{}", g.uuid, guests.len());
        guests.push(g);
    }
    guests.truncate(1000);
    let mut loads = loads;
    for h in loads.iter_mut() {
        let mine = guests.iter().filter(|g| g.host == h.host);
        h.cpu_used = mine.clone().map(|g| g.cpu_used).sum();
        h.memory_mib = MEMORY_MIB * 2.0;
        h.memory_committed_mib = mine.map(|g| g.memory_mib).sum();
    }
    let t0 = Instant::now();
    let moves = advise(
        &loads,
        &guests,
        &[],
        &Settings {
            max_moves: 1,
            ..settings.clone()
        },
    );
    let one = t0.elapsed();
    let t0 = Instant::now();
    let all = advise(&loads, &guests, &[], &settings);
    let every = t0.elapsed();
    println!(
        "planning 1,000 guests on 20 hosts: the best move in {:.1} ms ({} found); every move to the end in {:.1} ms ({} moves) (goal 200 ms or less)",
        one.as_secs_f64() * 1000.0,
        moves.len(),
        every.as_secs_f64() * 1000.0,
        all.len()
    );
}
