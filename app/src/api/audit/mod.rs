//! The audit log, for admins: `GET /api/audit`, newest first, filtered.

use leptos::server;
use leptos::server_fn::codec::GetUrl;
use serde::{Deserialize, Serialize};

use super::ApiError;

mod vocabulary;

pub use vocabulary::{AuditAction, Target};

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub id: i64,
    /// RFC 3339 UTC.
    pub at: String,
    pub user: Option<String>,
    pub client: Option<String>,
    pub action: String,
    pub target: String,
    /// `ok`, `failed` or `refused`.
    pub outcome: String,
    pub detail: Option<String>,
    /// How many requests the row stands for: refusals of requests without a
    /// login are counted on one row per client address and reason per minute.
    #[serde(default = "one")]
    pub count: u64,
}

fn one() -> u64 {
    1
}

/// Which lines: all by default, newest first, 100 at a time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    /// This user only (`-` for anonymous attempts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Actions starting with this (`guest.`, `login`, `user.`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Targets containing this (a guest's UUID, a host, a pool).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// `ok`, `failed` or `refused`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// From this time on (RFC 3339 UTC, or a date `2026-11-26`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    #[serde(
        default,
        deserialize_with = "super::opt_count",
        skip_serializing_if = "Option::is_none"
    )]
    pub offset: Option<usize>,
    /// At most 500; default 100.
    #[serde(
        default,
        deserialize_with = "super::opt_count",
        skip_serializing_if = "Option::is_none"
    )]
    pub limit: Option<usize>,
}

impl AuditQuery {
    /// Refuses what cannot be a filter; empty fields count as absent.
    pub fn checked(mut self) -> Result<AuditQuery, ApiError> {
        for f in [
            &mut self.user,
            &mut self.action,
            &mut self.object,
            &mut self.outcome,
            &mut self.since,
            &mut self.until,
        ] {
            if f.as_deref().is_some_and(|v| v.trim().is_empty()) {
                *f = None;
            }
            if f.as_deref().is_some_and(|v| v.len() > 200) {
                return Err(ApiError::BadRequest(
                    "a filter has at most 200 characters".into(),
                ));
            }
        }
        if let Some(o) = &self.outcome {
            if !matches!(o.as_str(), "ok" | "failed" | "refused") {
                return Err(ApiError::BadRequest(format!(
                    "{:?} is not an outcome: use ok, failed or refused",
                    super::clip(o)
                )));
            }
        }
        for t in [&mut self.since, &mut self.until].into_iter().flatten() {
            match super::validate::parse_day_or_time(t) {
                // As stored: UTC, so that times compare as text.
                Some(parsed) => *t = super::validate::utc_text(parsed),
                None => {
                    return Err(ApiError::BadRequest(format!(
                        "{:?} is not a time like 2026-11-26 or 2026-11-26T10:00:00Z",
                        super::clip(t)
                    )))
                }
            }
        }
        if self.limit.is_some_and(|l| l == 0 || l > 500) {
            return Err(ApiError::BadRequest("limit is 1 to 500".into()));
        }
        Ok(self)
    }
}

/// The audit log, newest first (admin).
#[server(name = ListAudit, prefix = "/api", endpoint = "audit", input = GetUrl, output = crate::api::JsonText)]
pub async fn list_audit(
    #[server(flatten)] query: AuditQuery,
) -> Result<Vec<AuditRecord>, ApiError> {
    super::ssr::authorized_as(super::auth::Role::Admin, |ctx| async move {
        let query = query.checked()?;
        ctx.services.audit.query(&query).await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_checked() {
        assert!(AuditQuery {
            since: Some("2026-11-26".into()),
            ..Default::default()
        }
        .checked()
        .is_ok());
        for bad in [
            "yesterday",
            "2026-11-2é",
            "2026-11-26T10:00:0é0Z",
            "é",
            "2026-13-01",
        ] {
            assert!(
                AuditQuery {
                    since: Some(bad.into()),
                    ..Default::default()
                }
                .checked()
                .is_err(),
                "{bad}"
            );
        }
        // Times are kept in UTC, as the log stores them.
        let q = AuditQuery {
            since: Some("2026-11-26T12:00:00+02:00".into()),
            until: Some("2026-11-27".into()),
            ..Default::default()
        }
        .checked()
        .unwrap();
        assert_eq!(q.since.as_deref(), Some("2026-11-26T10:00:00Z"));
        assert_eq!(q.until.as_deref(), Some("2026-11-27T00:00:00Z"));
        assert!(AuditQuery {
            outcome: Some("maybe".into()),
            ..Default::default()
        }
        .checked()
        .is_err());
        assert!(AuditQuery {
            limit: Some(501),
            ..Default::default()
        }
        .checked()
        .is_err());
        let q = AuditQuery {
            user: Some(" ".into()),
            ..Default::default()
        }
        .checked()
        .unwrap();
        assert_eq!(q.user, None);
    }
}
