//! What the samples say over time, per host: each running guest's CPU use
//! (cores, from the growth of its CPU time between two samples, smoothed
//! over the hold window) and memory, the host's own CPU busy share, and an
//! hour of points for the charts. Pure: the caller brings the readings and
//! the time.

use std::collections::{HashMap, VecDeque};

use app::api::balance::TrendPoint;

use crate::libvirt::stats::HostStats;

/// The charts cover this long (seconds).
pub const KEPT_SECS: i64 = 3600;

/// A host's load at one sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Unix seconds.
    pub at: i64,
    /// Shares of what the host gives (allocatable CPUs and memory).
    pub cpu: f64,
    pub memory: f64,
}

#[derive(Debug, Default)]
struct HostTrack {
    /// The last reading: when (seconds, monotonic) and each guest's CPU time.
    last_at: Option<f64>,
    cpu_ns: HashMap<String, u64>,
    /// Each running guest's CPU use (cores), smoothed.
    cores: HashMap<String, f64>,
    /// Each running guest's memory (KiB) and resident memory, as last read.
    memory_kib: HashMap<String, u64>,
    rss_kib: HashMap<String, u64>,
    node: Option<(u64, u64)>,
    /// The host's CPU busy share between the last two readings.
    node_busy: Option<f64>,
    /// Readings so far (CPU use needs two).
    readings: u32,
    points: VecDeque<Point>,
}

/// Every host's readings.
#[derive(Debug, Default)]
pub struct Tracker {
    hosts: HashMap<String, HostTrack>,
}

impl Tracker {
    /// Records a reading of `host` taken at `at` (monotonic seconds).
    /// `smoothing` is the weight of the newest rate (1 = no smoothing).
    pub fn record(&mut self, host: &str, at: f64, stats: &HostStats, smoothing: f64) {
        let t = self.hosts.entry(host.to_string()).or_default();
        let elapsed = t.last_at.map(|last| at - last).filter(|e| *e > 0.0);
        let mut cores = HashMap::with_capacity(stats.guests.len());
        let mut cpu_ns = HashMap::with_capacity(stats.guests.len());
        for g in &stats.guests {
            if let Some(now) = g.cpu_time_ns {
                let rate = match (elapsed, t.cpu_ns.get(&g.uuid)) {
                    (Some(e), Some(before)) if now >= *before => {
                        Some((now - before) as f64 / 1e9 / e)
                    }
                    _ => None,
                };
                if let Some(rate) = rate {
                    let smoothed = match t.cores.get(&g.uuid) {
                        Some(old) => old + smoothing.clamp(0.0, 1.0) * (rate - old),
                        None => rate,
                    };
                    cores.insert(g.uuid.clone(), smoothed);
                } else if let Some(old) = t.cores.get(&g.uuid) {
                    cores.insert(g.uuid.clone(), *old);
                }
                cpu_ns.insert(g.uuid.clone(), now);
            }
        }
        t.cores = cores;
        t.cpu_ns = cpu_ns;
        t.memory_kib = stats
            .guests
            .iter()
            .filter_map(|g| Some((g.uuid.clone(), g.memory_kib?)))
            .collect();
        t.rss_kib = stats
            .guests
            .iter()
            .filter_map(|g| Some((g.uuid.clone(), g.rss_kib?)))
            .collect();
        t.node_busy = match (t.node, stats.cpu_busy_idle_ns) {
            (Some((b0, i0)), Some((b1, i1))) if b1 >= b0 && i1 >= i0 && b1 + i1 > b0 + i0 => {
                Some((b1 - b0) as f64 / ((b1 - b0) + (i1 - i0)) as f64)
            }
            _ => None,
        };
        t.node = stats.cpu_busy_idle_ns;
        t.last_at = Some(at);
        t.readings = t.readings.saturating_add(1);
    }

    /// Forgets a host's counters (it reconnected: its guests' CPU times
    /// may have started again), keeping its chart.
    pub fn reset(&mut self, host: &str) {
        if let Some(t) = self.hosts.get_mut(host) {
            let points = std::mem::take(&mut t.points);
            *t = HostTrack {
                points,
                ..Default::default()
            };
        }
    }

    /// Adds a point to the host's chart, dropping what is older than an hour.
    pub fn push_point(&mut self, host: &str, point: Point) {
        let t = self.hosts.entry(host.to_string()).or_default();
        t.points.push_back(point);
        while t
            .points
            .front()
            .is_some_and(|p| p.at < point.at - KEPT_SECS)
        {
            t.points.pop_front();
        }
    }

