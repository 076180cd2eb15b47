//! The edit panel: memory, vCPUs, autostart and boot order, then the forms
//! that attach a disk or a network interface.

use leptos::prelude::*;

use super::{
    attach::{AttachDiskForm, AttachNicForm},
    send_update,
};
use crate::{
    api::{
        guest_detail::{GuestDetail, GuestUpdateArgs, BOOT_DEVICES},
        pools::PoolSummary,
        size::NumArg,
    },
    components::{
        format,
        notice::{Notice, NoticeLine},
    },
};

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
pub(super) fn EditPanel(
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
                <NoticeLine notice=form_notice />
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
