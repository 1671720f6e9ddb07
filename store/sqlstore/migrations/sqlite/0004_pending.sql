-- A host change in flight: written before the host call and removed with
-- the commit that records its outcome. One that outlives its engine (whose
-- heartbeat stopped) is repaired by the poller of the VM's host.
CREATE TABLE pending_changes (
    vm_id     TEXT PRIMARY KEY REFERENCES vms(id) ON DELETE CASCADE,
    engine_id TEXT NOT NULL,
    nic_id    TEXT NOT NULL DEFAULT '',
    started   BIGINT NOT NULL
);
CREATE TABLE engines (
    id        TEXT PRIMARY KEY,
    heartbeat BIGINT NOT NULL
);
