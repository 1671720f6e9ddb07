-- host_enrolments: a host's one-time enrolment token, stored as its SHA-256
-- (hex) only, until it is used or expires; one per host (a new one
-- replaces it). Enrolled certificates are not stored: the CA signs them and
-- the engine checks the host id they name.
CREATE TABLE host_enrolments (
    host_id    TEXT PRIMARY KEY REFERENCES hosts(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    expires    BIGINT NOT NULL
);
