//! The new-guest wizard (`/guests/new`): host, install source (an ISO from a
//! pool, with upload; a disk to import; network boot), name and operating
//! system, CPUs and memory (bounded by the host, its free memory shown), a
//! new disk, the network, firmware, then a summary before "Create". Each step
//! checks its fields; the server checks everything again and leaves nothing
//! half-made when it refuses.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::storage::UploadVolume;
use crate::{
    api::{
        guest_new::{
            guest_options, CreateGuestFn, Firmware, GuestOptions, InstallSource, NewDiskArg,
            NewGuestArgs, OsPreset,
        },
        hosts::list_hosts,
        pools::{list_pools, PoolSummary},
        size::{human_bytes, NumArg, SizeArg, StorageName},
        volumes::{list_volumes, VolumeSummary},
        ApiError,
    },
    components::{notice::Notice, ErrorNotice},
};

const STEPS: [&str; 8] = [
    "Host",
    "Install from",
    "Name and system",
    "CPUs and memory",
    "Disk",
    "Network",
    "Firmware",
    "Summary",
];

/// Everything the wizard asks, as the user gave it.
#[derive(Debug, Clone, PartialEq)]
struct Form {
    host: String,
    /// `iso`, `import`, `network`.
    install: String,
    install_pool: String,
    install_volume: String,
    name: String,
    os: String,
    memory_mib: String,
    vcpus: String,
    /// A new disk, or none.
    disk: bool,
    disk_pool: String,
    disk_format: String,
    disk_capacity: String,
    disk_allocation: String,
    /// `network:<name>`, `bridge:<name>` or empty for none.
    network: String,
    bridge: String,
    firmware: String,
    accel: String,
    start: bool,
}

impl Default for Form {
    fn default() -> Self {
        Form {
            host: String::new(),
            install: "iso".into(),
            install_pool: String::new(),
            install_volume: String::new(),
            name: String::new(),
            os: "linux".into(),
            memory_mib: "2048".into(),
            vcpus: "2".into(),
            disk: true,
            disk_pool: String::new(),
            disk_format: "qcow2".into(),
            disk_capacity: "20G".into(),
            disk_allocation: "sparse".into(),
            network: String::new(),
            bridge: String::new(),
            firmware: "bios".into(),
            accel: String::new(),
            start: true,
        }
    }
}

impl Form {
    fn disk_name(&self) -> String {
        let ext = match self.disk_format.as_str() {
            "qcow2" => ".qcow2",
            "raw" => ".img",
            _ => "",
        };
        format!("{}{ext}", self.name)
    }

    /// The request the server gets.
    fn args(&self) -> NewGuestArgs {
        let (network, bridge) = match self.network.split_once(':') {
            Some(("network", n)) => (Some(n.to_string()), None),
            Some(("bridge", _)) => (None, Some(self.bridge.trim().to_string())),
            _ => (None, None),
        };
        NewGuestArgs {
            host: self.host.clone(),
            name: self.name.trim().to_string(),
            memory_mib: NumArg(serde_json::Value::String(self.memory_mib.trim().into())),
            vcpus: NumArg(serde_json::Value::String(self.vcpus.trim().into())),
            firmware: Some(self.firmware.clone()),
            accel: (!self.accel.is_empty()).then(|| self.accel.clone()),
            install: Some(match self.install.as_str() {
                "import" => InstallSource::Import {
                    pool: self.install_pool.clone(),
                    volume: self.install_volume.clone(),
                },
                "network" => InstallSource::Network,
                _ => InstallSource::Iso {
                    pool: self.install_pool.clone(),
                    volume: self.install_volume.clone(),
                },
            }),
            disk: (self.disk && self.install != "import").then(|| NewDiskArg {
                pool: self.disk_pool.clone(),
                name: self.disk_name(),
                format: Some(self.disk_format.clone()),
                capacity: SizeArg::text(self.disk_capacity.trim()),
                allocation: SizeArg::text(self.disk_allocation.trim()),
            }),
            network,
            bridge,
            os: Some(self.os.clone()),
            start: self.start,
        }
    }

