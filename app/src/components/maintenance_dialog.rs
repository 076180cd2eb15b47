//! The maintenance dialog: the plan of a host's evacuation (every guest with
//! what will happen to it and where, or why it cannot leave; every target's
//! memory before and after), its options, and the start, now or at a time.
//! A started evacuation is followed on its own page (`/maintenance/:id`).

use leptos::{either::Either, html, prelude::*};
use leptos_router::hooks::use_navigate;

use crate::{
    api::{
        hosts::HostSummary,
        maintenance::{
            plan_maintenance, MaintenancePlan, MaintenanceRequest, OnBlocked, PlanAction,
            PlanRequest, SetMaintenance, MAX_PARALLEL,
        },
        ApiError,
    },
    components::{
        dialog::{escape_closes, focus_soon},
        ErrorNotice,
    },
};

/// What the user chose.
#[derive(Clone, PartialEq)]
struct Choices {
    targets: Vec<String>,
    max_parallel: u32,
    bandwidth: String,
    include_shut_off: bool,
    copy_storage: bool,
}

impl Choices {
    fn plan(&self, host: &str) -> PlanRequest {
        PlanRequest {
            host: host.to_string(),
            targets: Some(self.targets.clone()),
            max_parallel: Some(self.max_parallel),
            bandwidth_mib_s: self.bandwidth.trim().parse().ok(),
            include_shut_off: Some(self.include_shut_off),
            copy_storage: Some(self.copy_storage),
            pins: None,
        }
    }
}

fn action_class(a: PlanAction) -> &'static str {
    match a {
        PlanAction::Migrate => "state-running",
        PlanAction::MigrateOffline => "state-paused",
        PlanAction::Stay => "state-shutoff",
        PlanAction::Blocked => "state-crashed",
    }
}

