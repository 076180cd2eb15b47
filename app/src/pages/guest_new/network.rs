//! Step 6: a libvirt network, a host bridge, or no network.

use leptos::prelude::*;

use super::form::{Form, Nic};
use crate::api::guest_new::GuestOptions;

#[component]
pub(super) fn NetworkStep(
    form: RwSignal<Form>,
    options: Signal<Option<GuestOptions>>,
) -> impl IntoView {
    view! {
        <div class="grid">
            <label>
                "Network"
                <select
                    name="network"
                    prop:value=move || form.with(|f| Nic::value(f.nic.as_ref()))
                    on:change=move |ev| form.update(|f| f.nic = Nic::parse(&event_target_value(&ev)))
                >
                    <option value="">"No network"</option>
                    {move || {
                        options
                            .get()
                            .map(|o| o.networks)
                            .unwrap_or_default()
                            .into_iter()
                            .map(|n| {
                                let label = if n.active { n.name.clone() } else { format!("{} (inactive)", n.name) };
                                view! { <option value=Nic::value(Some(&Nic::Network(n.name)))>{label}</option> }
                            })
                            .collect_view()
                    }}
                    <option value=Nic::value(Some(&Nic::Bridge))>"A bridge on the host…"</option>
                </select>
            </label>
            {move || {
                form.with(|f| f.nic == Some(Nic::Bridge))
                    .then(|| {
                        let known = options.get().map(|o| o.bridges).unwrap_or_default();
                        view! {
                            <label>
                                "Bridge"
                                <input
                                    name="bridge"
                                    list="bridges"
                                    required
                                    placeholder="br0"
                                    prop:value=move || form.with(|f| f.bridge.clone())
                                    on:input=move |ev| form.update(|f| f.bridge = event_target_value(&ev))
                                />
                                <datalist id="bridges">
                                    {known.into_iter().map(|b| view! { <option value=b></option> }).collect_view()}
                                </datalist>
                            </label>
                        }
                    })
            }}
        </div>
    }
}
