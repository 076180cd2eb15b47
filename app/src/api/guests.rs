//! Guests: `GET /api/guests`, `POST /api/guests/action`.

use leptos::server;
use leptos::server_fn::codec::{GetUrl, Json};
use serde::{Deserialize, Serialize};
use strum::{AsRefStr, Display, EnumIter, EnumString, IntoStaticStr, VariantArray};

pub use super::validate::validate_uuid;
use super::{
    validate::{parse_choice, variants, Choice},
    ApiError,
};

/// A guest's run state, as libvirt reports it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    Display,
    EnumIter,
    EnumString,
    IntoStaticStr,
    AsRefStr,
    VariantArray,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum GuestState {
    Running,
    Paused,
    Shutoff,
    Shutdown,
    Crashed,
    Pmsuspended,
    Blocked,
    Nostate,
}

impl GuestState {
    pub const ALL: [GuestState; 8] = variants(GuestState::VARIANTS);

    /// The wire name (`running`, `paused`, …).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// What a person reads.
    pub fn label(self) -> &'static str {
        match self {
            GuestState::Running => "running",
            GuestState::Paused => "paused",
            GuestState::Shutoff => "shut off",
            GuestState::Shutdown => "shutting down",
            GuestState::Crashed => "crashed",
            GuestState::Pmsuspended => "suspended (PM)",
            GuestState::Blocked => "blocked",
            GuestState::Nostate => "no state",
        }
    }

    /// The actions that make sense in this state, in the order the UI shows them.
    pub fn actions(self) -> &'static [GuestAction] {
        use GuestAction::*;
        match self {
            GuestState::Running | GuestState::Blocked => &[Shutdown, Reboot, Suspend, Destroy],
            GuestState::Paused => &[Resume, Destroy],
            GuestState::Shutoff | GuestState::Crashed => &[Start],
            GuestState::Shutdown | GuestState::Pmsuspended | GuestState::Nostate => &[Destroy],
        }
    }
}

/// A lifecycle action on a guest.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    Display,
    EnumIter,
    EnumString,
    IntoStaticStr,
    AsRefStr,
    VariantArray,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum GuestAction {
    Start,
    Shutdown,
    Reboot,
    /// Force off: the guest stops at once, like pulling the power cord.
    Destroy,
    Suspend,
    Resume,
}

impl GuestAction {
    pub const ALL: [GuestAction; 6] = variants(GuestAction::VARIANTS);

    /// The wire name (`start`, `shutdown`, …).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses a wire name; anything else is a 400 naming the actions.
    pub fn parse(text: &str) -> Result<GuestAction, ApiError> {
        parse_choice(Choice::Unknown("action"), text)
    }

    /// The button label.
    pub fn label(self) -> &'static str {
        match self {
            GuestAction::Start => "Start",
            GuestAction::Shutdown => "Shut down",
            GuestAction::Reboot => "Reboot",
            GuestAction::Destroy => "Force off",
            GuestAction::Suspend => "Pause",
            GuestAction::Resume => "Resume",
        }
    }

    /// Past tense for the confirmation line after success.
    pub fn done(self) -> &'static str {
        match self {
            GuestAction::Start => "Started",
            GuestAction::Shutdown => "Asked to shut down",
            GuestAction::Reboot => "Asked to reboot",
            GuestAction::Destroy => "Forced off",
            GuestAction::Suspend => "Paused",
            GuestAction::Resume => "Resumed",
        }
    }

    /// Actions that lose data and need the user's confirmation first.
    pub fn is_destructive(self) -> bool {
        matches!(self, GuestAction::Destroy)
    }
}

/// One guest as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuestSummary {
    pub host: String,
    pub name: String,
    pub uuid: String,
    pub state: GuestState,
    pub vcpus: u32,
    pub memory_kib: u64,
    pub persistent: bool,
    pub autostart: bool,
    /// The host is not connected now: this is the guest as last seen.
    #[serde(default)]
    pub stale: bool,
}

impl GuestSummary {
    /// The key that names a guest across the fleet.
    pub fn key(&self) -> (String, String) {
        (self.host.clone(), self.uuid.clone())
    }
}

/// Which guests to list: all of them by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestQuery {
    /// Only the guests of this host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Only guests in this state (`running`, `shutoff`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Only guests whose name or UUID contains this (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// Skip this many of the selected guests (paging).
    #[serde(
        default,
        deserialize_with = "super::opt_count",
        skip_serializing_if = "Option::is_none"
    )]
    pub offset: Option<usize>,
    /// Return at most this many.
    #[serde(
        default,
        deserialize_with = "super::opt_count",
        skip_serializing_if = "Option::is_none"
    )]
    pub limit: Option<usize>,
}

