-- Hosts in maintenance (or scheduled to enter it, or entering it): one row
-- per host while it is; none once it left. `evacuation` is the job that put
-- it there (in `jobs`). Times are RFC 3339 UTC.
CREATE TABLE host_maintenance (
    host       TEXT PRIMARY KEY,
    state      TEXT NOT NULL,             -- scheduled | entering | on
    since      TEXT NOT NULL,
    evacuation TEXT
);
