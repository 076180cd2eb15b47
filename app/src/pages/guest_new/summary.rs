//! Step 8: everything chosen, before "Create".

use leptos::prelude::*;

use super::form::{Form, Install, Nic};

#[component]
pub(super) fn Summary(form: RwSignal<Form>) -> impl IntoView {
    let rows = move || {
        let f = form.get();
        let install = match f.install {
            Install::Iso => format!("ISO {} from pool {}", f.install_volume, f.install_pool),
            Install::Import => format!(
                "existing disk {} from pool {}",
                f.install_volume, f.install_pool
            ),
            Install::Network => "network boot".to_string(),
        };
        let disk = if f.install == Install::Import {
            "the imported disk".to_string()
        } else if f.disk {
            format!(
                "new {} volume {} of {} in pool {} ({})",
                f.disk_format,
                f.disk_name(),
                f.disk_capacity,
                f.disk_pool,
                f.disk_allocation
            )
        } else {
            "none".to_string()
        };
        let network = match &f.nic {
            Some(Nic::Network(n)) => format!("network {n}"),
            Some(Nic::Bridge) => format!("bridge {}", f.bridge),
            None => "none".to_string(),
        };
        vec![
            ("Host", f.host.clone()),
            ("Install from", install),
            ("Name", f.name.clone()),
            ("System", f.os.clone()),
            ("Memory", format!("{} MiB", f.memory_mib)),
            ("vCPUs", f.vcpus.clone()),
            ("Disk", disk),
            ("Network", network),
            ("Firmware", f.firmware.as_str().to_uppercase()),
            ("Acceleration", f.accel.clone()),
            ("Start", if f.start { "yes" } else { "no" }.to_string()),
            (
                "Console",
                "VNC with its own password, and a serial console".to_string(),
            ),
        ]
    };
    view! {
        <dl class="summary">
            {move || {
                rows()
                    .into_iter()
                    .map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> })
                    .collect_view()
            }}
        </dl>
        <p class="help">"Nothing is created until you press Create; if anything fails, nothing is left behind."</p>
    }
}
