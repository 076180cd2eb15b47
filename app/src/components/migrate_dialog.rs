//! The migrate dialog: destination (each with its pre-flight verdict), mode,
//! duration, storage and advanced options, the checks with their fixes, then
//! the live progress of the started job in the same dialog.

use leptos::{
    either::{Either, EitherOf3},
    html,
    prelude::*,
};
use strum::IntoEnumIterator;

use crate::{
    api::{
        guests::{GuestState, GuestSummary},
        hosts::HostLink,
        migrations::{
            list_migrations, preflight, Check, Convergence, MigrationMode, MigrationOptions,
            MigrationRequest, Persistence, Preflight, StartMigration, StorageMode, Verdict,
            OPTION_HELP,
        },
        ApiError,
    },
    components::{
        dialog::{escape_closes, focus_soon},
        migration_progress::MigrationProgressView,
        ErrorNotice,
    },
};

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Ok => "state-running",
        Verdict::Warning => "state-paused",
        Verdict::Blocked => "state-crashed",
    }
}

fn help(option: &str) -> &'static str {
    OPTION_HELP
        .iter()
        .find(|(o, _)| *o == option)
        .map(|(_, h)| *h)
        .unwrap_or("")
}

/// The settings the user chose, as the request they make.
#[derive(Clone, PartialEq)]
struct Settings {
    mode: MigrationMode,
    persistence: Persistence,
    storage: StorageMode,
    options: MigrationOptions,
}

impl Settings {
    fn request(&self, guest: &GuestSummary, destination: &str) -> MigrationRequest {
        MigrationRequest {
            host: guest.host.clone(),
            uuid: guest.uuid.clone(),
            destination: destination.to_string(),
            mode: self.mode.to_string(),
            persistence: Some(self.persistence.to_string()),
            storage: Some(self.storage.to_string()),
            options: self.options.clone(),
        }
    }
}

