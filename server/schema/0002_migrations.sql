-- Migration jobs: running ones and their history. The latest progress sample
-- and the options are JSON; times are RFC 3339 UTC.
CREATE TABLE migrations (
    id          TEXT    PRIMARY KEY,      -- a UUID
    host        TEXT    NOT NULL,         -- source host name
    uuid        TEXT    NOT NULL,         -- the guest's UUID
    guest       TEXT    NOT NULL,         -- the guest's name when it started
    destination TEXT    NOT NULL,
    mode        TEXT    NOT NULL,         -- live | paused | offline
    persistence TEXT    NOT NULL,         -- temporary | permanent
    storage     TEXT    NOT NULL,         -- shared | copy
    options     TEXT    NOT NULL,         -- JSON
    copy_disks  TEXT    NOT NULL DEFAULT '[]', -- JSON: target devices copied
    username    TEXT    NOT NULL,
    status      TEXT    NOT NULL,         -- running | completed | failed | cancelled | unknown
    progress    TEXT,                     -- JSON: the latest sample
    error       TEXT,
    started_at  TEXT    NOT NULL,
    ended_at    TEXT,
    downtime_ms INTEGER
);

CREATE INDEX migrations_started_at ON migrations (started_at);
CREATE INDEX migrations_status ON migrations (status);
