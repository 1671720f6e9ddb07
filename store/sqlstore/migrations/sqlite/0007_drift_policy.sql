-- What the poller does about drift, per cluster; and the unknown devices
-- of a running VM already reported, so that each is reported once.
ALTER TABLE clusters ADD COLUMN drift_policy TEXT NOT NULL DEFAULT 'report';
ALTER TABLE vms ADD COLUMN foreign_nics TEXT NOT NULL DEFAULT '';