#[component]
pub fn MigrateDialog(
    guest: GuestSummary,
    hosts: Vec<HostLink>,
    on_close: Callback<()>,
) -> impl IntoView {
    let running = !matches!(guest.state, GuestState::Shutoff | GuestState::Crashed);
    let others: Vec<HostLink> = hosts.into_iter().filter(|h| h.name != guest.host).collect();
    let destination = RwSignal::new(
        others
            .iter()
            .find(|h| h.connected())
            .or(others.first())
            .map(|h| h.name.clone())
            .unwrap_or_default(),
    );
    let settings = RwSignal::new(Settings {
        mode: if running {
            MigrationMode::Live
        } else {
            MigrationMode::Offline
        },
        persistence: if running {
            Persistence::Temporary
        } else {
            Persistence::Permanent
        },
        storage: StorageMode::Shared,
        options: MigrationOptions::default(),
    });
    let started = RwSignal::new(None::<String>);
    let start = ServerAction::<StartMigration>::new();
    let start_error = RwSignal::new(None::<ApiError>);
    Effect::new(move |_| match start.value().get() {
        Some(Ok(s)) => started.set(Some(s.id)),
        Some(Err(e)) => start_error.set(Some(e)),
        None => {}
    });

    // The pre-flight of every destination with the current settings.
    let names: Vec<String> = others.iter().map(|h| h.name.clone()).collect();
    let checks = {
        let guest = guest.clone();
        Resource::new(
            move || settings.get(),
            move |s| {
                let (guest, names) = (guest.clone(), names.clone());
                async move {
                    let mut all = Vec::new();
                    for name in names {
                        let request = s.request(&guest, &name);
                        let result = match request.validate() {
                            Ok(_) => preflight(request).await,
                            Err(e) => Err(e),
                        };
                        all.push((name, result));
                    }
                    all
                }
            },
        )
    };
    let chosen = move || -> Option<Result<Preflight, ApiError>> {
        let d = destination.get();
        checks
            .get()
            .and_then(|all| all.into_iter().find(|(n, _)| *n == d).map(|(_, r)| r))
    };
    let blocked = move || !matches!(chosen(), Some(Ok(p)) if p.verdict() != Verdict::Blocked);

    let submit = {
        let guest = guest.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            start_error.set(None);
            let request = settings
                .get_untracked()
                .request(&guest, &destination.get_untracked());
            match request.validate() {
                Ok(_) => {
                    start.dispatch(StartMigration { request });
                }
                Err(e) => start_error.set(Some(e)),
            }
        }
    };

    let close_ref = NodeRef::<html::Button>::new();
    Effect::new(move |_| {
        if let Some(b) = close_ref.get() {
            focus_soon(b);
        }
    });
    let title = format!("Migrate {} from {}", guest.name, guest.host);

    let body = move || {
        if let Some(id) = started.get() {
            return Either::Left(view! { <Following id /> });
        }
        let destinations = others
            .iter()
            .map(|h| {
                let name = h.name.clone();
                let connected = h.connected();
                let n = name.clone();
                let verdict = move || {
                    checks.get().and_then(|all| {
                        all.into_iter().find(|(x, _)| *x == n).map(|(_, r)| r)
                    })
                };
                let value = name.clone();
                view! {
                    <label class="check destination">
                        <input
                            type="radio"
                            name="destination"
                            value=value.clone()
                            prop:checked=move || destination.get() == value
                            on:change={
                                let name = name.clone();
                                move |_| destination.set(name.clone())
                            }
                        />
                        <span class="dest-name">{name.clone()}</span>
                        {(!connected).then(|| view! { <span class="tag">"unreachable"</span> })}
                        {move || match verdict() {
                            None => EitherOf3::A(view! { <span class="muted">"checking…"</span> }),
                            Some(Ok(p)) => {
                                let v = p.verdict();
                                let why = p.blocked().first().map(|c| c.message.clone())
                                    .or_else(|| p.checks.iter().find(|c| c.verdict == Verdict::Warning).map(|c| c.message.clone()))
                                    .unwrap_or_default();
                                EitherOf3::B(view! {
                                    <span class=format!("badge {}", verdict_class(v))>{v.to_string()}</span>
                                    <span class="muted why">{why}</span>
                                })
                            }
                            Some(Err(e)) => EitherOf3::C(view! { <span class="badge state-crashed">"error"</span><span class="muted why">{e.to_string()}</span> }),
                        }}
                    </label>
                }
            })
            .collect_view();
        Either::Right(view! {
            <form class="migrate-form" on:submit=submit.clone() aria-label="Migration settings">
                <fieldset>
                    <legend>"Destination"</legend>
                    {if others.is_empty() {
                        Either::Left(view! { <p class="muted">"There is no other host to migrate to."</p> })
                    } else {
                        Either::Right(destinations)
                    }}
                </fieldset>
                <Choices settings running />
                <Advanced settings />
                <fieldset class="checks-list">
                    <legend>"Pre-flight checks"</legend>
                    <Transition fallback=|| view! { <p class="muted">"Checking…"</p> }>
                        {move || chosen().map(|r| match r {
                            Ok(p) => Either::Left(view! { <CheckList checks=p.checks /> }),
                            Err(error) => Either::Right(view! { <ErrorNotice error /> }),
                        })}
                    </Transition>
                </fieldset>
                {move || start_error.get().map(|error| view! { <ErrorNotice error /> })}
                <div class="modal-actions">
                    <button type="button" class="secondary" on:click=move |_| on_close.run(())>"Close"</button>
                    <button type="submit" disabled=move || blocked() || start.pending().get()>
                        {move || if start.pending().get() { "Starting…" } else { "Migrate" }}
                    </button>
                </div>
            </form>
        })
    };

    view! {
        <div class="modal-backdrop" on:click=move |_| on_close.run(())>
            <div
                class="modal wide"
                role="dialog"
                aria-modal="true"
                aria-labelledby="migrate-title"
                on:click=|ev| ev.stop_propagation()
                on:keydown=escape_closes(on_close)
            >
                <header class="modal-head">
                    <h2 id="migrate-title">{title}</h2>
                    <button type="button" class="secondary small" node_ref=close_ref aria-label="Close" on:click=move |_| on_close.run(())>"×"</button>
                </header>
                {body}
            </div>
        </div>
    }
}

