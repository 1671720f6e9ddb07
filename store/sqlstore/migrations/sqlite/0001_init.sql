-- vwire schema, version 1 (SQLite).
-- Times are Unix milliseconds (INTEGER) so that both dialects agree.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE mac_pools (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    description      TEXT NOT NULL DEFAULT '',
    allow_duplicates BOOLEAN NOT NULL DEFAULT FALSE,
    default_pool     BOOLEAN NOT NULL DEFAULT FALSE,
    ranges           TEXT NOT NULL,
    -- where the next allocation starts looking, so allocation stays O(1) on average
    next_mac         BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE data_centers (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    local       BOOLEAN NOT NULL DEFAULT FALSE,
    version     TEXT NOT NULL,
    mac_pool_id TEXT NOT NULL REFERENCES mac_pools(id)
);

CREATE TABLE clusters (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    description    TEXT NOT NULL DEFAULT '',
    data_center_id TEXT NOT NULL REFERENCES data_centers(id),
    version        TEXT NOT NULL,
    mac_pool_id    TEXT NOT NULL REFERENCES mac_pools(id)
);

CREATE TABLE networks (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    data_center_id TEXT NOT NULL REFERENCES data_centers(id),
    vlan           INTEGER,
    vm_network     BOOLEAN NOT NULL DEFAULT TRUE,
    mtu            INTEGER NOT NULL DEFAULT 0,
    UNIQUE (data_center_id, name)
);

CREATE TABLE cluster_networks (
    cluster_id TEXT NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
    network_id TEXT NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
    required   BOOLEAN NOT NULL DEFAULT TRUE,
    PRIMARY KEY (cluster_id, network_id)
);
CREATE INDEX cluster_networks_network ON cluster_networks(network_id);

CREATE TABLE vnic_profiles (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    network_id     TEXT NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
    port_mirroring BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (network_id, name)
);

CREATE TABLE hosts (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    cluster_id      TEXT NOT NULL REFERENCES clusters(id),
    address         TEXT NOT NULL,
    port            INTEGER NOT NULL,
    status          TEXT NOT NULL,
    status_detail   TEXT NOT NULL DEFAULT '',
    networks        TEXT NOT NULL DEFAULT '',
    cluster_levels  TEXT NOT NULL DEFAULT '',
    libvirt_version TEXT NOT NULL DEFAULT '',
    embedded        BOOLEAN NOT NULL DEFAULT FALSE,
    last_seen       BIGINT NOT NULL DEFAULT 0,
    UNIQUE (address, port)
);

CREATE TABLE templates (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    cluster_id  TEXT REFERENCES clusters(id),
    memory      BIGINT NOT NULL,
    os_type     TEXT NOT NULL DEFAULT 'other',
    created_at  BIGINT NOT NULL
);

CREATE TABLE vms (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    description     TEXT NOT NULL DEFAULT '',
    cluster_id      TEXT NOT NULL REFERENCES clusters(id),
    template_id     TEXT NOT NULL,
    status          TEXT NOT NULL,
    host_id         TEXT REFERENCES hosts(id),
    placement_hosts TEXT NOT NULL DEFAULT '',
    memory          BIGINT NOT NULL,
    os_type         TEXT NOT NULL DEFAULT 'other',
    kernel          TEXT NOT NULL DEFAULT '',
    initrd          TEXT NOT NULL DEFAULT '',
    cmdline         TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    start_time      BIGINT NOT NULL DEFAULT 0,
    stop_time       BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX vms_host ON vms(host_id);

CREATE TABLE nics (
    id              TEXT PRIMARY KEY,
    vm_id           TEXT NOT NULL REFERENCES vms(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    mac             TEXT NOT NULL,
    interface       TEXT NOT NULL,
    vnic_profile_id TEXT REFERENCES vnic_profiles(id) ON DELETE SET NULL,
    linked          BOOLEAN NOT NULL DEFAULT TRUE,
    plugged         BOOLEAN NOT NULL DEFAULT TRUE,
    synced          BOOLEAN NOT NULL DEFAULT TRUE,
    -- observed state, as the host last reported it; obs_at = 0: never reported
    obs_present     BOOLEAN NOT NULL DEFAULT FALSE,
    obs_alias       TEXT NOT NULL DEFAULT '',
    obs_pci         TEXT NOT NULL DEFAULT '',
    obs_bridge      TEXT NOT NULL DEFAULT '',
    obs_mac         TEXT NOT NULL DEFAULT '',
    obs_model       TEXT NOT NULL DEFAULT '',
    obs_link        BOOLEAN NOT NULL DEFAULT FALSE,
    obs_at          BIGINT NOT NULL DEFAULT 0,
    UNIQUE (vm_id, name)
);
CREATE INDEX nics_profile ON nics(vnic_profile_id);

-- A MAC held by a vNIC. dup_key is '' in pools without duplicates, so the
-- primary key forbids a second holder; pools that allow duplicates use the
-- vNIC id instead.
CREATE TABLE mac_leases (
    pool_id TEXT NOT NULL REFERENCES mac_pools(id),
    mac     BIGINT NOT NULL,
    dup_key TEXT NOT NULL,
    nic_id  TEXT NOT NULL,
    PRIMARY KEY (pool_id, mac, dup_key)
);
CREATE INDEX mac_leases_nic ON mac_leases(nic_id);

CREATE TABLE events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    code           INTEGER NOT NULL,
    severity       TEXT NOT NULL,
    description    TEXT NOT NULL,
    time           BIGINT NOT NULL,
    user_name      TEXT NOT NULL DEFAULT '',
    vm_id          TEXT NOT NULL DEFAULT '',
    host_id        TEXT NOT NULL DEFAULT '',
    cluster_id     TEXT NOT NULL DEFAULT '',
    data_center_id TEXT NOT NULL DEFAULT '',
    template_id    TEXT NOT NULL DEFAULT '',
    correlation_id TEXT NOT NULL DEFAULT ''
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    domain        TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    UNIQUE (name, domain)
);

CREATE TABLE sso_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires    BIGINT NOT NULL
);
