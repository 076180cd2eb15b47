//! Step 2: where the operating system comes from: an ISO from a pool (with
//! an upload into it), an existing disk to import, or network boot.

use leptos::prelude::*;

use super::form::{Form, Install};
use crate::{
    api::{
        pools::PoolSummary,
        size::human_bytes,
        volumes::{list_volumes, VolumeSummary},
    },
    components::notice::Notice,
    pages::storage::UploadVolume,
};

fn is_iso(v: &VolumeSummary) -> bool {
    v.name.to_ascii_lowercase().ends_with(".iso")
        || v.format.map(|f| f.to_string()) == Some("iso".into())
}

#[component]
pub(super) fn InstallStep(form: RwSignal<Form>, pools: Signal<Vec<PoolSummary>>) -> impl IntoView {
    let pool = Memo::new(move |_| form.with(|f| (f.host.clone(), f.install_pool.clone())));
    let volumes = Resource::new(
        move || pool.get(),
        |(host, pool)| async move {
            if pool.is_empty() {
                Ok(Vec::new())
            } else {
                list_volumes(host, pool).await
            }
        },
    );
    let uploading = RwSignal::new(false);
    let kind = move || form.with(|f| f.install);
    let radio = move |install: Install, label: &'static str, help: &'static str| {
        view! {
            <label class="choice">
                <input
                    type="radio"
                    name="install"
                    value=install.as_str()
                    prop:checked=move || kind() == install
                    on:change=move |_| form.update(|f| {
                        f.install = install;
                        f.install_volume.clear();
                    })
                />
                <span class="choice-name">{label}</span>
                <span class="help">{help}</span>
            </label>
        }
    };
    view! {
        <fieldset>
            <legend>"Where does the operating system come from?"</legend>
            <div class="choices">
                {radio(Install::Iso, "An installer image (ISO)", "Boots the installer from a CD-ROM; install onto the new disk.")}
                {radio(Install::Import, "An existing disk", "A volume with an installed system becomes the guest's first disk.")}
                {radio(Install::Network, "Network boot (PXE)", "The guest boots from the network.")}
            </div>
        </fieldset>
        {move || {
            kind().needs_volume()
                .then(|| {
                    view! {
                        <div class="grid">
                            <label>
                                "Pool"
                                <select
                                    name="install-pool"
                                    prop:value=move || form.with(|f| f.install_pool.clone())
                                    on:change=move |ev| form.update(|f| {
                                        f.install_pool = event_target_value(&ev);
                                        f.install_volume.clear();
                                    })
                                >
                                    <option value="">"Choose a pool…"</option>
                                    {move || {
                                        pools
                                            .get()
                                            .into_iter()
                                            .map(|p| view! { <option value=p.name.clone()>{p.name.clone()}</option> })
                                            .collect_view()
                                    }}
                                </select>
                            </label>
                            <label>
                                {move || if kind() == Install::Iso { "Image" } else { "Disk volume" }}
                                <Transition fallback=|| view! { <select disabled=true><option>"Loading…"</option></select> }>
                                    {move || {
                                        let iso = kind() == Install::Iso;
                                        let list: Vec<VolumeSummary> = volumes
                                            .get()
                                            .and_then(|r| r.ok())
                                            .unwrap_or_default()
                                            .into_iter()
                                            .filter(|v| is_iso(v) == iso)
                                            .collect();
                                        view! {
                                            <select
                                                name="install-volume"
                                                prop:value=move || form.with(|f| f.install_volume.clone())
                                                on:change=move |ev| form.update(|f| f.install_volume = event_target_value(&ev))
                                            >
                                                <option value="">
                                                    {if list.is_empty() { "None in this pool" } else { "Choose…" }}
                                                </option>
                                                {list
                                                    .into_iter()
                                                    .map(|v| {
                                                        let label = format!("{} ({})", v.name, human_bytes(v.capacity));
                                                        view! { <option value=v.name.clone()>{label}</option> }
                                                    })
                                                    .collect_view()}
                                            </select>
                                        }
                                    }}
                                </Transition>
                            </label>
                        </div>
                    }
                })
        }}
        {move || {
            let chosen = form.with(|f| f.install_pool.clone());
            let pool = pools.get().into_iter().find(|p| p.name == chosen);
            (kind() == Install::Iso)
                .then_some(pool)
                .flatten()
                .map(|pool| {
                    view! {
                        <details class="upload-iso" prop:open=move || uploading.get()>
                            <summary on:click=move |_| uploading.update(|u| *u = !*u)>
                                "Upload an ISO from this computer into this pool"
                            </summary>
                            <UploadVolume
                                pool
                                on_done=Callback::new(move |notice: Notice| {
                                    if let Notice::Done(_) = notice {
                                        volumes.refetch();
                                    }
                                })
                            />
                        </details>
                    }
                })
        }}
    }
}
