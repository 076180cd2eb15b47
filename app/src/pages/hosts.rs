//! The hosts page: every configured host, its connection state (since when,
//! the last error, the next attempt), capacity and maintenance, with
//! "Maintenance…" (the plan dialog) and "Exit maintenance…", and the latest
//! evacuations. Live: `host_changed` messages replace a card as its host
//! connects, drops or changes maintenance.

use crate::api::events::kinds;
use leptos::{
    either::{Either, EitherOf3},
    prelude::*,
};
use leptos_meta::Title;

use crate::api::balance::{get_balance, HostBalance};
use crate::{
    api::{
        events::ServerEvent,
        hosts::{list_hosts, HostState, HostSummary},
        maintenance::{
            list_evacuations, Evacuation, HostMaintenance, MaintenanceRequest, MaintenanceState,
            PlanRequest, SetMaintenance,
        },
        ApiError,
    },
    components::{
        confirm::Confirm,
        dialog::{fleet_dialog, FleetDialog},
        format,
        hooks::use_interval,
        live::use_server_events,
        sparkline::Sparkline,
        ErrorNotice,
    },
};

/// Each host's load for its card's charts: read in the browser after the
/// page shows (so the page never waits for it), then every minute.
#[derive(Clone, Copy)]
struct Loads(RwSignal<Vec<HostBalance>>);

/// What the page's dialogs are open for.
#[derive(Clone, Copy)]
struct Dialogs {
    planning: RwSignal<Option<String>>,
    exiting: RwSignal<Option<String>>,
}

#[component]
pub fn HostsPage() -> impl IntoView {
    let hosts = Resource::new(|| (), |_| list_hosts());
    view! {
        <Title text="Hosts" />
        <main class="page">
            <h1>"Hosts"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading hosts…"</p> }>
                {move || Suspend::new(async move {
                    match hosts.await {
                        Ok(list) => Either::Left(view! { <HostCards list /> <Evacuations /> }),
                        Err(error) => Either::Right(view! { <ErrorNotice error /> }),
                    }
                })}
            </Suspense>
        </main>
    }
}

#[component]
fn HostCards(list: Vec<HostSummary>) -> impl IntoView {
    let hosts = RwSignal::new(list);
    use_server_events(&[kinds::HOST_CHANGED], move |event| {
        if let ServerEvent::HostChanged { host } = event {
            let host = *host;
            hosts.update(|hs| {
                if let Some(h) = hs.iter_mut().find(|h| h.name == host.name) {
                    *h = host;
                }
            });
        }
    });
    let dialogs = Dialogs {
        planning: RwSignal::new(None),
        exiting: RwSignal::new(None),
    };
    provide_context(dialogs);
    let loads = Loads(RwSignal::new(Vec::new()));
    provide_context(loads);
    let read = move || {
        leptos::task::spawn_local(async move {
            if let Ok(view) = get_balance().await {
                loads.0.set(view.hosts);
            }
        })
    };
    Effect::new(move |_| read());
    use_interval(
        Signal::derive(|| true),
        std::time::Duration::from_secs(60),
        read,
    );
    view! {
        <div class="cards">
            <For
                each=move || hosts.get()
                key=|h| format!("{h:?}")
                children=|host| view! { <HostCard host /> }
            />
        </div>
        {move || dialogs.planning.get().map(|host| {
            let on_close = Callback::new(move |_| dialogs.planning.set(None));
            Suspend::new(fleet_dialog(FleetDialog::Maintenance { host, hosts: hosts.get_untracked(), on_close }))
        })}
        {move || dialogs.exiting.get().map(|host| view! { <ExitDialog host /> })}
    }
}

