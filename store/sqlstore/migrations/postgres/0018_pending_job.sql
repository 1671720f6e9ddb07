-- A change in flight names its job in a column of its own, so that the
-- commit that records the outcome ends the job and removes the change
-- without reading the change and decoding its intent first.
ALTER TABLE pending_changes ADD COLUMN job_id TEXT NOT NULL DEFAULT '';
UPDATE pending_changes SET job_id = COALESCE(intent::jsonb ->> 'job', '') WHERE intent <> '';
