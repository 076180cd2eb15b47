//! The Balance page: how evenly the hosts are loaded (the imbalance per
//! resource against the threshold, each host's CPU and memory with an
//! hour's chart), the advisor's recommendations — each with its numbers,
//! its sentence and "Apply…" —, and for admins the advisor's mode and
//! settings. Live: `balance_changed` reads it again; the figures refresh
//! every 15 s.

use crate::api::events::kinds;
use std::time::Duration;

use leptos::{either::Either, prelude::*};
use leptos_meta::Title;

use crate::{
    api::{
        balance::{
            get_balance, ApplyRecommendation, BalanceMode, BalanceSettings, BalanceView,
            HostBalance, Recommendation, SetBalanceSettings, SettingsRequest,
        },
        events::ServerEvent,
        ApiError,
    },
    components::{
        confirm::Confirm, hooks::use_interval, live::use_server_events, sparkline::Sparkline,
        ErrorNotice,
    },
};

fn percent(share: f64) -> String {
    format!("{:.0} %", share * 100.0)
}

fn mib(mib: u64) -> String {
    if mib >= 1024 && mib.is_multiple_of(1024) {
        format!("{} GiB", mib / 1024)
    } else if mib >= 10 * 1024 {
        format!("{:.0} GiB", mib as f64 / 1024.0)
    } else if mib >= 1024 {
        format!("{:.1} GiB", mib as f64 / 1024.0)
    } else {
        format!("{mib} MiB")
    }
}

#[component]
pub fn BalancePage() -> impl IntoView {
    let version = RwSignal::new(0u32);
    let balance = Resource::new(move || version.get(), |_| get_balance());
    use_server_events(&[kinds::BALANCE_CHANGED], move |event| {
        if let ServerEvent::BalanceChanged { .. } = event {
            version.update(|v| *v += 1);
        }
    });
    use_interval(
        Signal::derive(|| true),
        Duration::from_secs(15),
        move || version.update(|v| *v += 1),
    );
    let refresh = Callback::new(move |_| version.update(|v| *v += 1));
    view! {
        <Title text="Balance" />
        <main class="page balance">
            <h1>"Balance"</h1>
            <Transition fallback=|| view! { <p class="muted">"Reading the hosts' load…"</p> }>
                {move || balance.get().map(|r| match r {
                    Ok(view) => Either::Left(view! { <Overview view refresh /> }),
                    Err(error) => Either::Right(view! { <ErrorNotice error /> }),
                })}
            </Transition>
        </main>
    }
}

#[component]
fn Overview(view: BalanceView, refresh: Callback<()>) -> impl IntoView {
    let i = view.imbalance;
    let above = i.combined > i.threshold;
    let recommendations = view.recommendations.clone();
    let count = recommendations.len();
    view! {
        <p class="balance-status" role="status">
            <span class=format!("badge mode-{}", view.mode)>{format!("mode: {}", view.mode)}</span>
            " "
            {view.status.clone()}
        </p>
        <dl class="imbalance" aria-label="Imbalance">
            <div><dt>"CPU"</dt><dd>{format!("{:.2}", i.cpu)}</dd></div>
            <div><dt>"Memory"</dt><dd>{format!("{:.2}", i.memory)}</dd></div>
            <div class:above=above>
                <dt>"Combined"</dt>
                <dd class="combined">{format!("{:.2}", i.combined)}</dd>
            </div>
            <div><dt>"Threshold"</dt><dd>{format!("{:.2}", i.threshold)}</dd></div>
        </dl>
        <section class="recommendations" aria-label="Recommendations">
            <h2>{format!("Recommendations ({count})")}</h2>
            {if recommendations.is_empty() {
                Either::Left(view! { <p class="muted empty">"No recommendations: nothing to move now."</p> })
            } else {
                Either::Right(
                    recommendations
                        .into_iter()
                        .map(|r| view! { <RecommendationCard r refresh settings=view.settings.clone() /> })
                        .collect_view(),
                )
            }}
        </section>
        <section aria-label="Hosts">
            <h2>"Hosts"</h2>
            <HostTable hosts=view.hosts.clone() />
            <p class="muted small">
                {format!(
                    "Shares are of each host's allocatable CPUs and memory. Sampled every {} s{}; {} move(s) in the last hour (at most {}).",
                    view.settings.sample_seconds,
                    view.sampled_at.as_deref().map(|t| format!(", last at {} UTC", t.replace('T', " ").chars().take(19).collect::<String>())).unwrap_or_default(),
                    view.moves_last_hour,
                    view.settings.max_moves_per_hour,
                )}
            </p>
        </section>
        <div class="needs-admin">
            <SettingsForm settings=view.settings.clone() refresh />
        </div>
    }
}

