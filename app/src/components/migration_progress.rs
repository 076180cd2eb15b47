//! A running (or finished) migration as a person follows it: a bar, the
//! figures, a small chart of remaining data and dirty rate over time, and the
//! controls (cancel, bandwidth, downtime, post-copy, finish now). Fed by the
//! page's `/ws` snapshots; each one is complete, so a missed one is harmless.

use crate::api::events::kinds;
use leptos::{either::Either, prelude::*};

use crate::{
    api::{
        events::ServerEvent,
        migrations::{
            CancelMigration, JobStatus, MigrationJob, Progress, TuneMigration, Tuning,
            PHASE_POSTCOPY_BROKEN,
        },
        size::human_bytes,
        ApiError,
    },
    components::{confirm::Confirm, live::use_server_events, ErrorNotice},
};

/// Milliseconds as `1 min 05 s`, `12.3 s`, `450 ms`.
pub fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{} min {:02} s", ms / 60_000, (ms / 1000) % 60)
    }
}

/// One point of the chart.
#[derive(Clone, Copy, PartialEq)]
struct Point {
    elapsed_ms: u64,
    remaining: u64,
    dirty_rate: u64,
}

/// The badge of a job's status.
#[component]
pub fn JobStatusBadge(status: JobStatus) -> impl IntoView {
    let class = match status {
        JobStatus::Running => "state-paused",
        JobStatus::Completed => "state-running",
        JobStatus::Cancelled => "state-shutoff",
        JobStatus::Failed | JobStatus::Unknown => "state-crashed",
    };
    view! { <span class=format!("badge {class}")>{status.to_string()}</span> }
}

#[component]
pub fn MigrationProgressView(job: MigrationJob) -> impl IntoView {
    let id = job.id.clone();
    let points = RwSignal::new(Vec::<Point>::new());
    let job = RwSignal::new(job);
    {
        let id = id.clone();
        use_server_events(&[kinds::MIGRATION_PROGRESS], move |event| {
            if let ServerEvent::MigrationProgress(m) = event {
                if m.id != id {
                    return;
                }
                let p = m.progress.clone();
                if m.status == JobStatus::Running && p.data_total > 0 {
                    points.update(|pts| {
                        pts.push(Point {
                            elapsed_ms: p.elapsed_ms,
                            remaining: p.data_remaining,
                            dirty_rate: p.dirty_rate,
                        });
                        if pts.len() > 600 {
                            pts.remove(0);
                        }
                    });
                }
                job.update(|j| {
                    j.status = m.status;
                    j.progress = Some(m.progress);
                    j.error = m.error;
                    j.downtime_ms = m.downtime_ms;
                    if let Some(step) = m.step {
                        if j.timeline.last() != Some(&step) {
                            j.timeline.push(step);
                        }
                    }
                });
            }
        });
    }
    let progress = move || job.with(|j| j.progress.clone().unwrap_or_default());
    // A memo: the controls are made again only when the job ends, not at
    // every sample (which would wipe what the user is typing).
    let running = Memo::new(move |_| job.with(|j| j.status == JobStatus::Running));
    let title = job.with_untracked(|j| format!("{}: {} → {}", j.guest, j.host, j.destination));
    let summary =
        job.with_untracked(|j| format!("{} · {} · {} storage", j.mode, j.persistence, j.storage));

    let label = format!("Migration of {title}");
    view! {
        <section class="panel migration" data-job=id.clone() aria-label=label>
            <header class="migration-head">
                <h3>{title}</h3>
                {move || view! { <JobStatusBadge status=job.with(|j| j.status) /> }}
            </header>
            <p class="muted">{summary}</p>
            <div class="progress">
                <progress
                    max="100"
                    value=move || progress().percent
                    aria-label="Migration progress"
                ></progress>
                <span class="percent">{move || format!("{:.0} %", progress().percent)}</span>
                <span class="phase">{move || progress().phase}</span>
            </div>
            <Figures progress=Signal::derive(progress) />
            <Steps job />
            {move || (points.with(|p| p.len() > 1)).then(|| view! { <Chart points=points.get() /> })}
            {move || outcome(&job.get())}
            {move || running.get().then(|| view! { <Controls job /> })}
        </section>
    }
}

/// The job's latest steps (phases, policy steps, faults), newest last.
#[component]
fn Steps(job: RwSignal<MigrationJob>) -> impl IntoView {
    const SHOWN: usize = 5;
    move || {
        job.with(|j| {
            let from = j.timeline.len().saturating_sub(SHOWN);
            let items = j.timeline[from..]
                .iter()
                .map(|step| {
                    let at = step.at.get(11..19).unwrap_or(&step.at).to_string();
                    view! {
                        <li data-phase=step.phase.clone()>
                            <time datetime=step.at.clone()>{at}</time>" "{step.text.clone()}
                        </li>
                    }
                })
                .collect_view();
            view! { <ol class="steps" aria-label="Latest steps">{items}</ol> }
        })
    }
}