#[component]
pub fn MaintenanceDialog(
    host: String,
    hosts: Vec<HostSummary>,
    on_close: Callback<()>,
) -> impl IntoView {
    let others: Vec<HostSummary> = hosts.into_iter().filter(|h| h.name != host).collect();
    let choices = RwSignal::new(Choices {
        targets: others
            .iter()
            .filter(|h| h.connected && h.maintenance.is_none())
            .map(|h| h.name.clone())
            .collect(),
        max_parallel: 2,
        bandwidth: String::new(),
        include_shut_off: true,
        copy_storage: false,
    });
    let on_blocked = RwSignal::new(OnBlocked::Stop);
    let when = RwSignal::new(String::new());
    let plan = {
        let host = host.clone();
        Resource::new(
            move || choices.get(),
            move |c| {
                let request = c.plan(&host);
                async move {
                    if request.targets.as_ref().is_some_and(|t| t.is_empty()) {
                        return Err(ApiError::BadRequest("choose at least one target".into()));
                    }
                    request.validate()?;
                    plan_maintenance(request).await
                }
            },
        )
    };
    let start = ServerAction::<SetMaintenance>::new();
    let error = RwSignal::new(None::<ApiError>);
    let navigate = use_navigate();
    Effect::new(move |_| match start.value().get() {
        Some(Ok(Some(s))) => navigate(&format!("/maintenance/{}", s.id), Default::default()),
        Some(Ok(None)) => on_close.run(()),
        Some(Err(e)) => error.set(Some(e)),
        None => {}
    });
    let submit = {
        let host = host.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            error.set(None);
            let at = when.get_untracked();
            let request = MaintenanceRequest {
                plan: choices.get_untracked().plan(&host),
                action: "enter".into(),
                at: (!at.trim().is_empty()).then(|| format!("{}:00Z", at.trim())),
                on_blocked: Some(on_blocked.get_untracked().to_string()),
                return_guests: None,
            };
            match request.validate() {
                Ok(_) => {
                    start.dispatch(SetMaintenance { request });
                }
                Err(e) => error.set(Some(e)),
            }
        }
    };
    let can_start = move || match plan.get() {
        Some(Ok(p)) => {
            p.fits && (p.blocked().next().is_none() || on_blocked.get() == OnBlocked::ShutDown)
        }
        _ => false,
    };
    let close_ref = NodeRef::<html::Button>::new();
    Effect::new(move |_| {
        if let Some(b) = close_ref.get() {
            focus_soon(b);
        }
    });
    let title = format!("Put {host} in maintenance");

    let targets = others
        .iter()
        .map(|h| {
            let name = h.name.clone();
            let usable = h.connected && h.maintenance.is_none();
            let n = name.clone();
            view! {
                <label class="check">
                    <input
                        type="checkbox"
                        name="target"
                        value=name.clone()
                        disabled=!usable
                        prop:checked=move || choices.with(|c| c.targets.contains(&n))
                        on:change={
                            let name = name.clone();
                            move |ev| {
                                let on = event_target_checked(&ev);
                                choices.update(|c| {
                                    c.targets.retain(|t| *t != name);
                                    if on {
                                        c.targets.push(name.clone());
                                    }
                                });
                            }
                        }
                    />
                    <span>{name.clone()}</span>
                    {(!h.connected).then(|| view! { <span class="tag">"unreachable"</span> })}
                    {h.maintenance.is_some().then(|| view! { <span class="tag">"maintenance"</span> })}
                </label>
            }
        })
        .collect_view();

    view! {
        <div class="modal-backdrop" on:click=move |_| on_close.run(())>
            <form
                class="modal wide maintenance-dialog"
                role="dialog"
                aria-modal="true"
                aria-labelledby="maintenance-title"
                on:click=|ev| ev.stop_propagation()
                on:keydown=escape_closes(on_close)
                on:submit=submit
            >
                <div class="modal-head">
                    <h2 id="maintenance-title">{title}</h2>
                    <button type="button" class="secondary small" node_ref=close_ref on:click=move |_| on_close.run(())>
                        "Close"
                    </button>
                </div>
                <p class="muted">
                    "Every running guest leaves this host; the host is in maintenance once nothing runs on it. Nothing starts before you confirm."
                </p>
                <fieldset>
                    <legend>"Targets"</legend>
                    {targets}
                </fieldset>
                <fieldset class="options">
                    <legend>"Options"</legend>
                    <label class="modal-field">
                        "Migrations at once"
                        <input
                            type="number"
                            name="max_parallel"
                            min="1"
                            max=MAX_PARALLEL.to_string()
                            prop:value=move || choices.with(|c| c.max_parallel.to_string())
                            on:change=move |ev| {
                                if let Ok(n) = event_target_value(&ev).parse::<u32>() {
                                    choices.update(|c| c.max_parallel = n.clamp(1, MAX_PARALLEL));
                                }
                            }
                        />
                    </label>
                    <label class="modal-field">
                        "Total bandwidth (MiB/s, empty: no limit)"
                        <input
                            type="number"
                            name="bandwidth"
                            min="1"
                            prop:value=move || choices.with(|c| c.bandwidth.clone())
                            on:change=move |ev| {
                                let v = event_target_value(&ev);
                                choices.update(|c| c.bandwidth = v);
                            }
                        />
                    </label>
                    <label class="check">
                        <input
                            type="checkbox"
                            name="include_shut_off"
                            prop:checked=move || choices.with(|c| c.include_shut_off)
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                choices.update(|c| c.include_shut_off = on);
                            }
                        />
                        "Move the definitions of shut-off guests on shared storage"
                    </label>
                    <label class="check">
                        <input
                            type="checkbox"
                            name="copy_storage"
                            prop:checked=move || choices.with(|c| c.copy_storage)
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                choices.update(|c| c.copy_storage = on);
                            }
                        />
                        "Copy the disks of guests on local storage (slower)"
                    </label>
                </fieldset>
                <Suspense fallback=|| view! { <p class="muted plan-loading">"Checking every guest against every target…"</p> }>
                    {move || plan.get().map(|r| match r {
                        Ok(p) => Either::Left(view! { <PlanView plan=p /> }),
                        Err(error) => Either::Right(view! { <ErrorNotice error /> }),
                    })}
                </Suspense>
                <fieldset>
                    <legend>"Guests that cannot leave"</legend>
                    <label class="check">
                        <input
                            type="radio"
                            name="on_blocked"
                            value="stop"
                            prop:checked=move || on_blocked.get() == OnBlocked::Stop
                            on:change=move |_| on_blocked.set(OnBlocked::Stop)
                        />
                        "Leave them running: the host does not enter maintenance"
                    </label>
                    <label class="check">
                        <input
                            type="radio"
                            name="on_blocked"
                            value="shut_down"
                            prop:checked=move || on_blocked.get() == OnBlocked::ShutDown
                            on:change=move |_| on_blocked.set(OnBlocked::ShutDown)
                        />
                        "Shut them down once the others have left"
                    </label>
                </fieldset>
                <label class="modal-field">
                    "Start at (UTC; empty: now)"
                    <input
                        type="datetime-local"
                        name="at"
                        prop:value=move || when.get()
                        on:change=move |ev| when.set(event_target_value(&ev))
                    />
                </label>
                {move || error.get().map(|error| view! { <ErrorNotice error /> })}
                <div class="modal-actions">
                    <button type="button" class="secondary" on:click=move |_| on_close.run(())>
                        "Cancel"
                    </button>
                    <button
                        type="submit"
                        class="danger"
                        disabled=move || !can_start() || start.pending().get()
                    >
                        {move || if when.get().trim().is_empty() { "Enter maintenance now" } else { "Schedule maintenance" }}
                    </button>
                </div>
            </form>
        </div>
    }
}