    /// The first problem of step `step`, checked in the browser.
    fn check(&self, step: usize, options: Option<&GuestOptions>) -> Result<(), ApiError> {
        let bad = |m: &str| Err(ApiError::BadRequest(m.to_string()));
        match step {
            0 if self.host.is_empty() => bad("Choose a host."),
            1 if self.install != "network"
                && (self.install_pool.is_empty() || self.install_volume.is_empty()) =>
            {
                bad("Choose a pool and a volume to install from.")
            }
            2 => StorageName::parse("guest name", self.name.trim()).map(|_| ()),
            3 => {
                let args = self.args();
                let total = options.map_or(u64::MAX, |o| o.memory_total_mib);
                let mib = args.memory_mib.parse("Memory (MiB)", 16, total.max(16))?;
                let preset = options
                    .and_then(|o| o.presets.iter().find(|p| p.id == self.os))
                    .cloned();
                if let Some(p) = preset {
                    if mib < p.min_memory_mib {
                        return bad(&format!(
                            "{} needs at least {} MiB of memory.",
                            p.label, p.min_memory_mib
                        ));
                    }
                }
                let cpus = options.map_or(512, |o| o.cpus as u64);
                args.vcpus.parse("vCPUs", 1, cpus).map(|_| ())
            }
            4 if self.disk && self.install != "import" => {
                if self.disk_pool.is_empty() {
                    return bad("Choose a pool for the new disk, or no disk.");
                }
                crate::api::volumes::validate_new_volume(
                    &self.disk_name(),
                    Some(&self.disk_format),
                    &SizeArg::text(self.disk_capacity.trim()),
                    &SizeArg::text(self.disk_allocation.trim()),
                )
                .map(|_| ())
            }
            5 if self.install == "network" && self.network.is_empty() => {
                bad("Network boot needs a network.")
            }
            5 if self.network == "bridge:" && self.bridge.trim().is_empty() => {
                bad("Name the bridge.")
            }
            7 => self.args().validate().map(|_| ()),
            _ => Ok(()),
        }
    }
}

