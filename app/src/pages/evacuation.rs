//! One evacuation, live (`/maintenance/:id`): the host's overall progress,
//! each guest's status (queued, checking, migrating n %, switching over,
//! done, retrying on H, failed — why), destination and attempts, the
//! timeline, and cancel. Built for a phone in a maintenance window: one
//! column of guest rows, the figures that matter first. `evacuation_progress`
//! messages replace the whole evacuation as it changes.

use crate::api::events::kinds;
use leptos::{either::Either, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::{
    api::{
        events::ServerEvent,
        maintenance::{
            list_evacuations, CancelEvacuation, Evacuation, EvacuationGuest, EvacuationKind,
            EvacuationState, MoveStatus,
        },
        ApiError,
    },
    components::{confirm::Confirm, live::use_server_events, ErrorNotice},
};

#[component]
pub fn EvacuationPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let loaded = Resource::new(id, |id| async move {
        list_evacuations(Some(id), None, None, None)
            .await
            .and_then(|mut l| {
                l.pop()
                    .ok_or_else(|| ApiError::NotFound("no such evacuation".into()))
            })
    });
    view! {
        <Title text="Maintenance" />
        <main class="page evacuation-page">
            <Suspense fallback=|| view! { <p class="muted">"Loading the evacuation…"</p> }>
                {move || Suspend::new(async move {
                    match loaded.await {
                        Ok(e) => Either::Left(view! { <EvacuationView evacuation=e /> }),
                        Err(error) => Either::Right(view! { <h1>"Maintenance"</h1><ErrorNotice error /> }),
                    }
                })}
            </Suspense>
        </main>
    }
}

fn state_class(s: EvacuationState) -> &'static str {
    match s {
        EvacuationState::Scheduled => "state-shutoff",
        EvacuationState::Running => "state-paused",
        EvacuationState::Done => "state-running",
        EvacuationState::Failed | EvacuationState::Cancelled => "state-crashed",
    }
}

fn status_class(s: MoveStatus) -> &'static str {
    match s {
        MoveStatus::Done | MoveStatus::ShutDown => "state-running",
        MoveStatus::Checking
        | MoveStatus::Migrating
        | MoveStatus::SwitchingOver
        | MoveStatus::Retrying => "state-paused",
        MoveStatus::Queued | MoveStatus::Stays | MoveStatus::Cancelled => "state-shutoff",
        MoveStatus::Failed | MoveStatus::Blocked => "state-crashed",
    }
}

/// What a person reads for a guest's status: "migrating 42 %", "retrying on kvm3".
fn status_text(g: &EvacuationGuest) -> String {
    match g.status {
        MoveStatus::Migrating => format!("migrating {:.0} %", g.percent),
        MoveStatus::Retrying => format!(
            "retrying on {}",
            g.destination.as_deref().unwrap_or("another host")
        ),
        s => s.label().to_string(),
    }
}

