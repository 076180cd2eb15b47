//! One pool's page: its usage, its volumes (paged and searched on the server,
//! for pools of thousands), a form for new volumes, uploads with progress,
//! downloads, and volume actions.

use crate::api::events::kinds;
use leptos::{
    either::{Either, EitherOf3},
    html,
    prelude::*,
};
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::{urlencode, PoolStateBadge};
use crate::{
    api::{
        events::ServerEvent,
        pools::{list_pools, pool_types, PoolState, PoolSummary, PoolType},
        size::{human_bytes, ByteSize, SizeArg},
        volumes::{
            user_labels, validate_new_volume, volume_page, CreateVolume, VolumeActionFn,
            VolumeFormat, VolumeSummary,
        },
        ApiError,
    },
    components::{
        confirm::{Confirm, Prompt},
        live::use_server_events,
        notice::{Notice, NoticeLine},
        upload::{self, Progress},
        usage::UsageBar,
        ErrorNotice, StateBadge,
    },
};

const PAGE: usize = 100;

#[component]
pub fn PoolPage() -> impl IntoView {
    let params = use_params_map();
    let host = move || params.read().get("host").unwrap_or_default();
    let pool = move || params.read().get("pool").unwrap_or_default();
    let pools = Resource::new(|| (), |_| list_pools());
    view! {
        <Title text=move || format!("{} on {}", pool(), host()) />
        <main class="page">
            <p class="breadcrumb"><a href="/storage">"Storage"</a>" / " {host} " / "</p>
            <h1>{pool}</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading the pool…"</p> }>
                {move || Suspend::new(async move {
                    let (host, name) = (host(), pool());
                    match pools.await {
                        Ok(list) => match list.into_iter().find(|p| p.host == host && p.name == name) {
                            Some(summary) => EitherOf3::A(view! { <PoolView summary /> }),
                            None => EitherOf3::B(view! {
                                <ErrorNotice error=ApiError::NotFound(format!("host {host} has no storage pool named {name}")) />
                            }),
                        },
                        Err(error) => EitherOf3::C(view! { <ErrorNotice error /> }),
                    }
                })}
            </Suspense>
        </main>
    }
}

/// A volume action as the page asks for it.
#[derive(Clone)]
struct VolumeRequest {
    volume: String,
    action: &'static str,
    capacity: Option<String>,
    new_name: Option<String>,
}

impl VolumeRequest {
    fn new(volume: &str, action: &'static str) -> Self {
        VolumeRequest {
            volume: volume.to_string(),
            action,
            capacity: None,
            new_name: None,
        }
    }
}

/// What a dialog is open for.
#[derive(Clone)]
enum Dialog {
    Delete(VolumeSummary),
    Wipe(VolumeSummary),
    Resize(VolumeSummary),
    Clone(VolumeSummary),
}