#[component]
pub fn NewGuestPage() -> impl IntoView {
    let query = use_query_map();
    let form = RwSignal::new(Form {
        host: query.with_untracked(|q| q.get("host").unwrap_or_default()),
        ..Form::default()
    });
    let step = RwSignal::new(0usize);
    let error = RwSignal::new(None::<ApiError>);
    let hosts = Resource::new(|| (), |_| list_hosts());
    let host = Memo::new(move |_| form.with(|f| f.host.clone()));
    let options = Resource::new(
        move || host.get(),
        |host| async move {
            if host.is_empty() {
                Ok(None)
            } else {
                guest_options(host).await.map(Some)
            }
        },
    );
    let pools = Resource::new(|| (), |_| list_pools());
    let opts = move || options.get().and_then(|r| r.ok()).flatten();
    let create = ServerAction::<CreateGuestFn>::new();

    // Defaults that follow the host: its first active pool and network, its best type.
    Effect::new(move |_| {
        let Some(o) = opts() else { return };
        form.update(|f| {
            if f.network.is_empty() {
                if let Some(n) = o.networks.iter().find(|n| n.active) {
                    f.network = format!("network:{}", n.name);
                }
            }
            if !o.accels.contains(&f.accel) {
                f.accel = o.accels.first().cloned().unwrap_or_default();
            }
            if !o.firmware.iter().any(|fw| fw.as_str() == f.firmware) {
                f.firmware = "bios".into();
            }
        });
    });
    let host_pools = move || -> Vec<PoolSummary> {
        let h = host.get();
        pools
            .get()
            .and_then(|r| r.ok())
            .unwrap_or_default()
            .into_iter()
            .filter(|p| p.host == h && p.state == crate::api::pools::PoolState::Active)
            .collect()
    };

    let next = move |_| {
        let s = step.get_untracked();
        let o = opts();
        match form.with_untracked(|f| f.check(s, o.as_ref())) {
            Ok(()) => {
                error.set(None);
                step.set((s + 1).min(STEPS.len() - 1));
            }
            Err(e) => error.set(Some(e)),
        }
    };
    let back = move |_| {
        error.set(None);
        step.update(|s| *s = s.saturating_sub(1));
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if step.get_untracked() != STEPS.len() - 1 {
            next(());
            return;
        }
        let args = form.with_untracked(Form::args);
        match args.validate() {
            Ok(_) => {
                error.set(None);
                create.dispatch(CreateGuestFn { args });
            }
            Err(e) => error.set(Some(e)),
        }
    };
    let created = move || create.value().get().and_then(|r| r.ok());
    Effect::new(move |_| {
        if let Some(Err(e)) = create.value().get() {
            error.set(Some(e));
        }
    });

    view! {
        <Title text="New guest" />
        <main class="wizard-page">
            <h1>"New guest"</h1>
            {move || match created() {
                Some(g) => {
                    let page = format!("/guests/{}/{}", g.host, g.uuid);
                    let console = format!("{page}/console");
                    view! {
                        <section class="panel done" aria-live="polite">
                            <h2>{format!("{} was created on {}", g.name, g.host)}</h2>
                            <p>{format!("State: {}.", g.state.label())}</p>
                            <p class="form-actions">
                                <a class="button" href=console rel="external">"Open its console"</a>
                                <a class="button secondary" href=page>"Go to its page"</a>
                                <a class="button secondary" href="/guests">"All guests"</a>
                            </p>
                        </section>
                    }
                        .into_any()
                }
                None => {
                    view! {
                        <form class="panel wizard" novalidate on:submit=submit aria-label="New guest">
                            <ol class="steps" aria-label="Steps">
                                {STEPS
                                    .iter()
                                    .enumerate()
                                    .map(|(i, name)| {
                                        view! {
                                            <li
                                                class:current=move || step.get() == i
                                                class:done=move || i < step.get()
                                                aria-current=move || (step.get() == i).then_some("step")
                                            >
                                                <span class="n">{i + 1}</span>
                                                <span class="label">{*name}</span>
                                            </li>
                                        }
                                    })
                                    .collect_view()}
                            </ol>
                            <h2 class="step-title">
                                {move || format!("Step {} of {}: {}", step.get() + 1, STEPS.len(), STEPS[step.get()])}
                            </h2>
                            {move || match step.get() {
                                0 => {
                                    view! {
                                        <HostStep form hosts=Signal::derive(move || {
                                            hosts.get().and_then(|r| r.ok()).unwrap_or_default()
                                        }) options=Signal::derive(opts) />
                                    }
                                        .into_any()
                                }
                                1 => view! { <InstallStep form pools=Signal::derive(host_pools) /> }.into_any(),
                                2 => view! { <NameStep form presets=Signal::derive(move || opts().map(|o| o.presets).unwrap_or_default()) /> }.into_any(),
                                3 => view! { <SizeStep form options=Signal::derive(opts) /> }.into_any(),
                                4 => view! { <DiskStep form pools=Signal::derive(host_pools) /> }.into_any(),
                                5 => view! { <NetworkStep form options=Signal::derive(opts) /> }.into_any(),
                                6 => view! { <FirmwareStep form options=Signal::derive(opts) /> }.into_any(),
                                _ => view! { <Summary form /> }.into_any(),
                            }}
                            {move || error.get().map(|error| view! { <ErrorNotice error /> })}
                            <div class="form-actions wizard-nav">
                                <button type="button" class="secondary" on:click=back disabled=move || step.get() == 0 || create.pending().get()>
                                    "Back"
                                </button>
                                {move || {
                                    if step.get() == STEPS.len() - 1 {
                                        view! {
                                            <button type="submit" disabled=move || create.pending().get()>
                                                {move || if create.pending().get() { "Creating…" } else { "Create" }}
                                            </button>
                                        }
                                            .into_any()
                                    } else {
                                        view! { <button type="submit">"Next"</button> }.into_any()
                                    }
                                }}
                            </div>
                        </form>
                    }
                        .into_any()
                }
            }}
        </main>
    }
}

