//! Step 5: a new disk volume for the guest, or none.

use leptos::{either::Either, prelude::*};

use super::form::{Form, Install};
use crate::api::{pools::PoolSummary, size::human_bytes};

#[component]
pub(super) fn DiskStep(form: RwSignal<Form>, pools: Signal<Vec<PoolSummary>>) -> impl IntoView {
    let import = move || form.with(|f| f.install == Install::Import);
    view! {
        {move || {
            if import() {
                Either::Left(view! { <p class="help">"The imported volume is the guest's disk: no new disk is made."</p> })
            } else {
                Either::Right(view! {
                    <label class="check">
                        <input
                            type="checkbox"
                            name="disk"
                            prop:checked=move || form.with(|f| f.disk)
                            on:change=move |ev| form.update(|f| f.disk = event_target_checked(&ev))
                        />
                        "A new disk volume"
                    </label>
                    <div class="grid" class:hidden=move || !form.with(|f| f.disk)>
                        <label>
                            "Pool"
                            <select
                                name="disk-pool"
                                prop:value=move || form.with(|f| f.disk_pool.clone())
                                on:change=move |ev| form.update(|f| f.disk_pool = event_target_value(&ev))
                            >
                                <option value="">"Choose a pool…"</option>
                                {move || {
                                    pools
                                        .get()
                                        .into_iter()
                                        .map(|p| {
                                            let label = format!("{} ({} free)", p.name, human_bytes(p.available));
                                            view! { <option value=p.name.clone()>{label}</option> }
                                        })
                                        .collect_view()
                                }}
                            </select>
                        </label>
                        <label>
                            "Format"
                            <select
                                name="disk-format"
                                prop:value=move || form.with(|f| f.disk_format.clone())
                                on:change=move |ev| form.update(|f| f.disk_format = event_target_value(&ev))
                            >
                                <option value="qcow2">"qcow2 (snapshots, thin)"</option>
                                <option value="raw">"raw (fastest)"</option>
                            </select>
                        </label>
                        <label>
                            "Capacity"
                            <input
                                name="disk-capacity"
                                required
                                placeholder="20G"
                                prop:value=move || form.with(|f| f.disk_capacity.clone())
                                on:input=move |ev| form.update(|f| f.disk_capacity = event_target_value(&ev))
                            />
                        </label>
                        <label>
                            "Allocation"
                            <select
                                name="disk-allocation"
                                prop:value=move || form.with(|f| f.disk_allocation.clone())
                                on:change=move |ev| form.update(|f| f.disk_allocation = event_target_value(&ev))
                            >
                                <option value="sparse">"Sparse: space is used as the guest writes"</option>
                                <option value="full">"Full: all space reserved now"</option>
                            </select>
                        </label>
                        <p class="help">{move || form.with(|f| format!("The volume will be named {}.", f.disk_name()))}</p>
                    </div>
                })
            }
        }}
    }
}