#[component]
fn EvacuationView(evacuation: Evacuation) -> impl IntoView {
    let e = RwSignal::new(evacuation);
    use_server_events(&[kinds::EVACUATION_PROGRESS], move |event| {
        if let ServerEvent::EvacuationProgress(next) = event {
            if next.id == e.with_untracked(|x| x.id.clone()) {
                e.set(*next);
            }
        }
    });
    let confirming = RwSignal::new(false);
    let cancel = ServerAction::<CancelEvacuation>::new();
    let cancel_error = RwSignal::new(None::<ApiError>);
    Effect::new(move |_| match cancel.value().get() {
        Some(Ok(next)) => e.set(next),
        Some(Err(err)) => cancel_error.set(Some(err)),
        None => {}
    });
    let title = move || {
        e.with(|x| match x.kind {
            EvacuationKind::Enter => format!("{}: entering maintenance", x.host),
            EvacuationKind::Exit => format!("{}: guests coming back", x.host),
        })
    };
    let state = move || e.with(|x| x.state);
    let headline = move || {
        e.with(|x| {
            let (settled, all) = x.counts();
            match x.state {
                EvacuationState::Scheduled => format!(
                    "scheduled for {}",
                    x.at.as_deref().map(when).unwrap_or_default()
                ),
                EvacuationState::Running => format!("{settled} of {all} guests settled"),
                EvacuationState::Done => match x.kind {
                    EvacuationKind::Enter => format!("{} is in maintenance", x.host),
                    EvacuationKind::Exit => "the guests are back".into(),
                },
                EvacuationState::Failed => "failed".into(),
                EvacuationState::Cancelled => "cancelled".into(),
            }
        })
    };
    view! {
        <Title text=title />
        <h1>{title}</h1>
        <section class="card evacuation" data-state=move || state().to_string() aria-label="Overall progress">
            <header>
                <span class=move || format!("badge {}", state_class(state()))>{move || state().to_string()}</span>
                <span class="headline">{headline}</span>
            </header>
            <div class="progress">
                <progress max="100" value=move || e.with(|x| x.percent()) aria-label="Evacuation progress"></progress>
                <span class="percent">{move || format!("{:.0} %", e.with(|x| x.percent()))}</span>
            </div>
            {move || e.with(|x| x.error.clone()).map(|err| view! { <p class="notice error" role="alert">{err}</p> })}
            <dl>
                <dt>"Asked by"</dt>
                <dd>{move || e.with(|x| x.user.clone())}</dd>
                <dt>"Started"</dt>
                <dd>{move || e.with(|x| x.started_at.as_deref().map(when).unwrap_or_else(|| "—".into()))}</dd>
                <dt>"Ended"</dt>
                <dd>{move || e.with(|x| x.finished_at.as_deref().map(when).unwrap_or_else(|| "—".into()))}</dd>
                <dt>"At once"</dt>
                <dd>{move || e.with(|x| x.options.max_parallel.to_string())}</dd>
            </dl>
            {move || (!state().ended()).then(|| view! {
                <div class="needs-operator actions">
                    <button class="danger" on:click=move |_| confirming.set(true) disabled=move || cancel.pending().get()>
                        "Cancel evacuation"
                    </button>
                </div>
            })}
            {move || cancel_error.get().map(|error| view! { <ErrorNotice error /> })}
        </section>
        <ul class="evacuation-guests" aria-label="Guests">
            <For
                each=move || e.with(|x| x.guests.clone())
                key=|g| format!("{}{:?}{}{}{}", g.uuid, g.status, g.percent.round(), g.attempts, g.destination.clone().unwrap_or_default())
                children=|g| view! { <GuestRow g /> }
            />
        </ul>
        <details class="timeline">
            <summary>"Timeline"</summary>
            <ol>
                {move || e.with(|x| x.timeline.iter().rev().map(|s| view! {
                    <li data-phase=s.phase.clone()>
                        <time>{when(&s.at)}</time>
                        " "
                        <strong>{s.phase.clone()}</strong>
                        " "
                        {s.text.clone()}
                    </li>
                }).collect_view())}
            </ol>
        </details>
        {move || confirming.get().then(|| {
            let id = e.with_untracked(|x| x.id.clone());
            view! {
                <Confirm
                    title="Cancel the evacuation?".to_string()
                    detail="Running migrations are cancelled: each guest stays where it is when its migration stops. Queued guests stay. The host does not enter maintenance.".to_string()
                    confirm_label="Cancel evacuation".to_string()
                    on_confirm=Callback::new(move |_| {
                        confirming.set(false);
                        cancel_error.set(None);
                        cancel.dispatch(CancelEvacuation { id: id.clone() });
                    })
                    on_cancel=Callback::new(move |_| confirming.set(false))
                />
            }
        })}
    }
}

#[component]
fn GuestRow(g: EvacuationGuest) -> impl IntoView {
    let moving = g.status.moving();
    view! {
        <li class="evacuation-guest" data-uuid=g.uuid.clone() data-status=g.status.to_string()>
            <div class="row-head">
                <span class="guest-name">{g.name.clone()}</span>
                <span class=format!("badge {}", status_class(g.status))>{status_text(&g)}</span>
            </div>
            <div class="row-facts">
                <span class="route">
                    {format!("{} → {}", g.from, g.destination.clone().unwrap_or_else(|| "—".into()))}
                </span>
                {(g.attempts > 0).then(|| view! { <span class="attempts">{format!("attempt {}", g.attempts)}</span> })}
                <span class="memory muted">{format!("{} MiB", g.memory_mib)}</span>
            </div>
            {moving.then(|| view! {
                <progress max="100" value=g.percent aria-label=format!("{} migration progress", g.name)></progress>
            })}
            {g.error.clone().map(|err| view! { <p class="why muted">{err}</p> })}
        </li>
    }
}

/// `2026-11-26T20:05:03.123Z` as `2026-11-26 20:05:03 UTC`.
fn when(t: &str) -> String {
    format!(
        "{} UTC",
        t.replace('T', " ").chars().take(19).collect::<String>()
    )
}