impl GuestQuery {
    /// The selection part of the query, checked (an unknown state is a 400).
    pub fn filter(&self) -> Result<GuestFilter<'_>, ApiError> {
        let state = match self.state.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(parse_choice::<GuestState>(Choice::Unknown("state"), s)?),
        };
        Ok(GuestFilter {
            host: self.host.as_deref().filter(|h| !h.is_empty()),
            state,
            needle: self.q.as_deref().unwrap_or("").trim().to_lowercase(),
        })
    }

    /// (offset, limit) of the page asked for; no limit is every guest.
    pub fn window(&self) -> (usize, usize) {
        (self.offset.unwrap_or(0), self.limit.unwrap_or(usize::MAX))
    }

    /// The guests of `all` (sorted by host, then name) this query selects:
    /// the plain reading of the query, which the server's index must agree with.
    pub fn apply(&self, all: Vec<GuestSummary>) -> Result<Vec<GuestSummary>, ApiError> {
        let filter = self.filter()?;
        let (offset, limit) = self.window();
        Ok(all
            .into_iter()
            .filter(|g| filter.matches(g))
            .skip(offset)
            .take(limit)
            .collect())
    }
}

/// Which guests a query selects: by host, by state, by text in the name
/// (case-insensitive) or the UUID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestFilter<'a> {
    pub host: Option<&'a str>,
    pub state: Option<GuestState>,
    /// Lower case; empty selects every name.
    pub needle: String,
}

impl GuestFilter<'_> {
    pub fn matches(&self, g: &GuestSummary) -> bool {
        self.admits(g, &g.name.to_lowercase())
    }

    /// As `matches`, with the guest's name already in lower case.
    pub fn admits(&self, g: &GuestSummary, lower_name: &str) -> bool {
        self.host.is_none_or(|h| g.host == h)
            && self.state.is_none_or(|s| g.state == s)
            && self.text_matches(lower_name, &g.uuid)
    }

    /// The text part alone.
    pub fn text_matches(&self, lower_name: &str, uuid: &str) -> bool {
        self.needle.is_empty() || lower_name.contains(&self.needle) || uuid.contains(&self.needle)
    }
}

/// How many guests there are, per state and per host (`GET /api/guests/counts`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestCounts {
    pub total: usize,
    /// Wire state name → count; states with no guest are left out.
    pub by_state: std::collections::BTreeMap<String, usize>,
    /// Host name → count; hosts with no guest are left out.
    pub by_host: std::collections::BTreeMap<String, usize>,
    /// Of the guests the query selects (without offset and limit).
    pub matching: usize,
}

/// Counts `all`, and how many of them `query` selects: the plain reading,
/// which the server's index must agree with.
pub fn count_guests(all: &[GuestSummary], query: &GuestQuery) -> Result<GuestCounts, ApiError> {
    let filter = query.filter()?;
    let mut counts = GuestCounts {
        total: all.len(),
        ..Default::default()
    };
    for g in all {
        *counts
            .by_state
            .entry(g.state.as_str().to_string())
            .or_default() += 1;
        *counts.by_host.entry(g.host.clone()).or_default() += 1;
        counts.matching += usize::from(filter.matches(g));
    }
    Ok(counts)
}

/// The guests of every host, sorted by host and name; with `host`, `state`,
/// `q`, `offset` and `limit`, a filtered page of them. The guests of a host
/// that is not connected now are listed as last seen, with `stale: true`.
#[server(prefix = "/api", endpoint = "guests", input = GetUrl, output = crate::api::JsonText)]
pub async fn list_guests(
    #[server(flatten)] query: GuestQuery,
) -> Result<Vec<GuestSummary>, ApiError> {
    super::ssr::authorized(|ctx| async move { ctx.services.fleet.guest_page(&query).await }).await
}

/// Counts of the guests, per state and per host, and of those `query` selects.
#[server(name = GuestCountsFn, prefix = "/api", endpoint = "guests/counts", input = GetUrl, output = crate::api::JsonText)]
pub async fn guest_counts(#[server(flatten)] query: GuestQuery) -> Result<GuestCounts, ApiError> {
    super::ssr::authorized(|ctx| async move { ctx.services.fleet.guest_counts(&query).await }).await
}

