//! The Migrations page: running migrations with their live progress, and the
//! history (who, what, from where to where, how it ended), paged.

use crate::api::events::kinds;
use leptos::{either::Either, prelude::*};
use leptos_meta::Title;

use crate::{
    api::{
        events::ServerEvent,
        migrations::{list_migrations, JobStatus, MigrationJob, Step},
    },
    components::{
        live::use_server_events,
        migration_progress::{duration, JobStatusBadge, MigrationProgressView},
        ErrorNotice,
    },
};

const PAGE: u32 = 50;

#[component]
pub fn MigrationsPage() -> impl IntoView {
    let offset = RwSignal::new(0u32);
    let version = RwSignal::new(0u32);
    let jobs = Resource::new(
        move || (offset.get(), version.get()),
        |(offset, _)| list_migrations(None, Some(offset), Some(PAGE)),
    );
    // A job this page does not show yet, or one that ended: read the list again.
    let known = RwSignal::new(Vec::<(String, JobStatus)>::new());
    use_server_events(&[kinds::MIGRATION_PROGRESS], move |event| {
        if let ServerEvent::MigrationProgress(m) = event {
            let seen =
                known.with_untracked(|k| k.iter().find(|(id, _)| *id == m.id).map(|(_, s)| *s));
            if seen != Some(m.status) {
                version.update(|v| *v += 1);
            }
        }
    });
    view! {
        <Title text="Migrations" />
        <main class="page">
            <h1>"Migrations"</h1>
            <p class="muted">"Migrations run on the server: closing this page does not stop them. Start one from a guest's row on the Guests page."</p>
            <Transition fallback=|| view! { <p class="muted">"Loading migrations…"</p> }>
                {move || jobs.get().map(|r| match r {
                    Ok(list) => {
                        known.set(list.iter().map(|j| (j.id.clone(), j.status)).collect());
                        Either::Left(view! { <Jobs list offset /> })
                    }
                    Err(error) => Either::Right(view! { <ErrorNotice error /> }),
                })}
            </Transition>
        </main>
    }
}

#[component]
fn Jobs(list: Vec<MigrationJob>, offset: RwSignal<u32>) -> impl IntoView {
    let running: Vec<MigrationJob> = list
        .iter()
        .filter(|j| j.status.is_running())
        .cloned()
        .collect();
    let count = list.len() as u32;
    let rows = list
        .into_iter()
        .map(|j| view! { <JobRow job=j /> })
        .collect_view();
    view! {
        <h2>"Running"</h2>
        {if running.is_empty() {
            Either::Left(view! { <p class="muted running-none">"No migration is running."</p> })
        } else {
            Either::Right(
                running
                    .into_iter()
                    .map(|job| view! { <MigrationProgressView job /> })
                    .collect_view(),
            )
        }}
        <h2>"History"</h2>
        <table class="data history">
            <thead>
                <tr>
                    <th scope="col">"Guest"</th>
                    <th scope="col">"From → to"</th>
                    <th scope="col">"How"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Started"</th>
                    <th scope="col" class="num">"Took"</th>
                    <th scope="col" class="num">"Pause"</th>
                    <th scope="col">"By"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        {(count == 0).then(|| view! { <p class="empty muted">"No migrations yet."</p> })}
        <nav class="pager" aria-label="Pages">
            <button class="secondary" disabled=move || offset.get() == 0 on:click=move |_| offset.update(|o| *o = o.saturating_sub(PAGE))>"Newer"</button>
            <button class="secondary" disabled=count < PAGE on:click=move |_| offset.update(|o| *o += PAGE)>"Older"</button>
        </nav>
    }
}

#[component]
fn JobRow(job: MigrationJob) -> impl IntoView {
    let took = job
        .progress
        .as_ref()
        .filter(|p| p.elapsed_ms > 0 && !job.status.is_running())
        .map(|p| duration(p.elapsed_ms))
        .unwrap_or_else(|| "—".into());
    let started = job
        .started_at
        .replace('T', " ")
        .chars()
        .take(19)
        .collect::<String>();
    view! {
        <tr data-job=job.id.clone() data-guest=job.guest.clone()>
            <td data-label="Guest" class="name"><span class="row-title">{job.guest.clone()}</span></td>
            <td data-label="From → to">{format!("{} → {}", job.host, job.destination)}</td>
            <td data-label="How">{format!("{}, {}, {} storage", job.mode, job.persistence, job.storage)}</td>
            <td data-label="Status" class="state">
                <JobStatusBadge status=job.status />
                {job.error.clone().map(|e| view! { <span class="muted error-text">{e}</span> })}
                <Timeline steps=job.timeline.clone() />
            </td>
            <td data-label="Started"><time datetime=job.started_at.clone()>{started}" UTC"</time></td>
            <td data-label="Took" class="num">{took}</td>
            <td data-label="Pause" class="num">{job.downtime_ms.map(duration).unwrap_or_else(|| "—".into())}</td>
            <td data-label="By">{job.user.clone()}</td>
        </tr>
    }
}

/// A job's timeline, folded: each phase, policy step and fault with its time.
#[component]
fn Timeline(steps: Vec<Step>) -> impl IntoView {
    (!steps.is_empty()).then(|| {
        let count = steps.len();
        let items = steps
            .into_iter()
            .map(|step| {
                let at = step.at.get(11..19).unwrap_or(&step.at).to_string();
                let Step {
                    at: datetime,
                    phase,
                    text,
                } = step;
                let data_phase = phase.clone();
                view! {
                    <li data-phase=data_phase>
                        <time datetime=datetime>{at}</time>" "
                        <span class="phase">{phase}</span>": "{text}
                    </li>
                }
            })
            .collect_view();
        view! {
            <details class="timeline">
                <summary>{format!("Timeline ({count})")}</summary>
                <ol>{items}</ol>
            </details>
        }
    })
}
