//! Who may call what: the one table of the API's access rules, enforced by
//! the server's gate before a request is even parsed (and again by each
//! server function). An endpoint missing here is refused to everyone.

use super::auth::Role as R;

/// What an endpoint needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No session needed (logging in).
    Public,
    /// A session whose user has at least this role.
    Role(R),
    /// Any session, also one whose password must be changed first.
    PasswordChange,
}

/// The rule for `method path`; `None` for an endpoint without one.
pub fn required(method: &str, path: &str) -> Option<Access> {
    use Access::*;
    Some(match (method, path) {
        ("POST", "/api/login" | "/api/login/totp") => Public,
        ("GET", "/api/me" | "/api/me/sessions")
        | ("POST", "/api/me/password" | "/api/me/sessions/end" | "/api/logout") => PasswordChange,
        ("POST", "/api/me/totp/start" | "/api/me/totp/confirm") => PasswordChange,
        ("POST", "/api/me/totp/disable") => Role(R::Viewer),
        ("GET", "/api/settings") | ("POST", "/api/settings") => Role(R::Admin),
        (
            "GET",
            "/api/guests"
            | "/api/guests/counts"
            | "/api/guests/detail"
            | "/api/guests/stats"
            | "/api/guests/jobs"
            | "/api/guests/snapshots"
            | "/api/hosts"
            | "/api/hosts/states"
            | "/api/pools"
            | "/api/pools/types"
            | "/api/volumes"
            | "/api/volumes/page"
            | "/api/migrations"
            | "/api/migrations/running"
            | "/api/evacuations"
            | "/api/balance"
            | "/ws",
        ) => Role(R::Viewer),
        (
            "POST",
            "/api/guests/action"
            | "/api/guests"
            | "/api/guests/update"
            | "/api/guests/delete"
            | "/api/guests/clone"
            | "/api/guests/snapshots"
            | "/api/guests/snapshots/action"
            | "/api/migrations/preflight"
            | "/api/migrations"
            | "/api/migrations/cancel"
            | "/api/migrations/tune"
            | "/api/hosts/maintenance/plan"
            | "/api/hosts/maintenance"
            | "/api/evacuations/cancel"
            | "/api/balance/apply"
            | "/api/pools/action"
            | "/api/volumes"
            | "/api/volumes/action"
            | "/api/volumes/upload",
        ) => Role(R::Operator),
        ("PUT", "/api/volumes/upload")
        | ("GET", "/api/volumes/download" | "/api/guests/options") => Role(R::Operator),
        // A guest's consoles: its keyboard, screen and serial line.
        ("GET", "/ws/console/serial" | "/ws/console/vnc") => Role(R::Operator),
        ("GET", "/api/tokens") | ("POST", "/api/tokens" | "/api/tokens/revoke") => Role(R::Viewer),
        ("GET", "/api/users" | "/api/audit" | "/api/notifications")
        | ("POST", "/api/users" | "/api/users/update") => Role(R::Admin),
        // Where storage lives: defining pools (and deleting them, checked in
        // `pool_action`) is the admins'; operators use the pools there are.
        ("POST", "/api/pools" | "/api/pools/scan") => Role(R::Admin),
        // How the fleet is balanced, and whether the advisor acts alone.
        ("POST", "/api/balance/settings") => Role(R::Admin),
        _ => return None,
    })
}