/// The plan: a line of totals, the guests, the targets.
#[component]
fn PlanView(plan: MaintenancePlan) -> impl IntoView {
    let count = |a: PlanAction| plan.guests.iter().filter(|g| g.action == a).count();
    let summary = format!(
        "{} guest(s): {} migrate live, {} move their definition, {} stay, {} blocked",
        plan.guests.len(),
        count(PlanAction::Migrate),
        count(PlanAction::MigrateOffline),
        count(PlanAction::Stay),
        count(PlanAction::Blocked),
    );
    let guests = plan
        .guests
        .iter()
        .map(|g| {
            view! {
                <tr data-uuid=g.uuid.clone() data-action=g.action.to_string()>
                    <td class="name">{g.name.clone()}</td>
                    <td>{g.state.label()}</td>
                    <td class="num">{format!("{} MiB", g.memory_mib)}</td>
                    <td>
                        <span class=format!("badge {}", action_class(g.action))>{g.action.label()}</span>
                        {g.copy_storage.then(|| view! { <span class="tag">"copies disks"</span> })}
                    </td>
                    <td class="destination">{g.destination.clone().unwrap_or_else(|| "—".into())}</td>
                    <td class="reason">{g.reason.clone().unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    let targets = plan
        .targets
        .iter()
        .map(|t| {
            let share = |mib: u64| 100.0 * mib as f64 / t.memory_total.max(1) as f64;
            view! {
                <tr data-host=t.host.clone()>
                    <td class="name">{t.host.clone()}</td>
                    <td class="num">{format!("{} → {} MiB", t.memory_committed_before, t.memory_committed_after)}</td>
                    <td class="num">{format!("{:.0} % → {:.0} %", share(t.memory_committed_before), share(t.memory_committed_after))}</td>
                    <td class="num">{format!("{} of {} MiB", t.memory_limit, t.memory_total)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="plan" aria-label="Plan">
            <p class="plan-summary">{summary}</p>
            {plan.shortfall.clone().map(|s| view! { <p class="notice error" role="alert">{s.message}</p> })}
            {(plan.fits && plan.blocked().next().is_some()).then(|| view! {
                <p class="notice warn">"Some guests cannot leave (see why below): fix them, or choose to shut them down at the end."</p>
            })}
            <div class="table-scroll">
                <table class="data plan-guests">
                    <thead>
                        <tr><th>"Guest"</th><th>"State"</th><th>"Memory"</th><th>"Plan"</th><th>"To"</th><th>"Why"</th></tr>
                    </thead>
                    <tbody>{guests}</tbody>
                </table>
            </div>
            <div class="table-scroll">
                <table class="data plan-targets">
                    <thead>
                        <tr><th>"Target"</th><th>"Committed memory"</th><th>"Share"</th><th>"Limit (90 %)"</th></tr>
                    </thead>
                    <tbody>{targets}</tbody>
                </table>
            </div>
            <p class="muted">"Memory in MiB of what each host gives to guests (its allocatable memory); running guests may commit at most 90 % of it."</p>
        </section>
    }
}
