//! What modal dialogs share: Escape to close them, and the shell of a modal
//! form (a backdrop that closes it when clicked, the dialog itself); and the
//! fleet pages' dialogs as one WebAssembly chunk of their own.

use leptos::{
    ev::{KeyboardEvent, SubmitEvent},
    prelude::*,
};

/// A `keydown` handler for a dialog's own element: Escape closes it.
pub fn escape_closes(on_close: Callback<()>) -> impl Fn(KeyboardEvent) + Clone + 'static {
    move |ev| {
        if ev.key() == "Escape" {
            on_close.run(());
        }
    }
}

/// Gives `element` the focus once it is in the page. A dialog shown through
/// a lazily loaded chunk (`fleet_dialog`) is built, and its effects may run,
/// before it is attached, and focusing a detached element does nothing: then
/// the focus waits for the next frame.
pub fn focus_soon(element: impl Into<web_sys::HtmlElement>) {
    let element = element.into();
    if element.is_connected() {
        let _ = element.focus();
    } else {
        request_animation_frame(move || {
            let _ = element.focus();
        });
    }
}

/// Escape closes the page's own dialogs, wherever the focus is (a button
/// that was just disabled drops it to the page).
pub fn close_on_escape(on_close: Callback<()>) {
    let handle = window_event_listener(leptos::ev::keydown, escape_closes(on_close));
    on_cleanup(move || handle.remove());
}

/// A modal `<form role="dialog">` over a backdrop; `labelled_by` is the id of
/// its title, inside `children`. A click on the backdrop or Escape closes it.
#[component]
pub fn ModalForm(
    labelled_by: &'static str,
    on_close: Callback<()>,
    on_submit: impl FnMut(SubmitEvent) + 'static,
    children: Children,
) -> impl IntoView {
    close_on_escape(on_close);
    view! {
        <div class="modal-backdrop" on:click=move |_| on_close.run(())>
            <form
                class="modal"
                role="dialog"
                aria-modal="true"
                aria-labelledby=labelled_by
                on:click=|ev| ev.stop_propagation()
                on:submit=on_submit
            >
                {children()}
            </form>
        </div>
    }
}

/// The fleet pages' dialogs, which the server never renders: one chunk
/// (`fleet_dialog`), fetched the first time one of them opens.
pub enum FleetDialog {
    /// Migrate a guest (the guests page).
    Migrate {
        guest: crate::api::guests::GuestSummary,
        hosts: Vec<crate::api::hosts::HostLink>,
        on_close: Callback<()>,
    },
    /// Plan a host's maintenance (the hosts page).
    Maintenance {
        host: String,
        hosts: Vec<crate::api::hosts::HostSummary>,
        on_close: Callback<()>,
    },
    /// Confirm a destructive action (the guests page's force off): the
    /// confirmation's code is not in what the guest list loads first.
    Confirm {
        title: String,
        detail: String,
        confirm_label: String,
        on_confirm: Callback<()>,
        on_cancel: Callback<()>,
    },
}

/// Shows one of the fleet pages' dialogs (a split point: see `pages::routes`).
#[lazy]
pub fn fleet_dialog(dialog: FleetDialog) -> AnyView {
    use super::{
        confirm::Confirm, maintenance_dialog::MaintenanceDialog, migrate_dialog::MigrateDialog,
    };
    match dialog {
        FleetDialog::Migrate {
            guest,
            hosts,
            on_close,
        } => view! { <MigrateDialog guest hosts on_close /> }.into_any(),
        FleetDialog::Maintenance {
            host,
            hosts,
            on_close,
        } => view! { <MaintenanceDialog host hosts on_close /> }.into_any(),
        FleetDialog::Confirm {
            title,
            detail,
            confirm_label,
            on_confirm,
            on_cancel,
        } => view! { <Confirm title detail confirm_label on_confirm on_cancel /> }.into_any(),
    }
}
