//! The usage panel: CPU and memory sampled every 2 s while the guest runs,
//! drawn as small line charts.

use std::time::Duration;

use leptos::{prelude::*, task::spawn_local};

use crate::{
    api::{
        guest_detail::{guest_stats, GuestDetail, GuestStats},
        ApiError,
    },
    components::{format, hooks::use_interval, ErrorNotice},
};

/// Usage samples kept for the charts (two minutes at one every 2 s).
const SAMPLES: usize = 61;

/// CPU use in percent of the guest's vCPUs between consecutive samples.
fn cpu_points(samples: &[GuestStats]) -> Vec<f64> {
    samples
        .windows(2)
        .filter_map(|w| {
            let dt = w[1].at_ms.checked_sub(w[0].at_ms).filter(|d| *d > 0)?;
            // The counter starts again when the guest restarts.
            let dc = w[1].cpu_time_ns.checked_sub(w[0].cpu_time_ns)?;
            let vcpus = w[1].vcpus.max(1) as f64;
            Some((dc as f64 / (dt as f64 * 1e6 * vcpus) * 100.0).clamp(0.0, 100.0))
        })
        .collect()
}

/// Memory used, in percent of the balloon, per sample that reports it.
fn memory_points(samples: &[GuestStats]) -> Vec<f64> {
    samples
        .iter()
        .filter_map(|s| {
            let used = s.memory_used_kib.or(s.rss_kib)?;
            (s.memory_kib > 0)
                .then(|| (used as f64 * 100.0 / s.memory_kib as f64).clamp(0.0, 100.0))
        })
        .collect()
}

#[component]
pub(super) fn Usage(
    d: RwSignal<GuestDetail>,
    running: Memo<bool>,
    host: String,
    uuid: String,
) -> impl IntoView {
    let samples = RwSignal::new(Vec::<GuestStats>::new());
    let in_flight = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    use_interval(running.into(), Duration::from_secs(2), move || {
        if in_flight.get_untracked() {
            return;
        }
        in_flight.set(true);
        let (host, uuid) = (host.clone(), uuid.clone());
        spawn_local(async move {
            let result = guest_stats(host, uuid).await;
            in_flight.try_set(false);
            match result {
                Ok(s) => {
                    error.try_set(None);
                    samples.try_update(|list| {
                        list.push(s);
                        if list.len() > SAMPLES {
                            list.remove(0);
                        }
                    });
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
        });
    });
    let cpu = Memo::new(move |_| samples.with(|s| cpu_points(s)));
    let memory = Memo::new(move |_| samples.with(|s| memory_points(s)));
    let memory_text = move || {
        samples
            .with(|s| {
                s.last().map(|s| match s.memory_used_kib.or(s.rss_kib) {
                    Some(used) => format!(
                        "{} of {}{}",
                        format::kib(used),
                        format::kib(s.memory_kib),
                        if s.memory_used_kib.is_none() {
                            " (host RSS)"
                        } else {
                            ""
                        }
                    ),
                    None => format!("{} balloon · use not reported", format::kib(s.memory_kib)),
                })
            })
            .unwrap_or_else(|| format::kib(d.with(|x| x.memory_kib)))
    };
    view! {
        <section class="panel usage-panel" aria-labelledby="usage-title">
            <h2 id="usage-title">"Usage"</h2>
            {move || (!running.get()).then(|| view! {
                <p class="muted">"The guest is not running: usage is sampled every 2 s while it runs."</p>
            })}
            {move || error.get().map(|error| view! { <ErrorNotice error /> })}
            <div class="sparks">
                <div class="spark cpu" data-metric="cpu">
                    <span class="spark-label">"CPU"</span>
                    {move || {
                        let points = cpu.get();
                        (points.len() >= 2).then(|| view! { <Sparkline values=points label="CPU use over time".to_string() /> })
                    }}
                    <span class="spark-value">
                        {move || cpu.with(|p| p.last().map(|v| format!("{v:.0} %")).unwrap_or_else(|| "—".into()))}
                    </span>
                </div>
                <div class="spark mem" data-metric="memory">
                    <span class="spark-label">"Memory"</span>
                    {move || {
                        let points = memory.get();
                        (points.len() >= 2).then(|| view! { <Sparkline values=points label="Memory use over time".to_string() /> })
                    }}
                    <span class="spark-value">{memory_text}</span>
                </div>
            </div>
            <p class="help">"CPU: share of the guest's vCPUs used between two samples. Memory: what the guest uses (its balloon driver reports it), else the host process's resident memory."</p>
        </section>
    }
}

/// Percentages (0–100) as a small line chart.
#[component]
pub(super) fn Sparkline(values: Vec<f64>, label: String) -> impl IntoView {
    const W: f64 = 120.0;
    const H: f64 = 32.0;
    let step = W / (SAMPLES - 2) as f64;
    let x0 = W - step * (values.len() - 1) as f64;
    let points = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "{:.1},{:.1}",
                x0 + i as f64 * step,
                H - 1.0 - v / 100.0 * (H - 2.0)
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    view! {
        <figure class="sparkline">
            <svg viewBox=format!("0 0 {W} {H}") preserveAspectRatio="none" role="img" aria-label=label>
                <polyline points=points fill="none" />
            </svg>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_ms: u64, cpu_time_ns: u64) -> GuestStats {
        GuestStats {
            at_ms,
            cpu_time_ns,
            vcpus: 2,
            memory_kib: 1000,
            memory_used_kib: Some(250),
            rss_kib: None,
        }
    }

    #[test]
    fn cpu_is_the_share_of_the_vcpus_used() {
        // One of two vCPUs busy for 2 s; then the guest restarted (counter reset).
        let s = [
            sample(0, 0),
            sample(2000, 2_000_000_000),
            sample(4000, 5),
            sample(4000, 10),
        ];
        assert_eq!(cpu_points(&s), vec![50.0]);
        assert_eq!(memory_points(&s[..1]), vec![25.0]);
    }
}
