//! Cloning the guest: the dialog that starts the job, and the job's progress
//! as a person follows it.

use leptos::{either::EitherOf3, html, prelude::*, task::spawn_local};

use crate::{
    api::{
        guest_detail::{clone_guest, guest_job, GuestDetail, GuestJob, JobState},
        guests::GuestState,
        pools::PoolSummary,
        size::{human_bytes, StorageName},
        ApiError,
    },
    components::{dialog::ModalForm, ErrorNotice},
    pages::storage::urlencode,
};

/// A clone job as a person follows it: a bar, the phase, the outcome.
pub(super) fn job_view(j: GuestJob) -> impl IntoView {
    let outcome = match j.state {
        JobState::Running => None,
        JobState::Done => Some(match j.result.clone() {
            Some(g) => {
                let href = format!("/guests/{}/{}", urlencode(&g.host), urlencode(&g.uuid));
                EitherOf3::A(view! {
                    <p class="notice ok" role="status">
                        {format!("Done: {} is a new guest on {}. ", g.name, g.host)}
                        <a class="button" href=href>{format!("Open {}", g.name)}</a>
                    </p>
                })
            }
            None => EitherOf3::B(view! { <p class="notice ok" role="status">"Done."</p> }),
        }),
        JobState::Failed => Some(EitherOf3::C(view! {
            <p class="notice error" role="alert">
                {format!("The clone failed: {}", j.error.clone().unwrap_or_else(|| "no reason given".into()))}
            </p>
        })),
    };
    view! {
        <div class="clone-progress" data-state=format!("{:?}", j.state).to_lowercase()>
            <div class="progress">
                <progress max="100" value=format!("{:.1}", j.percent) aria-label="Clone progress"></progress>
                <span class="percent">{format!("{:.0} %", j.percent)}</span>
            </div>
            <p class="phase">
                {j.phase.clone()}
                {(j.bytes_total > 0).then(|| format!(" · {} of {}", human_bytes(j.bytes_done), human_bytes(j.bytes_total)))}
            </p>
            {outcome}
        </div>
    }
}

