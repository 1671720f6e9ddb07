-- What a host applied of a vNIC's profile (issue 15): port mirroring, the
-- limits (JSON of vwire.Bandwidth in oVirt's units, '' none), the nwfilter
-- and its parameters (JSON list, '' none), and the host's reason the
-- desired state could not be applied.
ALTER TABLE nics ADD COLUMN obs_mirroring BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE nics ADD COLUMN obs_qos TEXT NOT NULL DEFAULT '';
ALTER TABLE nics ADD COLUMN obs_filter TEXT NOT NULL DEFAULT '';
ALTER TABLE nics ADD COLUMN obs_filter_params TEXT NOT NULL DEFAULT '';
ALTER TABLE nics ADD COLUMN obs_error TEXT NOT NULL DEFAULT '';
