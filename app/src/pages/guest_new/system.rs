//! Steps 3 and 4: the name and operating system, then CPUs and memory
//! (bounded by the host).

use leptos::prelude::*;

use super::form::Form;
use crate::api::guest_new::{GuestOptions, OsPreset};

#[component]
pub(super) fn NameStep(form: RwSignal<Form>, presets: Signal<Vec<OsPreset>>) -> impl IntoView {
    view! {
        <div class="grid">
            <label>
                "Name"
                <input
                    name="name"
                    required
                    autocomplete="off"
                    placeholder="e.g. web03"
                    prop:value=move || form.with(|f| f.name.clone())
                    on:input=move |ev| form.update(|f| f.name = event_target_value(&ev))
                />
                <span class="help">"Letters, digits and . _ + - ; not starting with . or -"</span>
            </label>
            <label>
                "Operating system"
                <select
                    name="os"
                    prop:value=move || form.with(|f| f.os.clone())
                    on:change=move |ev| {
                        let id = event_target_value(&ev);
                        let preset = presets.get_untracked().into_iter().find(|p| p.id == id);
                        form.update(|f| {
                            f.os = id;
                            if let Some(p) = preset {
                                f.memory_mib = p.recommended_memory_mib.to_string();
                                f.disk_capacity = format!("{}G", p.recommended_disk_gib);
                                f.firmware = p.firmware;
                            }
                        });
                    }
                >
                    {move || {
                        presets
                            .get()
                            .into_iter()
                            .map(|p| view! { <option value=p.id.clone()>{p.label.clone()}</option> })
                            .collect_view()
                    }}
                </select>
                <span class="help">
                    {move || {
                        let id = form.with(|f| f.os.clone());
                        presets
                            .get()
                            .into_iter()
                            .find(|p| p.id == id)
                            .map(|p| format!(
                                "Disk bus {}, network card {}, at least {} MiB of memory.",
                                p.disk_bus,
                                p.nic_model,
                                p.min_memory_mib
                            ))
                    }}
                </span>
            </label>
        </div>
    }
}

#[component]
pub(super) fn SizeStep(
    form: RwSignal<Form>,
    options: Signal<Option<GuestOptions>>,
) -> impl IntoView {
    let max_mib = move || options.get().map(|o| o.memory_total_mib).unwrap_or(1 << 20);
    let max_cpus = move || options.get().map(|o| o.cpus).unwrap_or(512);
    view! {
        <div class="grid">
            <label>
                "Memory (MiB)"
                <input
                    name="memory"
                    type="number"
                    inputmode="numeric"
                    min="16"
                    max=move || max_mib().to_string()
                    step="256"
                    required
                    prop:value=move || form.with(|f| f.memory_mib.clone())
                    on:input=move |ev| form.update(|f| f.memory_mib = event_target_value(&ev))
                />
                <span class="help">
                    {move || {
                        options
                            .get()
                            .map(|o| format!(
                                "The host has {} MiB; {} MiB are free now.",
                                o.memory_total_mib,
                                o.memory_free_mib
                            ))
                    }}
                </span>
            </label>
            <label>
                "vCPUs"
                <input
                    name="vcpus"
                    type="number"
                    inputmode="numeric"
                    min="1"
                    max=move || max_cpus().to_string()
                    required
                    prop:value=move || form.with(|f| f.vcpus.clone())
                    on:input=move |ev| form.update(|f| f.vcpus = event_target_value(&ev))
                />
                <span class="help">{move || format!("At most {} (the host's CPUs).", max_cpus())}</span>
            </label>
        </div>
    }
}