/// The job just started, followed live.
#[component]
fn Following(id: String) -> impl IntoView {
    let job = Resource::new(
        move || id.clone(),
        |id| async move { list_migrations(Some(id), None, None).await },
    );
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Starting…"</p> }>
            {move || Suspend::new(async move {
                match job.await {
                    Ok(mut jobs) if !jobs.is_empty() => EitherOf3::A(view! { <MigrationProgressView job=jobs.remove(0) /> }),
                    Ok(_) => EitherOf3::B(view! { <p class="muted">"The job is gone."</p> }),
                    Err(error) => EitherOf3::C(view! { <ErrorNotice error /> }),
                }
            })}
        </Suspense>
    }
}

/// Mode, duration and storage, each with what it means.
#[component]
fn Choices(settings: RwSignal<Settings>, running: bool) -> impl IntoView {
    let mode_choice = move |mode: MigrationMode| {
        let allowed = match mode {
            MigrationMode::Offline => !running,
            _ => running,
        };
        view! {
            <label class="check" class:disabled=!allowed>
                <input
                    type="radio"
                    name="mode"
                    value=mode.to_string()
                    disabled=!allowed
                    prop:checked=move || settings.with(|s| s.mode == mode)
                    on:change=move |_| settings.update(|s| {
                        s.mode = mode;
                        if mode == MigrationMode::Offline {
                            s.persistence = Persistence::Permanent;
                            s.storage = StorageMode::Shared;
                            s.options = MigrationOptions::default();
                        }
                        if mode != MigrationMode::Live {
                            s.options.allow_postcopy = None;
                            s.options.convergence = None;
                        }
                    })
                />
                <span><strong>{mode.to_string()}</strong>" — "{mode.help()}</span>
            </label>
        }
    };
    let offline = move || settings.with(|s| s.mode == MigrationMode::Offline);
    let persistence_choice = move |p: Persistence| {
        view! {
            <label class="check">
                <input
                    type="radio"
                    name="persistence"
                    value=p.to_string()
                    prop:disabled=move || offline() && p == Persistence::Temporary
                    prop:checked=move || settings.with(|s| s.persistence == p)
                    on:change=move |_| settings.update(|s| s.persistence = p)
                />
                <span><strong>{p.to_string()}</strong>" — "{p.help()}</span>
            </label>
        }
    };
    let storage_choice = move |m: StorageMode| {
        view! {
            <label class="check">
                <input
                    type="radio"
                    name="storage"
                    value=m.to_string()
                    prop:disabled=move || offline() && m == StorageMode::Copy
                    prop:checked=move || settings.with(|s| s.storage == m)
                    on:change=move |_| settings.update(|s| s.storage = m)
                />
                <span><strong>{m.to_string()}</strong>" — "{m.help()}</span>
            </label>
        }
    };
    view! {
        <fieldset>
            <legend>"Mode"</legend>
            {mode_choice(MigrationMode::Live)}
            {mode_choice(MigrationMode::Paused)}
            {mode_choice(MigrationMode::Offline)}
        </fieldset>
        <fieldset>
            <legend>"Duration"</legend>
            {persistence_choice(Persistence::Temporary)}
            {persistence_choice(Persistence::Permanent)}
        </fieldset>
        <fieldset>
            <legend>"Storage"</legend>
            {storage_choice(StorageMode::Shared)}
            {storage_choice(StorageMode::Copy)}
        </fieldset>
    }
}

