//! Small pieces shared by pages.

pub mod confirm;
pub mod format;
pub mod live;
pub mod migrate_dialog;
pub mod migration_progress;
pub mod upload;
pub mod usage;

use leptos::prelude::*;

use crate::api::{guests::GuestState, ApiError};

/// A coloured badge with a guest's state.
#[component]
pub fn StateBadge(state: GuestState) -> impl IntoView {
    view! { <span class=format!("badge state-{}", state.as_str())>{state.label()}</span> }
}

/// A failed load or action, with libvirt's or the server's message, and a way
/// back in when the session has expired.
#[component]
pub fn ErrorNotice(error: ApiError) -> impl IntoView {
    let login = matches!(error, ApiError::Unauthorized(_));
    view! {
        <div class="notice error" role="alert">
            <span>{error.to_string()}</span>
            {login.then(|| view! { <a href="/login">" Log in again"</a> })}
        </div>
    }
}
