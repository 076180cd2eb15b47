//! The form for a new pool: one or several hosts, the type's own fields (from
//! the host's pool types), a scan for sources, and the result per host.

use leptos::{
    either::{Either, EitherOf3},
    prelude::*,
};

use crate::{
    api::{
        pools::{
            pool_types, BuildKind, CreatePool, CreatedPools, FieldInfo, NewPool, PoolField,
            PoolSource, PoolSummary, PoolTypeInfo, ScanPoolSources, ScanRequest,
        },
        ApiError,
    },
    components::ErrorNotice,
};

/// The form's values, kept as the request the server will get.
fn field_value(request: &NewPool, field: PoolField) -> String {
    match field {
        PoolField::TargetPath => request.target_path.clone().unwrap_or_default(),
        other => request.source.get(other).unwrap_or_default(),
    }
}

fn set_field(request: &mut NewPool, field: PoolField, value: String) {
    let v = (!value.trim().is_empty()).then(|| value.trim().to_string());
    let s = &mut request.source;
    match field {
        PoolField::TargetPath => request.target_path = v,
        PoolField::SourceHost => s.source_host = v,
        PoolField::SourcePort => s.source_port = v.and_then(|p| p.parse().ok()),
        PoolField::SourcePath => s.source_path = v,
        PoolField::SourceDevice => s.source_device = v,
        PoolField::SourceName => s.source_name = v,
        PoolField::SourceFormat => s.source_format = v,
        PoolField::SourceAdapter => s.source_adapter = v,
        PoolField::InitiatorIqn => s.initiator_iqn = v,
    }
}

/// The outcome of one host, for the result list.
#[derive(Clone)]
struct HostOutcome {
    host: String,
    result: Result<PoolSummary, ApiError>,
}

