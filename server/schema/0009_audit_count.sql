-- Refusals of unauthenticated requests are kept as one row per client
-- address and reason per minute, with how many there were.
ALTER TABLE audit_log ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
CREATE INDEX audit_log_anonymous_refusals ON audit_log (client, detail, at)
    WHERE username IS NULL AND outcome = 'refused';