/// "Exit maintenance": asks whether the guests that left come back.
#[component]
fn ExitDialog(host: String) -> impl IntoView {
    let dialogs = expect_context::<Dialogs>();
    let back = RwSignal::new(true);
    let exit = ServerAction::<SetMaintenance>::new();
    let error = RwSignal::new(None::<ApiError>);
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| match exit.value().get() {
        Some(Ok(Some(s))) => navigate(&format!("/maintenance/{}", s.id), Default::default()),
        Some(Ok(None)) => dialogs.exiting.set(None),
        Some(Err(e)) => error.set(Some(e)),
        None => {}
    });
    let name = host.clone();
    view! {
        <Confirm
            title=format!("Take {host} out of maintenance?")
            detail="Guests may start on it and migrate to it again.".to_string()
            confirm_label="Exit maintenance".to_string()
            on_confirm=Callback::new(move |_| {
                error.set(None);
                exit.dispatch(SetMaintenance {
                    request: MaintenanceRequest {
                        plan: PlanRequest {
                            host: name.clone(),
                            ..Default::default()
                        },
                        action: "exit".into(),
                        return_guests: Some(back.get_untracked()),
                        ..Default::default()
                    },
                });
            })
            on_cancel=Callback::new(move |_| dialogs.exiting.set(None))
        >
            <label class="check">
                <input
                    type="checkbox"
                    name="return_guests"
                    prop:checked=move || back.get()
                    on:change=move |ev| back.set(event_target_checked(&ev))
                />
                "Bring back the guests that left it (those still running where they went)"
            </label>
            {move || error.get().map(|error| view! { <ErrorNotice error /> })}
        </Confirm>
    }
}

/// The host's maintenance, as a line on its card.
fn maintenance_line(m: &HostMaintenance) -> (String, &'static str) {
    let since = when(&Some(m.since.clone()));
    match m.state {
        MaintenanceState::Scheduled => (
            format!("maintenance scheduled (asked {since})"),
            "state-shutoff",
        ),
        MaintenanceState::Entering => (
            format!("entering maintenance since {since}"),
            "state-paused",
        ),
        MaintenanceState::On => (format!("in maintenance since {since}"), "state-crashed"),
    }
}

