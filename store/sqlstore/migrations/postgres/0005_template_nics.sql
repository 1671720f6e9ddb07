-- vNICs of templates: what VMs made from them get, without MACs.
CREATE TABLE template_nics (
    id              TEXT PRIMARY KEY,
    template_id     TEXT NOT NULL REFERENCES templates(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    interface       TEXT NOT NULL,
    vnic_profile_id TEXT REFERENCES vnic_profiles(id) ON DELETE SET NULL,
    linked          BOOLEAN NOT NULL DEFAULT TRUE,
    plugged         BOOLEAN NOT NULL DEFAULT TRUE,
    UNIQUE (template_id, name)
);
