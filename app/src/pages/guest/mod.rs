//! One guest's page (`/guests/:host/:uuid`): its overview (devices included),
//! live usage charts, lifecycle buttons that follow a shutdown request until
//! the guest powers off, editing, snapshots as a tree, clone as a job with
//! progress, and delete. Live: `/ws` events update it in place.
//!
//! This module is the page and its state; each panel and dialog is a module.

mod attach;
mod clone;
mod delete;
mod edit;
mod lifecycle;
mod overview;
mod snapshots;
mod usage;

use crate::api::events::kinds;
use std::time::Duration;

use leptos::{
    either::{Either, EitherOf3},
    prelude::*,
    task::spawn_local,
};
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::storage::urlencode;
use crate::{
    api::{
        events::ServerEvent,
        guest_detail::{
            guest_detail, snapshot_action, update_guest, DiskInfo, GuestDetail, GuestJob,
            GuestUpdateArgs, NicInfo,
        },
        guests::{GuestAction, GuestState},
        pools::{list_pools, PoolState, PoolSummary},
        ApiError,
    },
    components::{
        confirm::Confirm,
        live::use_server_events,
        notice::{Notice, NoticeLine},
        ErrorNotice, StateBadge,
    },
};
use clone::{job_view, CloneDialog};
use delete::DeleteDialog;
use edit::EditPanel;
use lifecycle::{use_lifecycle, ActionButtons, RequestBanner};
use overview::Overview;
use snapshots::Snapshots;
use usage::Usage;

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
                        Ok(detail) => Either::Left(view! { <GuestView detail /> }),
                        Err(error) => Either::Right(view! {
                            <Title text="Guest" />
                            <h1>"Guest"</h1>
                            <ErrorNotice error />
                        }),
                    }
                })}
            </Suspense>
        </main>
    }
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
    let removed = RwSignal::new(false);
    let deleting = RwSignal::new(false);
    let jobs = RwSignal::new(Vec::<GuestJob>::new());
    let snap_version = RwSignal::new(0u32);

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
        use_server_events(
            &[
                kinds::GUEST_CHANGED,
                kinds::GUEST_REMOVED,
                kinds::GUEST_JOB,
                kinds::VOLUMES_CHANGED,
                kinds::HELLO,
            ],
            move |event| match event {
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
            },
        );
    }

    let lifecycle = use_lifecycle(host.clone(), uuid.clone(), d, state, notice, reload_soon);
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
                device_notice.try_set(Some(Notice::from_result(r.map(|()| what))));
            });
        }
    };

    let dialogs = {
        let base = base.clone();
        let (host, uuid) = (host.clone(), uuid.clone());
        move || {
            let close = Callback::new(move |_| dialog.set(None));
            dialog.get().map(|which| match which {
                Dialog::Action(act) => EitherOf3::A(view! {
                    <Confirm
                        title=format!("{} {}?", act.label(), name.get_untracked())
                        detail=format!("{} stops at once, like pulling its power cord. Unsaved data inside the guest is lost.", name.get_untracked())
                        confirm_label=act.label().to_string()
                        on_confirm=Callback::new(move |_| { dialog.set(None); lifecycle.run.run(act); })
                        on_cancel=close
                    />
                }),
                Dialog::DetachDisk(disk) => {
                    let args = GuestUpdateArgs { detach_disk: Some(disk.target.clone()), ..base.clone() };
                    let target = disk.target.clone();
                    EitherOf3::A(view! {
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
                    })
                }
                Dialog::DetachNic(nic) => {
                    let mac = nic.mac.clone().unwrap_or_default();
                    let args = GuestUpdateArgs { detach_nic: Some(mac.clone()), ..base.clone() };
                    EitherOf3::A(view! {
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
                    })
                }
                Dialog::Revert(snapshot) => EitherOf3::A(view! {
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
                }),
                Dialog::DeleteSnapshot(snapshot) => EitherOf3::A(view! {
                    <Confirm
                        title=format!("Delete snapshot {snapshot}?")
                        detail="The snapshot is removed; the guest as it is now does not change.".to_string()
                        confirm_label="Delete snapshot".to_string()
                        on_confirm=Callback::new(move |_| { dialog.set(None); snapshot_act.run((snapshot.clone(), "delete")); })
                        on_cancel=close
                    />
                }),
                Dialog::Clone => EitherOf3::B(view! {
                    <CloneDialog d host=host.clone() uuid=uuid.clone() jobs pools=host_pools on_close=close />
                }),
                Dialog::Delete => EitherOf3::C(view! {
                    <DeleteDialog d deleting on_close=close />
                }),
            })
        }
    };

    view! {
        <Title text=move || name.get() />
        <header class="guest-head">
            <h1>{move || name.get()}</h1>
            {move || view! { <StateBadge state=state.get() /> }}
            {move || lifecycle.request.with(Option::is_some).then(|| view! { <span class="tag">"shutdown requested"</span> })}
            {move || d.with(|x| x.guest.stale).then(|| view! { <span class="tag stale" title="Its host is not connected: this is the guest as last seen">"last seen"</span> })}
        </header>
        {move || removed.get().then(|| view! {
            <div class="notice error" role="alert">
                "This guest is no longer defined on its host (deleted or moved away). "
                <a href="/guests">"Back to the guest list"</a>
            </div>
        })}
        <div class="toolbar guest-actions needs-operator" role="group" aria-label="Guest actions">
            <ActionButtons d state lifecycle dialog />
            {console_links}
            <button class="secondary" on:click=move |_| dialog.set(Some(Dialog::Clone))>"Clone…"</button>
            <button class="danger" on:click=move |_| dialog.set(Some(Dialog::Delete))>"Delete…"</button>
        </div>
        <RequestBanner lifecycle dialog />
        <NoticeLine notice />
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
