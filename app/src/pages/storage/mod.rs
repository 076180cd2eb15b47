//! The storage page: every pool on every host (or one host), grouped by name
//! so that the same shared pool on several hosts reads as one storage, with
//! pool actions and the form for new pools. `volumes` is the page of one pool.

mod pool_form;
pub mod volumes;

use crate::api::events::kinds;
use leptos::{either::Either, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    api::{
        events::ServerEvent,
        hosts::{list_hosts, HostSummary},
        pools::{group_by_name, list_pools, PoolAction, PoolActionFn, PoolState, PoolSummary},
    },
    components::{
        confirm::Confirm,
        live::use_server_events,
        notice::{Notice, NoticeLine},
        usage::UsageBar,
        ErrorNotice,
    },
};

use pool_form::PoolForm;
pub(crate) use volumes::UploadVolume;

#[component]
pub fn StoragePage() -> impl IntoView {
    let pools = Resource::new(|| (), |_| list_pools());
    let hosts = Resource::new(|| (), |_| list_hosts());
    view! {
        <Title text="Storage" />
        <main class="page">
            <h1>"Storage"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading storage pools…"</p> }>
                {move || Suspend::new(async move {
                    let hosts = hosts.await.unwrap_or_default();
                    match pools.await {
                        Ok(list) => Either::Left(view! { <PoolList pools=list hosts /> }),
                        Err(error) => Either::Right(view! { <ErrorNotice error /> }),
                    }
                })}
            </Suspense>
        </main>
    }
}

/// The state badge of a pool.
#[component]
pub fn PoolStateBadge(state: PoolState) -> impl IntoView {
    let class = match state {
        PoolState::Active => "state-running",
        PoolState::Inactive => "state-shutoff",
        PoolState::Building => "state-paused",
        PoolState::Degraded | PoolState::Inaccessible => "state-crashed",
    };
    view! { <span class=format!("badge {class}")>{state.to_string()}</span> }
}

