//! The new-guest wizard (`/guests/new`): host, install source (an ISO from a
//! pool, with upload; a disk to import; network boot), name and operating
//! system, CPUs and memory (bounded by the host, its free memory shown), a
//! new disk, the network, firmware, then a summary before "Create". Each step
//! checks its fields; the server checks everything again and leaves nothing
//! half-made when it refuses.
//!
//! This module is the page: the steps' frame, "Back" and "Next", and the
//! result. The form and its checks are in `form`; each step's fields in a
//! module of their own.

mod disk;
mod firmware;
mod form;
mod host;
mod install;
mod network;
mod summary;
mod system;

use leptos::{
    either::{Either, EitherOf8},
    prelude::*,
};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    api::{
        guest_new::{guest_options, CreateGuestFn, Firmware},
        hosts::list_hosts,
        pools::{list_pools, PoolState, PoolSummary},
        ApiError,
    },
    components::ErrorNotice,
};
use disk::DiskStep;
use firmware::FirmwareStep;
use form::{Form, Nic, Step};
use host::HostStep;
use install::InstallStep;
use network::NetworkStep;
use summary::Summary;
use system::{NameStep, SizeStep};

#[component]
pub fn NewGuestPage() -> impl IntoView {
    let query = use_query_map();
    let form = RwSignal::new(Form {
        host: query.with_untracked(|q| q.get("host").unwrap_or_default()),
        ..Form::default()
    });
    let step = RwSignal::new(Step::Host);
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
            if f.nic.is_none() {
                if let Some(n) = o.networks.iter().find(|n| n.active) {
                    f.nic = Some(Nic::Network(n.name.clone()));
                }
            }
            if !o.accels.contains(&f.accel) {
                f.accel = o.accels.first().cloned().unwrap_or_default();
            }
            if !o.firmware.contains(&f.firmware) {
                f.firmware = Firmware::Bios;
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
            .filter(|p| p.host == h && p.state == PoolState::Active)
            .collect()
    };

    let next = move |_| {
        let s = step.get_untracked();
        let o = opts();
        match form.with_untracked(|f| f.check(s, o.as_ref())) {
            Ok(()) => {
                error.set(None);
                step.set(s.next());
            }
            Err(e) => error.set(Some(e)),
        }
    };
    let back = move |_| {
        error.set(None);
        step.update(|s| *s = s.back());
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !step.get_untracked().is_last() {
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
                    Either::Left(view! {
                        <section class="panel done" aria-live="polite">
                            <h2>{format!("{} was created on {}", g.name, g.host)}</h2>
                            <p>{format!("State: {}.", g.state.label())}</p>
                            <p class="form-actions">
                                <a class="button" href=console rel="external">"Open its console"</a>
                                <a class="button secondary" href=page>"Go to its page"</a>
                                <a class="button secondary" href="/guests">"All guests"</a>
                            </p>
                        </section>
                    })
                }
                None => {
                    Either::Right(view! {
                        <form class="panel wizard" novalidate on:submit=submit aria-label="New guest">
                            <ol class="steps" aria-label="Steps">
                                {Step::ALL
                                    .into_iter()
                                    .map(|s| {
                                        view! {
                                            <li
                                                class:current=move || step.get() == s
                                                class:done=move || s < step.get()
                                                aria-current=move || (step.get() == s).then_some("step")
                                            >
                                                <span class="n">{s.number()}</span>
                                                <span class="label">{s.title()}</span>
                                            </li>
                                        }
                                    })
                                    .collect_view()}
                            </ol>
                            <h2 class="step-title">
                                {move || {
                                    let s = step.get();
                                    format!("Step {} of {}: {}", s.number(), Step::ALL.len(), s.title())
                                }}
                            </h2>
                            {move || match step.get() {
                                Step::Host => {
                                    EitherOf8::A(view! {
                                        <HostStep form hosts=Signal::derive(move || {
                                            hosts.get().and_then(|r| r.ok()).unwrap_or_default()
                                        }) options=Signal::derive(opts) />
                                    })
                                }
                                Step::Install => EitherOf8::B(view! { <InstallStep form pools=Signal::derive(host_pools) /> }),
                                Step::Name => EitherOf8::C(view! { <NameStep form presets=Signal::derive(move || opts().map(|o| o.presets).unwrap_or_default()) /> }),
                                Step::Resources => EitherOf8::D(view! { <SizeStep form options=Signal::derive(opts) /> }),
                                Step::Disk => EitherOf8::E(view! { <DiskStep form pools=Signal::derive(host_pools) /> }),
                                Step::Network => EitherOf8::F(view! { <NetworkStep form options=Signal::derive(opts) /> }),
                                Step::Firmware => EitherOf8::G(view! { <FirmwareStep form options=Signal::derive(opts) /> }),
                                Step::Summary => EitherOf8::H(view! { <Summary form /> }),
                            }}
                            {move || error.get().map(|error| view! { <ErrorNotice error /> })}
                            <div class="form-actions wizard-nav">
                                <button type="button" class="secondary" on:click=back disabled=move || step.get().is_first() || create.pending().get()>
                                    "Back"
                                </button>
                                {move || {
                                    if step.get().is_last() {
                                        Either::Left(view! {
                                            <button type="submit" disabled=move || create.pending().get()>
                                                {move || if create.pending().get() { "Creating…" } else { "Create" }}
                                            </button>
                                        })
                                    } else {
                                        Either::Right(view! { <button type="submit">"Next"</button> })
                                    }
                                }}
                            </div>
                        </form>
                    })
                }
            }}
        </main>
    }
}
