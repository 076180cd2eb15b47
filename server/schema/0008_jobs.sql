-- Jobs of every kind but migrations (which keep their own table): clones
-- today, evacuations next. `snapshot` is the job as the API shows it (JSON of
-- the kind's wire type); `notes` is what recovery at start-up needs beyond it
-- (JSON, e.g. the volumes a clone began to copy). Times are RFC 3339 UTC.
CREATE TABLE jobs (
    id         TEXT PRIMARY KEY,          -- a UUID
    kind       TEXT NOT NULL,             -- clone | …
    state      TEXT NOT NULL,             -- running, or the kind's end state
    snapshot   TEXT NOT NULL,             -- JSON
    notes      TEXT NOT NULL DEFAULT 'null', -- JSON
    started_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE INDEX jobs_kind_started_at ON jobs (kind, started_at);
CREATE INDEX jobs_state ON jobs (state);