#[component]
fn PoolList(pools: Vec<PoolSummary>, hosts: Vec<HostSummary>) -> impl IntoView {
    let rows = RwSignal::new(pools);
    let query = use_query_map();
    let host_filter = RwSignal::new(query.read_untracked().get("host").unwrap_or_default());
    let search = RwSignal::new(String::new());
    let notice = RwSignal::new(None::<Notice>);
    let pending = RwSignal::new(None::<(String, String)>);
    let deleting = RwSignal::new(None::<PoolSummary>);
    let delete_storage = RwSignal::new(false);
    let show_form = RwSignal::new(false);

    let upsert = move |pool: PoolSummary| {
        rows.update(|rows| {
            match rows
                .iter_mut()
                .find(|r| r.host == pool.host && r.name == pool.name)
            {
                Some(row) => *row = pool,
                None => rows.push(pool),
            }
        })
    };
    use_server_events(
        &[kinds::POOL_CHANGED, kinds::POOL_REMOVED],
        move |event| match event {
            ServerEvent::PoolChanged { pool } => upsert(*pool),
            ServerEvent::PoolRemoved { host, name } => {
                rows.update(|rows| rows.retain(|r| !(r.host == host && r.name == name)))
            }
            _ => {}
        },
    );

    let action = ServerAction::<PoolActionFn>::new();
    Effect::new(move |_| {
        let Some(result) = action.value().get() else {
            return;
        };
        let Some((host, name)) = pending.get_untracked() else {
            return;
        };
        pending.set(None);
        match result {
            Ok(Some(pool)) => {
                notice.set(Some(Notice::Done(format!(
                    "Pool {} on {}: now {}{}.",
                    pool.name,
                    pool.host,
                    pool.state,
                    if pool.autostart { ", autostart on" } else { "" }
                ))));
                upsert(pool);
            }
            Ok(None) => {
                notice.set(Some(Notice::Done(format!(
                    "Deleted pool {name} on {host}."
                ))));
                rows.update(|rows| rows.retain(|r| !(r.host == host && r.name == name)));
            }
            Err(e) => notice.set(Some(Notice::Failed(e))),
        }
    });
    let run = move |pool: &PoolSummary, act: PoolAction, with_storage: bool| {
        pending.set(Some((pool.host.clone(), pool.name.clone())));
        notice.set(None);
        action.dispatch(PoolActionFn {
            host: pool.host.clone(),
            pool: pool.name.clone(),
            action: act.to_string(),
            delete_storage: with_storage,
        });
    };

    let on_action = Callback::new(move |(pool, act): (PoolSummary, PoolAction)| {
        if act == PoolAction::Delete {
            delete_storage.set(false);
            deleting.set(Some(pool));
        } else {
            run(&pool, act, false);
        }
    });

    let unreachable: Vec<HostSummary> = hosts.iter().filter(|h| !h.connected).cloned().collect();
    let connected: Vec<String> = hosts
        .iter()
        .filter(|h| h.connected)
        .map(|h| h.name.clone())
        .collect();
    let host_names: Vec<String> = hosts.iter().map(|h| h.name.clone()).collect();

    let groups = move || {
        let host = host_filter.get();
        let needle = search.get().trim().to_lowercase();
        rows.with(|rows| {
            group_by_name(rows)
                .into_iter()
                .filter(|g| needle.is_empty() || g.name.to_lowercase().contains(&needle))
                .filter(|g| host.is_empty() || g.pools.iter().any(|p| p.host == host))
                .collect::<Vec<_>>()
        })
    };
    let on_created = Callback::new(move |created: Vec<PoolSummary>| {
        for pool in created {
            upsert(pool);
        }
    });

    view! {
        {unreachable
            .into_iter()
            .map(|h| {
                view! {
                    <div class="notice warn" role="status">
                        <strong>{h.name.clone()}</strong>
                        " is unreachable; its pools are not listed. "
                        {h.error.clone().unwrap_or_default()}
                    </div>
                }
            })
            .collect_view()}
        <div class="toolbar needs-admin">
            <button
                aria-expanded=move || show_form.get().to_string()
                on:click=move |_| show_form.update(|s| *s = !*s)
            >
                {move || if show_form.get() { "Close the form" } else { "New pool" }}
            </button>
        </div>
        {move || {
            show_form
                .get()
                .then(|| {
                    view! {
                        <PoolForm
                            hosts=connected.clone()
                            on_created
                            on_close=Callback::new(move |_| show_form.set(false))
                        />
                    }
                })
        }}
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
            <label class="grow">
                "Name"
                <input type="search" placeholder="Search pools by name" aria-label="Search pools by name" bind:value=search />
            </label>
        </div>
        <NoticeLine notice />
        <table class="data pools">
            <thead>
                <tr>
                    <th scope="col">"Pool"</th>
                    <th scope="col">"Host"</th>
                    <th scope="col">"Type"</th>
                    <th scope="col">"State"</th>
                    <th scope="col">"Usage"</th>
                    <th scope="col">"Where"</th>
                    <th scope="col" class="num">"Volumes"</th>
                    <th scope="col">"Actions"</th>
                </tr>
            </thead>
            <tbody>
                <For
                    each=move || {
                        let host = host_filter.get();
                        groups()
                            .into_iter()
                            .flat_map(|g| {
                                let hosts = g.pools.len();
                                let shared = g.shared;
                                g.pools
                                    .into_iter()
                                    .filter(|p| host.is_empty() || p.host == host)
                                    .map(move |p| (p, hosts, shared))
                                    .collect::<Vec<_>>()
                            })
                            .collect::<Vec<_>>()
                    }
                    key=|(p, hosts, shared)| (p.host.clone(), p.name.clone(), format!("{p:?}"), *hosts, *shared)
                    children=move |(pool, hosts, shared)| {
                        view! { <PoolRow pool hosts shared pending on_action /> }
                    }
                />
            </tbody>
        </table>
        {move || groups().is_empty().then(|| view! { <p class="empty muted">"No pool matches these filters."</p> })}
        {move || {
            deleting
                .get()
                .map(|p| {
                    let target = p.clone();
                    view! {
                        <Confirm
                            title=format!("Delete pool {}?", p.name)
                            detail=format!(
                                "The pool's definition is removed from {}. Without the choice below, its volumes and files stay where they are and the pool can be defined again later.",
                                p.host,
                            )
                            confirm_label="Delete pool".to_string()
                            on_confirm=Callback::new(move |_| {
                                deleting.set(None);
                                run(&target, PoolAction::Delete, delete_storage.get_untracked());
                            })
                            on_cancel=Callback::new(move |_| deleting.set(None))
                        >
                            <label class="check danger-choice">
                                <input type="checkbox" bind:checked=delete_storage />
                                {format!(
                                    "Also delete the storage: every volume in it ({}) and the {}. This cannot be undone.",
                                    p.volumes.map(|n| n.to_string()).unwrap_or_else(|| "unknown".into()),
                                    match p.pool_type {
                                        crate::api::pools::PoolType::Logical => "volume group",
                                        crate::api::pools::PoolType::Disk => "partitions",
                                        _ => "directory",
                                    },
                                )}
                            </label>
                        </Confirm>
                    }
                })
        }}
    }
}

