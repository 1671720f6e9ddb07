-- Host networking (issue 16): a network's overlay segment (vwire's VXLAN
-- extension, 0 none); what each host last reported of its NICs and the
-- networks realised on it (JSON lists of vwire.HostNICReport and
-- vwire.HostNetworkReport, written only when they change); and oVirt's
-- network attachments, one per host and network.
ALTER TABLE networks ADD COLUMN vxlan INTEGER NOT NULL DEFAULT 0;

CREATE TABLE host_reports (
    host_id  TEXT PRIMARY KEY REFERENCES hosts(id) ON DELETE CASCADE,
    nics     TEXT NOT NULL DEFAULT '',
    networks TEXT NOT NULL DEFAULT '',
    no_vlan  TEXT NOT NULL DEFAULT ''
);

CREATE TABLE network_attachments (
    id         TEXT PRIMARY KEY,
    host_id    TEXT NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
    network_id TEXT NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
    nic        TEXT NOT NULL,
    UNIQUE (host_id, network_id)
);
CREATE INDEX network_attachments_network ON network_attachments(network_id);
