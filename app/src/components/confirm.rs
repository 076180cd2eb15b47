//! A modal confirmation for destructive actions. Escape or "Cancel" closes it;
//! the safe choice has the focus.

use leptos::{html, prelude::*};

#[component]
pub fn Confirm(
    /// The question, e.g. "Force off web01?".
    title: String,
    /// What will happen, in a sentence.
    detail: String,
    /// Label of the confirming button.
    confirm_label: String,
    on_confirm: Callback<()>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let cancel_ref = NodeRef::<html::Button>::new();
    Effect::new(move |_| {
        if let Some(button) = cancel_ref.get() {
            let _ = button.focus();
        }
    });
    view! {
        <div class="modal-backdrop" on:click=move |_| on_cancel.run(())>
            <div
                class="modal"
                role="alertdialog"
                aria-modal="true"
                aria-labelledby="confirm-title"
                aria-describedby="confirm-detail"
                on:click=|ev| ev.stop_propagation()
                on:keydown=move |ev| {
                    if ev.key() == "Escape" {
                        on_cancel.run(());
                    }
                }
            >
                <h2 id="confirm-title">{title}</h2>
                <p id="confirm-detail">{detail}</p>
                <div class="modal-actions">
                    <button class="secondary" node_ref=cancel_ref on:click=move |_| on_cancel.run(())>
                        "Cancel"
                    </button>
                    <button class="danger" on:click=move |_| on_confirm.run(())>
                        {confirm_label}
                    </button>
                </div>
            </div>
        </div>
    }
}
