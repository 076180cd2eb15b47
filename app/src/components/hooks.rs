//! Reactive helpers shared by pages.

use std::{rc::Rc, time::Duration};

use leptos::prelude::*;

/// Calls `tick` at once and every `every` while `active` is true; stops when
/// the calling component goes away. Browser only (effects never run on the server).
pub fn use_interval(active: Signal<bool>, every: Duration, tick: impl Fn() + 'static) {
    let tick = Rc::new(tick);
    let handle = StoredValue::new(None::<IntervalHandle>);
    Effect::new(move |_| {
        let on = active.get();
        if let Some(h) = handle.get_value() {
            h.clear();
            handle.set_value(None);
        }
        if on {
            untrack(|| tick());
            let t = tick.clone();
            if let Ok(h) = set_interval_with_handle(move || t(), every) {
                handle.set_value(Some(h));
            }
        }
    });
    on_cleanup(move || {
        if let Some(Some(h)) = handle.try_get_value() {
            h.clear();
        }
    });
}
