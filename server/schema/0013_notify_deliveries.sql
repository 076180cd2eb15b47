-- Webhook deliveries ([[notify]] in virtdeck.toml): one row per event and
-- receiver, kept with its attempts so failures are seen. `subject` names what
-- the event is about (an evacuation or migration id) so that an event is not
-- sent twice for it, also across restarts. Times are RFC 3339 UTC.
CREATE TABLE notify_deliveries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    url         TEXT NOT NULL,
    event       TEXT NOT NULL,
    subject     TEXT,
    body        TEXT NOT NULL,             -- the JSON sent
    state       TEXT NOT NULL,             -- pending | delivered | failed
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_status INTEGER,
    last_error  TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE INDEX notify_deliveries_subject ON notify_deliveries (event, subject);
CREATE INDEX notify_deliveries_state ON notify_deliveries (state);
