//! The guest list: every guest on every host, filtered, searched and paged
//! on the server (fast with thousands), counts per state and host, lifecycle
//! actions, and the migrate dialog. Live: a change pushed over `/ws` updates
//! its row at once, and the page and counts are read again shortly after.

use crate::api::events::kinds;
use std::time::Duration;

use leptos::{either::Either, prelude::*};
use leptos_meta::Title;
use leptos_router::{
    hooks::{use_navigate, use_query_map},
    params::ParamsMap,
    NavigateOptions,
};

use super::storage::urlencode;
use crate::{
    api::{
        events::ServerEvent,
        guests::{
            guest_counts, list_guests, GuestAction, GuestActionFn, GuestCounts, GuestQuery,
            GuestState, GuestSummary,
        },
        hosts::{host_states, HostLink, HostState},
        migrations::{running_migrations, ProgressMessage, PHASE_POSTCOPY_BROKEN},
        ApiError,
    },
    components::{
        dialog::{fleet_dialog, FleetDialog},
        format,
        live::use_server_events,
        notice::{Notice, NoticeLine},
        ErrorNotice, StateBadge,
    },
};

/// Rows per page.
const PAGE: usize = 100;

/// The page's rows and counts as one resource, made outside the page's
/// `Suspense`: a resource made inside it is made again when the suspense
/// re-renders, and the server would read (and send) the rows twice.
#[derive(Clone, Copy)]
struct Listing {
    host_filter: Memo<String>,
    state_filter: Memo<String>,
    search: Memo<String>,
    /// Bumped to read the page and counts again.
    version: RwSignal<u32>,
    #[allow(clippy::type_complexity)]
    data: Resource<(
        usize,
        Result<Vec<GuestSummary>, ApiError>,
        Result<GuestCounts, ApiError>,
    )>,
}

impl Listing {
    fn new() -> Self {
        // The filters and the page live in the URL (`?host=&state=&q=&page=`):
        // a reload, a bookmark or a shared link shows the same view, and the
        // server renders it without JavaScript.
        let query_map = use_query_map();
        let param = move |key: &'static str| {
            Memo::new(move |_| query_map.with(|m| m.get(key).unwrap_or_default()))
        };
        let host_filter = param("host");
        let state_filter = param("state");
        let search = param("q");
        let page_no = Memo::new(move |_| query_map.with(page_of));
        let version = RwSignal::new(0u32);
        let query = Memo::new(move |_| GuestQuery {
            host: Some(host_filter.get()).filter(|h| !h.is_empty()),
            state: Some(state_filter.get()).filter(|s| !s.is_empty()),
            q: Some(search.get()).filter(|q| !q.trim().is_empty()),
            offset: Some((page_no.get() - 1) * PAGE),
            limit: Some(PAGE),
        });
        let data = Resource::new(
            move || (query.get(), version.get()),
            |(q, _)| async move {
                // The page number travels with its rows: the pager never
                // describes rows that are not shown yet.
                let at = q.offset.unwrap_or(0) / PAGE + 1;
                let page = list_guests(q.clone()).await;
                let counts = guest_counts(q).await;
                (at, page, counts)
            },
        );
        Listing {
            host_filter,
            state_filter,
            search,
            version,
            data,
        }
    }
}

