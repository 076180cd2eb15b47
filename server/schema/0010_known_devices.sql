-- Browsers that have logged in as a user: their long-lived device cookie
-- (kept only as a SHA-256) exempts them from the per-name login lock, so a
-- flood of wrong passwords from elsewhere cannot lock the rightful user out.
CREATE TABLE known_devices (
    hash       TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX known_devices_user ON known_devices (user_id);
