-- 功能区: the configured parent a summary's body names (`owner_parent`, a functional zone whose parent
-- is not its code's prefix parent), so an office finds its direct children's summaries — its prefix
-- children that name no other parent, and the zones that name it — in one query. Summaries stored
-- before this version name none (zones were not rolled up by their configured parent then).
ALTER TABLE summaries ADD COLUMN parent TEXT;
CREATE INDEX summaries_parent ON summaries (parent);