#[component]
pub fn PoolForm(
    /// The connected hosts a pool can be created on.
    hosts: Vec<String>,
    on_created: Callback<Vec<PoolSummary>>,
    on_close: Callback<()>,
) -> impl IntoView {
    let request = RwSignal::new(NewPool {
        name: String::new(),
        pool_type: "dir".into(),
        autostart: true,
        ..Default::default()
    });
    let selected = RwSignal::new(hosts.first().cloned().into_iter().collect::<Vec<_>>());
    let first_host = move || selected.with(|s| s.first().cloned());
    let types = Resource::new(first_host, |host| async move {
        match host {
            Some(host) => pool_types(host).await.map(Some),
            None => Ok(None),
        }
    });
    let checked = RwSignal::new(None::<ApiError>);
    let outcomes = RwSignal::new(Vec::<HostOutcome>::new());
    let create = ServerAction::<CreatePool>::new();
    let scan = ServerAction::<ScanPoolSources>::new();

    Effect::new(move |_| {
        let Some(result) = create.value().get() else {
            return;
        };
        let hosts = selected.get_untracked();
        let list = match result {
            Ok(CreatedPools::One(pool)) => vec![HostOutcome {
                host: pool.host.clone(),
                result: Ok(*pool),
            }],
            Ok(CreatedPools::Many(results)) => results
                .into_iter()
                .map(|r| HostOutcome {
                    host: r.host,
                    result: match (r.pool, r.error) {
                        (Some(pool), _) => Ok(pool),
                        (None, Some(e)) => Err(e),
                        (None, None) => Err(ApiError::internal()),
                    },
                })
                .collect(),
            Err(e) => hosts
                .into_iter()
                .map(|host| HostOutcome {
                    host,
                    result: Err(e.clone()),
                })
                .collect(),
        };
        on_created.run(
            list.iter()
                .filter_map(|o| o.result.as_ref().ok().cloned())
                .collect(),
        );
        outcomes.set(list);
    });

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        outcomes.set(Vec::new());
        let mut req = request.get_untracked();
        let hosts = selected.get_untracked();
        if hosts.len() == 1 {
            req.host = hosts.first().cloned();
            req.hosts = None;
        } else {
            req.host = None;
            req.hosts = Some(hosts);
        }
        // The same checks the server makes, before anything is sent.
        match req.target_hosts().and_then(|_| req.validate()) {
            Ok(_) => {
                checked.set(None);
                create.dispatch(CreatePool { request: req });
            }
            Err(e) => checked.set(Some(e)),
        }
    };

    let type_info = move || -> Option<PoolTypeInfo> {
        let wanted = request.with(|r| r.pool_type.clone());
        types.get().and_then(|r| r.ok()).flatten().and_then(|t| {
            t.types
                .into_iter()
                .find(|t| t.pool_type.to_string() == wanted)
        })
    };

    let host_boxes = hosts
        .iter()
        .map(|h| {
            let host = h.clone();
            let on = {
                let host = host.clone();
                move || selected.with(|s| s.contains(&host))
            };
            view! {
                <label class="check">
                    <input
                        type="checkbox"
                        name="hosts"
                        value=host.clone()
                        prop:checked=on
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            let host = host.clone();
                            selected.update(|s| {
                                s.retain(|x| *x != host);
                                if on {
                                    s.push(host);
                                }
                            });
                        }
                    />
                    {h.clone()}
                </label>
            }
        })
        .collect_view();

    view! {
        <form class="panel pool-form" on:submit=submit aria-label="New pool">
            <h2>"New storage pool"</h2>
            <fieldset>
                <legend>"Hosts"</legend>
                <p class="help">
                    "The pool is created on each chosen host with the same name and source. For migration, create the same shared pool (NFS, iSCSI…) on every host involved."
                </p>
                <div class="checks">{host_boxes}</div>
            </fieldset>
            <div class="grid">
                <label>
                    "Name"
                    <input
                        name="name"
                        required
                        autocomplete="off"
                        placeholder="e.g. shared-nfs"
                        prop:value=move || request.with(|r| r.name.clone())
                        on:input=move |ev| request.update(|r| r.name = event_target_value(&ev))
                    />
                    <span class="help">"Letters, digits and . _ + - ; not starting with . or -"</span>
                </label>
                <label>
                    "Type"
                    <Transition fallback=|| view! { <select disabled=true><option>"Loading types…"</option></select> }>
                        {move || {
                            let list = types
                                .get()
                                .and_then(|r| r.ok())
                                .flatten()
                                .map(|t| t.types)
                                .unwrap_or_default();
                            view! {
                                <select
                                    name="type"
                                    prop:value=move || request.with(|r| r.pool_type.clone())
                                    on:change=move |ev| {
                                        let t = event_target_value(&ev);
                                        request.update(|r| {
                                            *r = NewPool {
                                                name: r.name.clone(),
                                                pool_type: t,
                                                autostart: r.autostart,
                                                keep_on_failure: r.keep_on_failure,
                                                ..Default::default()
                                            };
                                        });
                                        scan.clear();
                                    }
                                >
                                    {list
                                        .into_iter()
                                        .map(|info| {
                                            let name = info.pool_type.to_string();
                                            view! { <option value=name.clone()>{format!("{name} — {}", info.description)}</option> }
                                        })
                                        .collect_view()}
                                </select>
                            }
                        }}
                    </Transition>
                </label>
            </div>
            <Transition fallback=|| ()>
                {move || {
                    types
                        .get()
                        .map(|r| match r {
                            Ok(Some(t)) => t.note.map(|note| EitherOf3::A(view! { <p class="notice warn">{note}</p> })),
                            Ok(None) => Some(EitherOf3::B(view! { <p class="notice warn">"Choose at least one host."</p> })),
                            Err(error) => Some(EitherOf3::C(view! { <ErrorNotice error /> })),
                        })
                }}
            </Transition>
            {move || type_info().map(|info| view! { <TypeFields info request scan first_host=Signal::derive(first_host) /> })}
            <fieldset class="options">
                <legend>"Options"</legend>
                <label class="check">
                    <input
                        type="checkbox"
                        prop:checked=move || request.with(|r| r.autostart)
                        on:change=move |ev| request.update(|r| r.autostart = event_target_checked(&ev))
                    />
                    "Start the pool when the host boots (autostart)"
                </label>
                {move || {
                    (type_info().map(|i| i.build) == Some(BuildKind::Format))
                        .then(|| {
                            view! {
                                <label class="check">
                                    <input
                                        type="checkbox"
                                        prop:checked=move || request.with(|r| r.build)
                                        on:change=move |ev| request.update(|r| {
                                            r.build = event_target_checked(&ev);
                                            if !r.build { r.overwrite = false; }
                                        })
                                    />
                                    "Build: format the device / create the volume group first. Without it, the pool uses what is already there."
                                </label>
                                <label class="check danger-choice">
                                    <input
                                        type="checkbox"
                                        prop:disabled=move || request.with(|r| !r.build)
                                        prop:checked=move || request.with(|r| r.overwrite)
                                        on:change=move |ev| request.update(|r| r.overwrite = event_target_checked(&ev))
                                    />
                                    "Overwrite: format even if the device already holds data (the data is lost)"
                                </label>
                            }
                        })
                }}
                <label class="check">
                    <input
                        type="checkbox"
                        prop:checked=move || request.with(|r| r.keep_on_failure)
                        on:change=move |ev| request.update(|r| r.keep_on_failure = event_target_checked(&ev))
                    />
                    "Keep the definition if starting fails (by default nothing is left behind)"
                </label>
            </fieldset>
            {move || checked.get().map(|error| view! { <ErrorNotice error /> })}
            <ul class="outcomes" aria-live="polite">
                {move || {
                    outcomes
                        .get()
                        .into_iter()
                        .map(|o| match o.result {
                            Ok(p) => Either::Left(view! {
                                <li class="notice ok">{format!("{}: pool {} created, {}.", o.host, p.name, p.state)}</li>
                            }),
                            Err(e) => Either::Right(view! {
                                <li class="notice error" role="alert">{format!("{}: {}", o.host, e)}</li>
                            }),
                        })
                        .collect_view()
                }}
            </ul>
            <div class="form-actions">
                <button type="button" class="secondary" on:click=move |_| on_close.run(())>"Close"</button>
                <button type="submit" disabled=move || create.pending().get() || selected.with(Vec::is_empty)>
                    {move || if create.pending().get() { "Creating…" } else { "Create pool" }}
                </button>
            </div>
        </form>
    }
}