#[component]
fn PoolView(summary: PoolSummary) -> impl IntoView {
    let pool = RwSignal::new(summary.clone());
    let (host, name) = (summary.host.clone(), summary.name.clone());
    let search = RwSignal::new(String::new());
    let offset = RwSignal::new(0usize);
    let version = RwSignal::new(0u32);
    let notice = RwSignal::new(None::<Notice>);
    let dialog = RwSignal::new(None::<Dialog>);

    let page = {
        let (host, name) = (host.clone(), name.clone());
        Resource::new(
            move || (search.get(), offset.get(), version.get()),
            move |(q, offset, _)| {
                let (host, name) = (host.clone(), name.clone());
                async move {
                    let q = (!q.trim().is_empty()).then(|| q.trim().to_string());
                    volume_page(host, name, q, Some(offset), Some(PAGE)).await
                }
            },
        )
    };
    {
        let (host, name) = (host.clone(), name.clone());
        use_server_events(
            &[kinds::VOLUMES_CHANGED, kinds::POOL_CHANGED],
            move |event| match event {
                ServerEvent::VolumesChanged { host: h, pool: p } if h == host && p == name => {
                    version.update(|v| *v += 1)
                }
                ServerEvent::PoolChanged { pool: p } if p.host == host && p.name == name => {
                    pool.set(*p)
                }
                _ => {}
            },
        );
    }

    let action = ServerAction::<VolumeActionFn>::new();
    Effect::new(move |_| {
        let Some(result) = action.value().get() else {
            return;
        };
        match result {
            Ok(Some(v)) => notice.set(Some(Notice::Done(format!(
                "Done: {} is {} ({} allocated).",
                v.name,
                human_bytes(v.capacity),
                human_bytes(v.allocation)
            )))),
            Ok(None) => notice.set(Some(Notice::Done("Volume deleted.".into()))),
            Err(e) => notice.set(Some(Notice::Failed(e))),
        }
        version.update(|v| *v += 1);
    });
    let run = {
        let (host, name) = (host.clone(), name.clone());
        Callback::new(move |op: VolumeRequest| {
            notice.set(None);
            action.dispatch(VolumeActionFn {
                host: host.clone(),
                pool: name.clone(),
                name: op.volume,
                action: op.action.to_string(),
                capacity: op.capacity.map(SizeArg::text).unwrap_or_default(),
                new_name: op.new_name,
            });
        })
    };

    // A memo: a pool_changed event with the same state must not rebuild the forms
    // below (and lose what they are showing).
    let active = Memo::new(move |_| pool.with(|p| p.state == PoolState::Active));
    let manageable = summary.pool_type.volumes_manageable();
    let download_base = format!(
        "/api/volumes/download?host={}&pool={}",
        urlencode(&host),
        urlencode(&name)
    );

    view! {
        <section class="panel pool-summary" aria-label="Pool">
            {move || {
                let p = pool.get();
                let source = p.source.describe();
                view! {
                    <dl class="facts">
                        <dt>"Host"</dt><dd>{p.host.clone()}</dd>
                        <dt>"Type"</dt><dd>{p.pool_type.to_string()}</dd>
                        <dt>"State"</dt><dd><PoolStateBadge state=p.state /></dd>
                        <dt>"Target"</dt><dd><code>{p.target_path.clone().unwrap_or_else(|| "—".into())}</code></dd>
                        {(!source.is_empty()).then(|| view! { <dt>"Source"</dt><dd><code>{source}</code></dd> })}
                        <dt>"Usage"</dt>
                        <dd><UsageBar capacity=p.capacity used=p.allocation available=p.available /></dd>
                    </dl>
                }
            }}
        </section>
        {(!manageable).then(|| view! {
            <p class="notice">
                {format!("The volumes of a {} pool are provided by the storage itself (the target's LUNs): they are listed here, but cannot be created, deleted, resized or written through libvirt.", summary.pool_type)}
            </p>
        })}
        {move || (!active.get()).then(|| view! {
            <p class="notice warn">"This pool is not active: start it on the storage page to see and use its volumes."</p>
        })}
        {move || (active.get() && manageable).then(|| {
            let pool = pool.get_untracked();
            view! {
                <div class="two-up">
                    <NewVolume pool=pool.clone() on_done=Callback::new(move |n| { notice.set(Some(n)); version.update(|v| *v += 1); }) />
                    <UploadVolume pool on_done=Callback::new(move |n| { notice.set(Some(n)); version.update(|v| *v += 1); }) />
                </div>
            }
        })}
        <div class="filters" role="search">
            <label class="grow">
                "Name"
                <input
                    type="search"
                    placeholder="Search volumes by name"
                    aria-label="Search volumes by name"
                    prop:value=move || search.get()
                    on:input=move |ev| {
                        search.set(event_target_value(&ev));
                        offset.set(0);
                    }
                />
            </label>
        </div>
        <NoticeLine notice />
        <Transition fallback=|| view! { <p class="muted">"Loading volumes…"</p> }>
            {move || {
                let download_base = download_base.clone();
                page.get()
                    .map(|r| match r {
                        Ok(page) => {
                            let capacity = pool.with(|p| p.capacity);
                            let over = page.committed > capacity && capacity > 0;
                            let last = (page.offset + page.volumes.len()).min(page.total);
                            let first = if page.total == 0 { 0 } else { page.offset + 1 };
                            let (prev, next) = (page.offset > 0, last < page.total);
                            let rows = page
                                .volumes
                                .into_iter()
                                .map(|v| view! { <VolumeRow v manageable download_base=download_base.clone() dialog /> })
                                .collect_view();
                            Either::Left(view! {
                                {over.then(|| view! {
                                    <p class="notice warn" role="status">
                                        {format!(
                                            "Over-committed: the volumes' capacities add up to {}, more than the pool's {}. If the guests fill their sparse disks, the pool runs out of space and their data is corrupted.",
                                            human_bytes(page.committed),
                                            human_bytes(capacity),
                                        )}
                                    </p>
                                })}
                                <p class="count muted" aria-live="polite">
                                    {if page.total == 0 { "No volumes".to_string() } else { format!("Volumes {first}–{last} of {}", page.total) }}
                                </p>
                                <table class="data volumes">
                                    <thead>
                                        <tr>
                                            <th scope="col">"Volume"</th>
                                            <th scope="col">"Format"</th>
                                            <th scope="col" class="num">"Capacity"</th>
                                            <th scope="col" class="num">"Allocated"</th>
                                            <th scope="col">"Used by"</th>
                                            <th scope="col">"Actions"</th>
                                        </tr>
                                    </thead>
                                    <tbody>{rows}</tbody>
                                </table>
                                <nav class="pager" aria-label="Pages">
                                    <button class="secondary" disabled=!prev on:click=move |_| offset.update(|o| *o = o.saturating_sub(PAGE))>"Previous"</button>
                                    <button class="secondary" disabled=!next on:click=move |_| offset.update(|o| *o += PAGE)>"Next"</button>
                                </nav>
                            })
                        }
                        Err(error) => Either::Right(view! { <ErrorNotice error /> }),
                    })
            }}
        </Transition>
        {move || {
            dialog.get().map(move |d| {
                let close = Callback::new(move |_| dialog.set(None));
                match d {
                    Dialog::Delete(v) => {
                        let users = user_labels(&v.used_by, &v.host);
                        let detail = if users.is_empty() {
                            format!("{} ({}) is deleted from the pool. Its data is lost.", v.name, human_bytes(v.capacity))
                        } else {
                            format!("{} is a disk of {users}: deleting it breaks that guest. Its data is lost.", v.name)
                        };
                        Either::Left(view! {
                            <Confirm title=format!("Delete {}?", v.name) detail confirm_label="Delete volume".to_string()
                                on_confirm=Callback::new(move |_| { dialog.set(None); run.run(VolumeRequest::new(&v.name, "delete")); })
                                on_cancel=close />
                        })
                    }
                    Dialog::Wipe(v) => Either::Left(view! {
                        <Confirm title=format!("Wipe {}?", v.name)
                            detail=format!("Every byte of {} is overwritten with zeros. The volume stays, its content is lost.", v.name)
                            confirm_label="Wipe".to_string()
                            on_confirm=Callback::new(move |_| { dialog.set(None); run.run(VolumeRequest::new(&v.name, "wipe")); })
                            on_cancel=close />
                    }),
                    Dialog::Resize(v) => {
                        let current = v.capacity;
                        Either::Right(view! {
                            <Prompt title=format!("Resize {}", v.name)
                                detail=format!("Now {}. Volumes only grow: give a larger size (e.g. 40G); the guest then extends its partition.", human_bytes(current))
                                label="New capacity".to_string()
                                confirm_label="Resize".to_string()
                                check=Callback::new(move |text: String| match ByteSize::parse_capacity(&text) {
                                    Ok(size) if size.bytes() <= current => Err(format!("larger than {} please", human_bytes(current))),
                                    Ok(_) => Ok(()),
                                    Err(e) => Err(e.to_string()),
                                })
                                on_confirm=Callback::new(move |text: String| { dialog.set(None); run.run(VolumeRequest { capacity: Some(text), ..VolumeRequest::new(&v.name, "resize") }); })
                                on_cancel=close />
                        })
                    }
                    Dialog::Clone(v) => {
                        let suggestion = format!("{}-copy", v.name);
                        Either::Right(view! {
                            <Prompt title=format!("Clone {}", v.name)
                                detail="A full copy in the same pool, with the same format.".to_string()
                                label="Name of the copy".to_string()
                                initial=suggestion
                                confirm_label="Clone".to_string()
                                check=Callback::new(|text: String| crate::api::size::StorageName::parse("volume name", &text).map(|_| ()).map_err(|e| e.to_string()))
                                on_confirm=Callback::new(move |text: String| { dialog.set(None); run.run(VolumeRequest { new_name: Some(text), ..VolumeRequest::new(&v.name, "clone") }); })
                                on_cancel=close />
                        })
                    }
                }
            })
        }}
    }
}

