//! Step 1: the host that runs the guest, with its CPUs and free memory.

use leptos::prelude::*;

use super::form::Form;
use crate::api::{guest_new::GuestOptions, hosts::HostSummary, size::human_bytes};

#[component]
pub(super) fn HostStep(
    form: RwSignal<Form>,
    hosts: Signal<Vec<HostSummary>>,
    options: Signal<Option<GuestOptions>>,
) -> impl IntoView {
    view! {
        <fieldset>
            <legend>"Which host runs the guest?"</legend>
            <div class="choices">
                {move || {
                    hosts
                        .get()
                        .into_iter()
                        .map(|h| {
                            let name = h.name.clone();
                            let value = name.clone();
                            let connected = h.connected;
                            let detail = match (h.cpus, h.memory_kib) {
                                (Some(c), Some(m)) => format!("{c} CPUs · {}", human_bytes(m * 1024)),
                                _ => String::new(),
                            };
                            view! {
                                <label class="choice" class:disabled=!connected>
                                    <input
                                        type="radio"
                                        name="host"
                                        value=value.clone()
                                        disabled=!connected
                                        prop:checked=move || form.with(|f| f.host == value)
                                        on:change=move |_| form.update(|f| {
                                            f.host = name.clone();
                                            f.install_pool.clear();
                                            f.install_volume.clear();
                                            f.disk_pool.clear();
                                            f.nic = None;
                                        })
                                    />
                                    <span class="choice-name">{h.name.clone()}</span>
                                    <span class="help">
                                        {if connected { detail } else { "not connected".to_string() }}
                                    </span>
                                </label>
                            }
                        })
                        .collect_view()
                }}
            </div>
            {move || {
                options
                    .get()
                    .map(|o| {
                        view! {
                            <p class="help host-free">
                                {format!(
                                    "{}: {} CPUs, {} MiB of memory, {} MiB free now.",
                                    o.host,
                                    o.cpus,
                                    o.memory_total_mib,
                                    o.memory_free_mib,
                                )}
                            </p>
                        }
                    })
            }}
        </fieldset>
    }
}