/// Runs a lifecycle action and returns the guest's new summary.
#[server(name = GuestActionFn, prefix = "/api", endpoint = "guests/action", input = Json, output = crate::api::JsonText)]
pub async fn guest_action(
    host: String,
    uuid: String,
    action: String,
) -> Result<GuestSummary, ApiError> {
    use super::audit::{AuditAction, Target};
    super::ssr::authorized_as(super::auth::Role::Operator, |ctx| async move {
        let parsed = GuestAction::parse(&action);
        // The action's own name, never the client's text.
        let audit = AuditAction::guest(parsed.as_ref().ok().copied());
        ctx.audited(audit, Target::guest(&host, &uuid), async {
            let action = parsed?;
            validate_uuid(&uuid)?;
            ctx.services.fleet.guest_action(&host, &uuid, action).await
        })
        .await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_parse_from_their_wire_names_only() {
        for action in GuestAction::ALL {
            assert_eq!(GuestAction::parse(action.as_str()), Ok(action));
            assert_eq!(serde_json::to_value(action).unwrap(), action.as_str());
        }
        let err = GuestAction::parse("Start").unwrap_err();
        assert!(
            err.to_string().contains("expected one of: start, shutdown"),
            "{err}"
        );
        let long = "x".repeat(10_000);
        assert!(GuestAction::parse(&long).unwrap_err().to_string().len() < 300);
    }

    #[test]
    fn every_state_offers_actions_and_only_running_guests_pause() {
        for state in GuestState::ALL {
            assert!(!state.actions().is_empty(), "{state:?}");
            assert_eq!(state.as_str().parse::<GuestState>(), Ok(state));
            assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
        }
        assert!(GuestState::Running
            .actions()
            .contains(&GuestAction::Suspend));
        assert!(!GuestState::Paused.actions().contains(&GuestAction::Suspend));
        assert_eq!(GuestState::Shutoff.actions(), &[GuestAction::Start]);
    }

    fn guest(host: &str, name: &str, state: GuestState) -> GuestSummary {
        GuestSummary {
            host: host.into(),
            name: name.into(),
            uuid: format!("00000000-0000-4000-8000-{:012}", name.len()),
            state,
            vcpus: 1,
            memory_kib: 1024,
            persistent: true,
            autostart: false,
            stale: false,
        }
    }

    #[test]
    fn queries_filter_and_page_and_counts_count() {
        let all = vec![
            guest("a", "web01", GuestState::Running),
            guest("a", "web02", GuestState::Shutoff),
            guest("b", "db01", GuestState::Running),
        ];
        let q = |host: Option<&str>, state: Option<&str>, text: Option<&str>| GuestQuery {
            host: host.map(String::from),
            state: state.map(String::from),
            q: text.map(String::from),
            ..Default::default()
        };
        let names = |v: Vec<GuestSummary>| v.into_iter().map(|g| g.name).collect::<Vec<_>>();
        assert_eq!(
            names(q(None, None, None).apply(all.clone()).unwrap()).len(),
            3
        );
        assert_eq!(
            names(
                q(Some("a"), Some("running"), None)
                    .apply(all.clone())
                    .unwrap()
            ),
            ["web01"]
        );
        assert_eq!(
            names(q(None, None, Some("WEB")).apply(all.clone()).unwrap()),
            ["web01", "web02"]
        );
        let page = GuestQuery {
            offset: Some(1),
            limit: Some(1),
            ..Default::default()
        };
        assert_eq!(names(page.apply(all.clone()).unwrap()), ["web02"]);
        assert!(q(None, Some("sleeping"), None).apply(all.clone()).is_err());
        let counts = count_guests(&all, &q(None, None, Some("web"))).unwrap();
        assert!(count_guests(&all, &q(None, Some("sleeping"), None)).is_err());
        assert_eq!(counts.total, 3);
        assert_eq!(counts.by_state["running"], 2);
        assert_eq!(counts.by_host["a"], 2);
        assert_eq!(counts.matching, 2);
    }

    #[test]
    fn wire_names_match_the_documented_api() {
        let json = serde_json::to_string(&GuestState::Pmsuspended).unwrap();
        assert_eq!(json, "\"pmsuspended\"");
        let err = ApiError::NotFound("x".into());
        assert_eq!(
            serde_json::to_value(&err).unwrap(),
            serde_json::json!({"error": "not_found", "message": "x"})
        );
    }
}