#[component]
fn VolumeRow(
    v: VolumeSummary,
    manageable: bool,
    download_base: String,
    dialog: RwSignal<Option<Dialog>>,
) -> impl IntoView {
    let running = v.used_by.iter().any(|u| u.is_running());
    let raw_like = matches!(
        v.format,
        None | Some(VolumeFormat::Raw) | Some(VolumeFormat::Iso)
    );
    let href = format!("{download_base}&name={}", urlencode(&v.name));
    let users = v
        .used_by
        .iter()
        .map(|u| view! { <span class="user-of">{u.label(&v.host)}" "<StateBadge state=u.state /></span> })
        .collect_view();
    // Deleting or wiping destroys the content: no guest may name the volume,
    // shut off or on another host sharing the pool.
    let used = !v.used_by.is_empty();
    let used_reason = "a guest's definition names it";
    let open = move |d: Dialog| move |_| dialog.set(Some(d.clone()));
    let busy_reason = "a running guest uses it";
    view! {
        <tr data-volume=v.name.clone()>
            <td data-label="Volume" class="name">
                <span class="row-title">{v.name.clone()}</span>
                <code class="path">{v.path.clone()}</code>
            </td>
            <td data-label="Format">{v.format.map(|f| f.to_string()).unwrap_or_else(|| "—".into())}</td>
            <td data-label="Capacity" class="num">{human_bytes(v.capacity)}</td>
            <td data-label="Allocated" class="num">{human_bytes(v.allocation)}</td>
            <td data-label="Used by" class="users">{users}</td>
            <td data-label="Actions" class="actions needs-operator">
                {manageable.then(|| view! {
                    <a class="button small secondary" href=href.clone() download=v.name.clone()>"Download"</a>
                    <button class="small" disabled=running title=running.then_some(busy_reason) aria-label=format!("Resize {}", v.name) on:click=open(Dialog::Resize(v.clone()))>"Resize"</button>
                    <button class="small" disabled=running title=running.then_some(busy_reason) aria-label=format!("Clone {}", v.name) on:click=open(Dialog::Clone(v.clone()))>"Clone"</button>
                    {raw_like.then(|| view! {
                        <button class="small danger" disabled=used title=used.then_some(used_reason) aria-label=format!("Wipe {}", v.name) on:click=open(Dialog::Wipe(v.clone()))>"Wipe"</button>
                    })}
                    <button class="small danger" disabled=used title=used.then_some(used_reason) aria-label=format!("Delete {}", v.name) on:click=open(Dialog::Delete(v.clone()))>"Delete"</button>
                })}
            </td>
        </tr>
    }
}