/// The end of a job in words.
fn outcome(job: &MigrationJob) -> Option<impl IntoView> {
    match job.status {
        JobStatus::Running => None,
        JobStatus::Completed => Some(Either::Left(view! {
            <p class="notice ok" role="status">
                {format!(
                    "Done: {} now runs on {}{}.",
                    job.guest,
                    job.destination,
                    job.downtime_ms.map(|d| format!(" (paused for {})", duration(d))).unwrap_or_default(),
                )}
            </p>
        })),
        _ => Some(Either::Right(view! {
            <p class=if job.status == JobStatus::Cancelled { "notice warn" } else { "notice error" } role="alert">
                {job.error.clone().unwrap_or_else(|| job.status.to_string())}
            </p>
        })),
    }
}

#[component]
fn Figures(progress: Signal<Progress>) -> impl IntoView {
    let row = move |label: &'static str, value: Box<dyn Fn(&Progress) -> String + Send + Sync>| {
        view! {
            <dt>{label}</dt>
            <dd>{move || value(&progress.get())}</dd>
        }
    };
    view! {
        <dl class="facts figures">
            {row("Transferred", Box::new(|p| format!("{} of {}", human_bytes(p.data_processed), human_bytes(p.data_total))))}
            {row("Remaining", Box::new(|p| human_bytes(p.data_remaining)))}
            {row("Speed", Box::new(|p| format!("{}/s", human_bytes(p.speed))))}
            {row("Dirty rate", Box::new(|p| format!("{}/s", human_bytes(p.dirty_rate))))}
            {row("Pass", Box::new(|p| p.iteration.to_string()))}
            {row("Expected pause", Box::new(|p| duration(p.expected_downtime_ms)))}
            {row("Elapsed", Box::new(|p| duration(p.elapsed_ms)))}
            {row("Time left", Box::new(|p| p.eta_ms.map(duration).unwrap_or_else(|| "—".into())))}
        </dl>
    }
}