/// One pool's row: what it is, where, how full, and its actions.
#[component]
fn PoolRow(
    pool: PoolSummary,
    /// How many hosts have a pool of this name.
    hosts: usize,
    /// Those pools are one shared storage.
    shared: bool,
    pending: RwSignal<Option<(String, String)>>,
    on_action: Callback<(PoolSummary, PoolAction)>,
) -> impl IntoView {
    let busy = {
        let key = (pool.host.clone(), pool.name.clone());
        move || pending.with(|p| p.as_ref() == Some(&key))
    };
    let any_busy = move || pending.with(Option::is_some);
    let buttons = PoolAction::offered(&pool)
        .into_iter()
        .map(|act| {
            let p = pool.clone();
            let label = act.label();
            view! {
                <button
                    class=if act == PoolAction::Delete { "danger small needs-admin" } else { "small" }
                    disabled=any_busy
                    aria-label=format!("{label} pool {} on {}", p.name, p.host)
                    on:click=move |_| on_action.run((p.clone(), act))
                >
                    {label}
                </button>
            }
        })
        .collect_view();
    let target = pool.target_path.clone().unwrap_or_default();
    let source = pool.source.describe();
    let volumes_link = format!(
        "/storage/{}/{}",
        urlencode(&pool.host),
        urlencode(&pool.name)
    );
    let tags = view! {
        {(hosts > 1)
            .then(|| {
                if shared {
                    Either::Left(view! { <span class="tag shared" title="The same network storage on several hosts: guests can move between them without copying disks">{format!("shared · {hosts} hosts")}</span> })
                } else {
                    Either::Right(view! { <span class="tag" title="Pools with this name on other hosts point at different storage">{format!("same name on {hosts} hosts")}</span> })
                }
            })}
        {pool.autostart.then(|| view! { <span class="tag" title="Started when the host boots">"autostart"</span> })}
        {(!pool.persistent).then(|| view! { <span class="tag" title="Gone when it stops">"transient"</span> })}
    };
    let usage = (pool.state == PoolState::Active)
        .then(|| view! { <UsageBar capacity=pool.capacity used=pool.allocation available=pool.available /> });
    let volumes = match pool.volumes {
        Some(n) => Either::Left(view! { <a href=volumes_link.clone()>{n.to_string()}</a> }),
        None => Either::Right(view! { <span class="muted">"—"</span> }),
    };
    view! {
        <tr data-pool=pool.name.clone() data-host=pool.host.clone() aria-busy=move || busy().to_string()>
            <td data-label="Pool" class="name">
                <a class="row-title" href=volumes_link>{pool.name.clone()}</a>
                {tags}
            </td>
            <td data-label="Host">{pool.host.clone()}</td>
            <td data-label="Type">{pool.pool_type.to_string()}</td>
            <td data-label="State"><PoolStateBadge state=pool.state /></td>
            <td data-label="Usage" class="usage-cell">{usage}</td>
            <td data-label="Where" class="path">
                {(!target.is_empty()).then(|| view! { <code title="Target path on the host">{target}</code> })}
                {(!source.is_empty()).then(|| view! { <code class="source" title="Source">{source}</code> })}
            </td>
            <td data-label="Volumes" class="num">{volumes}</td>
            <td data-label="Actions" class="actions needs-operator">{buttons}</td>
        </tr>
    }
}

/// Percent-encodes a path segment (pool and host names are plain, but be safe).
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
