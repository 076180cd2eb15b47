//! Small pieces shared by pages.

pub mod confirm;
pub mod dialog;
pub mod format;
pub mod hooks;
pub mod live;
pub mod maintenance_dialog;
pub mod migrate_dialog;
pub mod migration_progress;
pub mod notice;
pub mod sparkline;
pub mod time;
pub mod upload;
pub mod usage;

use leptos::prelude::*;

pub use notice::ErrorNotice;

use crate::api::guests::GuestState;

/// A coloured badge with a guest's state.
#[component]
pub fn StateBadge(state: GuestState) -> impl IntoView {
    view! { <span class=format!("badge state-{}", state.as_str())>{state.label()}</span> }
}