/// The latest evacuations, each a link to its live view.
#[component]
fn Evacuations() -> impl IntoView {
    let list = Resource::new(|| (), |_| list_evacuations(None, None, None, Some(10)));
    let live = RwSignal::new(Vec::<Evacuation>::new());
    use_server_events(&[kinds::EVACUATION_PROGRESS], move |event| {
        if let ServerEvent::EvacuationProgress(e) = event {
            live.update(|l| {
                l.retain(|x| x.id != e.id);
                l.insert(0, *e);
            });
        }
    });
    let rows = move || {
        let mut all = live.get();
        if let Some(Ok(stored)) = list.get() {
            for e in stored {
                if !all.iter().any(|x| x.id == e.id) {
                    all.push(e);
                }
            }
        }
        all.truncate(10);
        all
    };
    view! {
        <Suspense fallback=|| ()>
            {move || (!rows().is_empty()).then(|| view! {
                <section class="evacuations" aria-label="Evacuations">
                    <h2>"Evacuations"</h2>
                    <ul>
                        {rows().into_iter().map(|e| {
                            let (settled, all) = e.counts();
                            view! {
                                <li data-state=e.state.to_string()>
                                    <a href=format!("/maintenance/{}", e.id)>
                                        {format!("{} {} — {} ({settled}/{all} guests) — {}", e.host, e.kind, e.state, when(&Some(e.created_at.clone())))}
                                    </a>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                </section>
            })}
        </Suspense>
    }
}

/// `2026-11-26T20:05:03.123Z` as `2026-11-26 20:05:03 UTC`.
fn when(t: &Option<String>) -> String {
    t.as_deref()
        .map(|t| {
            format!(
                "{} UTC",
                t.replace('T', " ").chars().take(19).collect::<String>()
            )
        })
        .unwrap_or_else(|| "—".into())
}

#[component]
fn HostCard(host: HostSummary) -> impl IntoView {
    let dialogs = expect_context::<Dialogs>();
    let loads = expect_context::<Loads>();
    let name_for_load = host.name.clone();
    let unknown = || "—".to_string();
    let status = host.state.to_string();
    let badge = match host.state {
        HostState::Connected => "host-connected",
        HostState::Connecting => "state-paused",
        HostState::Unreachable => "host-unreachable",
    };
    view! {
        <section class="card host" data-host=host.name.clone() data-state=status.clone() aria-label=host.name.clone()>
            <header>
                <h2>{host.name.clone()}</h2>
                <span class=format!("badge {badge}")>{status.clone()}</span>
            </header>
            {host.uri.clone().map(|uri| view! { <p class="uri"><code>{uri}</code></p> })}
            {host.maintenance.as_ref().map(|m| {
                let (text, class) = maintenance_line(m);
                let link = m.evacuation.clone().map(|id| view! {
                    " " <a href=format!("/maintenance/{id}")>"progress"</a>
                });
                view! {
                    <p class="maintenance">
                        <span class=format!("badge {class}")>{text}</span>
                        {link}
                    </p>
                }
            })}
            {host.error.clone().map(|e| view! { <p class="notice error" role="alert">{e}</p> })}
            <dl>
                <dt>{format!("{} since", host.state)}</dt>
                <dd class="since">{when(&host.state_since)}</dd>
                {host.next_attempt_at.clone().map(|t| view! {
                    <dt>"Next attempt"</dt>
                    <dd class="next-attempt">{when(&Some(t))}</dd>
                })}
                <dt>"Guests"</dt>
                <dd>{host.guests.map(|n| n.to_string()).unwrap_or_else(unknown)}</dd>
                <dt>"CPU"</dt>
                <dd>
                    {match (&host.arch, &host.cpu_model, host.cpus) {
                        (None, None, None) => unknown(),
                        (arch, model, cpus) => {
                            let mut parts = Vec::new();
                            if let Some(n) = cpus { parts.push(format!("{n} × ")) }
                            parts.push(arch.clone().unwrap_or_default());
                            if let Some(m) = model { parts.push(format!(" ({m})")) }
                            parts.concat()
                        }
                    }}
                </dd>
                <dt>"Memory"</dt>
                <dd>{host.memory_kib.map(format::kib).unwrap_or_else(unknown)}</dd>
                <dt>"Load"</dt>
                <dd class="load">
                    {move || {
                        let name = name_for_load.clone();
                        loads.0.with(|l| l.iter().find(|h| h.host == name).cloned()).map(|h| {
                            let cpu: Vec<f32> = h.trend.iter().map(|p| p.cpu).collect();
                            let memory: Vec<f32> = h.trend.iter().map(|p| p.memory).collect();
                            view! { <Sparkline what="CPU" values=cpu /> <Sparkline what="Memory" values=memory /> }
                        })
                    }}
                </dd>
                <dt>"Hypervisor"</dt>
                <dd>{host.hypervisor_version.clone().unwrap_or_else(unknown)}</dd>
                <dt>"libvirt"</dt>
                <dd>{host.libvirt_version.clone().unwrap_or_else(unknown)}</dd>
            </dl>
            <div class="needs-operator actions">
                {match host.maintenance.as_ref().map(|m| m.state) {
                    None => {
                        let name = host.name.clone();
                        EitherOf3::A(view! {
                            <button class="secondary" disabled=!host.connected on:click=move |_| dialogs.planning.set(Some(name.clone()))>
                                "Maintenance…"
                            </button>
                        })
                    }
                    Some(MaintenanceState::On) => {
                        let name = host.name.clone();
                        EitherOf3::B(view! {
                            <button class="secondary" on:click=move |_| dialogs.exiting.set(Some(name.clone()))>
                                "Exit maintenance…"
                            </button>
                        })
                    }
                    Some(_) => EitherOf3::C(()),
                }}
            </div>
        </section>
    }
}