#[component]
pub(super) fn CloneDialog(
    d: RwSignal<GuestDetail>,
    host: String,
    uuid: String,
    jobs: RwSignal<Vec<GuestJob>>,
    pools: Signal<Vec<PoolSummary>>,
    on_close: Callback<()>,
) -> impl IntoView {
    let source = d.with_untracked(|x| x.guest.name.clone());
    let name = RwSignal::new(format!("{source}-copy"));
    let pool = RwSignal::new(String::new());
    // Disks (targets) the clone does not get.
    let leave_out = RwSignal::new(Vec::<String>::new());
    let job_id = RwSignal::new(None::<String>);
    let starting = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let input_ref = NodeRef::<html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = input_ref.get() {
            let _ = input.focus();
            input.select();
        }
    });
    let can_clone = Memo::new(move |_| {
        matches!(
            d.with(|x| x.guest.state),
            GuestState::Shutoff | GuestState::Paused
        )
    });
    let job = Memo::new(move |_| {
        job_id
            .get()
            .and_then(|id| jobs.with(|list| list.iter().find(|j| j.id == id).cloned()))
    });
    let problem = move || {
        StorageName::parse("guest name", name.get().trim())
            .err()
            .map(|e| e.to_string())
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if problem().is_some() || starting.get_untracked() {
            return;
        }
        let (host, uuid) = (host.clone(), uuid.clone());
        let n = name.get_untracked().trim().to_string();
        let p = pool.get_untracked();
        let out = leave_out.get_untracked();
        starting.set(true);
        error.set(None);
        spawn_local(async move {
            let result = clone_guest(host, uuid, n, (!p.is_empty()).then_some(p), out).await;
            starting.try_set(false);
            match result {
                Ok(r) => {
                    job_id.try_set(Some(r.id.clone()));
                    // The job may have ended before its events could be matched to it.
                    if let Ok(j) = guest_job(r.id).await {
                        jobs.try_update(|list| {
                            if !list
                                .iter()
                                .any(|x| x.id == j.id && x.state != JobState::Running)
                            {
                                list.retain(|x| x.id != j.id);
                                list.push(j);
                            }
                        });
                    }
                }
                Err(e) => {
                    error.try_set(Some(e));
                    if let Some(input) = input_ref.get_untracked() {
                        let _ = input.focus();
                    }
                }
            }
        });
    };
    let progress = move || job.get().map(job_view);
    let started = move || job_id.with(Option::is_some);
    view! {
        <ModalForm labelled_by="clone-title" on_close on_submit=submit>
            <h2 id="clone-title">{format!("Clone {source}")}</h2>
            <p>"A clone is a lasting copy with its own disks, name, UUID and MAC addresses. A temporary migration is not a copy: it ends when the guest shuts down."</p>
            {move || (!can_clone.get()).then(|| view! {
                <p class="notice warn" role="status">
                    {format!("{} is {}: shut it down or pause it first, so that its disks are copied consistently (the server refuses otherwise).", d.with(|x| x.guest.name.clone()), d.with(|x| x.guest.state.label()))}
                </p>
            })}
            <label class="modal-field">
                "Name of the new guest"
                <input node_ref=input_ref name="clone-name" autocomplete="off" disabled=started
                    prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                <span class="help" role="status">{move || problem().unwrap_or_default()}</span>
            </label>
            <label class="modal-field">
                "Pool for the copied disks"
                <select name="clone-pool" disabled=started on:change=move |ev| pool.set(event_target_value(&ev))>
                    <option value="">"Each disk's own pool"</option>
                    {move || pools.get().into_iter().map(|p| {
                        let label = format!("{} ({} free)", p.name, human_bytes(p.available));
                        view! { <option value=p.name.clone()>{label}</option> }
                    }).collect_view()}
                </select>
            </label>
            {move || {
                let pools = pools.get();
                let disks = d.with(|x| x.disks.clone());
                let rows = disks.into_iter().filter(|k| matches!(k.device.as_str(), "disk" | "lun") && !k.readonly).map(|k| {
                    let lun_pool = k.pool.as_ref().and_then(|p| pools.iter().find(|q| &q.name == p)).is_some_and(|p| matches!(p.pool_type.to_string().as_str(), "iscsi" | "iscsi-direct" | "scsi" | "mpath"));
                    let why = if k.device == "lun" || lun_pool {
                        Some("a LUN: it cannot be copied")
                    } else if k.path.is_none() {
                        Some("network storage: it cannot be copied")
                    } else {
                        None
                    };
                    let target = k.target.clone();
                    let t2 = target.clone();
                    let label = match why {
                        Some(w) => format!("Leave {target} out ({w}; two guests writing one disk corrupt it)"),
                        None => format!("Leave {target} out"),
                    };
                    view! {
                        <label class="check">
                            <input type="checkbox" name="clone-leave-out" value=target.clone() disabled=started
                                prop:checked=move || leave_out.with(|l| l.contains(&t2))
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    let t = target.clone();
                                    leave_out.update(|l| { l.retain(|x| *x != t); if on { l.push(t); } });
                                } />
                            {label}
                        </label>
                    }
                }).collect_view();
                view! { <fieldset class="modal-field"><legend>"Disks"</legend>{rows}</fieldset> }
            }}
            {progress}
            {move || error.get().map(|error| view! { <ErrorNotice error /> })}
            <div class="modal-actions">
                <button type="button" class="secondary" on:click=move |_| on_close.run(())>
                    {move || if started() { "Close" } else { "Cancel" }}
                </button>
                {move || (!started()).then(|| view! {
                    <button type="submit" disabled=move || problem().is_some() || starting.get()>
                        {move || if starting.get() { "Starting…" } else { "Start clone" }}
                    </button>
                })}
            </div>
        </ModalForm>
    }
}
