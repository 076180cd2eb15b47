//! The audit page (admins): who did what to which object, from where, and
//! how it ended — refused attempts included. Filters live in the URL
//! (`/audit?user=&action=&object=&outcome=&since=&until=&page=`) and work as
//! a plain form.

use leptos::{either::Either, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    api::audit::{list_audit, AuditQuery},
    components::ErrorNotice,
};

const PAGE: usize = 100;

#[component]
pub fn AuditPage() -> impl IntoView {
    let query_map = use_query_map();
    let get = move |k: &str| query_map.with(|m| m.get(k).filter(|v| !v.is_empty()));
    let page = move || {
        get("page")
            .and_then(|p| p.parse::<usize>().ok())
            .filter(|p| *p >= 1)
            .unwrap_or(1)
    };
    let query = move || AuditQuery {
        user: get("user"),
        action: get("action"),
        object: get("object"),
        outcome: get("outcome"),
        since: get("since"),
        until: get("until"),
        offset: Some((page() - 1) * PAGE),
        limit: Some(PAGE),
    };
    let rows = Resource::new(query, list_audit);
    let field = move |k: &'static str| get(k).unwrap_or_default();
    let link = move |p: usize| {
        let mut m = query_map.get();
        m.replace("page", p.to_string());
        format!("/audit{}", m.to_query_string())
    };
    view! {
        <Title text="Audit log" />
        <main class="page">
            <h1>"Audit log"</h1>
            <form class="filters" role="search" method="get" action="/audit">
                <label>"User" <input name="user" value=field("user") placeholder="- for anonymous" /></label>
                <label>"Action" <input name="action" value=field("action") placeholder="guest. login user." /></label>
                <label>"Object" <input name="object" value=field("object") placeholder="a UUID, host, pool…" /></label>
                <label>
                    "Outcome"
                    <select name="outcome">
                        {["", "ok", "failed", "refused"].into_iter().map(|o| {
                            let selected = field("outcome") == o;
                            view! { <option value=o selected=selected>{if o.is_empty() { "any" } else { o }}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <label>"Since" <input type="date" name="since" value=field("since") /></label>
                <label>"Before" <input type="date" name="until" value=field("until") /></label>
                <button type="submit" class="secondary">"Filter"</button>
            </form>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || rows.get().map(|r| match r {
                    Ok(list) => {
                        let full = list.len() == PAGE;
                        let p = page();
                        Either::Left(view! {
                            <table class="data audit">
                                <thead><tr>
                                    <th scope="col">"When (UTC)"</th>
                                    <th scope="col">"User"</th>
                                    <th scope="col">"Action"</th>
                                    <th scope="col">"Object"</th>
                                    <th scope="col">"Outcome"</th>
                                    <th scope="col">"From"</th>
                                </tr></thead>
                                <tbody>
                                    {list.into_iter().map(|a| {
                                        let (o1, o2) = (a.outcome.clone(), format!("badge outcome-{}", a.outcome));
                                        view! {
                                        <tr data-outcome=o1>
                                            <td data-label="When">{a.at.replace('T', " ").trim_end_matches('Z').to_string()}</td>
                                            <td data-label="User">{a.user.unwrap_or_else(|| "-".into())}</td>
                                            <td data-label="Action"><code>{a.action}</code></td>
                                            <td data-label="Object">{a.target}</td>
                                            <td data-label="Outcome">
                                                <span class=o2>{a.outcome}</span>
                                                {a.detail.map(|d| view! { <span class="muted detail">{d}</span> })}
                                                {(a.count > 1).then(|| view! { <span class="tag" title="Requests in this minute from this address, for this reason">{format!("× {}", a.count)}</span> })}
                                            </td>
                                            <td data-label="From">{a.client.unwrap_or_default()}</td>
                                        </tr>
                                    }}).collect_view()}
                                </tbody>
                            </table>
                            <nav class="pager" aria-label="Pages">
                                {(p > 1).then(|| view! { <a class="button secondary" rel="prev" href=link(p - 1)>"Newer"</a> })}
                                {full.then(|| view! { <a class="button secondary" rel="next" href=link(p + 1)>"Older"</a> })}
                            </nav>
                        })
                    }
                    Err(error) => Either::Right(view! { <ErrorNotice error /> }),
                })}
            </Transition>
        </main>
    }
}
