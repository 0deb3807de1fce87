-- 隐患所在: a hazard at a road, a self-built house, a public place… has no enterprise; the ledger filters
-- by what a hazard is at. Every hazard projected before this version is an enterprise's (no earlier
-- build could register another), so the default is its value.
ALTER TABLE hazards ADD COLUMN subject TEXT NOT NULL DEFAULT 'enterprise';
