-- Users of virtdeck and the audit log. Sessions live in the table created by
-- tower-sessions' SQLite store.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    created_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE audit_log (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    username TEXT,              -- NULL for anonymous attempts (failed logins)
    action   TEXT    NOT NULL,  -- e.g. login, guest.suspend
    target   TEXT    NOT NULL,  -- e.g. guest <uuid> on host <name>
    outcome  TEXT    NOT NULL,  -- ok | failed
    detail   TEXT               -- the error shown to the user, when failed
);

CREATE INDEX audit_log_at ON audit_log (at);
