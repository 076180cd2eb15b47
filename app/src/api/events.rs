//! Messages on the `/ws` WebSocket. One socket carries every kind, tagged by
//! `type`. Each message is a full snapshot of the object it names (or says
//! "re-read this"), so a page that missed one is right again with the next.

use serde::{Deserialize, Serialize};

use super::{
    guest_detail::GuestJob, guests::GuestSummary, hosts::HostSummary, migrations::ProgressMessage,
    pools::PoolSummary,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerEvent {
    /// First message on a new socket. A page that receives it again after its
    /// socket reconnected reads what it shows again (it may have missed events).
    Hello { user: String },
    /// A host's connection state or facts changed.
    HostChanged { host: Box<HostSummary> },
    /// A guest changed (through virtdeck or outside it); pages update its row.
    GuestChanged { guest: GuestSummary },
    /// A guest is no longer defined on a host (moved away for good, or gone).
    GuestRemoved { host: String, uuid: String },
    /// A migration job's whole state: sent at least twice a second while it
    /// runs, and once more when it ends (`status` other than `running`).
    MigrationProgress(Box<ProgressMessage>),
    /// An evacuation's whole state (every guest), on every change.
    EvacuationProgress(Box<super::maintenance::Evacuation>),
    /// A pool was created or changed (state, autostart, sizes).
    PoolChanged { pool: Box<PoolSummary> },
    /// A pool was deleted (undefined) or vanished.
    PoolRemoved { host: String, name: String },
    /// A pool's volumes changed: pages showing them re-read the list.
    VolumesChanged { host: String, pool: String },
    /// A guest job's (clone) whole state: while it runs, and when it ends.
    GuestJob(Box<GuestJob>),
    /// The balance advisor's recommendations changed: pages showing them
    /// read `GET /api/balance` again; the navigation shows the count.
    BalanceChanged { recommendations: u32 },
}

/// One kind of `/ws` message and how a page reads it. A component names the
/// kinds it follows (`use_server_events(&[kinds::GUEST_CHANGED, …], …)`), so
/// only those payload decoders are in its page's wasm: an evacuation's or a
/// pool's decoder is not in the guest list's.
///
/// The pages do not use the derived `Deserialize` (a test holds these equal
/// to it for every kind): an internally tagged enum's derive buffers every
/// message into serde's `Content` first and reads each payload type a second
/// way from it, ~130 KB of wasm shared by every page. Here the tag is read
/// first and the payload from the same text with the decoders the pages have
/// anyway (an unknown field, `type` among them, is skipped).
#[derive(Clone, Copy)]
pub struct EventKind {
    /// The `type` of its messages.
    pub name: &'static str,
    pub decode: fn(&str) -> serde_json::Result<ServerEvent>,
}

/// The `type` of a `/ws` message.
pub fn event_type(text: &str) -> serde_json::Result<std::borrow::Cow<'_, str>> {
    #[derive(Deserialize)]
    struct Tag<'a> {
        #[serde(borrow, rename = "type")]
        kind: std::borrow::Cow<'a, str>,
    }
    Ok(serde_json::from_str::<Tag>(text)?.kind)
}

/// Reads a `/ws` message of any kind.
pub fn decode_event(text: &str) -> serde_json::Result<ServerEvent> {
    let name = event_type(text)?;
    match kinds::ALL.iter().find(|kind| kind.name == name) {
        Some(kind) => (kind.decode)(text),
        None => Err(serde::de::Error::unknown_variant(&name, &[])),
    }
}

/// Every kind of `/ws` message, with its decoder.
pub mod kinds {
    use super::{EventKind, ServerEvent};
    use serde::Deserialize;

    fn from<'a, T: Deserialize<'a>>(text: &'a str) -> serde_json::Result<T> {
        serde_json::from_str(text)
    }

    pub const ALL: [EventKind; 11] = [
        HELLO,
        HOST_CHANGED,
        GUEST_CHANGED,
        GUEST_REMOVED,
        MIGRATION_PROGRESS,
        EVACUATION_PROGRESS,
        POOL_CHANGED,
        POOL_REMOVED,
        VOLUMES_CHANGED,
        GUEST_JOB,
        BALANCE_CHANGED,
    ];

