//! A modal confirmation for destructive actions. Escape or "Cancel" closes it;
//! the safe choice has the focus.

use leptos::{html, prelude::*};

use super::dialog::{escape_closes, focus_soon};

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
    /// Extra choices shown above the buttons (e.g. "also delete the storage").
    #[prop(optional)]
    children: Option<Children>,
) -> impl IntoView {
    let cancel_ref = NodeRef::<html::Button>::new();
    Effect::new(move |_| {
        if let Some(button) = cancel_ref.get() {
            focus_soon(button);
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
                on:keydown=escape_closes(on_cancel)
            >
                <h2 id="confirm-title">{title}</h2>
                <p id="confirm-detail">{detail}</p>
                {children.map(|c| view! { <div class="modal-body">{c()}</div> })}
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

/// A modal asking for one value (a new size, a new name), checked as it is typed.
#[component]
pub fn Prompt(
    title: String,
    detail: String,
    /// The input's label.
    label: String,
    #[prop(optional)] initial: String,
    /// The input's type (`text` unless given, e.g. `password`).
    #[prop(optional)]
    input_type: Option<&'static str>,
    confirm_label: String,
    /// `Err(reason)` while the value is not acceptable.
    check: Callback<String, Result<(), String>>,
    on_confirm: Callback<String>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let value = RwSignal::new(initial);
    let input_ref = NodeRef::<html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = input_ref.get() {
            focus_soon(input);
        }
    });
    let problem = move || check.run(value.get()).err();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if problem().is_none() {
            on_confirm.run(value.get_untracked());
        }
    };
    view! {
        <div class="modal-backdrop" on:click=move |_| on_cancel.run(())>
            <form
                class="modal"
                role="dialog"
                aria-modal="true"
                aria-labelledby="prompt-title"
                on:click=|ev| ev.stop_propagation()
                on:keydown=escape_closes(on_cancel)
                on:submit=submit
            >
                <h2 id="prompt-title">{title}</h2>
                <p>{detail}</p>
                <label class="modal-field">
                    {label}
                    <input
                        node_ref=input_ref
                        type=input_type.unwrap_or("text")
                        autocomplete="off"
                        prop:value=move || value.get()
                        on:input=move |ev| value.set(event_target_value(&ev))
                    />
                    <span class="help" role="status">{move || problem().unwrap_or_default()}</span>
                </label>
                <div class="modal-actions">
                    <button type="button" class="secondary" on:click=move |_| on_cancel.run(())>
                        "Cancel"
                    </button>
                    <button type="submit" disabled=move || problem().is_some()>
                        {confirm_label}
                    </button>
                </div>
            </form>
        </div>
    }
}
