//! One guest's page (`/guests/:host/:uuid`): its overview (devices included),
//! live usage charts, lifecycle buttons that follow a shutdown request until
//! the guest powers off, editing, snapshots as a tree, clone as a job with
//! progress, and delete. Live: `/ws` events update it in place.

use std::{rc::Rc, time::Duration};

use leptos::{html, prelude::*, task::spawn_local};
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};

use super::storage::urlencode;
use crate::{
    api::{
        events::ServerEvent,
        guest_detail::{
            clone_guest, create_snapshot, delete_guest, guest_detail, guest_job, guest_stats,
            list_snapshots, snapshot_action, update_guest, AttachDisk, AttachNic, DiskInfo,
            GuestDetail, GuestJob, GuestStats, GuestUpdateArgs, JobState, NicInfo, SnapshotInfo,
            BOOT_DEVICES,
        },
        guest_new::guest_options,
        guests::{guest_action, GuestAction, GuestState},
        pools::{list_pools, PoolState, PoolSummary},
        size::{human_bytes, NumArg, StorageName},
        volumes::list_volumes,
        ApiError,
    },
    components::{confirm::Confirm, format, live::use_server_events, ErrorNotice, StateBadge},
};

/// Usage samples kept for the charts (two minutes at one every 2 s).
const SAMPLES: usize = 61;
/// After this long without the guest powering off, "Force off" is offered.
const FORCE_AFTER_MS: f64 = 30_000.0;

#[component]
pub fn GuestPage() -> impl IntoView {
    let params = use_params_map();
    let key = Memo::new(move |_| {
        params.with(|p| {
            (
                p.get("host").unwrap_or_default(),
                p.get("uuid").unwrap_or_default(),
            )
        })
    });
    let detail = Resource::new(move || key.get(), |(host, uuid)| guest_detail(host, uuid));
    view! {
        <main class="page guest-page">
            <p class="breadcrumb">
                <a href="/guests">"Guests"</a>
                " / "
                {move || key.get().0}
                " /"
            </p>
            <Suspense fallback=|| view! { <p class="muted">"Loading the guest…"</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(detail) => view! { <GuestView detail /> }.into_any(),
                        Err(error) => view! {
                            <Title text="Guest" />
                            <h1>"Guest"</h1>
                            <ErrorNotice error />
                        }
                        .into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}

/// A line above a section: what an action did, or why it failed.
#[derive(Clone)]
enum Notice {
    Done(String),
    Failed(ApiError),
}

fn show_notice(notice: RwSignal<Option<Notice>>) -> impl IntoView {
    move || {
        notice.get().map(|n| match n {
            Notice::Done(text) => {
                view! { <div class="notice ok" role="status">{text}</div> }.into_any()
            }
            Notice::Failed(error) => view! { <ErrorNotice error /> }.into_any(),
        })
    }
}

/// A shutdown or reboot the guest was asked for, and since when (ms since the epoch).
#[derive(Clone, Copy, PartialEq)]
struct Request {
    action: GuestAction,
    since: f64,
}

/// What a dialog is open for.
#[derive(Clone)]
enum Dialog {
    Action(GuestAction),
    DetachDisk(DiskInfo),
    DetachNic(NicInfo),
    Revert(String),
    DeleteSnapshot(String),
    Clone,
    Delete,
}

/// The guest is off: a shutdown request has been honoured.
fn is_off(state: GuestState) -> bool {
    matches!(state, GuestState::Shutoff | GuestState::Crashed)
}

/// Milliseconds since the Unix epoch (0 on the server).
fn now_ms() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0.0
    }
}

/// Whole seconds as `12 s` or `2 min 05 s`.
fn elapsed(ms: f64) -> String {
    let s = (ms.max(0.0) / 1000.0) as u64;
    if s < 60 {
        format!("{s} s")
    } else {
        format!("{} min {:02} s", s / 60, s % 60)
    }
}

