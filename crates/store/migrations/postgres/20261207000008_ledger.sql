-- The ledger (隐患台账) as the web UI pages it: the enterprise's name to filter by, and indexes for the
-- orders it sorts by (newest first, deadline, found date). Rows projected before this version get the
-- name from their stored body.
ALTER TABLE hazards ADD COLUMN enterprise_name TEXT NOT NULL DEFAULT '';
UPDATE hazards SET enterprise_name = COALESCE((body::jsonb) -> 'enterprise' ->> 'name', '');
CREATE INDEX hazards_created ON hazards (created);
CREATE INDEX hazards_deadline ON hazards (deadline);
CREATE INDEX hazards_found_on ON hazards (found_on);
