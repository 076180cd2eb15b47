-- Who asked from where, and refused attempts (outcome 'refused': no session,
-- forbidden, cross-site, malformed, throttled) beside 'ok' and 'failed'.
ALTER TABLE audit_log ADD COLUMN client TEXT;
CREATE INDEX audit_log_username ON audit_log (username);
CREATE INDEX audit_log_action ON audit_log (action);