/// Remaining data and dirty rate over time, two lines in a small SVG.
#[component]
fn Chart(points: Vec<Point>) -> impl IntoView {
    const W: f64 = 300.0;
    const H: f64 = 70.0;
    let t0 = points.first().map(|p| p.elapsed_ms).unwrap_or(0) as f64;
    let t1 = (points.last().map(|p| p.elapsed_ms).unwrap_or(0) as f64).max(t0 + 1.0);
    let line = |value: fn(&Point) -> u64| {
        let max = points.iter().map(value).max().unwrap_or(0).max(1) as f64;
        points
            .iter()
            .map(|p| {
                let x = (p.elapsed_ms as f64 - t0) / (t1 - t0) * W;
                let y = H - value(p) as f64 / max * (H - 4.0) - 2.0;
                format!("{x:.1},{y:.1}")
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let remaining = line(|p| p.remaining);
    let dirty = line(|p| p.dirty_rate);
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {W} {H}") preserveAspectRatio="none" role="img" aria-label="Remaining data and dirty rate over time">
                <polyline class="remaining" points=remaining fill="none" />
                <polyline class="dirty" points=dirty fill="none" />
            </svg>
            <figcaption>
                <span class="key remaining">"remaining data"</span>
                <span class="key dirty">"dirty rate"</span>
            </figcaption>
        </figure>
    }
}

#[component]
fn Controls(job: RwSignal<MigrationJob>) -> impl IntoView {
    let id = job.with_untracked(|j| j.id.clone());
    let postcopy_allowed = job.with_untracked(|j| j.options.allow_postcopy == Some(true));
    let cancel = ServerAction::<CancelMigration>::new();
    let tune = ServerAction::<TuneMigration>::new();
    let bandwidth = RwSignal::new(job.with_untracked(|j| {
        j.options
            .bandwidth_mib_s
            .map(|b| b.to_string())
            .unwrap_or_default()
    }));
    let downtime = RwSignal::new(job.with_untracked(|j| {
        j.options
            .max_downtime_ms
            .map(|d| d.to_string())
            .unwrap_or_default()
    }));
    let confirming = RwSignal::new(None::<&'static str>);
    let error = RwSignal::new(None::<ApiError>);
    // Post-copy broke: only a resume helps (a memo: changes with the phase only).
    let broken = Memo::new(move |_| {
        job.with(|j| {
            j.progress
                .as_ref()
                .is_some_and(|p| p.phase == PHASE_POSTCOPY_BROKEN)
        })
    });
    let (source, destination) = job.with_untracked(|j| (j.host.clone(), j.destination.clone()));
    Effect::new(move |_| {
        for r in [cancel.value().get(), tune.value().get()]
            .into_iter()
            .flatten()
        {
            if let Err(e) = r {
                error.set(Some(e));
            }
        }
    });
    let send = {
        let id = id.clone();
        move |tuning: Tuning| {
            error.set(None);
            tune.dispatch(TuneMigration {
                id: id.clone(),
                tuning,
            });
        }
    };
    let number = |text: String, what: &str| -> Result<u64, ApiError> {
        text.trim()
            .parse::<u64>()
            .map_err(|_| ApiError::BadRequest(format!("{what}: give a whole number")))
    };
    let apply_bandwidth = {
        let send = send.clone();
        move |_| match number(bandwidth.get_untracked(), "bandwidth") {
            Ok(b) => send(Tuning {
                bandwidth_mib_s: Some(b),
                ..Default::default()
            }),
            Err(e) => error.set(Some(e)),
        }
    };
    let apply_downtime = {
        let send = send.clone();
        move |_| match number(downtime.get_untracked(), "maximum pause") {
            Ok(ms) => send(Tuning {
                max_downtime_ms: Some(ms),
                ..Default::default()
            }),
            Err(e) => error.set(Some(e)),
        }
    };
    let resume = {
        let send = send.clone();
        move |_| {
            send(Tuning {
                resume: Some(true),
                ..Default::default()
            })
        }
    };
    let cancel_id = id.clone();
    let confirm = move |what: &'static str| {
        let (cancel_id, send) = (cancel_id.clone(), send.clone());
        Callback::new(move |_| {
            confirming.set(None);
            error.set(None);
            match what {
                "cancel" => {
                    cancel.dispatch(CancelMigration {
                        id: cancel_id.clone(),
                    });
                }
                "postcopy" => send(Tuning {
                    postcopy: Some(true),
                    ..Default::default()
                }),
                _ => send(Tuning {
                    finish_now: Some(true),
                    ..Default::default()
                }),
            }
        })
    };
    view! {
        <div class="controls needs-operator">
            <div class="control-row">
                <label>
                    "Bandwidth (MiB/s)"
                    <input inputmode="numeric" name="bandwidth" placeholder="unlimited" prop:value=move || bandwidth.get() on:input=move |ev| bandwidth.set(event_target_value(&ev)) />
                </label>
                <button type="button" class="secondary small" on:click=apply_bandwidth>"Apply"</button>
                <label>
                    "Max pause (ms)"
                    <input inputmode="numeric" name="downtime" placeholder="300" prop:value=move || downtime.get() on:input=move |ev| downtime.set(event_target_value(&ev)) />
                </label>
                <button type="button" class="secondary small" on:click=apply_downtime>"Apply"</button>
            </div>
            {move || if broken.get() {
                let resume = resume.clone();
                Either::Left(view! {
                    <p class="notice error postcopy-broken" role="alert">
                        {format!("Post-copy broke: the guest is paused on {source} and runs on {destination} without all of its memory, so neither host has the whole guest. Do not start or stop either copy: virtdeck resumes the migration as soon as both hosts answer, and retries.")}
                    </p>
                    <div class="control-row">
                        <button type="button" class="primary" on:click=resume>"Resume migration"</button>
                    </div>
                })
            } else {
                Either::Right(view! {
                    <div class="control-row">
                        {postcopy_allowed.then(|| view! {
                            <button type="button" class="secondary" on:click=move |_| confirming.set(Some("postcopy"))>"Switch to post-copy"</button>
                        })}
                        <button type="button" class="secondary" on:click=move |_| confirming.set(Some("finish"))>"Finish now"</button>
                        <button type="button" class="danger" on:click=move |_| confirming.set(Some("cancel"))>"Cancel migration"</button>
                    </div>
                })
            }}
            {move || error.get().map(|error| view! { <ErrorNotice error /> })}
            {move || confirming.get().map(|what| {
                let (title, detail, label) = match what {
                    "cancel" => ("Cancel this migration?", "The migration stops; the guest keeps running on its current host.", "Cancel migration"),
                    "postcopy" => ("Switch to post-copy?", "The guest starts running on the destination at once and fetches the rest of its memory from the source on demand. The migration then always finishes, but if the network fails before it does, the guest is lost.", "Switch to post-copy"),
                    _ => ("Finish now?", "The guest is paused on the source so that the copy catches up and the migration completes. It stays paused until the switch-over: longer than a normal live migration's pause.", "Finish now"),
                };
                view! {
                    <Confirm title=title.to_string() detail=detail.to_string() confirm_label=label.to_string()
                        on_confirm=confirm(what) on_cancel=Callback::new(move |_| confirming.set(None)) />
                }
            })}
        </div>
    }
}
