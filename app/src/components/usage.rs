//! A pool's usage as a bar with the figures beside it.

use leptos::prelude::*;

use crate::api::size::human_bytes;

/// `used` of `capacity` bytes, as a bar and "63 GiB of 100 GiB · 37 GiB free".
#[component]
pub fn UsageBar(capacity: u64, used: u64, available: u64) -> impl IntoView {
    let percent = if capacity == 0 {
        0.0
    } else {
        (used as f64 * 100.0 / capacity as f64).clamp(0.0, 100.0)
    };
    let level = if percent >= 90.0 {
        "high"
    } else if percent >= 75.0 {
        "mid"
    } else {
        "low"
    };
    let label = format!(
        "{} of {} used, {} free",
        human_bytes(used),
        human_bytes(capacity),
        human_bytes(available)
    );
    let title = label.clone();
    view! {
        <div class="usage" title=title>
            <div
                class=format!("usage-bar {level}")
                role="meter"
                aria-valuemin="0"
                aria-valuemax="100"
                aria-valuenow=format!("{percent:.0}")
                aria-label=label
            >
                <span style=format!("width: {percent:.1}%")></span>
            </div>
            <span class="usage-text">
                {format!("{} / {}", human_bytes(used), human_bytes(capacity))}
                <span class="muted">{format!(" · {} free", human_bytes(available))}</span>
            </span>
        </div>
    }
}
