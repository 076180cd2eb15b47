-- Two-factor login (RFC 6238 TOTP) and single-use recovery codes.
ALTER TABLE users ADD COLUMN totp_secret TEXT;            -- base32; set at enrolment
ALTER TABLE users ADD COLUMN totp_enabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN totp_last_step INTEGER;      -- a code is accepted once
CREATE TABLE recovery_codes (
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT    NOT NULL,
    used_at   TEXT
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);
