//! Deleting the guest: a dialog that asks for its name, and which of its
//! volumes go with it.

use leptos::{html, prelude::*, task::spawn_local};
use leptos_router::hooks::use_navigate;

use super::lifecycle::is_off;
use crate::{
    api::{
        guest_detail::{delete_guest, GuestDetail},
        volumes::user_labels,
        ApiError,
    },
    components::{dialog::ModalForm, ErrorNotice},
    pages::storage::urlencode,
};

#[component]
pub(super) fn DeleteDialog(
    d: RwSignal<GuestDetail>,
    deleting: RwSignal<bool>,
    on_close: Callback<()>,
) -> impl IntoView {
    let navigate = use_navigate();
    let x = d.get_untracked();
    let guest_name = x.guest.name.clone();
    let running = !is_off(x.guest.state);
    let chosen = RwSignal::new(Vec::<String>::new());
    let typed = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ApiError>);
    let leftovers = RwSignal::new(Vec::<String>::new());
    let first_ref = NodeRef::<html::Input>::new();
    let typed_ref = NodeRef::<html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = first_ref.get().or_else(|| typed_ref.get()) {
            let _ = input.focus();
        }
    });
    let mut first = true;
    let disks = x
        .disks
        .iter()
        .map(|disk| {
            let reason = if disk.path.is_none() {
                Some("no volume: an empty drive".to_string())
            } else if !disk.shared_with.is_empty() {
                Some(format!(
                    "kept: also used by {}",
                    user_labels(&disk.shared_with, &x.guest.host)
                ))
            } else {
                None
            };
            let disabled = reason.is_some();
            let path = disk.path.clone().unwrap_or_default();
            let p2 = path.clone();
            let node = if first && !disabled {
                first = false;
                first_ref
            } else {
                NodeRef::new()
            };
            view! {
                <li>
                    <label class="check" class:disabled=disabled>
                        <input
                            type="checkbox"
                            node_ref=node
                            name="delete-volume"
                            value=path.clone()
                            disabled=disabled
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                chosen.update(|c| {
                                    c.retain(|p| *p != p2);
                                    if on { c.push(p2.clone()); }
                                });
                            }
                        />
                        <span>
                            {format!("{}: also delete volume {}", disk.target, if path.is_empty() { "(none)" } else { &path })}
                            {reason.map(|r| view! { <span class="why">{format!(" ({r})")}</span> })}
                        </span>
                    </label>
                </li>
            }
        })
        .collect_view();
    let matches = {
        let guest_name = guest_name.clone();
        move || typed.with(|t| t.trim() == guest_name)
    };
    let submit = {
        let matches = matches.clone();
        let (host, uuid, guest_name) = (
            x.guest.host.clone(),
            x.guest.uuid.clone(),
            guest_name.clone(),
        );
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            if !matches() || deleting.get_untracked() {
                return;
            }
            let (host, uuid, guest_name) = (host.clone(), uuid.clone(), guest_name.clone());
            let navigate = navigate.clone();
            let volumes = chosen.get_untracked();
            deleting.set(true);
            error.set(None);
            spawn_local(async move {
                match delete_guest(host, uuid, volumes).await {
                    Ok(report) if report.errors.is_empty() => {
                        // The guest list says what was deleted.
                        let mut url = format!("/guests?deleted={}", urlencode(&guest_name));
                        let n = report.deleted_volumes.len();
                        if n > 0 {
                            url.push_str(&format!("&volumes={n}"));
                        }
                        navigate(&url, Default::default());
                    }
                    Ok(report) => {
                        leftovers.try_set(report.errors);
                    }
                    Err(e) => {
                        deleting.try_set(false);
                        error.try_set(Some(e));
                        if let Some(input) = typed_ref.get_untracked() {
                            let _ = input.focus();
                        }
                    }
                }
            });
        }
    };
    let matches2 = matches.clone();
    view! {
        <ModalForm labelled_by="delete-title" on_close on_submit=submit>
            <h2 id="delete-title">{format!("Delete {guest_name}?")}</h2>
            <p>"The guest's definition is removed, with its snapshots and firmware variables. Its disks are kept unless you tick them below."</p>
            {running.then(|| view! {
                <p class="notice warn" role="status">{format!("{guest_name} is {}: it will be forced off first.", x.guest.state.label())}</p>
            })}
            {(!x.disks.is_empty()).then(|| view! { <ul class="delete-volumes">{disks}</ul> })}
            <label class="modal-field">
                {format!("Type {guest_name} to confirm")}
                <input node_ref=typed_ref name="confirm-name" autocomplete="off"
                    prop:value=move || typed.get() on:input=move |ev| typed.set(event_target_value(&ev)) />
            </label>
            {move || error.get().map(|error| view! { <ErrorNotice error /> })}
            {move || {
                let list = leftovers.get();
                (!list.is_empty()).then(|| view! {
                    <div class="notice error" role="alert">
                        "The guest was deleted, but some volumes were not: "
                        {list.join("; ")}
                        " "
                        <a href="/guests">"Back to the guest list"</a>
                    </div>
                })
            }}
            <div class="modal-actions">
                <button type="button" class="secondary" on:click=move |_| on_close.run(())>"Cancel"</button>
                <button type="submit" class="danger" disabled=move || !matches2() || deleting.get()>
                    {move || if deleting.get() { "Deleting…" } else { "Delete guest" }}
                </button>
            </div>
        </ModalForm>
    }
}
