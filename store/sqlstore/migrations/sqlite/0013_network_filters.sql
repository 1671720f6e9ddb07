-- A vNIC profile's network filter (a name of the catalogue, '' for none;
-- oVirt's default for every profile) and the parameters of each vNIC's filter.
ALTER TABLE vnic_profiles ADD COLUMN network_filter TEXT NOT NULL DEFAULT 'vdsm-no-mac-spoofing';
CREATE TABLE nic_filter_parameters (
    id     TEXT PRIMARY KEY,
    nic_id TEXT NOT NULL REFERENCES nics(id) ON DELETE CASCADE,
    name   TEXT NOT NULL,
    value  TEXT NOT NULL
);
CREATE INDEX nic_filter_parameters_nic ON nic_filter_parameters (nic_id);