#[component]
pub fn GuestsPage() -> impl IntoView {
    // Loaded once: the hosts and the migrations running now (not the
    // history: the server's HTML carries what this resource reads).
    let context = Resource::new(
        || (),
        |_| async move {
            let hosts = host_states().await;
            let running = running_migrations().await;
            (hosts, running)
        },
    );
    let listing = Listing::new();
    view! {
        <Title text="Guests" />
        <main class="page">
            <div class="page-head">
                <h1>"Guests"</h1>
                <a class="button needs-operator" href="/guests/new">"New guest"</a>
            </div>
            <Suspense fallback=|| view! { <p class="muted">"Loading guests…"</p> }>
                {move || Suspend::new(async move {
                    let (hosts, running) = context.await;
                    match hosts {
                        Ok(hosts) => {
                            // Rows without their migration marks rather than no list.
                            let running = running.unwrap_or_default();
                            Either::Left(view! { <GuestList hosts running listing /> })
                        }
                        Err(error) => Either::Right(view! { <ErrorNotice error /> }),
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

#[component]
fn GuestList(
    hosts: Vec<HostLink>,
    running: Vec<ProgressMessage>,
    listing: Listing,
) -> impl IntoView {
    let hosts = RwSignal::new(hosts);
    let migrating = RwSignal::new(running);
    let Listing {
        host_filter,
        state_filter,
        search,
        version,
        data,
        ..
    } = listing;
    let query_map = use_query_map();
    let search_input = RwSignal::new(search.get_untracked());
    let navigate = use_navigate();
    // Changes filters (an empty value removes one) and goes back to page one.
    let set_filters = Callback::new(move |changes: Vec<(&'static str, String)>| {
        let mut m = query_map.get_untracked();
        m.remove("page");
        m.remove("deleted");
        m.remove("volumes");
        for (key, value) in changes {
            if value.trim().is_empty() {
                m.remove(key);
            } else {
                m.replace(key, value);
            }
        }
        let options = NavigateOptions {
            replace: true,
            scroll: false,
            ..Default::default()
        };
        navigate(&format!("/guests{}", m.to_query_string()), options);
    });
    // What the guest page sends here after deleting a guest.
    let notice = RwSignal::new(query_map.with_untracked(|m| {
        m.get("deleted").map(|name| {
            let volumes = m
                .get("volumes")
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            Notice::Done(match volumes {
                0 => format!("Deleted {name}."),
                1 => format!("Deleted {name} and 1 volume."),
                n => format!("Deleted {name} and {n} volumes."),
            })
        })
    }));
    // A guest asked to shut down that has not powered off yet.
    let awaiting = RwSignal::new(None::<(String, String)>);
    let refetch_scheduled = RwSignal::new(false);

    let rows = RwSignal::new(Vec::<GuestSummary>::new());
    let shown_page = RwSignal::new(1usize);
    let counts = RwSignal::new(GuestCounts::default());

    // Read the page and counts again shortly: several events in a burst
    // cost one read.
    let refetch_soon = move || {
        if !refetch_scheduled.get_untracked() {
            refetch_scheduled.set(true);
            set_timeout(
                move || {
                    refetch_scheduled.set(false);
                    version.update(|v| *v += 1);
                },
                Duration::from_millis(400),
            );
        }
    };
    let patch_row = move |guest: GuestSummary| {
        rows.update(|rows| {
            if let Some(row) = rows.iter_mut().find(|r| r.key() == guest.key()) {
                *row = guest;
            }
        })
    };
    use_server_events(
        &[
            kinds::GUEST_CHANGED,
            kinds::GUEST_REMOVED,
            kinds::HOST_CHANGED,
            kinds::MIGRATION_PROGRESS,
            kinds::HELLO,
        ],
        move |event| match event {
            ServerEvent::GuestChanged { guest } => {
                // A shutdown that was waited for has happened.
                if awaiting.get_untracked().as_ref() == Some(&guest.key()) && !still_up(guest.state)
                {
                    awaiting.set(None);
                    notice.set(Some(Notice::Done(format!(
                        "{} on {} has shut down: now {}.",
                        guest.name,
                        guest.host,
                        guest.state.label()
                    ))));
                }
                patch_row(guest);
                refetch_soon();
            }
            ServerEvent::GuestRemoved { .. } => refetch_soon(),
            ServerEvent::HostChanged { host } => {
                let host = HostLink::from(*host);
                hosts.update(|hs| {
                    if let Some(h) = hs.iter_mut().find(|h| h.name == host.name) {
                        *h = host;
                    }
                });
                refetch_soon();
            }
            ServerEvent::MigrationProgress(m) => migrating.update(|list| {
                list.retain(|x| x.id != m.id);
                if m.status.is_running() {
                    list.push(*m);
                }
            }),
            // The socket reconnected: events may have been missed.
            ServerEvent::Hello { .. } => refetch_soon(),
            _ => {}
        },
    );

    // Filters start from the first page; the search waits for typing to pause.
    Effect::new(move |first: Option<()>| {
        let text = search_input.get();
        if first.is_some() {
            set_timeout(
                move || {
                    if search_input.get_untracked() == text && search.get_untracked() != text {
                        set_filters.run(vec![("q", text)]);
                    }
                },
                Duration::from_millis(250),
            );
        }
    });

    let pending = RwSignal::new(None::<Pending>);
    let confirming = RwSignal::new(None::<GuestSummary>);
    let migrate = RwSignal::new(None::<GuestSummary>);
    let action = ServerAction::<GuestActionFn>::new();
    Effect::new(move |_| {
        let Some(result) = action.value().get() else {
            return;
        };
        let done = pending.get_untracked();
        pending.set(None);
        match result {
            Ok(guest) => {
                let act = done.map(|p| p.action);
                awaiting.set(None);
                let text = match act {
                    // The guest decides when (and whether) it powers off:
                    // it still runs now, and that is not a failure.
                    Some(GuestAction::Shutdown) if still_up(guest.state) => {
                        awaiting.set(Some(guest.key()));
                        format!(
                            "Shutdown requested: waiting for {} on {} to power off (the guest may ignore it: no ACPI, a hung OS).",
                            guest.name, guest.host
                        )
                    }
                    Some(GuestAction::Shutdown) => format!(
                        "Shutdown requested: {} on {} is now {}.",
                        guest.name,
                        guest.host,
                        guest.state.label()
                    ),
                    Some(GuestAction::Reboot) => format!(
                        "Reboot requested for {} on {}: it restarts if the guest honours it.",
                        guest.name, guest.host
                    ),
                    _ => format!(
                        "{} {} on {}: now {}.",
                        act.map(|a| a.done()).unwrap_or("Updated"),
                        guest.name,
                        guest.host,
                        guest.state.label()
                    ),
                };
                notice.set(Some(Notice::Done(text)));
                patch_row(guest);
                refetch_soon();
            }
            Err(e) => notice.set(Some(Notice::Failed(e))),
        }
    });
    let run = Callback::new(move |(guest, act): (GuestSummary, GuestAction)| {
        pending.set(Some(Pending {
            key: guest.key(),
            action: act,
        }));
        notice.set(None);
        action.dispatch(GuestActionFn {
            host: guest.host,
            uuid: guest.uuid,
            action: act.as_str().to_string(),
        });
    });
    let on_action = Callback::new(move |(guest, act): (GuestSummary, GuestAction)| {
        if act.is_destructive() {
            confirming.set(Some(guest));
        } else {
            run.run((guest, act));
        }
    });
    let can_migrate = Signal::derive(move || hosts.with(|h| h.len() > 1));

    view! {
        <HostBanners hosts />
        // A real form: without JavaScript (or before the wasm arrives),
        // "Apply" or Enter asks the server for the filtered page.
        <form
            class="filters"
            role="search"
            method="get"
            action="/guests"
            on:submit=move |ev| {
                ev.prevent_default();
                set_filters.run(vec![("q", search_input.get_untracked())]);
            }
        >
            <label>
                "Host"
                <select name="host" aria-label="Filter by host" on:change=move |ev| set_filters.run(vec![("host", event_target_value(&ev))])>
                    <option value="">"All hosts"</option>
                    {move || {
                        let per_host = counts.with(|c| c.by_host.clone());
                        hosts
                            .get()
                            .into_iter()
                            .map(|h| {
                                let n = per_host.get(&h.name).copied().unwrap_or(0);
                                let name = h.name.clone();
                                let selected = host_filter.get_untracked() == name;
                                view! { <option value=name.clone() selected=selected>{format!("{name} ({n})")}</option> }
                            })
                            .collect_view()
                    }}
                </select>
            </label>
            <label>
                "State"
                <select name="state" aria-label="Filter by state" on:change=move |ev| set_filters.run(vec![("state", event_target_value(&ev))])>
                    <option value="">"Any state"</option>
                    {GuestState::ALL
                        .into_iter()
                        .map(|s| {
                            let selected = state_filter.get_untracked() == s.as_str();
                            view! { <option value=s.as_str() selected=selected>{s.label()}</option> }
                        })
                        .collect_view()}
                </select>
            </label>
            <label class="grow">
                "Name"
                <input
                    type="search"
                    name="q"
                    placeholder="Search by name or UUID"
                    aria-label="Search by name"
                    value=search_input.get_untracked()
                    prop:value=move || search_input.get()
                    on:input=move |ev| search_input.set(event_target_value(&ev))
                />
            </label>
            <noscript>
                <button type="submit" class="secondary">"Apply"</button>
            </noscript>
        </form>
        <NoticeLine notice />
        <Transition fallback=|| view! { <p class="muted">"Loading guests…"</p> }>
            {move || {
                data.get().map(|(at, page, c)| match (page, c) {
                    (Ok(page), Ok(c)) => {
                        // Kept in signals so that pushed changes patch rows at once.
                        rows.set(page);
                        counts.set(c);
                        shown_page.set(at);
                        Either::Left(view! {
                            <CountLine counts />
                            <GuestRows rows pending migrating can_migrate on_action on_migrate=Callback::new(move |g| migrate.set(Some(g))) />
                            {move || rows.with(Vec::is_empty).then(|| view! { <p class="empty muted">"No guest matches these filters."</p> })}
                            <Pager counts page_no=shown_page />
                        })
                    }
                    (Err(error), _) | (_, Err(error)) => Either::Right(view! { <ErrorNotice error /> }),
                })
            }}
        </Transition>
        {move || {
            migrate.get().map(|guest| {
                let hosts = hosts.get_untracked();
                let on_close = Callback::new(move |_| migrate.set(None));
                Suspend::new(fleet_dialog(FleetDialog::Migrate { guest, hosts, on_close }))
            })
        }}
        {move || {
            confirming
                .get()
                .map(|g| {
                    let title = format!("Force off {}?", g.name);
                    let detail = format!(
                        "{} on {} stops at once, like pulling its power cord. Unsaved data inside the guest is lost.",
                        g.name, g.host,
                    );
                    let on_confirm = Callback::new(move |_| {
                        confirming.set(None);
                        run.run((g.clone(), GuestAction::Destroy));
                    });
                    let on_cancel = Callback::new(move |_| confirming.set(None));
                    Suspend::new(fleet_dialog(FleetDialog::Confirm {
                        title,
                        detail,
                        confirm_label: "Force off".to_string(),
                        on_confirm,
                        on_cancel,
                    }))
                })
        }}
    }
}

/// Still on after a shutdown request: it has not powered off (yet).
fn still_up(state: GuestState) -> bool {
    matches!(
        state,
        GuestState::Running | GuestState::Blocked | GuestState::Shutdown | GuestState::Paused
    )
}

/// A notice for each host that is not connected.
#[component]
fn HostBanners(hosts: RwSignal<Vec<HostLink>>) -> impl IntoView {
    move || {
        hosts
            .get()
            .into_iter()
            .filter(|h| !h.connected())
            .map(|h| {
                let what = match h.state {
                    HostState::Connecting => " is connecting; its guests are shown as last seen. ",
                    _ => " is unreachable; its guests are shown as last seen. ",
                };
                view! {
                    <div class="notice warn" role="status">
                        <strong>{h.name.clone()}</strong>
                        {what}
                        {h.error.clone().unwrap_or_default()}
                    </div>
                }
            })
            .collect_view()
    }
}

#[component]
fn CountLine(counts: RwSignal<GuestCounts>) -> impl IntoView {
    view! {
        <p class="count muted" aria-live="polite">
            {move || {
                counts.with(|c| {
                    let head = if c.matching == c.total {
                        format!("{} guests", c.total)
                    } else {
                        format!("{} of {} guests", c.matching, c.total)
                    };
                    let states = GuestState::ALL
                        .iter()
                        .filter_map(|s| c.by_state.get(s.as_str()).map(|n| format!("{n} {}", s.label())))
                        .collect::<Vec<_>>()
                        .join(", ");
                    if states.is_empty() { head } else { format!("{head} · {states}") }
                })
            }}
        </p>
    }
}

/// The page number in `?page=` (1 when missing or not a number).
fn page_of(m: &ParamsMap) -> usize {
    m.get_str("page")
        .and_then(|p| p.parse::<usize>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1)
}

/// Previous/next as links (`?page=N`, other filters kept): they work
/// without JavaScript, and the router follows them in place with it.
#[component]
fn Pager(counts: RwSignal<GuestCounts>, page_no: RwSignal<usize>) -> impl IntoView {
    let query_map = use_query_map();
    let link = move |page: usize| {
        let mut m = query_map.get();
        m.replace("page", page.to_string());
        format!("/guests{}", m.to_query_string())
    };
    move || {
        let matching = counts.with(|c| c.matching);
        let page = page_no.get();
        let pages = matching.div_ceil(PAGE);
        (matching > PAGE).then(|| {
            let first = (page - 1) * PAGE + 1;
            let last = (page * PAGE).min(matching);
            let range = if first > matching {
                format!("page {page} of {pages}")
            } else {
                format!("{first}–{last} of {matching}")
            };
            let step = move |label: &'static str, rel: &'static str, to: Option<usize>| match to {
                Some(to) => Either::Left(
                    view! { <a class="button secondary" href=link(to) rel=rel>{label}</a> },
                ),
                None => Either::Right(
                    view! { <span class="button secondary" aria-disabled="true">{label}</span> },
                ),
            };
            view! {
                <nav class="pager" aria-label="Pages">
                    <span class="muted">{range}</span>
                    {step("Previous", "prev", (page > 1).then(|| (page - 1).min(pages)))}
                    {step("Next", "next", (page < pages).then_some(page + 1))}
                </nav>
            }
        })
    }
}

#[component]
fn GuestRows(
    rows: RwSignal<Vec<GuestSummary>>,
    pending: RwSignal<Option<Pending>>,
    migrating: RwSignal<Vec<ProgressMessage>>,
    can_migrate: Signal<bool>,
    on_action: Callback<(GuestSummary, GuestAction)>,
    on_migrate: Callback<GuestSummary>,
) -> impl IntoView {
    view! {
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
                    each=move || rows.get()
                    key=|g| (g.host.clone(), g.uuid.clone(), g.state, g.stale)
                    children=move |guest: GuestSummary| {
                        view! { <GuestRow guest pending migrating can_migrate on_action on_migrate /> }
                    }
                />
            </tbody>
        </table>
    }
}

#[component]
fn GuestRow(
    guest: GuestSummary,
    pending: RwSignal<Option<Pending>>,
    migrating: RwSignal<Vec<ProgressMessage>>,
    can_migrate: Signal<bool>,
    on_action: Callback<(GuestSummary, GuestAction)>,
    on_migrate: Callback<GuestSummary>,
) -> impl IntoView {
    let key = guest.key();
    let busy = {
        let key = key.clone();
        move || pending.with(|p| p.as_ref().is_some_and(|p| p.key == key))
    };
    let (h, u) = (guest.host.clone(), guest.uuid.clone());
    let moving = Signal::derive(move || {
        // The source's copy and the destination's incoming one alike.
        migrating.with(|list| {
            list.iter()
                .find(|m| (m.host == h || m.destination == h) && m.uuid == u)
                .cloned()
        })
    });
    let stale = guest.stale;
    let any_busy = Signal::derive(move || {
        stale || pending.with(Option::is_some) || moving.with(Option::is_some)
    });
    let buttons = guest
        .state
        .actions()
        .iter()
        .map(|&act| {
            let g = guest.clone();
            let key = key.clone();
            let label = move || {
                let working =
                    pending.with(|p| p.as_ref().is_some_and(|p| p.key == key && p.action == act));
                if working {
                    "Working…"
                } else {
                    act.label()
                }
            };
            view! {
                <button
                    class=if act.is_destructive() { "danger small" } else { "small" }
                    disabled=any_busy
                    aria-label=format!("{} {}", act.label(), g.name)
                    on:click=move |_| on_action.run((g.clone(), act))
                >
                    {label}
                </button>
            }
        })
        .collect_view();
    let migrate_button = matches!(
        guest.state,
        GuestState::Running | GuestState::Paused | GuestState::Shutoff
    )
    .then(|| {
        let g = guest.clone();
        view! {
            <button class="small" disabled=any_busy aria-label=format!("Migrate {}", g.name) on:click=move |_| on_migrate.run(g.clone())>
                "Migrate"
            </button>
        }
    });
    let here = guest.host.clone();
    let moving_badge = move || {
        moving.get().map(|m| {
            let text = if m.progress.phase == PHASE_POSTCOPY_BROKEN {
                // The one case where no host has the whole guest.
                "post-copy broken: neither host has all of it".to_string()
            } else if m.host == here {
                format!("migrating → {} {:.0} %", m.destination, m.progress.percent)
            } else {
                format!("arriving from {} {:.0} %", m.host, m.progress.percent)
            };
            view! {
                <span class="badge state-paused migrating" title=m.progress.phase.clone()>
                    {text}
                </span>
            }
        })
    };
    view! {
        <tr data-guest=guest.name.clone() data-host=guest.host.clone() class:stale=stale aria-busy=move || busy().to_string()>
            <td data-label="Name" class="name">
                <a class="guest-name" href=format!("/guests/{}/{}", urlencode(&guest.host), urlencode(&guest.uuid))>{guest.name.clone()}</a>
                {(!guest.persistent).then(|| view! { <span class="tag" title="Not defined on the host: gone when it stops">"transient"</span> })}
                {guest.autostart.then(|| view! { <span class="tag" title="Starts when the host boots">"autostart"</span> })}
                {stale.then(|| view! { <span class="tag stale" title="Its host is not connected: this is the guest as last seen">"last seen"</span> })}
            </td>
            <td data-label="Host">{guest.host.clone()}</td>
            <td data-label="State" class="state"><StateBadge state=guest.state />{moving_badge}</td>
            <td data-label="vCPUs" class="num">{guest.vcpus}</td>
            <td data-label="Memory" class="num">{format::kib(guest.memory_kib)}</td>
            <td data-label="Actions" class="actions needs-operator">
                {buttons}
                {move || can_migrate.get().then(|| migrate_button.clone())}
            </td>
        </tr>
    }
}
