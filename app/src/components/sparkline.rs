//! A small line chart of shares (0–1) over time, as inline SVG: the hosts'
//! CPU and memory for the last hour on the Hosts and Balance pages. Its
//! label says the latest value, for screen readers and narrow screens.

use leptos::prelude::*;

const WIDTH: f32 = 120.0;
const HEIGHT: f32 = 28.0;

/// The polyline's points for `values` (each clamped to 0–1), left to right.
pub fn points(values: &[f32]) -> String {
    let n = values.len();
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let x = if n > 1 {
                i as f32 * WIDTH / (n - 1) as f32
            } else {
                WIDTH
            };
            let y = HEIGHT - v.clamp(0.0, 1.0) * (HEIGHT - 2.0) - 1.0;
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `what` over the last hour; `values` oldest first.
#[component]
pub fn Sparkline(what: &'static str, values: Vec<f32>) -> impl IntoView {
    let now = values
        .last()
        .map(|v| format!("{:.0} %", v * 100.0))
        .unwrap_or_else(|| "—".into());
    let label = format!("{what} over the last hour, now {now}");
    view! {
        <span class="spark" data-what=what>
            <svg
                class="sparkline"
                role="img"
                aria-label=label
                viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                preserveAspectRatio="none"
            >
                <line class="limit" x1="0" x2=WIDTH.to_string() y1="1" y2="1" />
                <polyline points=points(&values) />
            </svg>
            <span class="spark-now">{format!("{what} {now}")}</span>
        </span>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn points_span_the_width_and_clamp_the_height() {
        assert_eq!(
            super::points(&[0.0, 1.0, 2.0]),
            "0.0,27.0 60.0,1.0 120.0,1.0"
        );
        assert_eq!(super::points(&[0.5]), "120.0,14.0");
        assert_eq!(super::points(&[]), "");
    }
}