    pub const HELLO: EventKind = EventKind {
        name: "hello",
        decode: |text| {
            #[derive(Deserialize)]
            struct E {
                user: String,
            }
            from(text).map(|e: E| ServerEvent::Hello { user: e.user })
        },
    };
    pub const HOST_CHANGED: EventKind = EventKind {
        name: "host_changed",
        decode: |text| {
            #[derive(Deserialize)]
            struct E {
                host: Box<crate::api::hosts::HostSummary>,
            }
            from(text).map(|e: E| ServerEvent::HostChanged { host: e.host })
        },
    };
    pub const GUEST_CHANGED: EventKind = EventKind {
        name: "guest_changed",
        decode: |text| {
            #[derive(Deserialize)]
            struct E {
                guest: crate::api::guests::GuestSummary,
            }
            from(text).map(|e: E| ServerEvent::GuestChanged { guest: e.guest })
        },
    };
    pub const GUEST_REMOVED: EventKind = EventKind {
        name: "guest_removed",
        decode: |text| {
            #[derive(Deserialize)]
            struct E {
                host: String,
                uuid: String,
            }
            from(text).map(|e: E| ServerEvent::GuestRemoved {
                host: e.host,
                uuid: e.uuid,
            })
        },
    };
    pub const MIGRATION_PROGRESS: EventKind = EventKind {
        name: "migration_progress",
        decode: |text| from(text).map(ServerEvent::MigrationProgress),
    };
    pub const EVACUATION_PROGRESS: EventKind = EventKind {
        name: "evacuation_progress",
        decode: |text| from(text).map(ServerEvent::EvacuationProgress),
    };
    pub const POOL_CHANGED: EventKind = EventKind {
        name: "pool_changed",
        decode: |text| {
            #[derive(Deserialize)]
            struct E {
                pool: Box<crate::api::pools::PoolSummary>,
            }
            from(text).map(|e: E| ServerEvent::PoolChanged { pool: e.pool })
        },
    };
    pub const POOL_REMOVED: EventKind = EventKind {
        name: "pool_removed",
        decode: |text| {
            #[derive(Deserialize)]
            struct E {
                host: String,
                name: String,
            }
            from(text).map(|e: E| ServerEvent::PoolRemoved {
                host: e.host,
                name: e.name,
            })
        },
    };
    pub const VOLUMES_CHANGED: EventKind = EventKind {
        name: "volumes_changed",
        decode: |text| {
            #[derive(Deserialize)]
            struct E {
                host: String,
                pool: String,
            }
            from(text).map(|e: E| ServerEvent::VolumesChanged {
                host: e.host,
                pool: e.pool,
            })
        },
    };
    pub const GUEST_JOB: EventKind = EventKind {
        name: "guest_job",
        decode: |text| from(text).map(ServerEvent::GuestJob),
    };
    pub const BALANCE_CHANGED: EventKind = EventKind {
        name: "balance_changed",
        decode: |text| {
            #[derive(Deserialize)]
            struct E {
                recommendations: u32,
            }
            from(text).map(|e: E| ServerEvent::BalanceChanged {
                recommendations: e.recommendations,
            })
        },
    };
}

/// What stands for a URI removed from a text shown to a viewer.
pub const URI_REMOVED: &str = "<host address>";

/// `text` without the URIs in it (`qemu+ssh://root@kvm2/system`, libvirt's
/// messages quote them): host URIs may carry user names and key paths, which
/// viewers do not see. A URI ends at whitespace or a quote.
pub fn without_uris(text: &str) -> String {
    let is_scheme = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.');
    let ends = |c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | '<' | '>' | ',');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let before = &rest[..at];
        let scheme_len = before
            .chars()
            .rev()
            .take_while(|c| is_scheme(*c))
            .map(char::len_utf8)
            .sum::<usize>();
        let after = &rest[at + 3..];
        let tail = after.find(ends).unwrap_or(after.len());
        if scheme_len == 0 {
            out.push_str(&rest[..at + 3]);
            rest = after;
            continue;
        }
        out.push_str(&before[..before.len() - scheme_len]);
        out.push_str(URI_REMOVED);
        rest = &after[tail..];
    }
    out.push_str(rest);
    out
}

impl ServerEvent {
    /// The event as a viewer may see it: no host URI, and none quoted in a
    /// message (an operator or admin gets it as it is).
    pub fn for_viewer(&self) -> ServerEvent {
        let mut event = self.clone();
        if let ServerEvent::HostChanged { host } = &mut event {
            host.uri = None;
        }
        // Every text of the event, through its JSON form (one place for
        // every message that may quote a URI: host errors, job failures…).
        match serde_json::to_value(&event) {
            Ok(mut value) => {
                scrub(&mut value);
                serde_json::from_value(value).unwrap_or(event)
            }
            Err(_) => event,
        }
    }
}

