//! Step 7: firmware, acceleration, and whether the guest starts at once.

use leptos::prelude::*;

use super::form::Form;
use crate::api::guest_new::{Firmware, GuestOptions};

#[component]
pub(super) fn FirmwareStep(
    form: RwSignal<Form>,
    options: Signal<Option<GuestOptions>>,
) -> impl IntoView {
    let offered = move || {
        options
            .get()
            .map(|o| o.firmware)
            .unwrap_or(vec![Firmware::Bios])
    };
    let accels = move || options.get().map(|o| o.accels).unwrap_or_default();
    view! {
        <fieldset>
            <legend>"Firmware"</legend>
            <div class="choices">
                {[Firmware::Bios, Firmware::Uefi]
                    .into_iter()
                    .map(|fw| {
                        let available = move || offered().contains(&fw);
                        view! {
                            <label class="choice" class:disabled=move || !available()>
                                <input
                                    type="radio"
                                    name="firmware"
                                    value=fw.as_str()
                                    disabled=move || !available()
                                    prop:checked=move || form.with(|f| f.firmware == fw)
                                    on:change=move |_| form.update(|f| f.firmware = fw)
                                />
                                <span class="choice-name">{fw.label()}</span>
                                <span class="help">
                                    {move || if available() { "" } else { "not installed on this host" }}
                                </span>
                            </label>
                        }
                    })
                    .collect_view()}
            </div>
        </fieldset>
        <div class="grid">
            <label>
                "Acceleration"
                <select
                    name="accel"
                    prop:value=move || form.with(|f| f.accel.clone())
                    on:change=move |ev| form.update(|f| f.accel = event_target_value(&ev))
                >
                    {move || {
                        accels()
                            .into_iter()
                            .map(|a| {
                                let label = match a.as_str() {
                                    "kvm" => "KVM (hardware virtualisation)".to_string(),
                                    "qemu" => "QEMU emulation (slow, no KVM needed)".to_string(),
                                    other => other.to_string(),
                                };
                                view! { <option value=a.clone()>{label}</option> }
                            })
                            .collect_view()
                    }}
                </select>
            </label>
        </div>
        <label class="check">
            <input
                type="checkbox"
                name="start"
                prop:checked=move || form.with(|f| f.start)
                on:change=move |ev| form.update(|f| f.start = event_target_checked(&ev))
            />
            "Start the guest after creating it"
        </label>
    }
}
