//! The guest list: every guest on every host, filters, and lifecycle actions.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::{
        events::ServerEvent,
        guests::{list_guests, GuestAction, GuestActionFn, GuestState, GuestSummary},
        hosts::{list_hosts, HostSummary},
        migrations::{list_migrations, ProgressMessage},
        ApiError,
    },
    components::{
        confirm::Confirm, format, live::use_server_events, migrate_dialog::MigrateDialog,
        ErrorNotice, StateBadge,
    },
};

#[component]
pub fn GuestsPage() -> impl IntoView {
    let guests = Resource::new(|| (), |_| list_guests());
    let hosts = Resource::new(|| (), |_| list_hosts());
    let jobs = Resource::new(|| (), |_| list_migrations(None, None, Some(100)));
    view! {
        <Title text="Guests" />
        <main class="page">
            <h1>"Guests"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading guests…"</p> }>
                {move || Suspend::new(async move {
                    let hosts = hosts.await;
                    let running: Vec<ProgressMessage> = jobs
                        .await
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|j| j.status.is_running())
                        .map(|j| j.message())
                        .collect();
                    match guests.await {
                        Ok(list) => view! { <GuestTable guests=list hosts=hosts.unwrap_or_default() running /> }.into_any(),
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}

/// What a row's buttons are doing right now.
#[derive(Clone, PartialEq)]
struct Pending {
    key: (String, String),
    action: GuestAction,
}

/// The outcome of the last action, shown above the table.
#[derive(Clone)]
enum Notice {
    Done(String),
    Failed(ApiError),
}

#[component]
fn GuestTable(
    guests: Vec<GuestSummary>,
    hosts: Vec<HostSummary>,
    /// Migrations running when the page loaded.
    running: Vec<ProgressMessage>,
) -> impl IntoView {
    let rows = RwSignal::new(guests);
    let migrating = RwSignal::new(running);
    let migrate = RwSignal::new(None::<GuestSummary>);
    let all_hosts = hosts.clone();
    let host_filter = RwSignal::new(String::new());
    let state_filter = RwSignal::new(String::new());
    let search = RwSignal::new(String::new());
    let pending = RwSignal::new(None::<Pending>);
    let notice = RwSignal::new(None::<Notice>);
    let confirming = RwSignal::new(None::<GuestSummary>);

    let replace_row = move |guest: GuestSummary| {
        rows.update(
            |rows| match rows.iter_mut().find(|r| r.key() == guest.key()) {
                Some(row) => *row = guest,
                // A guest that arrived on a host (a migration's destination).
                None => {
                    rows.push(guest);
                    rows.sort_by(|a, b| (&a.host, &a.name).cmp(&(&b.host, &b.name)));
                }
            },
        )
    };
    use_server_events(move |event| match event {
        ServerEvent::GuestChanged { guest } => replace_row(guest),
        ServerEvent::GuestRemoved { host, uuid } => {
            rows.update(|rows| rows.retain(|r| !(r.host == host && r.uuid == uuid)))
        }
        ServerEvent::MigrationProgress(m) => migrating.update(|list| {
            list.retain(|x| x.id != m.id);
            if m.status.is_running() {
                list.push(*m);
            }
        }),
        _ => {}
    });
    let migration_of = move |host: &str, uuid: &str| {
        migrating.with(|list| {
            list.iter()
                .find(|m| m.host == host && m.uuid == uuid)
                .cloned()
        })
    };
    let can_migrate = hosts.len() > 1;

    let action = ServerAction::<GuestActionFn>::new();
    // Apply each finished action to its row and say how it went.
    Effect::new(move |_| {
        let Some(result) = action.value().get() else {
            return;
        };
        let done = pending.get_untracked();
        pending.set(None);
        match result {
            Ok(guest) => {
                let verb = done.map(|p| p.action.done()).unwrap_or("Updated");
                notice.set(Some(Notice::Done(format!(
                    "{verb} {} on {}: now {}.",
                    guest.name,
                    guest.host,
                    guest.state.label()
                ))));
                replace_row(guest);
            }
            Err(e) => notice.set(Some(Notice::Failed(e))),
        }
    });
    let run = move |guest: &GuestSummary, act: GuestAction| {
        pending.set(Some(Pending {
            key: guest.key(),
            action: act,
        }));
        notice.set(None);
        action.dispatch(GuestActionFn {
            host: guest.host.clone(),
            uuid: guest.uuid.clone(),
            action: act.as_str().to_string(),
        });
    };

    let visible = move || {
        let host = host_filter.get();
        let state = state_filter.get();
        let needle = search.get().trim().to_lowercase();
        rows.with(|rows| {
            rows.iter()
                .filter(|g| host.is_empty() || g.host == host)
                .filter(|g| state.is_empty() || g.state.as_str() == state)
                .filter(|g| needle.is_empty() || g.name.to_lowercase().contains(&needle))
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let total = move || rows.with(Vec::len);
    let unreachable: Vec<HostSummary> = hosts.iter().filter(|h| !h.connected).cloned().collect();
    let host_names: Vec<String> = hosts.iter().map(|h| h.name.clone()).collect();

    view! {
        {unreachable
            .into_iter()
            .map(|h| {
                view! {
                    <div class="notice warn" role="status">
                        <strong>{h.name.clone()}</strong>
                        " is unreachable; its guests are not listed. "
                        {h.error.clone().unwrap_or_default()}
                    </div>
                }
            })
            .collect_view()}
        <div class="filters" role="search">
            <label>
                "Host"
                <select aria-label="Filter by host" bind:value=host_filter>
                    <option value="">"All hosts"</option>
                    {host_names
                        .into_iter()
                        .map(|n| view! { <option value=n.clone()>{n.clone()}</option> })
                        .collect_view()}
                </select>
            </label>
            <label>
                "State"
                <select aria-label="Filter by state" bind:value=state_filter>
                    <option value="">"Any state"</option>
                    {GuestState::ALL
                        .into_iter()
                        .map(|s| view! { <option value=s.as_str()>{s.label()}</option> })
                        .collect_view()}
                </select>
            </label>
            <label class="grow">
                "Name"
                <input
                    type="search"
                    placeholder="Search by name"
                    aria-label="Search by name"
                    bind:value=search
                />
            </label>
        </div>
        <p class="count muted" aria-live="polite">
            {move || {
                let shown = visible().len();
                let all = total();
                if shown == all { format!("{all} guests") } else { format!("{shown} of {all} guests") }
            }}
        </p>
        {move || {
            notice
                .get()
                .map(|n| match n {
                    Notice::Done(text) => view! { <div class="notice ok" role="status">{text}</div> }.into_any(),
                    Notice::Failed(error) => view! { <ErrorNotice error /> }.into_any(),
                })
        }}
        <table class="data guests">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Host"</th>
                    <th scope="col">"State"</th>
                    <th scope="col" class="num">"vCPUs"</th>
                    <th scope="col" class="num">"Memory"</th>
                    <th scope="col">"Actions"</th>
                </tr>
            </thead>
            <tbody>
                <For
                    each=visible
                    key=|g| (g.host.clone(), g.uuid.clone(), g.state)
                    children=move |guest: GuestSummary| {
                        let key = guest.key();
                        let busy = {
                            let key = key.clone();
                            move || pending.with(|p| p.as_ref().is_some_and(|p| p.key == key))
                        };
                        let (h, u) = (guest.host.clone(), guest.uuid.clone());
                        let moving = Signal::derive(move || migration_of(&h, &u));
                        let any_busy = Signal::derive(move || {
                            pending.with(Option::is_some) || moving.with(Option::is_some)
                        });
                        let buttons = guest
                            .state
                            .actions()
                            .iter()
                            .map(|&act| {
                                let g = guest.clone();
                                let key = key.clone();
                                let label = move || {
                                    let working = pending
                                        .with(|p| p.as_ref().is_some_and(|p| p.key == key && p.action == act));
                                    if working { "Working…" } else { act.label() }
                                };
                                view! {
                                    <button
                                        class=if act.is_destructive() { "danger small" } else { "small" }
                                        disabled=any_busy
                                        aria-label=format!("{} {}", act.label(), g.name)
                                        on:click=move |_| {
                                            if act.is_destructive() {
                                                confirming.set(Some(g.clone()));
                                            } else {
                                                run(&g, act);
                                            }
                                        }
                                    >
                                        {label}
                                    </button>
                                }
                            })
                            .collect_view();
                        let migrate_button = (can_migrate
                            && matches!(guest.state, GuestState::Running | GuestState::Paused | GuestState::Shutoff))
                            .then(|| {
                                let g = guest.clone();
                                view! {
                                    <button class="small" disabled=any_busy aria-label=format!("Migrate {}", g.name) on:click=move |_| migrate.set(Some(g.clone()))>
                                        "Migrate"
                                    </button>
                                }
                            });
                        let moving_badge = move || {
                            moving.get().map(|m| {
                                view! {
                                    <span class="badge state-paused migrating" title=m.progress.phase.clone()>
                                        {format!("migrating → {} {:.0} %", m.destination, m.progress.percent)}
                                    </span>
                                }
                            })
                        };
                        view! {
                            <tr data-guest=guest.name.clone() data-host=guest.host.clone() aria-busy=move || busy().to_string()>
                                <td data-label="Name" class="name">
                                    <span class="guest-name">{guest.name.clone()}</span>
                                    {(!guest.persistent).then(|| view! { <span class="tag" title="Not defined on the host: gone when it stops">"transient"</span> })}
                                    {guest.autostart.then(|| view! { <span class="tag" title="Starts when the host boots">"autostart"</span> })}
                                </td>
                                <td data-label="Host">{guest.host.clone()}</td>
                                <td data-label="State" class="state"><StateBadge state=guest.state />{moving_badge}</td>
                                <td data-label="vCPUs" class="num">{guest.vcpus}</td>
                                <td data-label="Memory" class="num">{format::kib(guest.memory_kib)}</td>
                                <td data-label="Actions" class="actions">{buttons}{migrate_button}</td>
                            </tr>
                        }
                    }
                />
            </tbody>
        </table>
        {move || (visible().is_empty()).then(|| view! { <p class="empty muted">"No guest matches these filters."</p> })}
        {move || {
            migrate.get().map(|guest| {
                view! {
                    <MigrateDialog guest hosts=all_hosts.clone() on_close=Callback::new(move |_| migrate.set(None)) />
                }
            })
        }}
        {move || {
            confirming
                .get()
                .map(|g| {
                    let target = g.clone();
                    view! {
                        <Confirm
                            title=format!("Force off {}?", g.name)
                            detail=format!(
                                "{} on {} stops at once, like pulling its power cord. Unsaved data inside the guest is lost.",
                                g.name,
                                g.host,
                            )
                            confirm_label="Force off".to_string()
                            on_confirm=Callback::new(move |_| {
                                confirming.set(None);
                                run(&target, GuestAction::Destroy);
                            })
                            on_cancel=Callback::new(move |_| confirming.set(None))
                        />
                    }
                })
        }}
    }
}
