//! The guest's lifecycle: its action buttons, and a shutdown or reboot
//! request followed until the guest powers off (with "Force off" offered
//! after a while).

use std::time::Duration;

use leptos::{prelude::*, task::spawn_local};

use super::Dialog;
use crate::{
    api::{
        guest_detail::GuestDetail,
        guests::{guest_action, GuestAction, GuestState},
    },
    components::{
        hooks::use_interval,
        notice::Notice,
        time::{elapsed, now_ms},
    },
};

/// After this long without the guest powering off, "Force off" is offered.
const FORCE_AFTER_MS: f64 = 30_000.0;

/// A shutdown or reboot the guest was asked for, and since when (ms since the epoch).
#[derive(Clone, Copy, PartialEq)]
pub(super) struct Request {
    action: GuestAction,
    since: f64,
}

/// The guest is off: a shutdown request has been honoured.
pub(super) fn is_off(state: GuestState) -> bool {
    matches!(state, GuestState::Shutoff | GuestState::Crashed)
}

/// The lifecycle's state, shared by the header, the buttons, the banner and
/// the confirmation of a destructive action.
#[derive(Clone, Copy)]
pub(super) struct Lifecycle {
    /// The shutdown or reboot being waited for.
    pub(super) request: RwSignal<Option<Request>>,
    /// The action sent and not answered yet.
    acting: RwSignal<Option<GuestAction>>,
    /// The time the banner's elapsed time is counted to.
    now: RwSignal<f64>,
    /// Sends an action (after its confirmation, for a destructive one).
    pub(super) run: Callback<GuestAction>,
}

/// Follows the guest's requests: one ends when the guest is off (said in
/// `notice`), and its elapsed time counts every second meanwhile.
pub(super) fn use_lifecycle(
    host: String,
    uuid: String,
    d: RwSignal<GuestDetail>,
    state: Memo<GuestState>,
    notice: RwSignal<Option<Notice>>,
    reload_soon: impl Fn() + Clone + Send + Sync + 'static,
) -> Lifecycle {
    let request = RwSignal::new(None::<Request>);
    let acting = RwSignal::new(None::<GuestAction>);
    let now = RwSignal::new(now_ms());

    // A shutdown request ends when the guest is off.
    Effect::new(move |_| {
        let s = state.get();
        if let Some(req) = request.get() {
            if is_off(s) {
                request.set(None);
                let what = match req.action {
                    GuestAction::Reboot => "Reboot requested, but",
                    _ => "Shutdown requested:",
                };
                notice.set(Some(Notice::Done(format!(
                    "{what} {} powered off after {} (now {}).",
                    d.with_untracked(|x| x.guest.name.clone()),
                    elapsed(now_ms() - req.since),
                    s.label()
                ))));
            }
        }
    });
    // The elapsed time of a request, every second while there is one.
    use_interval(
        Signal::derive(move || request.with(Option::is_some)),
        Duration::from_secs(1),
        move || {
            now.try_set(now_ms());
        },
    );

    let run = Callback::new(move |act: GuestAction| {
        let (host, uuid) = (host.clone(), uuid.clone());
        let reload_soon = reload_soon.clone();
        acting.set(Some(act));
        notice.set(None);
        spawn_local(async move {
            let result = guest_action(host, uuid, act.as_str().to_string()).await;
            acting.try_set(None);
            match result {
                Ok(g) => {
                    match act {
                        GuestAction::Shutdown | GuestAction::Reboot => {
                            request.try_set(Some(Request {
                                action: act,
                                since: now_ms(),
                            }));
                            now.try_set(now_ms());
                        }
                        _ => {
                            request.try_set(None);
                            notice.try_set(Some(Notice::Done(format!(
                                "{} {}: now {}.",
                                act.done(),
                                g.name,
                                g.state.label()
                            ))));
                        }
                    }
                    d.try_update(|x| x.guest = g);
                    reload_soon();
                }
                Err(e) => {
                    notice.try_set(Some(Notice::Failed(e)));
                }
            }
        });
    });
    Lifecycle {
        request,
        acting,
        now,
        run,
    }
}

/// One button per action the guest's state allows; a destructive one asks first.
#[component]
pub(super) fn ActionButtons(
    d: RwSignal<GuestDetail>,
    state: Memo<GuestState>,
    lifecycle: Lifecycle,
    dialog: RwSignal<Option<Dialog>>,
) -> impl IntoView {
    let Lifecycle { acting, run, .. } = lifecycle;
    let on_action = Callback::new(move |act: GuestAction| {
        if act.is_destructive() {
            dialog.set(Some(Dialog::Action(act)));
        } else {
            run.run(act);
        }
    });
    move || {
        let busy = acting.get().is_some() || d.with(|x| x.guest.stale);
        state
            .get()
            .actions()
            .iter()
            .map(|&act| {
                let label = move || {
                    if acting.get() == Some(act) {
                        "Working…"
                    } else {
                        act.label()
                    }
                };
                view! {
                    <button
                        class=if act.is_destructive() { "danger" } else { "" }
                        disabled=busy
                        on:click=move |_| on_action.run(act)
                    >
                        {label}
                    </button>
                }
            })
            .collect_view()
    }
}

/// The request being waited for, how long since, and what to do about it.
#[component]
pub(super) fn RequestBanner(
    lifecycle: Lifecycle,
    dialog: RwSignal<Option<Dialog>>,
) -> impl IntoView {
    let Lifecycle { request, now, .. } = lifecycle;
    move || {
        request.get().map(|req| {
            let waited = now.get() - req.since;
            let text = match req.action {
                GuestAction::Reboot => "Reboot requested — the guest restarts if it honours the request (the guest may ignore it: no ACPI, a hung OS).",
                _ => "Shutdown requested — waiting for the guest to power off (the guest may ignore it: no ACPI, a hung OS).",
            };
            view! {
                <div class="notice warn request" role="status" data-request=req.action.as_str()>
                    <span>{text}</span>
                    " "
                    <span class="elapsed">{format!("Waiting for {}.", elapsed(waited))}</span>
                    <div class="request-actions">
                        {(waited >= FORCE_AFTER_MS).then(|| view! {
                            <button class="danger needs-operator" on:click=move |_| dialog.set(Some(Dialog::Action(GuestAction::Destroy)))>"Force off"</button>
                        })}
                        <button class="secondary" on:click=move |_| request.set(None)>"Stop waiting"</button>
                    </div>
                </div>
            }
        })
    }
}
