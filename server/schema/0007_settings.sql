-- Site-wide settings an admin changes in the UI (key → value).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
