-- A change in flight names its host call (op_id) and carries what it asks
-- of the host (intent), so that a change whose outcome its engine could not
-- learn (unknown) is settled from what the host has: recorded if applied,
-- rolled back if not.
ALTER TABLE pending_changes ADD COLUMN op_id TEXT NOT NULL DEFAULT '';
ALTER TABLE pending_changes ADD COLUMN intent TEXT NOT NULL DEFAULT '';
ALTER TABLE pending_changes ADD COLUMN unknown BOOLEAN NOT NULL DEFAULT FALSE;
