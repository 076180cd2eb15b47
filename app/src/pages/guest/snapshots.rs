//! The snapshots panel: the guest's snapshots as a tree, each with revert and
//! delete, and a form to take one.

use leptos::{either::EitherOf3, prelude::*, task::spawn_local};

use super::Dialog;
use crate::{
    api::{
        guest_detail::{create_snapshot, list_snapshots, SnapshotInfo},
        size::StorageName,
    },
    components::{
        notice::{Notice, NoticeLine},
        time::utc,
        ErrorNotice,
    },
};

/// Snapshots in tree order, each with its depth under its parent.
fn snapshot_tree(list: &[SnapshotInfo]) -> Vec<(usize, SnapshotInfo)> {
    fn visit(
        list: &[SnapshotInfo],
        parent: Option<&str>,
        depth: usize,
        out: &mut Vec<(usize, SnapshotInfo)>,
    ) {
        for s in list.iter().filter(|s| s.parent.as_deref() == parent) {
            if out.iter().any(|(_, o)| o.name == s.name) {
                continue;
            }
            out.push((depth, s.clone()));
            visit(list, Some(&s.name), depth + 1, out);
        }
    }
    let mut out = Vec::new();
    // Roots: no parent, or a parent that is not listed.
    for s in list {
        let orphan = s
            .parent
            .as_deref()
            .is_none_or(|p| !list.iter().any(|o| o.name == p));
        if orphan
            && !out
                .iter()
                .any(|(_, o): &(usize, SnapshotInfo)| o.name == s.name)
        {
            out.push((0, s.clone()));
            visit(list, Some(&s.name), 1, &mut out);
        }
    }
    out
}

#[component]
pub(super) fn Snapshots(
    host: String,
    uuid: String,
    running: Memo<bool>,
    version: RwSignal<u32>,
    dialog: RwSignal<Option<Dialog>>,
    notice: RwSignal<Option<Notice>>,
) -> impl IntoView {
    let list = {
        let (host, uuid) = (host.clone(), uuid.clone());
        Resource::new(
            move || version.get(),
            move |_| list_snapshots(host.clone(), uuid.clone()),
        )
    };
    let name = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let memory = RwSignal::new(true);
    let saving = RwSignal::new(false);
    let form_notice = RwSignal::new(None::<Notice>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let n = name.get_untracked().trim().to_string();
        if let Err(e) = StorageName::parse("snapshot name", &n) {
            form_notice.set(Some(Notice::Failed(e)));
            return;
        }
        let text = description.get_untracked();
        let with_memory = running.get_untracked().then(|| memory.get_untracked());
        let (host, uuid) = (host.clone(), uuid.clone());
        saving.set(true);
        form_notice.set(None);
        spawn_local(async move {
            let result = create_snapshot(
                host,
                uuid,
                n.clone(),
                (!text.trim().is_empty()).then_some(text),
                with_memory,
            )
            .await;
            saving.try_set(false);
            match result {
                Ok(s) => {
                    form_notice.try_set(Some(Notice::Done(format!(
                        "Took snapshot {}{}.",
                        s.name,
                        if s.memory { " (with memory)" } else { "" }
                    ))));
                    name.try_set(String::new());
                    description.try_set(String::new());
                    notice.try_set(None);
                    version.try_update(|v| *v += 1);
                }
                Err(e) => {
                    form_notice.try_set(Some(Notice::Failed(e)));
                }
            }
        });
    };
    let tree = move |items: Vec<SnapshotInfo>| {
        if items.is_empty() {
            return EitherOf3::A(view! { <p class="muted">"No snapshots yet."</p> });
        }
        let rows = snapshot_tree(&items)
            .into_iter()
            .map(|(depth, s)| {
                let (n1, n2) = (s.name.clone(), s.name.clone());
                view! {
                    <li
                        data-snapshot=s.name.clone()
                        data-depth=depth.to_string()
                        data-parent=s.parent.clone().unwrap_or_default()
                        class:current=s.current
                        style=format!("--depth: {}", depth.min(8))
                    >
                        <div class="snapshot-head">
                            <strong class="snapshot-name">{s.name.clone()}</strong>
                            {s.current.then(|| view! { <span class="tag current" title="The guest is at this snapshot now">"current"</span> })}
                            <span class="tag">{if s.memory { "with memory" } else { "disk only" }}</span>
                            <span class="muted snapshot-meta">{format!("{} · taken while {}", utc(s.created), s.state)}</span>
                        </div>
                        {s.description.clone().filter(|t| !t.is_empty()).map(|t| view! { <p class="snapshot-description">{t}</p> })}
                        <div class="snapshot-actions needs-operator">
                            <button class="small secondary" aria-label=format!("Revert to {}", s.name)
                                on:click=move |_| dialog.set(Some(Dialog::Revert(n1.clone())))>"Revert"</button>
                            <button class="small danger" aria-label=format!("Delete snapshot {}", s.name)
                                on:click=move |_| dialog.set(Some(Dialog::DeleteSnapshot(n2.clone())))>"Delete"</button>
                        </div>
                    </li>
                }
            })
            .collect_view();
        EitherOf3::B(view! { <ul class="snapshot-tree">{rows}</ul> })
    };
    view! {
        <section class="panel snapshots wide" aria-labelledby="snapshots-title">
            <h2 id="snapshots-title">"Snapshots"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading snapshots…"</p> }>
                {move || list.get().map(|r| match r {
                    Ok(items) => tree(items),
                    Err(error) => EitherOf3::C(view! { <ErrorNotice error /> }),
                })}
            </Transition>
            <form class="snapshot-form needs-operator" on:submit=submit aria-label="Take a snapshot">
                <h3>"Take a snapshot"</h3>
                <div class="grid">
                    <label>
                        "Name"
                        <input name="snapshot-name" autocomplete="off" placeholder="e.g. before-upgrade"
                            prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                    </label>
                    <label>
                        "Description"
                        <textarea name="snapshot-description" rows="2"
                            prop:value=move || description.get() on:input=move |ev| description.set(event_target_value(&ev))></textarea>
                    </label>
                </div>
                {move || running.get().then(|| view! {
                    <label class="check">
                        <input type="checkbox" name="snapshot-memory" prop:checked=move || memory.get()
                            on:change=move |ev| memory.set(event_target_checked(&ev)) />
                        "Include memory: reverting resumes the guest running where it was (takes longer, uses space for the guest's RAM)"
                    </label>
                })}
                <NoticeLine notice=form_notice />
                <div class="form-actions">
                    <button type="submit" disabled=move || saving.get()>
                        {move || if saving.get() { "Taking…" } else { "Take snapshot" }}
                    </button>
                </div>
            </form>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(name: &str, parent: Option<&str>) -> SnapshotInfo {
        SnapshotInfo {
            name: name.into(),
            description: None,
            created: 0,
            state: "running".into(),
            parent: parent.map(String::from),
            current: false,
            memory: false,
        }
    }

    #[test]
    fn snapshots_are_ordered_as_a_tree() {
        let list = vec![
            snap("a", None),
            snap("b", Some("a")),
            snap("c", None),
            snap("d", Some("a")),
            snap("e", Some("b")),
            snap("f", Some("gone")),
        ];
        let tree: Vec<(usize, String)> = snapshot_tree(&list)
            .into_iter()
            .map(|(d, s)| (d, s.name))
            .collect();
        let want = [(0, "a"), (1, "b"), (2, "e"), (1, "d"), (0, "c"), (0, "f")];
        assert_eq!(
            tree,
            want.iter()
                .map(|(d, n)| (*d, n.to_string()))
                .collect::<Vec<_>>()
        );
    }
}
