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
