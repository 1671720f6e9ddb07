-- Several engines on one database.
-- generation counts changes of a VM's devices, so that a poll answer older
-- than a change made by any engine is not taken for the truth.
ALTER TABLE vms ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
-- host_leases: the engine that polls a host, until the lease expires.
CREATE TABLE host_leases (
    host_id TEXT PRIMARY KEY REFERENCES hosts(id) ON DELETE CASCADE,
    owner   TEXT NOT NULL,
    expires BIGINT NOT NULL
);