#[component]
fn HostStep(
    form: RwSignal<Form>,
    hosts: Signal<Vec<crate::api::hosts::HostSummary>>,
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
                                            f.network.clear();
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

fn is_iso(v: &VolumeSummary) -> bool {
    v.name.to_ascii_lowercase().ends_with(".iso")
        || v.format.map(|f| f.to_string()) == Some("iso".into())
}

#[component]
fn InstallStep(form: RwSignal<Form>, pools: Signal<Vec<PoolSummary>>) -> impl IntoView {
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
    let kind = move || form.with(|f| f.install.clone());
    let radio = move |value: &'static str, label: &'static str, help: &'static str| {
        view! {
            <label class="choice">
                <input
                    type="radio"
                    name="install"
                    value=value
                    prop:checked=move || kind() == value
                    on:change=move |_| form.update(|f| {
                        f.install = value.to_string();
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
                {radio("iso", "An installer image (ISO)", "Boots the installer from a CD-ROM; install onto the new disk.")}
                {radio("import", "An existing disk", "A volume with an installed system becomes the guest's first disk.")}
                {radio("network", "Network boot (PXE)", "The guest boots from the network.")}
            </div>
        </fieldset>
        {move || {
            (kind() != "network")
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
                                {move || if kind() == "iso" { "Image" } else { "Disk volume" }}
                                <Transition fallback=|| view! { <select disabled=true><option>"Loading…"</option></select> }>
                                    {move || {
                                        let iso = kind() == "iso";
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
            (kind() == "iso")
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

#[component]
fn NameStep(form: RwSignal<Form>, presets: Signal<Vec<OsPreset>>) -> impl IntoView {
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
                                f.firmware = p.firmware.as_str().to_string();
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
fn SizeStep(form: RwSignal<Form>, options: Signal<Option<GuestOptions>>) -> impl IntoView {
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

#[component]
fn DiskStep(form: RwSignal<Form>, pools: Signal<Vec<PoolSummary>>) -> impl IntoView {
    let import = move || form.with(|f| f.install == "import");
    view! {
        {move || {
            if import() {
                view! { <p class="help">"The imported volume is the guest's disk: no new disk is made."</p> }.into_any()
            } else {
                view! {
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
                }
                    .into_any()
            }
        }}
    }
}

#[component]
fn NetworkStep(form: RwSignal<Form>, options: Signal<Option<GuestOptions>>) -> impl IntoView {
    view! {
        <div class="grid">
            <label>
                "Network"
                <select
                    name="network"
                    prop:value=move || form.with(|f| f.network.clone())
                    on:change=move |ev| form.update(|f| f.network = event_target_value(&ev))
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
                                view! { <option value=format!("network:{}", n.name)>{label}</option> }
                            })
                            .collect_view()
                    }}
                    <option value="bridge:">"A bridge on the host…"</option>
                </select>
            </label>
            {move || {
                form.with(|f| f.network == "bridge:")
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

#[component]
fn FirmwareStep(form: RwSignal<Form>, options: Signal<Option<GuestOptions>>) -> impl IntoView {
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
                                    prop:checked=move || form.with(|f| f.firmware == fw.as_str())
                                    on:change=move |_| form.update(|f| f.firmware = fw.as_str().to_string())
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

#[component]
fn Summary(form: RwSignal<Form>) -> impl IntoView {
    let rows = move || {
        let f = form.get();
        let install = match f.install.as_str() {
            "iso" => format!("ISO {} from pool {}", f.install_volume, f.install_pool),
            "import" => format!(
                "existing disk {} from pool {}",
                f.install_volume, f.install_pool
            ),
            _ => "network boot".to_string(),
        };
        let disk = if f.install == "import" {
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
        let network = match f.network.split_once(':') {
            Some(("network", n)) => format!("network {n}"),
            Some(("bridge", _)) => format!("bridge {}", f.bridge),
            _ => "none".to_string(),
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
            ("Firmware", f.firmware.to_uppercase()),
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
