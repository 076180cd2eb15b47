//! The hosts page: every configured host, its connection state (since when,
//! the last error, the next attempt) and capacity. Live: `host_changed`
//! messages replace a card as its host connects or drops.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::{
        events::ServerEvent,
        hosts::{list_hosts, HostState, HostSummary},
    },
    components::{format, live::use_server_events, ErrorNotice},
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
                        Ok(list) => view! { <HostCards list /> }.into_any(),
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}

#[component]
fn HostCards(list: Vec<HostSummary>) -> impl IntoView {
    let hosts = RwSignal::new(list);
    use_server_events(move |event| {
        if let ServerEvent::HostChanged { host } = event {
            let host = *host;
            hosts.update(|hs| {
                if let Some(h) = hs.iter_mut().find(|h| h.name == host.name) {
                    *h = host;
                }
            });
        }
    });
    view! {
        <div class="cards">
            <For
                each=move || hosts.get()
                key=|h| format!("{h:?}")
                children=|host| view! { <HostCard host /> }
            />
        </div>
    }
}

/// `2026-11-26T20:05:03.123Z` as `2026-11-26 20:05:03 UTC`.
fn when(t: &Option<String>) -> String {
    t.as_deref()
        .map(|t| {
            format!(
                "{} UTC",
                t.replace('T', " ").chars().take(19).collect::<String>()
            )
        })
        .unwrap_or_else(|| "—".into())
}

#[component]
fn HostCard(host: HostSummary) -> impl IntoView {
    let unknown = || "—".to_string();
    let status = host.state.to_string();
    let badge = match host.state {
        HostState::Connected => "host-connected",
        HostState::Connecting => "state-paused",
        HostState::Unreachable => "host-unreachable",
    };
    view! {
        <section class="card host" data-host=host.name.clone() data-state=status.clone() aria-label=host.name.clone()>
            <header>
                <h2>{host.name.clone()}</h2>
                <span class=format!("badge {badge}")>{status.clone()}</span>
            </header>
            {host.uri.clone().map(|uri| view! { <p class="uri"><code>{uri}</code></p> })}
            {host.error.clone().map(|e| view! { <p class="notice error" role="alert">{e}</p> })}
            <dl>
                <dt>{format!("{} since", host.state)}</dt>
                <dd class="since">{when(&host.state_since)}</dd>
                {host.next_attempt_at.clone().map(|t| view! {
                    <dt>"Next attempt"</dt>
                    <dd class="next-attempt">{when(&Some(t))}</dd>
                })}
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