    /// Readings of `host` so far.
    pub fn readings(&self, host: &str) -> u32 {
        self.hosts.get(host).map_or(0, |t| t.readings)
    }

    /// A guest's CPU use (cores), once two readings have been taken.
    pub fn cores(&self, host: &str, uuid: &str) -> Option<f64> {
        self.hosts.get(host)?.cores.get(uuid).copied()
    }

    pub fn memory_kib(&self, host: &str, uuid: &str) -> Option<u64> {
        self.hosts.get(host)?.memory_kib.get(uuid).copied()
    }

    pub fn rss_kib(&self, host: &str, uuid: &str) -> Option<u64> {
        self.hosts.get(host)?.rss_kib.get(uuid).copied()
    }

    /// The host's own CPU busy share between its last two readings.
    pub fn node_busy(&self, host: &str) -> Option<f64> {
        self.hosts.get(host)?.node_busy
    }

    /// The host's chart: the last hour, one averaged point a minute.
    pub fn trend(&self, host: &str) -> Vec<TrendPoint> {
        let Some(t) = self.hosts.get(host) else {
            return Vec::new();
        };
        let mut out: Vec<(i64, f64, f64, u32)> = Vec::new();
        for p in &t.points {
            let minute = p.at.div_euclid(60) * 60;
            match out.last_mut() {
                Some(last) if last.0 == minute => {
                    last.1 += p.cpu;
                    last.2 += p.memory;
                    last.3 += 1;
                }
                _ => out.push((minute, p.cpu, p.memory, 1)),
            }
        }
        let mut trend: Vec<TrendPoint> = out
            .into_iter()
            .map(|(at, cpu, memory, n)| TrendPoint {
                at,
                cpu: (cpu / n as f64) as f32,
                memory: (memory / n as f64) as f32,
            })
            .collect();
        // The chart ends at the latest reading, not the current minute's average.
        if let (Some(last), Some(p)) = (trend.last_mut(), t.points.back()) {
            last.cpu = p.cpu as f32;
            last.memory = p.memory as f32;
        }
        trend
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::libvirt::stats::GuestStats;

    fn reading(cpu_ns: u64, memory_kib: u64) -> HostStats {
        HostStats {
            guests: vec![GuestStats {
                uuid: "g".into(),
                cpu_time_ns: Some(cpu_ns),
                memory_kib: Some(memory_kib),
                rss_kib: Some(memory_kib / 2),
                vcpus: Some(2),
            }],
            cpu_busy_idle_ns: Some((cpu_ns, 10 * cpu_ns)),
        }
    }

    #[test]
    fn cpu_use_is_the_growth_of_cpu_time_smoothed() {
        let mut t = Tracker::default();
        t.record("a", 0.0, &reading(0, 1024), 0.5);
        assert_eq!(t.cores("a", "g"), None, "one reading says nothing yet");
        // 10 s later, 15 s of CPU: 1.5 cores.
        t.record("a", 10.0, &reading(15_000_000_000, 1024), 0.5);
        assert!((t.cores("a", "g").unwrap() - 1.5).abs() < 1e-9);
        // Then 0.5 cores: smoothed halfway.
        t.record("a", 20.0, &reading(20_000_000_000, 2048), 0.5);
        assert!((t.cores("a", "g").unwrap() - 1.0).abs() < 1e-9);
        assert_eq!(t.memory_kib("a", "g"), Some(2048));
        assert_eq!(t.rss_kib("a", "g"), Some(1024));
        assert!((t.node_busy("a").unwrap() - 1.0 / 11.0).abs() < 1e-9);
        assert_eq!(t.readings("a"), 3);
        // A guest that restarted (its CPU time went back) has no rate until next time.
        t.reset("a");
        assert_eq!(t.cores("a", "g"), None);
    }

    #[test]
    fn the_chart_keeps_an_hour_one_point_a_minute() {
        let mut t = Tracker::default();
        for i in 0..(2 * 360) {
            let at = i * 10;
            t.push_point(
                "a",
                Point {
                    at,
                    cpu: (i % 6) as f64 / 10.0,
                    memory: 0.5,
                },
            );
        }
        let trend = t.trend("a");
        assert_eq!(trend.len(), 61, "an hour and the point at its start");
        assert!(trend.iter().all(|p| (p.memory - 0.5).abs() < 1e-6));
        assert!((trend[5].cpu - 0.25).abs() < 1e-6, "{:?}", trend[5]);
        let (last, newest) = (trend.last().unwrap(), (719 % 6) as f32 / 10.0);
        assert!(
            (last.cpu - newest).abs() < 1e-6,
            "the latest reading: {last:?}"
        );
    }
}
