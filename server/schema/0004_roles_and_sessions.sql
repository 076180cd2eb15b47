-- Roles, disabled users, a forced password change, and virtdeck's own index
-- of login sessions (the session store cannot list a user's sessions).
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'admin'
    CHECK (role IN ('admin', 'operator', 'viewer'));
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;

CREATE TABLE user_sessions (
    sid        TEXT    PRIMARY KEY,  -- random, also kept in the session's data
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_seen  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    client     TEXT
);
CREATE INDEX user_sessions_user ON user_sessions (user_id);