/// How the form's allocation choice reads.
#[derive(Clone, Copy, PartialEq)]
enum AllocChoice {
    Sparse,
    Full,
    Custom,
}

#[component]
fn NewVolume(pool: PoolSummary, on_done: Callback<Notice>) -> impl IntoView {
    let host = pool.host.clone();
    let file_based = matches!(
        pool.pool_type,
        PoolType::Dir | PoolType::Fs | PoolType::Netfs | PoolType::Gluster
    );
    let types = Resource::new(move || host.clone(), pool_types);
    let name = RwSignal::new(String::new());
    let format = RwSignal::new(if file_based { "qcow2" } else { "" }.to_string());
    let capacity = RwSignal::new(String::new());
    let alloc = RwSignal::new(AllocChoice::Sparse);
    let custom = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ApiError>);
    let create = ServerAction::<CreateVolume>::new();
    let pool_type = pool.pool_type;
    let formats = move || {
        types
            .get()
            .and_then(|r| r.ok())
            .and_then(|t| t.types.into_iter().find(|i| i.pool_type == pool_type))
            .map(|i| {
                i.volume_formats
                    .into_iter()
                    .filter(|f| !i.read_only_formats.contains(f))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let partial_ok = move || format.with(|f| f == "raw" || f.is_empty());
    let allocation_arg = move || match alloc.get_untracked() {
        AllocChoice::Sparse => SizeArg::text("sparse"),
        AllocChoice::Full => SizeArg::text("full"),
        AllocChoice::Custom => SizeArg::text(custom.get_untracked()),
    };
    let (h, p) = (pool.host.clone(), pool.name.clone());
    Effect::new(move |_| {
        if let Some(result) = create.value().get() {
            match result {
                Ok(v) => {
                    on_done.run(Notice::Done(format!(
                        "Created {} ({}, {} allocated now).",
                        v.name,
                        human_bytes(v.capacity),
                        human_bytes(v.allocation)
                    )));
                    name.set(String::new());
                }
                Err(e) => error.set(Some(e)),
            }
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let f = format.get_untracked();
        let f = (!f.is_empty()).then_some(f);
        let cap = SizeArg::text(capacity.get_untracked());
        let allocation = allocation_arg();
        match validate_new_volume(&name.get_untracked(), f.as_deref(), &cap, &allocation) {
            Ok(_) => {
                error.set(None);
                create.dispatch(CreateVolume {
                    host: h.clone(),
                    pool: p.clone(),
                    name: name.get_untracked(),
                    format: f,
                    capacity: cap,
                    allocation,
                });
            }
            Err(e) => error.set(Some(e)),
        }
    };
    let size_hint = move || match ByteSize::parse_capacity(&capacity.get()) {
        Ok(size) => format!("= {size}"),
        Err(_) if capacity.with(String::is_empty) => {
            "e.g. 20G, 512MiB (K, M, G, T = powers of 1024; KB, MB, GB = powers of 1000)".into()
        }
        Err(e) => e.to_string(),
    };
    view! {
        <form class="panel needs-operator" on:submit=submit aria-label="New volume">
            <h2>"New volume"</h2>
            <div class="grid">
                <label>
                    "Name"
                    <input name="volume-name" required autocomplete="off" placeholder="e.g. web02.qcow2"
                        prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                </label>
                {file_based.then(|| view! {
                    <label>
                        "Format"
                        <Transition fallback=|| view! { <select disabled=true><option>"qcow2"</option></select> }>
                            {move || {
                                let list = formats();
                                view! {
                                    <select name="format" prop:value=move || format.get() on:change=move |ev| {
                                        format.set(event_target_value(&ev));
                                        if !partial_ok() && alloc.get_untracked() == AllocChoice::Custom { alloc.set(AllocChoice::Sparse); }
                                    }>
                                        {list.into_iter().map(|f| view! { <option value=f.clone()>{f.clone()}</option> }).collect_view()}
                                    </select>
                                }
                            }}
                        </Transition>
                    </label>
                })}
                <label>
                    "Capacity"
                    <input name="capacity" required autocomplete="off" placeholder="20G"
                        prop:value=move || capacity.get() on:input=move |ev| capacity.set(event_target_value(&ev)) />
                    <span class="help">{size_hint}</span>
                </label>
            </div>
            <fieldset class="allocation">
                <legend>"Allocation"</legend>
                <label class="check">
                    <input type="radio" name="allocation" prop:checked=move || alloc.get() == AllocChoice::Sparse on:change=move |_| alloc.set(AllocChoice::Sparse) />
                    "Sparse: takes space only as the guest writes, up to the capacity. Fast to create; if the pool runs out of space, the guest's writes fail and data is corrupted."
                </label>
                <label class="check">
                    <input type="radio" name="allocation" prop:checked=move || alloc.get() == AllocChoice::Full on:change=move |_| alloc.set(AllocChoice::Full) />
                    "Full: reserves the whole capacity now (slower to create, never runs out)."
                </label>
                {move || partial_ok().then(|| view! {
                    <label class="check">
                        <input type="radio" name="allocation" prop:checked=move || alloc.get() == AllocChoice::Custom on:change=move |_| alloc.set(AllocChoice::Custom) />
                        "Part of it now:"
                        <input class="inline" name="allocation-size" placeholder="e.g. 4G" aria-label="Allocate now"
                            prop:value=move || custom.get() on:input=move |ev| { custom.set(event_target_value(&ev)); alloc.set(AllocChoice::Custom); } />
                    </label>
                })}
            </fieldset>
            {move || error.get().map(|error| view! { <ErrorNotice error /> })}
            <div class="form-actions">
                <button type="submit" disabled=move || create.pending().get()>
                    {move || if create.pending().get() { "Creating…" } else { "Create volume" }}
                </button>
            </div>
        </form>
    }
}

#[component]
pub(crate) fn UploadVolume(pool: PoolSummary, on_done: Callback<Notice>) -> impl IntoView {
    let file_input = NodeRef::<html::Input>::new();
    let name = RwSignal::new(String::new());
    let progress = RwSignal::new(None::<Progress>);
    let running = RwSignal::new(None::<upload::Upload>);
    let error = RwSignal::new(None::<ApiError>);
    let started_at = RwSignal::new(0.0f64);
    let base = format!(
        "/api/volumes/upload?host={}&pool={}",
        urlencode(&pool.host),
        urlencode(&pool.name)
    );
    let on_file = move |_| {
        if let Some(input) = file_input.get() {
            if let Some(file) = input.files().and_then(|f| f.get(0)) {
                name.set(upload::volume_name_from_file(&file.name()));
            }
        }
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        let volume = name.get_untracked();
        if let Err(e) = crate::api::size::StorageName::parse("volume name", &volume) {
            error.set(Some(e));
            return;
        }
        #[cfg(feature = "hydrate")]
        {
            let Some(input) = file_input.get_untracked() else {
                return;
            };
            let url = format!("{base}&name={}", urlencode(&volume));
            started_at.set(js_sys_now());
            progress.set(Some(Progress::default()));
            let started = upload::start(
                &url,
                &input,
                move |p| progress.set(Some(p)),
                move |result| {
                    running.set(None);
                    progress.set(None);
                    match result {
                        Ok(v) => on_done.run(Notice::Done(format!(
                            "Uploaded {} ({}).",
                            v.name,
                            human_bytes(v.capacity)
                        ))),
                        Err(e) => error.set(Some(e)),
                    }
                },
            );
            match started {
                Ok(u) => running.set(Some(u)),
                Err(e) => {
                    progress.set(None);
                    error.set(Some(e));
                }
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (&base, started_at, on_done);
    };
    let status = move || {
        progress.get().map(|p| {
            let percent = if p.total > 0.0 { p.sent * 100.0 / p.total } else { 0.0 };
            let elapsed = (js_sys_now() - started_at.get_untracked()) / 1000.0;
            let speed = if elapsed > 0.0 { p.sent / elapsed } else { 0.0 };
            let label = format!(
                "{} of {} ({percent:.0}%) · {}/s",
                human_bytes(p.sent as u64),
                human_bytes(p.total as u64),
                human_bytes(speed as u64)
            );
            view! {
                <div class="progress">
                    <progress max="100" value=format!("{percent:.1}") aria-label="Upload progress"></progress>
                    <span>{label}</span>
                    <button type="button" class="secondary small" on:click=move |_| { if let Some(u) = running.get_untracked() { u.abort(); } }>"Cancel"</button>
                </div>
            }
        })
    };
    view! {
        <form class="panel needs-operator" on:submit=submit aria-label="Upload a file">
            <h2>"Upload a file"</h2>
            <p class="help">"An ISO image or a disk image from this computer becomes a new volume of the same size, streamed to the host as it is read."</p>
            <label>
                "File"
                <input type="file" name="file" required node_ref=file_input on:change=on_file />
            </label>
            <label>
                "Volume name"
                <input name="upload-name" required autocomplete="off" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
            </label>
            {status}
            {move || error.get().map(|error| view! { <ErrorNotice error /> })}
            <div class="form-actions">
                <button type="submit" disabled=move || progress.with(Option::is_some)>"Upload"</button>
            </div>
        </form>
    }
}

/// Milliseconds since the page loaded (0 on the server).
fn js_sys_now() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        window().performance().map(|p| p.now()).unwrap_or(0.0)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0.0
    }
}