/// Days since 1970-01-01 as (year, month, day) (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Seconds since the epoch as `2026-11-27 00:47 UTC`.
fn utc(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// An RFC 3339 UTC time as `2026-11-27 00:47:12 UTC`.
fn rfc3339(text: &str) -> String {
    let t = text.replacen('T', " ", 1);
    let t = t.split('.').next().unwrap_or(&t).trim_end_matches('Z');
    format!("{t} UTC")
}

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

/// Calls `tick` at once and every `every` while `active` is true; stops when
/// the calling component goes away. Browser only (effects never run on the server).
fn use_interval(active: Signal<bool>, every: Duration, tick: impl Fn() + 'static) {
    let tick = Rc::new(tick);
    let handle = StoredValue::new(None::<IntervalHandle>);
    Effect::new(move |_| {
        let on = active.get();
        if let Some(h) = handle.get_value() {
            h.clear();
            handle.set_value(None);
        }
        if on {
            untrack(|| tick());
            let t = tick.clone();
            if let Ok(h) = set_interval_with_handle(move || t(), every) {
                handle.set_value(Some(h));
            }
        }
    });
    on_cleanup(move || {
        if let Some(Some(h)) = handle.try_get_value() {
            h.clear();
        }
    });
}

/// Sends one change of the guest; the page shows the detail the server answers.
fn send_update(
    args: GuestUpdateArgs,
    d: RwSignal<GuestDetail>,
    done: impl FnOnce(Result<(), ApiError>) + 'static,
) {
    spawn_local(async move {
        match update_guest(args).await {
            Ok(new) => {
                d.try_set(new);
                done(Ok(()));
            }
            Err(e) => done(Err(e)),
        }
    });
}

#[component]
fn GuestView(detail: GuestDetail) -> impl IntoView {
    let host = detail.guest.host.clone();
    let uuid = detail.guest.uuid.clone();
    let base = GuestUpdateArgs {
        host: host.clone(),
        uuid: uuid.clone(),
        ..Default::default()
    };
    let d = RwSignal::new(detail);
    let notice = RwSignal::new(None::<Notice>);
    let device_notice = RwSignal::new(None::<Notice>);
    let dialog = RwSignal::new(None::<Dialog>);
    let request = RwSignal::new(None::<Request>);
    let acting = RwSignal::new(None::<GuestAction>);
    let removed = RwSignal::new(false);
    let deleting = RwSignal::new(false);
    let jobs = RwSignal::new(Vec::<GuestJob>::new());
    let snap_version = RwSignal::new(0u32);
    let now = RwSignal::new(now_ms());

    let state = Memo::new(move |_| d.with(|x| x.guest.state));
    let running =
        Memo::new(move |_| matches!(state.get(), GuestState::Running | GuestState::Blocked));
    let name = Memo::new(move |_| d.with(|x| x.guest.name.clone()));

    // Reads the whole detail again (a burst of events costs one read).
    let reload_now = {
        let (host, uuid) = (host.clone(), uuid.clone());
        move || {
            let (host, uuid) = (host.clone(), uuid.clone());
            spawn_local(async move {
                match guest_detail(host, uuid).await {
                    Ok(x) => {
                        d.try_set(x);
                    }
                    Err(ApiError::NotFound(_)) => {
                        removed.try_set(true);
                    }
                    Err(_) => {}
                }
            });
        }
    };
    let scheduled = StoredValue::new(false);
    let reload_soon = {
        let reload_now = reload_now.clone();
        move || {
            if scheduled.get_value() {
                return;
            }
            scheduled.set_value(true);
            let reload_now = reload_now.clone();
            set_timeout(
                move || {
                    if scheduled.try_set_value(false).is_none() {
                        reload_now();
                    }
                },
                Duration::from_millis(300),
            );
        }
    };
    {
        let (host, uuid) = (host.clone(), uuid.clone());
        let reload_now = reload_now.clone();
        let reload_soon = reload_soon.clone();
        use_server_events(move |event| match event {
            ServerEvent::GuestChanged { guest } if guest.host == host && guest.uuid == uuid => {
                d.update(|x| x.guest = guest);
                reload_soon();
            }
            ServerEvent::GuestRemoved { host: h, uuid: u }
                if h == host && u == uuid && !deleting.get_untracked() =>
            {
                removed.set(true)
            }
            ServerEvent::GuestJob(job) if job.host == host && job.uuid == uuid => {
                jobs.update(|list| {
                    list.retain(|j| j.id != job.id);
                    list.push(*job);
                })
            }
            ServerEvent::VolumesChanged { host: h, .. } if h == host => reload_soon(),
            ServerEvent::Hello { .. } => {
                reload_now();
                snap_version.update(|v| *v += 1);
            }
            _ => {}
        });
    }

    // A shutdown request ends when the guest is off.
    Effect::new(move |_| {
        let s = state.get();
        if let Some(req) = request.get() {
            if is_off(s) {
                request.set(None);
                let what = match req.action {
                    GuestAction::Reboot => "Reboot requested, but",
                    _ => "Shutdown requested:",
                };
                notice.set(Some(Notice::Done(format!(
                    "{what} {} powered off after {} (now {}).",
                    name.get_untracked(),
                    elapsed(now_ms() - req.since),
                    s.label()
                ))));
            }
        }
    });
    // The elapsed time of a request, every second while there is one.
    use_interval(
        Signal::derive(move || request.with(Option::is_some)),
        Duration::from_secs(1),
        move || {
            now.try_set(now_ms());
        },
    );

    let run = {
        let (host, uuid) = (host.clone(), uuid.clone());
        Callback::new(move |act: GuestAction| {
            let (host, uuid) = (host.clone(), uuid.clone());
            let reload_soon = reload_soon.clone();
            acting.set(Some(act));
            notice.set(None);
            spawn_local(async move {
                let result = guest_action(host, uuid, act.as_str().to_string()).await;
                acting.try_set(None);
                match result {
                    Ok(g) => {
                        match act {
                            GuestAction::Shutdown | GuestAction::Reboot => {
                                request.try_set(Some(Request {
                                    action: act,
                                    since: now_ms(),
                                }));
                                now.try_set(now_ms());
                            }
                            _ => {
                                request.try_set(None);
                                notice.try_set(Some(Notice::Done(format!(
                                    "{} {}: now {}.",
                                    act.done(),
                                    g.name,
                                    g.state.label()
                                ))));
                            }
                        }
                        d.try_update(|x| x.guest = g);
                        reload_soon();
                    }
                    Err(e) => {
                        notice.try_set(Some(Notice::Failed(e)));
                    }
                }
            });
        })
    };
    let on_action = Callback::new(move |act: GuestAction| {
        if act.is_destructive() {
            dialog.set(Some(Dialog::Action(act)));
        } else {
            run.run(act);
        }
    });

    let buttons = move || {
        let busy = acting.get().is_some() || d.with(|x| x.guest.stale);
        state
            .get()
            .actions()
            .iter()
            .map(|&act| {
                let label = move || {
                    if acting.get() == Some(act) {
                        "Working…"
                    } else {
                        act.label()
                    }
                };
                view! {
                    <button
                        class=if act.is_destructive() { "danger" } else { "" }
                        disabled=busy
                        on:click=move |_| on_action.run(act)
                    >
                        {label}
                    </button>
                }
            })
            .collect_view()
    };
    let console_links = {
        let path = format!("/guests/{}/{}", urlencode(&host), urlencode(&uuid));
        move || {
            let (vnc, serial) = d.with(|x| (x.graphics.iter().any(|g| g.kind == "vnc"), x.serial));
            let path = path.clone();
            view! {
                {vnc.then(|| view! { <a class="button" href=format!("{path}/console") rel="external">"Console"</a> })}
                {serial.then(|| view! { <a class="button" href=format!("{path}/serial") rel="external">"Serial console"</a> })}
            }
        }
    };

    let request_banner = move || {
        request.get().map(|req| {
            let waited = now.get() - req.since;
            let text = match req.action {
                GuestAction::Reboot => "Reboot requested — the guest restarts if it honours the request (the guest may ignore it: no ACPI, a hung OS).",
                _ => "Shutdown requested — waiting for the guest to power off (the guest may ignore it: no ACPI, a hung OS).",
            };
            view! {
                <div class="notice warn request" role="status" data-request=req.action.as_str()>
                    <span>{text}</span>
                    " "
                    <span class="elapsed">{format!("Waiting for {}.", elapsed(waited))}</span>
                    <div class="request-actions">
                        {(waited >= FORCE_AFTER_MS).then(|| view! {
                            <button class="danger needs-operator" on:click=move |_| dialog.set(Some(Dialog::Action(GuestAction::Destroy)))>"Force off"</button>
                        })}
                        <button class="secondary" on:click=move |_| request.set(None)>"Stop waiting"</button>
                    </div>
                </div>
            }
        })
    };

    // Clone jobs of this guest, while their dialog is closed.
    let job_lines = move || {
        let open = matches!(dialog.get(), Some(Dialog::Clone));
        (!open).then(|| {
            jobs.get()
                .into_iter()
                .map(|j| {
                    let title = format!("Clone into {}", j.name);
                    let label = title.clone();
                    view! {
                        <section class="panel job" aria-label=label>
                            <h2>{title}</h2>
                            {job_view(j)}
                        </section>
                    }
                })
                .collect_view()
        })
    };

    let pools = LocalResource::new(list_pools);
    let host_pools = {
        let host = host.clone();
        Signal::derive(move || {
            pools
                .get()
                .and_then(|r| r.ok())
                .unwrap_or_default()
                .into_iter()
                .filter(|p| p.host == host && p.state == PoolState::Active)
                .collect::<Vec<PoolSummary>>()
        })
    };

    let snapshot_act = {
        let (host, uuid) = (host.clone(), uuid.clone());
        let reload_now = reload_now.clone();
        Callback::new(move |(snapshot, action): (String, &'static str)| {
            let (host, uuid) = (host.clone(), uuid.clone());
            let reload_now = reload_now.clone();
            spawn_local(async move {
                let result =
                    snapshot_action(host, uuid, snapshot.clone(), action.to_string()).await;
                match result {
                    Ok(_) => {
                        let text = if action == "revert" {
                            format!("Reverted to snapshot {snapshot}.")
                        } else {
                            format!("Deleted snapshot {snapshot}.")
                        };
                        notice.try_set(Some(Notice::Done(text)));
                    }
                    Err(e) => {
                        notice.try_set(Some(Notice::Failed(e)));
                    }
                }
                snap_version.try_update(|v| *v += 1);
                reload_now();
            });
        })
    };

    let detach = {
        move |args: GuestUpdateArgs, what: String| {
            device_notice.set(None);
            send_update(args, d, move |r| {
                device_notice.try_set(Some(match r {
                    Ok(()) => Notice::Done(what),
                    Err(e) => Notice::Failed(e),
                }));
            });
        }
    };

    let dialogs = {
        let base = base.clone();
        let (host, uuid) = (host.clone(), uuid.clone());
        move || {
            let close = Callback::new(move |_| dialog.set(None));
            dialog.get().map(|which| match which {
                Dialog::Action(act) => view! {
                    <Confirm
                        title=format!("{} {}?", act.label(), name.get_untracked())
                        detail=format!("{} stops at once, like pulling its power cord. Unsaved data inside the guest is lost.", name.get_untracked())
                        confirm_label=act.label().to_string()
                        on_confirm=Callback::new(move |_| { dialog.set(None); run.run(act); })
                        on_cancel=close
                    />
                }
                .into_any(),
                Dialog::DetachDisk(disk) => {
                    let args = GuestUpdateArgs { detach_disk: Some(disk.target.clone()), ..base.clone() };
                    let target = disk.target.clone();
                    view! {
                        <Confirm
                            title=format!("Detach disk {}?", disk.target)
                            detail=format!(
                                "{} is removed from {} ({}). The volume itself is kept.",
                                disk.target,
                                name.get_untracked(),
                                disk.path.clone().unwrap_or_else(|| "empty drive".into()),
                            )
                            confirm_label="Detach".to_string()
                            on_confirm=Callback::new(move |_| {
                                dialog.set(None);
                                detach(args.clone(), format!("Detached disk {target}."));
                            })
                            on_cancel=close
                        />
                    }
                    .into_any()
                }
                Dialog::DetachNic(nic) => {
                    let mac = nic.mac.clone().unwrap_or_default();
                    let args = GuestUpdateArgs { detach_nic: Some(mac.clone()), ..base.clone() };
                    view! {
                        <Confirm
                            title=format!("Detach interface {mac}?")
                            detail=format!(
                                "{} loses this network interface ({} {}).",
                                name.get_untracked(),
                                nic.kind,
                                nic.source.clone().unwrap_or_default(),
                            )
                            confirm_label="Detach".to_string()
                            on_confirm=Callback::new(move |_| {
                                dialog.set(None);
                                detach(args.clone(), format!("Detached interface {mac}."));
                            })
                            on_cancel=close
                        />
                    }
                    .into_any()
                }
                Dialog::Revert(snapshot) => view! {
                    <Confirm
                        title=format!("Revert to {snapshot}?")
                        detail=format!(
                            "{} goes back to the state of snapshot {snapshot}: the guest's current state is lost unless snapshotted.",
                            name.get_untracked(),
                        )
                        confirm_label="Revert".to_string()
                        on_confirm=Callback::new(move |_| { dialog.set(None); snapshot_act.run((snapshot.clone(), "revert")); })
                        on_cancel=close
                    />
                }
                .into_any(),
                Dialog::DeleteSnapshot(snapshot) => view! {
                    <Confirm
                        title=format!("Delete snapshot {snapshot}?")
                        detail="The snapshot is removed; the guest as it is now does not change.".to_string()
                        confirm_label="Delete snapshot".to_string()
                        on_confirm=Callback::new(move |_| { dialog.set(None); snapshot_act.run((snapshot.clone(), "delete")); })
                        on_cancel=close
                    />
                }
                .into_any(),
                Dialog::Clone => view! {
                    <CloneDialog d host=host.clone() uuid=uuid.clone() jobs pools=host_pools on_close=close />
                }
                .into_any(),
                Dialog::Delete => view! {
                    <DeleteDialog d deleting on_close=close />
                }
                .into_any(),
            })
        }
    };

    view! {
        <Title text=move || name.get() />
        <header class="guest-head">
            <h1>{move || name.get()}</h1>
            {move || view! { <StateBadge state=state.get() /> }}
            {move || request.with(Option::is_some).then(|| view! { <span class="tag">"shutdown requested"</span> })}
            {move || d.with(|x| x.guest.stale).then(|| view! { <span class="tag stale" title="Its host is not connected: this is the guest as last seen">"last seen"</span> })}
        </header>
        {move || removed.get().then(|| view! {
            <div class="notice error" role="alert">
                "This guest is no longer defined on its host (deleted or moved away). "
                <a href="/guests">"Back to the guest list"</a>
            </div>
        })}
        <div class="toolbar guest-actions needs-operator" role="group" aria-label="Guest actions">
            {buttons}
            {console_links}
            <button class="secondary" on:click=move |_| dialog.set(Some(Dialog::Clone))>"Clone…"</button>
            <button class="danger" on:click=move |_| dialog.set(Some(Dialog::Delete))>"Delete…"</button>
        </div>
        {request_banner}
        {show_notice(notice)}
        {job_lines}
        <div class="guest-sections">
            <Overview d device_notice dialog />
            <Usage d running host=host.clone() uuid=uuid.clone() />
            <EditPanel d base=base.clone() pools=host_pools />
            <Snapshots host=host.clone() uuid=uuid.clone() running version=snap_version dialog notice />
        </div>
        {dialogs}
    }
}

#[component]
fn Overview(
    d: RwSignal<GuestDetail>,
    device_notice: RwSignal<Option<Notice>>,
    dialog: RwSignal<Option<Dialog>>,
) -> impl IntoView {
    let facts = move || {
        let x = d.get();
        let g = &x.guest;
        let boot = if x.boot.is_empty() {
            "—".to_string()
        } else {
            x.boot.join(" → ")
        };
        view! {
            <dl class="facts">
                <dt>"State"</dt><dd><StateBadge state=g.state /></dd>
                <dt>"Host"</dt><dd>{g.host.clone()}</dd>
                <dt>"vCPUs"</dt>
                <dd data-fact="vcpus">{format!("{} (maximum {})", g.vcpus, x.max_vcpus)}</dd>
                <dt>"Memory"</dt>
                <dd data-fact="memory">
                    {format!("{} of {} maximum", format::kib(x.memory_kib), format::kib(x.max_memory_kib))}
                    <span class="help">" (current balloon size of its maximum)"</span>
                </dd>
                <dt>"Accel"</dt><dd>{x.accel.clone()}{x.arch.clone().map(|a| format!(" · {a}"))}</dd>
                <dt>"Machine"</dt><dd>{x.machine.clone().unwrap_or_else(|| "—".into())}</dd>
                <dt>"Firmware"</dt><dd>{x.firmware.label()}</dd>
                <dt>"Boot order"</dt><dd data-fact="boot">{boot}</dd>
                <dt>"OS"</dt><dd>{x.os.clone().unwrap_or_else(|| "not recorded".into())}</dd>
                <dt>"Autostart"</dt><dd data-fact="autostart">{if g.autostart { "yes: starts when the host boots" } else { "no" }}</dd>
                <dt>"Definition"</dt>
                <dd>{if g.persistent { "persistent" } else { "transient: gone when it stops" }}</dd>
                <dt>"Running since"</dt>
                <dd>
                    {match (&x.running_since, g.state) {
                        (Some(t), GuestState::Running | GuestState::Paused | GuestState::Blocked) => rfc3339(t),
                        (None, GuestState::Running | GuestState::Paused | GuestState::Blocked) => "before virtdeck connected".to_string(),
                        _ => "not running".to_string(),
                    }}
                </dd>
                <dt>"Snapshots"</dt><dd>{x.snapshots}</dd>
                <dt>"UUID"</dt><dd><code>{g.uuid.clone()}</code></dd>
            </dl>
        }
    };
    let disks = move || {
        let list = d.with(|x| x.disks.clone());
        if list.is_empty() {
            return view! { <p class="muted">"No disks."</p> }.into_any();
        }
        let rows = list
            .into_iter()
            .map(|disk| {
                let shared = if disk.shared_with.is_empty() {
                    "—".to_string()
                } else {
                    disk.shared_with.join(", ")
                };
                let volume = match (&disk.pool, &disk.volume) {
                    (Some(p), Some(v)) => format!("{p} / {v}"),
                    _ => "—".to_string(),
                };
                let target = disk.target.clone();
                let d2 = disk.clone();
                view! {
                    <tr data-disk=target.clone()>
                        <td data-label="Target" class="name">
                            <span class="row-title">{target.clone()}</span>
                            {disk.readonly.then(|| view! { <span class="tag">"read-only"</span> })}
                        </td>
                        <td data-label="Device">{disk.device.clone()}</td>
                        <td data-label="Bus">{disk.bus.clone().unwrap_or_else(|| "—".into())}</td>
                        <td data-label="Source" class="path"><code class="path">{disk.path.clone().unwrap_or_else(|| "(empty)".into())}</code></td>
                        <td data-label="Pool / volume">{volume}</td>
                        <td data-label="Format">{disk.format.clone().unwrap_or_else(|| "—".into())}</td>
                        <td data-label="Size" class="num">{disk.capacity.map(human_bytes).unwrap_or_else(|| "—".into())}</td>
                        <td data-label="Shared with">{shared}</td>
                        <td data-label="Actions" class="actions needs-operator">
                            <button class="small danger" aria-label=format!("Detach disk {target}")
                                on:click=move |_| dialog.set(Some(Dialog::DetachDisk(d2.clone())))>"Detach"</button>
                        </td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <div class="table-scroll">
                <table class="data disks">
                    <thead>
                        <tr>
                            <th scope="col">"Target"</th>
                            <th scope="col">"Device"</th>
                            <th scope="col">"Bus"</th>
                            <th scope="col">"Source"</th>
                            <th scope="col">"Pool / volume"</th>
                            <th scope="col">"Format"</th>
                            <th scope="col" class="num">"Size"</th>
                            <th scope="col">"Shared with"</th>
                            <th scope="col" class="needs-operator">"Actions"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
        .into_any()
    };
    let nics = move || {
        let list = d.with(|x| x.nics.clone());
        if list.is_empty() {
            return view! { <p class="muted">"No network interfaces."</p> }.into_any();
        }
        let rows = list
            .into_iter()
            .map(|nic| {
                let mac = nic.mac.clone().unwrap_or_else(|| "—".into());
                let n2 = nic.clone();
                view! {
                    <tr data-mac=mac.clone()>
                        <td data-label="MAC" class="name"><code class="row-title">{mac.clone()}</code></td>
                        <td data-label="Kind">{nic.kind.clone()}</td>
                        <td data-label="Source">{nic.source.clone().unwrap_or_else(|| "—".into())}</td>
                        <td data-label="Model">{nic.model.clone().unwrap_or_else(|| "—".into())}</td>
                        <td data-label="Actions" class="actions needs-operator">
                            {nic.mac.is_some().then(|| view! {
                                <button class="small danger" aria-label=format!("Detach interface {mac}")
                                    on:click=move |_| dialog.set(Some(Dialog::DetachNic(n2.clone())))>"Detach"</button>
                            })}
                        </td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <div class="table-scroll">
                <table class="data nics">
                    <thead>
                        <tr>
                            <th scope="col">"MAC"</th>
                            <th scope="col">"Kind"</th>
                            <th scope="col">"Source"</th>
                            <th scope="col">"Model"</th>
                            <th scope="col" class="needs-operator">"Actions"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
        .into_any()
    };
    let graphics = move || {
        let list = d.with(|x| x.graphics.clone());
        if list.is_empty() {
            return view! { <p class="muted">"No graphical display."</p> }.into_any();
        }
        list.into_iter()
            .map(|g| {
                let port = g
                    .port
                    .map(|p| format!("port {p}"))
                    .unwrap_or_else(|| "port chosen when it starts".into());
                let listen = g.listen.clone().map(|l| format!(" on {l}")).unwrap_or_default();
                let password = if g.password { " · password set" } else { "" };
                view! { <p class="graphics">{format!("{}: {port}{listen}{password}", g.kind.to_uppercase())}</p> }
            })
            .collect_view()
            .into_any()
    };
    view! {
        <section class="panel overview wide" aria-labelledby="overview-title">
            <h2 id="overview-title">"Overview"</h2>
            {facts}
            <h3>"Disks"</h3>
            {show_notice(device_notice)}
            {disks}
            <h3>"Network interfaces"</h3>
            {nics}
            <h3>"Display"</h3>
            {graphics}
        </section>
    }
}

#[component]
fn Usage(
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
fn Sparkline(values: Vec<f64>, label: String) -> impl IntoView {
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

/// Boot devices in order, each on or off.
type BootList = Vec<(String, bool)>;

fn boot_list(boot: &[String]) -> BootList {
    let mut list: BootList = boot.iter().map(|b| (b.clone(), true)).collect();
    for dev in BOOT_DEVICES {
        if !boot.iter().any(|b| b == dev) {
            list.push((dev.to_string(), false));
        }
    }
    list
}

#[component]
fn EditPanel(
    d: RwSignal<GuestDetail>,
    base: GuestUpdateArgs,
    pools: Signal<Vec<PoolSummary>>,
) -> impl IntoView {
    let memory = RwSignal::new(String::new());
    let vcpus = RwSignal::new(String::new());
    let autostart = RwSignal::new(false);
    let boot = RwSignal::new(BootList::new());
    let reset = move || {
        d.with_untracked(|x| {
            memory.set((x.memory_kib / 1024).to_string());
            vcpus.set(x.guest.vcpus.to_string());
            autostart.set(x.guest.autostart);
            boot.set(boot_list(&x.boot));
        })
    };
    reset();
    let saving = RwSignal::new(false);
    let form_notice = RwSignal::new(None::<Notice>);

    let save = {
        let base = base.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let x = d.get_untracked();
            let mut args = base.clone();
            let mut changes = Vec::new();
            let mem = memory.get_untracked().trim().to_string();
            if mem != (x.memory_kib / 1024).to_string() {
                args.memory_mib = NumArg(serde_json::Value::String(mem.clone()));
                changes.push(format!("memory {mem} MiB"));
            }
            let cpus = vcpus.get_untracked().trim().to_string();
            if cpus != x.guest.vcpus.to_string() {
                args.vcpus = NumArg(serde_json::Value::String(cpus.clone()));
                changes.push(format!("{cpus} vCPUs"));
            }
            let auto = autostart.get_untracked();
            if auto != x.guest.autostart {
                args.autostart = Some(auto);
                changes.push(format!("autostart {}", if auto { "on" } else { "off" }));
            }
            let order: Vec<String> = boot
                .get_untracked()
                .into_iter()
                .filter(|(_, on)| *on)
                .map(|(dev, _)| dev)
                .collect();
            if order != x.boot {
                changes.push(format!("boot order {}", order.join(" → ")));
                args.boot = Some(order);
            }
            if changes.is_empty() {
                form_notice.set(Some(Notice::Done("Nothing to change.".into())));
                return;
            }
            saving.set(true);
            form_notice.set(None);
            let what = changes.join(", ");
            send_update(args, d, move |r| {
                saving.try_set(false);
                form_notice.try_set(Some(match r {
                    Ok(()) => {
                        reset();
                        Notice::Done(format!("Saved: {what}."))
                    }
                    Err(e) => Notice::Failed(e),
                }));
            });
        }
    };
    let limits = move || {
        d.with(|x| {
            format!(
                "While the guest runs, memory can change up to its maximum ({}) and vCPUs up to {}; more than that needs the guest shut off first (the server says so if it refuses).",
                format::kib(x.max_memory_kib),
                x.max_vcpus
            )
        })
    };
    let boot_rows = move || {
        let list = boot.get();
        let n = list.len();
        list.into_iter()
            .enumerate()
            .map(|(i, (dev, on))| {
                let label = match dev.as_str() {
                    "hd" => "Disk (hd)",
                    "cdrom" => "CD-ROM (cdrom)",
                    "network" => "Network (PXE)",
                    _ => "?",
                };
                let dev2 = dev.clone();
                view! {
                    <li data-boot=dev.clone()>
                        <label class="check">
                            <input type="checkbox" prop:checked=on on:change=move |ev| {
                                let checked = event_target_checked(&ev);
                                boot.update(|l| { if let Some(e) = l.iter_mut().find(|(d, _)| *d == dev2) { e.1 = checked; } });
                            } />
                            {label}
                        </label>
                        <button type="button" class="secondary small" disabled={i == 0} aria-label=format!("Move {dev} up")
                            on:click=move |_| boot.update(|l| if i > 0 { l.swap(i, i - 1) })>"↑"</button>
                        <button type="button" class="secondary small" disabled={i + 1 == n} aria-label=format!("Move {dev} down")
                            on:click=move |_| boot.update(|l| if i + 1 < l.len() { l.swap(i, i + 1) })>"↓"</button>
                    </li>
                }
            })
            .collect_view()
    };
    view! {
        <section class="panel edit-panel needs-operator" aria-labelledby="edit-title">
            <h2 id="edit-title">"Edit"</h2>
            <form class="edit-form" on:submit=save aria-label="Settings">
                <div class="grid">
                    <label>
                        "Memory (MiB)"
                        <input name="memory" inputmode="numeric" autocomplete="off"
                            prop:value=move || memory.get() on:input=move |ev| memory.set(event_target_value(&ev)) />
                    </label>
                    <label>
                        "vCPUs"
                        <input name="vcpus" inputmode="numeric" autocomplete="off"
                            prop:value=move || vcpus.get() on:input=move |ev| vcpus.set(event_target_value(&ev)) />
                    </label>
                </div>
                <p class="help">{limits}</p>
                <label class="check">
                    <input type="checkbox" name="autostart" prop:checked=move || autostart.get()
                        on:change=move |ev| autostart.set(event_target_checked(&ev)) />
                    "Start with the host (autostart)"
                </label>
                <fieldset>
                    <legend>"Boot order"</legend>
                    <ol class="boot-order">{boot_rows}</ol>
                </fieldset>
                {show_notice(form_notice)}
                <div class="form-actions">
                    <button type="button" class="secondary" on:click=move |_| { reset(); form_notice.set(None); }>"Reset"</button>
                    <button type="submit" disabled=move || saving.get()>
                        {move || if saving.get() { "Saving…" } else { "Save changes" }}
                    </button>
                </div>
            </form>
            <AttachDiskForm d base=base.clone() pools />
            <AttachNicForm d base />
        </section>
    }
}

#[component]
fn AttachDiskForm(
    d: RwSignal<GuestDetail>,
    base: GuestUpdateArgs,
    pools: Signal<Vec<PoolSummary>>,
) -> impl IntoView {
    let pool = RwSignal::new(String::new());
    let volume = RwSignal::new(String::new());
    let device = RwSignal::new("disk".to_string());
    let bus = RwSignal::new(String::new());
    let saving = RwSignal::new(false);
    let form_notice = RwSignal::new(None::<Notice>);
    let host = base.host.clone();
    let volumes = LocalResource::new(move || {
        let (host, pool) = (host.clone(), pool.get());
        async move {
            if pool.is_empty() {
                Ok(Vec::new())
            } else {
                list_volumes(host, pool).await
            }
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (p, v) = (pool.get_untracked(), volume.get_untracked());
        if p.is_empty() || v.is_empty() {
            form_notice.set(Some(Notice::Failed(ApiError::BadRequest(
                "choose a pool and a volume".into(),
            ))));
            return;
        }
        let b = bus.get_untracked();
        let args = GuestUpdateArgs {
            attach_disk: Some(AttachDisk {
                pool: p,
                volume: v.clone(),
                device: Some(device.get_untracked()),
                bus: (!b.is_empty()).then_some(b),
            }),
            ..base.clone()
        };
        saving.set(true);
        form_notice.set(None);
        send_update(args, d, move |r| {
            saving.try_set(false);
            form_notice.try_set(Some(match r {
                Ok(()) => Notice::Done(format!("Attached {v}.")),
                Err(e) => Notice::Failed(e),
            }));
        });
    };
    view! {
        <form class="attach-disk" on:submit=submit aria-label="Attach a disk">
            <h3>"Attach a disk"</h3>
            <div class="grid">
                <label>
                    "Pool"
                    <select name="attach-pool" on:change=move |ev| { pool.set(event_target_value(&ev)); volume.set(String::new()); }>
                        <option value="" selected=move || pool.with(String::is_empty)>"Choose a pool"</option>
                        {move || pools.get().into_iter().map(|p| {
                            let n = p.name.clone();
                            view! { <option value=n.clone() selected=move || pool.get() == n>{p.name.clone()}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <label>
                    "Volume"
                    <select name="attach-volume" on:change=move |ev| volume.set(event_target_value(&ev))>
                        <option value="" selected=move || volume.with(String::is_empty)>"Choose a volume"</option>
                        {move || volumes.get().and_then(|r| r.ok()).unwrap_or_default().into_iter().map(|v| {
                            let n = v.name.clone();
                            let users = v.used_by.iter().map(|u| u.name.clone()).collect::<Vec<_>>().join(", ");
                            let text = if users.is_empty() {
                                format!("{} ({})", v.name, human_bytes(v.capacity))
                            } else {
                                format!("{} ({}, used by {users})", v.name, human_bytes(v.capacity))
                            };
                            view! { <option value=n.clone() selected=move || volume.get() == n>{text}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <label>
                    "Device"
                    <select name="attach-device" on:change=move |ev| device.set(event_target_value(&ev))>
                        <option value="disk">"Disk"</option>
                        <option value="cdrom">"CD-ROM"</option>
                    </select>
                </label>
                <label>
                    "Bus"
                    <select name="attach-bus" on:change=move |ev| bus.set(event_target_value(&ev))>
                        <option value="">"Default (virtio for disks)"</option>
                        <option value="virtio">"virtio"</option>
                        <option value="sata">"sata"</option>
                        <option value="scsi">"scsi"</option>
                        <option value="ide">"ide"</option>
                    </select>
                </label>
            </div>
            {show_notice(form_notice)}
            <div class="form-actions">
                <button type="submit" disabled=move || saving.get()>"Attach disk"</button>
            </div>
        </form>
    }
}

#[component]
fn AttachNicForm(d: RwSignal<GuestDetail>, base: GuestUpdateArgs) -> impl IntoView {
    let kind = RwSignal::new("network".to_string());
    let source = RwSignal::new(String::new());
    let model = RwSignal::new("virtio".to_string());
    let saving = RwSignal::new(false);
    let form_notice = RwSignal::new(None::<Notice>);
    let host = base.host.clone();
    let options = LocalResource::new(move || guest_options(host.clone()));
    let choices = move || {
        let o = options.get().and_then(|r| r.ok());
        match kind.get().as_str() {
            "bridge" => o.map(|o| o.bridges).unwrap_or_default(),
            _ => o
                .map(|o| o.networks.into_iter().map(|n| n.name).collect())
                .unwrap_or_default(),
        }
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let src = source.get_untracked();
        // The first choice is shown selected until another is picked.
        let src = if src.is_empty() {
            choices().into_iter().next().unwrap_or_default()
        } else {
            src
        };
        if src.is_empty() {
            form_notice.set(Some(Notice::Failed(ApiError::BadRequest(
                "choose a network or a bridge".into(),
            ))));
            return;
        }
        let bridge = kind.get_untracked() == "bridge";
        let args = GuestUpdateArgs {
            attach_nic: Some(AttachNic {
                network: (!bridge).then(|| src.clone()),
                bridge: bridge.then(|| src.clone()),
                model: Some(model.get_untracked()),
            }),
            ..base.clone()
        };
        saving.set(true);
        form_notice.set(None);
        send_update(args, d, move |r| {
            saving.try_set(false);
            form_notice.try_set(Some(match r {
                Ok(()) => Notice::Done(format!("Attached an interface on {src}.")),
                Err(e) => Notice::Failed(e),
            }));
        });
    };
    view! {
        <form class="attach-nic" on:submit=submit aria-label="Attach a network interface">
            <h3>"Attach a network interface"</h3>
            <div class="grid">
                <label>
                    "Connect to"
                    <select name="nic-kind" on:change=move |ev| { kind.set(event_target_value(&ev)); source.set(String::new()); }>
                        <option value="network">"A libvirt network"</option>
                        <option value="bridge">"A host bridge"</option>
                    </select>
                </label>
                <label>
                    {move || if kind.get() == "bridge" { "Bridge" } else { "Network" }}
                    <select name="nic-source" on:change=move |ev| source.set(event_target_value(&ev))>
                        {move || {
                            let list = choices();
                            if list.is_empty() {
                                view! { <option value="">"none on this host"</option> }.into_any()
                            } else {
                                list.into_iter().map(|n| {
                                    let v = n.clone();
                                    view! { <option value=v.clone() selected=move || source.get() == v>{n}</option> }
                                }).collect_view().into_any()
                            }
                        }}
                    </select>
                </label>
                <label>
                    "Model"
                    <select name="nic-model" on:change=move |ev| model.set(event_target_value(&ev))>
                        <option value="virtio">"virtio (fastest; needs drivers on Windows)"</option>
                        <option value="e1000e">"e1000e"</option>
                        <option value="e1000">"e1000"</option>
                        <option value="rtl8139">"rtl8139"</option>
                    </select>
                </label>
            </div>
            {show_notice(form_notice)}
            <div class="form-actions">
                <button type="submit" disabled=move || saving.get()>"Attach interface"</button>
            </div>
        </form>
    }
}

/// Snapshots in tree order, each with its depth under its parent.
fn snapshot_tree(list: &[SnapshotInfo]) -> Vec<(usize, SnapshotInfo)> {
    fn visit(
        list: &[SnapshotInfo],
        parent: Option<&str>,
        depth: usize,
        out: &mut Vec<(usize, SnapshotInfo)>,
    ) {
        for s in list.iter().filter(|s| s.parent.as_deref() == parent) {
            if out.iter().any(|(_, o)| o.name == s.name) {
                continue;
            }
            out.push((depth, s.clone()));
            visit(list, Some(&s.name), depth + 1, out);
        }
    }
    let mut out = Vec::new();
    // Roots: no parent, or a parent that is not listed.
    for s in list {
        let orphan = s
            .parent
            .as_deref()
            .is_none_or(|p| !list.iter().any(|o| o.name == p));
        if orphan
            && !out
                .iter()
                .any(|(_, o): &(usize, SnapshotInfo)| o.name == s.name)
        {
            out.push((0, s.clone()));
            visit(list, Some(&s.name), 1, &mut out);
        }
    }
    out
}

#[component]
fn Snapshots(
    host: String,
    uuid: String,
    running: Memo<bool>,
    version: RwSignal<u32>,
    dialog: RwSignal<Option<Dialog>>,
    notice: RwSignal<Option<Notice>>,
) -> impl IntoView {
    let list = {
        let (host, uuid) = (host.clone(), uuid.clone());
        Resource::new(
            move || version.get(),
            move |_| list_snapshots(host.clone(), uuid.clone()),
        )
    };
    let name = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let memory = RwSignal::new(true);
    let saving = RwSignal::new(false);
    let form_notice = RwSignal::new(None::<Notice>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let n = name.get_untracked().trim().to_string();
        if let Err(e) = StorageName::parse("snapshot name", &n) {
            form_notice.set(Some(Notice::Failed(e)));
            return;
        }
        let text = description.get_untracked();
        let with_memory = running.get_untracked().then(|| memory.get_untracked());
        let (host, uuid) = (host.clone(), uuid.clone());
        saving.set(true);
        form_notice.set(None);
        spawn_local(async move {
            let result = create_snapshot(
                host,
                uuid,
                n.clone(),
                (!text.trim().is_empty()).then_some(text),
                with_memory,
            )
            .await;
            saving.try_set(false);
            match result {
                Ok(s) => {
                    form_notice.try_set(Some(Notice::Done(format!(
                        "Took snapshot {}{}.",
                        s.name,
                        if s.memory { " (with memory)" } else { "" }
                    ))));
                    name.try_set(String::new());
                    description.try_set(String::new());
                    notice.try_set(None);
                    version.try_update(|v| *v += 1);
                }
                Err(e) => {
                    form_notice.try_set(Some(Notice::Failed(e)));
                }
            }
        });
    };
    let tree = move |items: Vec<SnapshotInfo>| {
        if items.is_empty() {
            return view! { <p class="muted">"No snapshots yet."</p> }.into_any();
        }
        let rows = snapshot_tree(&items)
            .into_iter()
            .map(|(depth, s)| {
                let (n1, n2) = (s.name.clone(), s.name.clone());
                view! {
                    <li
                        data-snapshot=s.name.clone()
                        data-depth=depth.to_string()
                        data-parent=s.parent.clone().unwrap_or_default()
                        class:current=s.current
                        style=format!("--depth: {}", depth.min(8))
                    >
                        <div class="snapshot-head">
                            <strong class="snapshot-name">{s.name.clone()}</strong>
                            {s.current.then(|| view! { <span class="tag current" title="The guest is at this snapshot now">"current"</span> })}
                            <span class="tag">{if s.memory { "with memory" } else { "disk only" }}</span>
                            <span class="muted snapshot-meta">{format!("{} · taken while {}", utc(s.created), s.state)}</span>
                        </div>
                        {s.description.clone().filter(|t| !t.is_empty()).map(|t| view! { <p class="snapshot-description">{t}</p> })}
                        <div class="snapshot-actions needs-operator">
                            <button class="small secondary" aria-label=format!("Revert to {}", s.name)
                                on:click=move |_| dialog.set(Some(Dialog::Revert(n1.clone())))>"Revert"</button>
                            <button class="small danger" aria-label=format!("Delete snapshot {}", s.name)
                                on:click=move |_| dialog.set(Some(Dialog::DeleteSnapshot(n2.clone())))>"Delete"</button>
                        </div>
                    </li>
                }
            })
            .collect_view();
        view! { <ul class="snapshot-tree">{rows}</ul> }.into_any()
    };
    view! {
        <section class="panel snapshots wide" aria-labelledby="snapshots-title">
            <h2 id="snapshots-title">"Snapshots"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading snapshots…"</p> }>
                {move || list.get().map(|r| match r {
                    Ok(items) => tree(items),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                })}
            </Transition>
            <form class="snapshot-form needs-operator" on:submit=submit aria-label="Take a snapshot">
                <h3>"Take a snapshot"</h3>
                <div class="grid">
                    <label>
                        "Name"
                        <input name="snapshot-name" autocomplete="off" placeholder="e.g. before-upgrade"
                            prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                    </label>
                    <label>
                        "Description"
                        <textarea name="snapshot-description" rows="2"
                            prop:value=move || description.get() on:input=move |ev| description.set(event_target_value(&ev))></textarea>
                    </label>
                </div>
                {move || running.get().then(|| view! {
                    <label class="check">
                        <input type="checkbox" name="snapshot-memory" prop:checked=move || memory.get()
                            on:change=move |ev| memory.set(event_target_checked(&ev)) />
                        "Include memory: reverting resumes the guest running where it was (takes longer, uses space for the guest's RAM)"
                    </label>
                })}
                {show_notice(form_notice)}
                <div class="form-actions">
                    <button type="submit" disabled=move || saving.get()>
                        {move || if saving.get() { "Taking…" } else { "Take snapshot" }}
                    </button>
                </div>
            </form>
        </section>
    }
}

/// Escape closes the page's own dialogs, wherever the focus is (a button
/// that was just disabled drops it to the page).
fn close_on_escape(on_close: Callback<()>) {
    let handle = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.key() == "Escape" {
            on_close.run(());
        }
    });
    on_cleanup(move || handle.remove());
}

/// A clone job as a person follows it: a bar, the phase, the outcome.
fn job_view(j: GuestJob) -> AnyView {
    let outcome = match j.state {
        JobState::Running => None,
        JobState::Done => Some(match j.result.clone() {
            Some(g) => {
                let href = format!("/guests/{}/{}", urlencode(&g.host), urlencode(&g.uuid));
                view! {
                    <p class="notice ok" role="status">
                        {format!("Done: {} is a new guest on {}. ", g.name, g.host)}
                        <a class="button" href=href>{format!("Open {}", g.name)}</a>
                    </p>
                }
                .into_any()
            }
            None => view! { <p class="notice ok" role="status">"Done."</p> }.into_any(),
        }),
        JobState::Failed => Some(
            view! {
                <p class="notice error" role="alert">
                    {format!("The clone failed: {}", j.error.clone().unwrap_or_else(|| "no reason given".into()))}
                </p>
            }
            .into_any(),
        ),
    };
    view! {
        <div class="clone-progress" data-state=format!("{:?}", j.state).to_lowercase()>
            <div class="progress">
                <progress max="100" value=format!("{:.1}", j.percent) aria-label="Clone progress"></progress>
                <span class="percent">{format!("{:.0} %", j.percent)}</span>
            </div>
            <p class="phase">
                {j.phase.clone()}
                {(j.bytes_total > 0).then(|| format!(" · {} of {}", human_bytes(j.bytes_done), human_bytes(j.bytes_total)))}
            </p>
            {outcome}
        </div>
    }
    .into_any()
}

#[component]
fn CloneDialog(
    d: RwSignal<GuestDetail>,
    host: String,
    uuid: String,
    jobs: RwSignal<Vec<GuestJob>>,
    pools: Signal<Vec<PoolSummary>>,
    on_close: Callback<()>,
) -> impl IntoView {
    let source = d.with_untracked(|x| x.guest.name.clone());
    let name = RwSignal::new(format!("{source}-copy"));
    let pool = RwSignal::new(String::new());
    let job_id = RwSignal::new(None::<String>);
    let starting = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let input_ref = NodeRef::<html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = input_ref.get() {
            let _ = input.focus();
            input.select();
        }
    });
    close_on_escape(on_close);
    let can_clone = Memo::new(move |_| {
        matches!(
            d.with(|x| x.guest.state),
            GuestState::Shutoff | GuestState::Paused
        )
    });
    let job = Memo::new(move |_| {
        job_id
            .get()
            .and_then(|id| jobs.with(|list| list.iter().find(|j| j.id == id).cloned()))
    });
    let problem = move || {
        StorageName::parse("guest name", name.get().trim())
            .err()
            .map(|e| e.to_string())
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if problem().is_some() || starting.get_untracked() {
            return;
        }
        let (host, uuid) = (host.clone(), uuid.clone());
        let n = name.get_untracked().trim().to_string();
        let p = pool.get_untracked();
        starting.set(true);
        error.set(None);
        spawn_local(async move {
            let result = clone_guest(host, uuid, n, (!p.is_empty()).then_some(p)).await;
            starting.try_set(false);
            match result {
                Ok(r) => {
                    job_id.try_set(Some(r.id.clone()));
                    // The job may have ended before its events could be matched to it.
                    if let Ok(j) = guest_job(r.id).await {
                        jobs.try_update(|list| {
                            if !list
                                .iter()
                                .any(|x| x.id == j.id && x.state != JobState::Running)
                            {
                                list.retain(|x| x.id != j.id);
                                list.push(j);
                            }
                        });
                    }
                }
                Err(e) => {
                    error.try_set(Some(e));
                    if let Some(input) = input_ref.get_untracked() {
                        let _ = input.focus();
                    }
                }
            }
        });
    };
    let progress = move || job.get().map(job_view);
    let started = move || job_id.with(Option::is_some);
    view! {
        <div class="modal-backdrop" on:click=move |_| on_close.run(())>
            <form
                class="modal"
                role="dialog"
                aria-modal="true"
                aria-labelledby="clone-title"
                on:click=|ev| ev.stop_propagation()
                on:submit=submit
            >
                <h2 id="clone-title">{format!("Clone {source}")}</h2>
                <p>"A clone is a lasting copy with its own disks, name, UUID and MAC addresses. A temporary migration is not a copy: it ends when the guest shuts down."</p>
                {move || (!can_clone.get()).then(|| view! {
                    <p class="notice warn" role="status">
                        {format!("{} is {}: shut it down or pause it first, so that its disks are copied consistently (the server refuses otherwise).", d.with(|x| x.guest.name.clone()), d.with(|x| x.guest.state.label()))}
                    </p>
                })}
                <label class="modal-field">
                    "Name of the new guest"
                    <input node_ref=input_ref name="clone-name" autocomplete="off" disabled=started
                        prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                    <span class="help" role="status">{move || problem().unwrap_or_default()}</span>
                </label>
                <label class="modal-field">
                    "Pool for the copied disks"
                    <select name="clone-pool" disabled=started on:change=move |ev| pool.set(event_target_value(&ev))>
                        <option value="">"Each disk's own pool"</option>
                        {move || pools.get().into_iter().map(|p| {
                            let label = format!("{} ({} free)", p.name, human_bytes(p.available));
                            view! { <option value=p.name.clone()>{label}</option> }
                        }).collect_view()}
                    </select>
                </label>
                {progress}
                {move || error.get().map(|error| view! { <ErrorNotice error /> })}
                <div class="modal-actions">
                    <button type="button" class="secondary" on:click=move |_| on_close.run(())>
                        {move || if started() { "Close" } else { "Cancel" }}
                    </button>
                    {move || (!started()).then(|| view! {
                        <button type="submit" disabled=move || problem().is_some() || starting.get()>
                            {move || if starting.get() { "Starting…" } else { "Start clone" }}
                        </button>
                    })}
                </div>
            </form>
        </div>
    }
}

#[component]
fn DeleteDialog(
    d: RwSignal<GuestDetail>,
    deleting: RwSignal<bool>,
    on_close: Callback<()>,
) -> impl IntoView {
    let navigate = use_navigate();
    let x = d.get_untracked();
    let guest_name = x.guest.name.clone();
    let running = !is_off(x.guest.state);
    let chosen = RwSignal::new(Vec::<String>::new());
    let typed = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ApiError>);
    let leftovers = RwSignal::new(Vec::<String>::new());
    let first_ref = NodeRef::<html::Input>::new();
    let typed_ref = NodeRef::<html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = first_ref.get().or_else(|| typed_ref.get()) {
            let _ = input.focus();
        }
    });
    close_on_escape(on_close);
    let mut first = true;
    let disks = x
        .disks
        .iter()
        .map(|disk| {
            let reason = if disk.path.is_none() {
                Some("no volume: an empty drive".to_string())
            } else if !disk.shared_with.is_empty() {
                Some(format!(
                    "kept: also used by {}",
                    disk.shared_with.join(", ")
                ))
            } else {
                None
            };
            let disabled = reason.is_some();
            let path = disk.path.clone().unwrap_or_default();
            let p2 = path.clone();
            let node = if first && !disabled {
                first = false;
                first_ref
            } else {
                NodeRef::new()
            };
            view! {
                <li>
                    <label class="check" class:disabled=disabled>
                        <input
                            type="checkbox"
                            node_ref=node
                            name="delete-volume"
                            value=path.clone()
                            disabled=disabled
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                chosen.update(|c| {
                                    c.retain(|p| *p != p2);
                                    if on { c.push(p2.clone()); }
                                });
                            }
                        />
                        <span>
                            {format!("{}: also delete volume {}", disk.target, if path.is_empty() { "(none)" } else { &path })}
                            {reason.map(|r| view! { <span class="why">{format!(" ({r})")}</span> })}
                        </span>
                    </label>
                </li>
            }
        })
        .collect_view();
    let matches = {
        let guest_name = guest_name.clone();
        move || typed.with(|t| t.trim() == guest_name)
    };
    let submit = {
        let matches = matches.clone();
        let (host, uuid, guest_name) = (
            x.guest.host.clone(),
            x.guest.uuid.clone(),
            guest_name.clone(),
        );
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            if !matches() || deleting.get_untracked() {
                return;
            }
            let (host, uuid, guest_name) = (host.clone(), uuid.clone(), guest_name.clone());
            let navigate = navigate.clone();
            let volumes = chosen.get_untracked();
            deleting.set(true);
            error.set(None);
            spawn_local(async move {
                match delete_guest(host, uuid, volumes).await {
                    Ok(report) if report.errors.is_empty() => {
                        // The guest list says what was deleted.
                        let mut url = format!("/guests?deleted={}", urlencode(&guest_name));
                        let n = report.deleted_volumes.len();
                        if n > 0 {
                            url.push_str(&format!("&volumes={n}"));
                        }
                        navigate(&url, Default::default());
                    }
                    Ok(report) => {
                        leftovers.try_set(report.errors);
                    }
                    Err(e) => {
                        deleting.try_set(false);
                        error.try_set(Some(e));
                        if let Some(input) = typed_ref.get_untracked() {
                            let _ = input.focus();
                        }
                    }
                }
            });
        }
    };
    let matches2 = matches.clone();
    view! {
        <div class="modal-backdrop" on:click=move |_| on_close.run(())>
            <form
                class="modal"
                role="dialog"
                aria-modal="true"
                aria-labelledby="delete-title"
                on:click=|ev| ev.stop_propagation()
                on:submit=submit
            >
                <h2 id="delete-title">{format!("Delete {guest_name}?")}</h2>
                <p>"The guest's definition is removed, with its snapshots and firmware variables. Its disks are kept unless you tick them below."</p>
                {running.then(|| view! {
                    <p class="notice warn" role="status">{format!("{guest_name} is {}: it will be forced off first.", x.guest.state.label())}</p>
                })}
                {(!x.disks.is_empty()).then(|| view! { <ul class="delete-volumes">{disks}</ul> })}
                <label class="modal-field">
                    {format!("Type {guest_name} to confirm")}
                    <input node_ref=typed_ref name="confirm-name" autocomplete="off"
                        prop:value=move || typed.get() on:input=move |ev| typed.set(event_target_value(&ev)) />
                </label>
                {move || error.get().map(|error| view! { <ErrorNotice error /> })}
                {move || {
                    let list = leftovers.get();
                    (!list.is_empty()).then(|| view! {
                        <div class="notice error" role="alert">
                            "The guest was deleted, but some volumes were not: "
                            {list.join("; ")}
                            " "
                            <a href="/guests">"Back to the guest list"</a>
                        </div>
                    })
                }}
                <div class="modal-actions">
                    <button type="button" class="secondary" on:click=move |_| on_close.run(())>"Cancel"</button>
                    <button type="submit" class="danger" disabled=move || !matches2() || deleting.get()>
                        {move || if deleting.get() { "Deleting…" } else { "Delete guest" }}
                    </button>
                </div>
            </form>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(name: &str, parent: Option<&str>) -> SnapshotInfo {
        SnapshotInfo {
            name: name.into(),
            description: None,
            created: 0,
            state: "running".into(),
            parent: parent.map(String::from),
            current: false,
            memory: false,
        }
    }

    #[test]
    fn snapshots_are_ordered_as_a_tree() {
        let list = vec![
            snap("a", None),
            snap("b", Some("a")),
            snap("c", None),
            snap("d", Some("a")),
            snap("e", Some("b")),
            snap("f", Some("gone")),
        ];
        let tree: Vec<(usize, String)> = snapshot_tree(&list)
            .into_iter()
            .map(|(d, s)| (d, s.name))
            .collect();
        let want = [(0, "a"), (1, "b"), (2, "e"), (1, "d"), (0, "c"), (0, "f")];
        assert_eq!(
            tree,
            want.iter()
                .map(|(d, n)| (*d, n.to_string()))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn times_read_as_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_798_332_447), "2026-12-27 00:47 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(rfc3339("2026-11-27T00:47:12.5Z"), "2026-11-27 00:47:12 UTC");
    }

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
        assert_eq!(elapsed(65_000.0), "1 min 05 s");
    }
}
