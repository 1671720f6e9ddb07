-- Jobs of long operations (oVirt's /jobs) and their steps.
CREATE TABLE jobs (
    id             TEXT PRIMARY KEY,
    description    TEXT NOT NULL,
    status         TEXT NOT NULL,
    correlation_id TEXT NOT NULL DEFAULT '',
    owner_id       TEXT NOT NULL DEFAULT '',
    owner_name     TEXT NOT NULL DEFAULT '',
    start_time     BIGINT NOT NULL,
    end_time       BIGINT NOT NULL DEFAULT 0,
    last_updated   BIGINT NOT NULL
);
CREATE INDEX jobs_correlation ON jobs (correlation_id);
CREATE INDEX jobs_end ON jobs (status, end_time);
CREATE TABLE job_steps (
    id          TEXT PRIMARY KEY,
    job_id      TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    number      INTEGER NOT NULL,
    type        TEXT NOT NULL,
    description TEXT NOT NULL,
    status      TEXT NOT NULL,
    start_time  BIGINT NOT NULL,
    end_time    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX job_steps_job ON job_steps (job_id);
