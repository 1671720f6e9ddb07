-- Network QoS entities of a data center (oVirt's qos of type network) and
-- the vNIC profile's QoS and pass-through mode. A direction's three values
-- are all NULL (no limit) or all set; the engine enforces it, as oVirt does.
-- Deleting a QoS clears it from the profiles that name it (oVirt does the
-- same), and a data center takes its QoS entities with it.
CREATE TABLE network_qos (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    data_center_id   TEXT NOT NULL REFERENCES data_centers(id) ON DELETE CASCADE,
    type             TEXT NOT NULL DEFAULT 'network',
    inbound_average  INTEGER,
    inbound_peak     INTEGER,
    inbound_burst    INTEGER,
    outbound_average INTEGER,
    outbound_peak    INTEGER,
    outbound_burst   INTEGER,
    UNIQUE (data_center_id, name)
);
ALTER TABLE vnic_profiles ADD COLUMN qos_id TEXT REFERENCES network_qos(id) ON DELETE SET NULL;
ALTER TABLE vnic_profiles ADD COLUMN pass_through BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX vnic_profiles_qos ON vnic_profiles (qos_id);