/// The advanced options, each with one line of help.
#[component]
fn Advanced(settings: RwSignal<Settings>) -> impl IntoView {
    let live = move || settings.with(|s| s.mode == MigrationMode::Live);
    let offline = move || settings.with(|s| s.mode == MigrationMode::Offline);
    let number = move |label: &'static str,
                       key: &'static str,
                       get: fn(&MigrationOptions) -> Option<u64>,
                       set: fn(&mut MigrationOptions, Option<u64>)| {
        view! {
            <label>
                {label}
                <input
                    inputmode="numeric"
                    name=key
                    placeholder="libvirt's default"
                    prop:disabled=offline
                    prop:value=move || settings.with(|s| get(&s.options).map(|v| v.to_string()).unwrap_or_default())
                    on:change=move |ev| {
                        let text = event_target_value(&ev);
                        settings.update(|s| set(&mut s.options, text.trim().parse().ok()));
                    }
                />
                <span class="help">{help(key)}</span>
            </label>
        }
    };
    let flag = move |label: &'static str,
                     key: &'static str,
                     get: fn(&MigrationOptions) -> Option<bool>,
                     set: fn(&mut MigrationOptions, Option<bool>),
                     needs_live: bool| {
        view! {
            <label class="check">
                <input
                    type="checkbox"
                    name=key
                    prop:disabled=move || offline() || (needs_live && !live())
                    prop:checked=move || settings.with(|s| get(&s.options) == Some(true))
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        settings.update(|s| set(&mut s.options, on.then_some(true)));
                    }
                />
                <span>
                    <strong>{label}</strong>" — "{help(key)}
                    {needs_live.then(|| view! { <span class="muted">{move || if live() { "" } else { " (only with a live migration)" }}</span> })}
                </span>
            </label>
        }
    };
    view! {
        <details class="advanced">
            <summary>"Advanced options"</summary>
            <div class="grid">
                {number("Max downtime (ms)", "max_downtime_ms", |o| o.max_downtime_ms, |o, v| o.max_downtime_ms = v)}
                {number("Bandwidth (MiB/s)", "bandwidth_mib_s", |o| o.bandwidth_mib_s, |o, v| o.bandwidth_mib_s = v)}
                {number("Parallel connections", "parallel_connections", |o| o.parallel_connections.map(u64::from), |o, v| o.parallel_connections = v.and_then(|v| u32::try_from(v).ok()))}
                {number("Abort after no progress for (s)", "stall_timeout_s", |o| o.stall_timeout_s, |o, v| o.stall_timeout_s = v)}
            </div>
            <label>
                "When the copy does not converge"
                <select
                    name="convergence"
                    prop:disabled=move || !live()
                    on:change=move |ev| {
                        let value = event_target_value(&ev);
                        settings.update(|s| s.options.convergence = value.parse().ok());
                    }
                >
                    <option value="" selected=move || settings.with(|s| s.options.convergence.is_none())>"Keep copying (libvirt's default)"</option>
                    {Convergence::iter()
                        .map(|c| view! {
                            <option value=c.to_string() selected=move || settings.with(|s| s.options.convergence == Some(c))>{c.label()}</option>
                        })
                        .collect_view()}
                </select>
                <span class="help">{move || settings.with(|s| s.options.convergence.map(Convergence::help).unwrap_or("The copy goes on until it converges or the stall timeout aborts it."))}</span>
            </label>
            {flag("Auto-converge", "auto_converge", |o| o.auto_converge, |o, v| o.auto_converge = v, false)}
            {flag("Compression", "compressed", |o| o.compressed, |o, v| o.compressed = v, false)}
            {flag("Allow post-copy", "allow_postcopy", |o| o.allow_postcopy, |o, v| o.allow_postcopy = v, true)}
        </details>
    }
}

#[component]
pub fn CheckList(checks: Vec<Check>) -> impl IntoView {
    view! {
        <ul class="checks">
            {checks
                .into_iter()
                .map(|c| {
                    view! {
                        <li class=format!("check-item {}", c.verdict) data-check=c.name.clone()>
                            <span class=format!("badge {}", verdict_class(c.verdict))>{c.verdict.to_string()}</span>
                            <span class="check-name">{c.name.replace('_', " ")}</span>
                            <span class="check-message">{c.message}</span>
                            {c.fix.map(|f| view! { <span class="check-fix">"Fix: "{f}</span> })}
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}