/// `value` with every URI in its texts replaced, as viewers may see it.
pub fn scrubbed<T: serde::Serialize + serde::de::DeserializeOwned>(value: T) -> T {
    match serde_json::to_value(&value) {
        Ok(mut json) => {
            scrub(&mut json);
            serde_json::from_value(json).unwrap_or(value)
        }
        Err(_) => value,
    }
}

fn scrub(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) if s.contains("://") => *s = without_uris(s),
        serde_json::Value::Array(items) => items.iter_mut().for_each(scrub),
        serde_json::Value::Object(map) => map.values_mut().for_each(scrub),
        _ => {}
    }
}

/// The close code of a `/ws` socket whose session has ended (logout, expiry,
/// a disabled user): the page goes back to the login page.
pub const SESSION_ENDED: u16 = 4001;

/// The close code of a `/ws` socket that fell behind the events (a client
/// too slow to take them): the page reconnects and reads what it shows again.
pub const TOO_SLOW: u16 = 4002;

#[cfg(test)]
mod tests {
    use super::*;

    /// One message of every kind, as the server writes them (the tag first).
    fn every_kind() -> Vec<String> {
        let guest = r#"{"host":"kvm1","name":"web <&> \"1\"","uuid":"u1","state":"running","vcpus":2,"memory_kib":1048576,"persistent":true,"autostart":false,"stale":false}"#;
        let source = r#"{"source_host":"nfs1","source_path":"/export"}"#;
        vec![
            r#"{"type":"hello","user":"admin"}"#.to_string(),
            r#"{"type":"host_changed","host":{"name":"kvm1","uri":null,"connected":true,"error":null,"arch":"x86_64","cpu_model":"Haswell","cpus":4,"memory_kib":8388608,"libvirt_version":"9.0.0","hypervisor_version":"7.2.0","guests":12,"state":"connected","state_since":"2026-12-05T10:00:00Z","next_attempt_at":null,"maintenance":{"state":"entering","since":"2026-12-05T10:01:00Z","evacuation":"e1"}}}"#.to_string(),
            format!(r#"{{"type":"guest_changed","guest":{guest}}}"#),
            r#"{"type":"guest_removed","host":"kvm1","uuid":"u1"}"#.to_string(),
            r#"{"type":"migration_progress","id":"m1","host":"kvm1","destination":"kvm2","uuid":"u1","guest":"web1","status":"running","phase":"copying memory","percent":42.5,"data_processed":1,"data_remaining":2,"data_total":3,"dirty_rate":4,"speed":5,"iteration":6,"expected_downtime_ms":7,"elapsed_ms":8,"eta_ms":null,"sampled_at":"2026-12-05T10:00:00.123Z","step":{"at":"2026-12-05T10:00:00Z","phase":"iteration","text":"pass 6"}}"#.to_string(),
            r#"{"type":"evacuation_progress","id":"e1","host":"kvm1","kind":"enter","state":"running","user":"admin","created_at":"2026-12-05T10:00:00Z","at":null,"started_at":"2026-12-05T10:00:01Z","finished_at":null,"options":{"host":"kvm1","targets":["kvm2"],"max_parallel":2,"bandwidth_mib_s":null,"include_shut_off":false,"copy_storage":true,"pins":{"u2":"kvm2"}},"on_blocked":"shut_down","guests":[{"uuid":"u1","name":"web1","status":"switching_over","action":"migrate","from":"kvm1","destination":"kvm2","attempts":1,"tried":["kvm3"],"eligible":["kvm2"],"migration_id":"m1","percent":99.0,"error":null,"memory_mib":1024,"vcpus":2,"copy_storage":false}],"error":null,"timeline":[{"at":"2026-12-05T10:00:01Z","phase":"started","text":"1 guest"}]}"#.to_string(),
            format!(r#"{{"type":"pool_changed","pool":{{"host":"kvm1","name":"nfs","uuid":"p1","type":"netfs","state":"inaccessible","autostart":true,"persistent":true,"capacity":10,"allocation":5,"available":5,"target_path":"/srv/nfs","source":{source},"volumes":3}}}}"#),
            r#"{"type":"pool_removed","host":"kvm1","name":"nfs"}"#.to_string(),
            r#"{"type":"volumes_changed","host":"kvm1","pool":"nfs"}"#.to_string(),
            format!(r#"{{"type":"guest_job","id":"j1","kind":"clone","host":"kvm1","uuid":"u1","source_name":"web1","name":"web2","user":"op","state":"done","phase":"done","bytes_done":9,"bytes_total":9,"percent":100.0,"started_at":"2026-12-05T10:00:00Z","ended_at":"2026-12-05T10:00:09Z","error":null,"result":{guest}}}"#),
            r#"{"type":"balance_changed","recommendations":3}"#.to_string(),
        ]
    }

    #[test]
    fn the_pages_read_every_kind_as_the_derived_decoder_does() {
        let kinds = every_kind();
        let mut seen = std::collections::BTreeSet::new();
        for text in &kinds {
            let derived: ServerEvent = serde_json::from_str(text).unwrap();
            assert_eq!(decode_event(text).unwrap(), derived, "{text}");
            // What the server writes reads back the same way.
            let written = serde_json::to_string(&derived).unwrap();
            assert_eq!(decode_event(&written).unwrap(), derived, "{written}");
            // The tag need not come first.
            let moved = format!(
                "{{{},{}}}",
                &text[text.find(',').unwrap() + 1..text.len() - 1],
                &text[1..text.find(',').unwrap()]
            );
            assert_eq!(decode_event(&moved).unwrap(), derived, "{moved}");
            let name = serde_json::to_value(&derived).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string();
            assert_eq!(name, kind_of(&derived), "{text}");
            seen.insert(name);
        }
        let all: std::collections::BTreeSet<String> =
            kinds::ALL.iter().map(|k| k.name.to_string()).collect();
        assert_eq!(seen, all, "one message of every kind in kinds::ALL");
        assert_eq!(all.len(), kinds::ALL.len(), "no kind twice");
    }

    /// Which kind a message is. Exhaustive: a new `ServerEvent` variant does
    /// not compile here until it has its kind (and, for the test above to
    /// pass, its entry in `kinds::ALL` and a message in `every_kind`).
    fn kind_of(event: &ServerEvent) -> &'static str {
        match event {
            ServerEvent::Hello { .. } => kinds::HELLO.name,
            ServerEvent::HostChanged { .. } => kinds::HOST_CHANGED.name,
            ServerEvent::GuestChanged { .. } => kinds::GUEST_CHANGED.name,
            ServerEvent::GuestRemoved { .. } => kinds::GUEST_REMOVED.name,
            ServerEvent::MigrationProgress(_) => kinds::MIGRATION_PROGRESS.name,
            ServerEvent::EvacuationProgress(_) => kinds::EVACUATION_PROGRESS.name,
            ServerEvent::PoolChanged { .. } => kinds::POOL_CHANGED.name,
            ServerEvent::PoolRemoved { .. } => kinds::POOL_REMOVED.name,
            ServerEvent::VolumesChanged { .. } => kinds::VOLUMES_CHANGED.name,
            ServerEvent::GuestJob(_) => kinds::GUEST_JOB.name,
            ServerEvent::BalanceChanged { .. } => kinds::BALANCE_CHANGED.name,
        }
    }

    #[test]
    fn messages_the_derived_decoder_refuses_are_refused() {
        for text in [
            r#"{"type":"no_such_kind","user":"admin"}"#,
            r#"{"user":"admin"}"#,
            r#"{"type":"hello"}"#,
            r#"{"type":"guest_removed","host":"kvm1","uuid":7}"#,
            r#"{"type":"balance_changed","recommendations":-1}"#,
            r#"{"type":"balance_changed","recommendations":4294967296}"#,
            r#"{"type":"migration_progress","id":"m1"}"#,
            r#"{"type":"hello","user":"admin""#,
            "[]",
            "null",
            "",
        ] {
            assert!(serde_json::from_str::<ServerEvent>(text).is_err(), "{text}");
            assert!(decode_event(text).is_err(), "{text}");
        }
    }

    #[test]
    fn viewers_get_messages_without_uris() {
        assert_eq!(
            without_uris("cannot connect to 'qemu+ssh://root@kvm2.example.org/system?keyfile=/root/.ssh/id': refused"),
            "cannot connect to '<host address>': refused"
        );
        assert_eq!(
            without_uris("test:///tmp/é/demo.xml and qemu:///system"),
            "<host address> and <host address>"
        );
        assert_eq!(
            without_uris("no uri here: a://"),
            "no uri here: <host address>"
        );
        assert_eq!(without_uris("://x"), "://x");
        assert_eq!(without_uris("é://ok"), "é://ok");
    }

    #[test]
    fn whole_values_are_scrubbed_for_viewers() {
        let v = vec![
            serde_json::json!({"error": "to 'qemu+tcp://kvm2/system': refused", "n": 3, "list": ["a", "test:///x.xml"]}),
        ];
        assert_eq!(
            scrubbed(v),
            vec![
                serde_json::json!({"error": "to '<host address>': refused", "n": 3, "list": ["a", "<host address>"]})
            ]
        );
    }
}
