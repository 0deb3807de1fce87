-- 延期: how many extension requests of a hazard were approved, for the roll-up's count of extended
-- hazards. Rows projected before this version read 0 until their document next changes (no earlier
-- build could record an extension).
ALTER TABLE hazards ADD COLUMN extended INTEGER NOT NULL DEFAULT 0;
