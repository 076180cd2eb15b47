//! The overview panel: the guest's facts, its disks, network interfaces and
//! display, each device with a way to detach it.

use leptos::{either::Either, prelude::*};

use super::Dialog;
use crate::{
    api::{guest_detail::GuestDetail, guests::GuestState, size::human_bytes, volumes::user_labels},
    components::{
        format,
        notice::{Notice, NoticeLine},
        time::rfc3339,
        StateBadge,
    },
};

#[component]
pub(super) fn Overview(
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
        let (list, host) = d.with(|x| (x.disks.clone(), x.guest.host.clone()));
        if list.is_empty() {
            return Either::Left(view! { <p class="muted">"No disks."</p> });
        }
        let rows = list
            .into_iter()
            .map(|disk| {
                let shared = if disk.shared_with.is_empty() {
                    "—".to_string()
                } else {
                    user_labels(&disk.shared_with, &host)
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
        Either::Right(view! {
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
        })
    };
    let nics = move || {
        let list = d.with(|x| x.nics.clone());
        if list.is_empty() {
            return Either::Left(view! { <p class="muted">"No network interfaces."</p> });
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
        Either::Right(view! {
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
        })
    };
    let graphics = move || {
        let list = d.with(|x| x.graphics.clone());
        if list.is_empty() {
            return Either::Left(view! { <p class="muted">"No graphical display."</p> });
        }
        let views = list
            .into_iter()
            .map(|g| {
                let port = g
                    .port
                    .map(|p| format!("port {p}"))
                    .unwrap_or_else(|| "port chosen when it starts".into());
                let listen = g.listen.clone().map(|l| format!(" on {l}")).unwrap_or_default();
                let password = if g.password { " · password set" } else { "" };
                view! { <p class="graphics">{format!("{}: {port}{listen}{password}", g.kind.to_uppercase())}</p> }
            })
            .collect_view();
        Either::Right(views)
    };
    view! {
        <section class="panel overview wide" aria-labelledby="overview-title">
            <h2 id="overview-title">"Overview"</h2>
            {facts}
            <h3>"Disks"</h3>
            <NoticeLine notice=device_notice />
            {disks}
            <h3>"Network interfaces"</h3>
            {nics}
            <h3>"Display"</h3>
            {graphics}
        </section>
    }
}