#[component]
fn HostTable(hosts: Vec<HostBalance>) -> impl IntoView {
    let rows = hosts
        .into_iter()
        .map(|h| {
            let cpu: Vec<f32> = h.trend.iter().map(|p| p.cpu).collect();
            let memory: Vec<f32> = h.trend.iter().map(|p| p.memory).collect();
            let share = h.memory_share();
            view! {
                <tr data-host=h.host.clone()>
                    <td class="name" data-label="Host">{h.host.clone()}</td>
                    <td class="num" data-label="CPU">{format!("{} of {} CPUs", percent(h.cpu_used), h.cpus)}</td>
                    <td class="num memory" data-label="Memory">
                        {format!("{} ({} of {})", percent(share), mib(h.memory_committed), mib(h.memory_total))}
                    </td>
                    <td class="num" data-label="Guests">{h.guests}</td>
                    <td class="load" data-label="Last hour">
                        <Sparkline what="CPU" values=cpu />
                        <Sparkline what="Memory" values=memory />
                    </td>
                    <td class="left-out" data-label="Weighed">
                        {h.excluded_reason.clone().map(|r| format!("left out: {r}")).unwrap_or_else(|| "yes".into())}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="data balance-hosts">
            <thead>
                <tr>
                    <th scope="col">"Host"</th>
                    <th scope="col" class="num">"CPU"</th>
                    <th scope="col" class="num">"Memory committed"</th>
                    <th scope="col" class="num">"Guests"</th>
                    <th scope="col">"Last hour"</th>
                    <th scope="col">"Weighed"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

#[component]
fn RecommendationCard(
    r: Recommendation,
    refresh: Callback<()>,
    settings: BalanceSettings,
) -> impl IntoView {
    let asking = RwSignal::new(false);
    let apply = ServerAction::<ApplyRecommendation>::new();
    let never = ServerAction::<SetBalanceSettings>::new();
    let error = RwSignal::new(None::<ApiError>);
    Effect::new(move |_| match apply.value().get() {
        Some(Ok(_)) => {
            asking.set(false);
            refresh.run(());
        }
        Some(Err(e)) => {
            asking.set(false);
            error.set(Some(e));
        }
        None => {}
    });
    Effect::new(move |_| match never.value().get() {
        Some(Ok(_)) => refresh.run(()),
        Some(Err(e)) => error.set(Some(e)),
        None => {}
    });
    let started = move || {
        apply
            .value()
            .get()
            .and_then(|r| r.ok())
            .map(|a| a.migration_id)
    };
    let title = format!("{} {} → {}", r.guest.name, r.guest.host, r.destination);
    let cost = format!(
        "{} to copy, about {:.0} s at {} MiB/s",
        mib(r.cost.bytes.div_ceil(1024 * 1024)),
        r.cost.seconds.ceil(),
        settings.bandwidth_mib_s
    );
    let id = r.id.clone();
    let uuid = r.guest.uuid.clone();
    let question = format!(
        "Migrate {} from {} to {} now?",
        r.guest.name, r.guest.host, r.destination
    );
    let detail = format!(
        "{}. It is a live migration; the guest keeps running.",
        r.explanation
    );
    view! {
        <article class="card recommendation" data-guest=r.guest.name.clone() data-reason=r.reason.clone()>
            <header>
                <h3>{title}</h3>
                <span class=format!("badge priority-{}", r.priority)>{format!("priority {}", r.priority)}</span>
            </header>
            <p class="explanation">{r.explanation.clone()}</p>
            <dl>
                <dt>"Reason"</dt><dd class="reason">{r.reason.clone()}</dd>
                <dt>"Imbalance"</dt><dd>{format!("{:.2} → {:.2}", r.before, r.after)}</dd>
                <dt>{format!("{} after", r.destination)}</dt>
                <dd>{format!("CPU {}, memory {}", percent(r.target_after.cpu), percent(r.target_after.memory))}</dd>
                <dt>"Cost"</dt><dd>{cost}</dd>
            </dl>
            {move || started().map(|id| view! {
                <p class="notice ok" role="status">"Migration started: " <a href="/migrations">"follow it"</a> {format!(" ({id})")}</p>
            })}
            {move || error.get().map(|error| view! { <ErrorNotice error /> })}
            <div class="actions">
                <button class="needs-operator" on:click=move |_| { error.set(None); asking.set(true) }>"Apply…"</button>
                <button
                    class="secondary needs-admin"
                    title="Add this guest to the advisor's exclude list"
                    on:click=move |_| {
                        let mut exclude = settings.exclude.clone();
                        exclude.push(uuid.clone());
                        never.dispatch(SetBalanceSettings {
                            request: SettingsRequest {
                                mode: settings.mode.to_string(),
                                exclude: Some(exclude),
                                ..Default::default()
                            },
                        });
                    }
                >
                    "Never move this guest"
                </button>
            </div>
            {move || asking.get().then(|| {
                let id = id.clone();
                view! {
                    <Confirm
                        title=question.clone()
                        detail=detail.clone()
                        confirm_label="Migrate".to_string()
                        on_confirm=Callback::new(move |_| {
                            apply.dispatch(ApplyRecommendation { id: id.clone() });
                        })
                        on_cancel=Callback::new(move |_| asking.set(false))
                    />
                }
            })}
        </article>
    }
}

/// The advisor's mode and settings (admins; the server checks it too).
#[component]
fn SettingsForm(settings: BalanceSettings, refresh: Callback<()>) -> impl IntoView {
    let save = ServerAction::<SetBalanceSettings>::new();
    let error = RwSignal::new(None::<ApiError>);
    let saved = RwSignal::new(false);
    Effect::new(move |_| match save.value().get() {
        Some(Ok(_)) => {
            error.set(None);
            saved.set(true);
            refresh.run(());
        }
        Some(Err(e)) => {
            saved.set(false);
            error.set(Some(e));
        }
        None => {}
    });
    let mode = RwSignal::new(settings.mode.to_string());
    let priority = RwSignal::new(settings.automatic_max_priority.to_string());
    let threshold = RwSignal::new(settings.threshold.to_string());
    let hold = RwSignal::new(settings.hold_samples.to_string());
    let margin = RwSignal::new(format!("{}", settings.margin * 100.0));
    let per_hour = RwSignal::new(settings.max_moves_per_hour.to_string());
    let minutes = RwSignal::new(settings.min_minutes_between_moves_of_a_guest.to_string());
    let exclude = RwSignal::new(settings.exclude.join("\n"));
    let number = |s: RwSignal<String>| s.get_untracked().trim().parse::<f64>().ok();
    let whole = |s: RwSignal<String>| s.get_untracked().trim().parse::<i64>().ok();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        saved.set(false);
        let exclude: Vec<String> = exclude
            .get_untracked()
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        save.dispatch(SetBalanceSettings {
            request: SettingsRequest {
                mode: mode.get_untracked(),
                automatic_max_priority: whole(priority),
                threshold: number(threshold),
                hold_samples: whole(hold),
                margin: number(margin).map(|m| m / 100.0),
                max_moves_per_hour: whole(per_hour),
                min_minutes_between_moves_of_a_guest: whole(minutes),
                exclude: Some(exclude),
                min_load: None,
            },
        });
    };
    let field =
        |label: &'static str, name: &'static str, value: RwSignal<String>, help: &'static str| {
            view! {
                <label>
                    <span>{label}</span>
                    <input
                        name=name
                        inputmode="decimal"
                        prop:value=move || value.get()
                        on:input=move |ev| value.set(event_target_value(&ev))
                    />
                    <small class="muted">{help}</small>
                </label>
            }
        };
    let modes = [
        BalanceMode::Off,
        BalanceMode::Recommend,
        BalanceMode::Automatic,
    ];
    view! {
        <section class="balance-settings" aria-label="Advisor settings">
            <h2>"Advisor settings"</h2>
            <form class="settings-form" on:submit=submit>
                <label>
                    <span>"Mode"</span>
                    <select name="mode" on:change=move |ev| mode.set(event_target_value(&ev))>
                        {modes.into_iter().map(|m| {
                            let value = m.to_string();
                            let selected = value == settings.mode.to_string();
                            let text = match m {
                                BalanceMode::Off => "off: no recommendations",
                                BalanceMode::Recommend => "recommend: list them here",
                                BalanceMode::Automatic => "automatic: run them up to a priority",
                            };
                            view! { <option value=value selected=selected>{text}</option> }
                        }).collect_view()}
                    </select>
                </label>
                {field("Automatic up to priority", "automatic_max_priority", priority, "1 (most urgent) to 5")}
                {field("Threshold", "threshold", threshold, "recommend above this imbalance")}
                {field("Hold (samples)", "hold_samples", hold, "readings in a row above it first")}
                {field("Margin (%)", "margin", margin, "the moves together lower the imbalance by this much")}
                {field("Moves per hour", "max_moves_per_hour", per_hour, "at most")}
                {field("Minutes between moves of a guest", "min_minutes_between_moves_of_a_guest", minutes, "no ping-pong")}
                <label class="wide">
                    <span>"Never move (guest UUIDs)"</span>
                    <textarea
                        name="exclude"
                        rows="3"
                        prop:value=move || exclude.get()
                        on:input=move |ev| exclude.set(event_target_value(&ev))
                    ></textarea>
                </label>
                <div class="actions">
                    <button type="submit" disabled=move || save.pending().get()>"Save settings"</button>
                    {move || saved.get().then(|| view! { <span class="notice ok" role="status">"Saved."</span> })}
                </div>
                {move || error.get().map(|error| view! { <ErrorNotice error /> })}
            </form>
        </section>
    }
}
