-- Hazards (隐患): the registration facts and derived values the ledger filters and counts by.
-- `deadline` now holds the deadline in force (the latest plan's, else the registered one).
-- Rows projected before this version keep the defaults until their document next changes.
ALTER TABLE hazards ADD COLUMN number TEXT NOT NULL DEFAULT '';
ALTER TABLE hazards ADD COLUMN inspection_mode TEXT;
ALTER TABLE hazards ADD COLUMN found_by_level TEXT NOT NULL DEFAULT '';
ALTER TABLE hazards ADD COLUMN found_on TEXT NOT NULL DEFAULT '';
ALTER TABLE hazards ADD COLUMN stock TEXT NOT NULL DEFAULT 'new';
ALTER TABLE hazards ADD COLUMN location TEXT NOT NULL DEFAULT '';
ALTER TABLE hazards ADD COLUMN credit_code TEXT NOT NULL DEFAULT '';
ALTER TABLE hazards ADD COLUMN notified INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hazards ADD COLUMN plan_complete INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hazards ADD COLUMN funds_wan DOUBLE PRECISION NOT NULL DEFAULT 0;
-- 编号 is unique per owner: checked when registering (not a constraint, so a bad replica's record
-- can never block a link).
CREATE INDEX hazards_owner_number ON hazards (owner, number);
CREATE INDEX hazards_credit_code ON hazards (credit_code);
