-- How a guest learns that its vNIC moved to a profile's network.
ALTER TABLE vnic_profiles ADD COLUMN guest_notification TEXT NOT NULL DEFAULT 'none';
ALTER TABLE vnic_profiles ADD COLUMN link_bounce_hold_ms INTEGER NOT NULL DEFAULT 1000;
