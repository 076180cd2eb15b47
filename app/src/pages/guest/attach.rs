//! The forms that attach a volume as a disk, or a network interface, to the guest.

use leptos::{either::Either, prelude::*};

use super::send_update;
use crate::{
    api::{
        guest_detail::{AttachDisk, AttachNic, GuestDetail, GuestUpdateArgs},
        guest_new::guest_options,
        pools::PoolSummary,
        size::human_bytes,
        volumes::{list_volumes, user_labels},
        ApiError,
    },
    components::notice::{Notice, NoticeLine},
};

#[component]
pub(super) fn AttachDiskForm(
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
            form_notice.try_set(Some(Notice::from_result(
                r.map(|()| format!("Attached {v}.")),
            )));
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
                            let users = user_labels(&v.used_by, &v.host);
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
            <NoticeLine notice=form_notice />
            <div class="form-actions">
                <button type="submit" disabled=move || saving.get()>"Attach disk"</button>
            </div>
        </form>
    }
}

#[component]
pub(super) fn AttachNicForm(d: RwSignal<GuestDetail>, base: GuestUpdateArgs) -> impl IntoView {
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
            form_notice.try_set(Some(Notice::from_result(
                r.map(|()| format!("Attached an interface on {src}.")),
            )));
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
                                Either::Left(view! { <option value="">"none on this host"</option> })
                            } else {
                                Either::Right(list.into_iter().map(|n| {
                                    let v = n.clone();
                                    view! { <option value=v.clone() selected=move || source.get() == v>{n}</option> }
                                }).collect_view())
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
            <NoticeLine notice=form_notice />
            <div class="form-actions">
                <button type="submit" disabled=move || saving.get()>"Attach interface"</button>
            </div>
        </form>
    }
}
