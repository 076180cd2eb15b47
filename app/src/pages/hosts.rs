//! The hosts page: every configured host, its connection state and capacity.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::hosts::{list_hosts, HostSummary},
    components::{format, ErrorNotice},
};

#[component]
pub fn HostsPage() -> impl IntoView {
    let hosts = Resource::new(|| (), |_| list_hosts());
    view! {
        <Title text="Hosts" />
        <main class="page">
            <h1>"Hosts"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading hosts…"</p> }>
                {move || Suspend::new(async move {
                    match hosts.await {
                        Ok(list) => view! {
                            <div class="cards">
                                {list.into_iter().map(|host| view! { <HostCard host /> }).collect_view()}
                            </div>
                        }
                        .into_any(),
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}

#[component]
fn HostCard(host: HostSummary) -> impl IntoView {
    let unknown = || "—".to_string();
    let status = if host.connected {
        "connected"
    } else {
        "unreachable"
    };
    view! {
        <section class="card host" data-host=host.name.clone() aria-label=host.name.clone()>
            <header>
                <h2>{host.name.clone()}</h2>
                <span class=format!("badge host-{status}")>{status}</span>
            </header>
            <p class="uri"><code>{host.uri.clone()}</code></p>
            {host.error.clone().map(|e| view! { <p class="notice error" role="alert">{e}</p> })}
            <dl>
                <dt>"Guests"</dt>
                <dd>{host.guests.map(|n| n.to_string()).unwrap_or_else(unknown)}</dd>
                <dt>"CPU"</dt>
                <dd>
                    {match (&host.arch, &host.cpu_model, host.cpus) {
                        (None, None, None) => unknown(),
                        (arch, model, cpus) => {
                            let mut parts = Vec::new();
                            if let Some(n) = cpus { parts.push(format!("{n} × ")) }
                            parts.push(arch.clone().unwrap_or_default());
                            if let Some(m) = model { parts.push(format!(" ({m})")) }
                            parts.concat()
                        }
                    }}
                </dd>
                <dt>"Memory"</dt>
                <dd>{host.memory_kib.map(format::kib).unwrap_or_else(unknown)}</dd>
                <dt>"Hypervisor"</dt>
                <dd>{host.hypervisor_version.clone().unwrap_or_else(unknown)}</dd>
                <dt>"libvirt"</dt>
                <dd>{host.libvirt_version.clone().unwrap_or_else(unknown)}</dd>
            </dl>
        </section>
    }
}
