//! What one balance reading costs (`scripts/bench-balance-sampling`): for
//! each libvirt URI given, `libvirt::stats::sample` (one
//! `virConnectGetAllDomainStats` call with NOWAIT, plus the host's CPU
//! times) 50 times on one connection; prints the guests it read and the
//! median and slowest call. Figures only.

use std::time::Instant;

use server::libvirt::stats;

fn main() {
    let uris: Vec<String> = std::env::args().skip(1).collect();
    if uris.is_empty() {
        eprintln!("usage: stats_cost URI…");
        std::process::exit(2);
    }
    for uri in uris {
        let conn = match virt::connect::Connect::open(Some(&uri)) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{uri}: {e}");
                continue;
            }
        };
        let mut times = Vec::new();
        let mut guests = 0;
        let mut with_cpu = 0;
        for _ in 0..50 {
            let t = Instant::now();
            let s = stats::sample(&conn).expect("a reading");
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            guests = s.guests.len();
            with_cpu = s.guests.iter().filter(|g| g.cpu_time_ns.is_some()).count();
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{uri}: {guests} running guests ({with_cpu} with CPU time): one reading p50 {:.2} ms, max {:.2} ms (50 readings)",
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
}