/// The fields of one pool type, and its scan.
#[component]
fn TypeFields(
    info: PoolTypeInfo,
    request: RwSignal<NewPool>,
    scan: ServerAction<ScanPoolSources>,
    first_host: Signal<Option<String>>,
) -> impl IntoView {
    let can_scan = info.scan;
    let pool_type = info.pool_type;
    let fields = info
        .fields
        .into_iter()
        .map(|f| view! { <Field field=f request /> })
        .collect_view();
    let run_scan = move |_| {
        let Some(host) = first_host.get_untracked() else {
            return;
        };
        let r = request.get_untracked();
        scan.dispatch(ScanPoolSources {
            request: ScanRequest {
                host,
                pool_type: pool_type.to_string(),
                source_host: r.source.source_host.clone(),
                source_port: r.source.source_port,
                initiator_iqn: r.source.initiator_iqn.clone(),
            },
        });
    };
    let apply = move |found: PoolSource| {
        request.update(|r| {
            let keep_iqn = r.source.initiator_iqn.clone();
            r.source = PoolSource {
                initiator_iqn: keep_iqn,
                ..found
            };
        })
    };
    view! {
        <p class="muted type-description">{info.description}</p>
        <div class="grid">{fields}</div>
        {can_scan
            .then(|| {
                view! {
                    <div class="scan">
                        <button type="button" class="secondary" on:click=run_scan disabled=move || scan.pending().get()>
                            {move || if scan.pending().get() { "Scanning…" } else { "Scan for sources" }}
                        </button>
                        <span class="help">
                            {move || format!(
                                "Asks {} which {} sources it can see{}.",
                                first_host.get().unwrap_or_default(),
                                pool_type,
                                if pool_type == crate::api::pools::PoolType::Logical { "" } else { " on the server above" },
                            )}
                        </span>
                        {move || {
                            scan.value()
                                .get()
                                .map(|r| match r {
                                    Ok(found) if found.is_empty() => EitherOf3::A(view! { <p class="notice warn">"Nothing found."</p> }),
                                    Ok(found) => EitherOf3::B(view! {
                                        <ul class="found" aria-label="Sources found">
                                            {found
                                                .into_iter()
                                                .map(|s| {
                                                    let text = s.describe();
                                                    let pick = s.clone();
                                                    view! {
                                                        <li>
                                                            <code>{text}</code>
                                                            <button type="button" class="small" on:click=move |_| apply(pick.clone())>"Use"</button>
                                                        </li>
                                                    }
                                                })
                                                .collect_view()}
                                        </ul>
                                    }),
                                    Err(error) => EitherOf3::C(view! { <ErrorNotice error /> }),
                                })
                        }}
                    </div>
                }
            })}
    }
}

#[component]
fn Field(field: FieldInfo, request: RwSignal<NewPool>) -> impl IntoView {
    let name = field.name;
    let value = move || request.with(|r| field_value(r, name));
    let on_input = move |ev| request.update(|r| set_field(r, name, event_target_value(&ev)));
    let placeholder = field.default.clone().unwrap_or_default();
    let input = if field.choices.is_empty() {
        Either::Left(view! {
            <input
                name=name.to_string()
                required=field.required
                autocomplete="off"
                inputmode=if name == PoolField::SourcePort { "numeric" } else { "text" }
                placeholder=placeholder
                prop:value=value
                on:input=on_input
            />
        })
    } else {
        let default = field.default.clone();
        Either::Right(view! {
            <select name=name.to_string() prop:value=move || { let v = value(); if v.is_empty() { default.clone().unwrap_or_default() } else { v } } on:change=on_input>
                {field
                    .choices
                    .iter()
                    .map(|c| view! { <option value=c.clone()>{c.clone()}</option> })
                    .collect_view()}
            </select>
        })
    };
    view! {
        <label>
            {field.label.clone()}
            {field.required.then(|| view! { <span class="required" aria-hidden="true">" *"</span> })}
            {input}
            <span class="help">{field.help.clone()}</span>
        </label>
    }
}
