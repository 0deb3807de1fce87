-- 审核 (issue 17): a unit's completion waits for the issuer's review (待审核) before it counts as 办结.
-- `completed` is now 办结 only (approved); `awaiting_review` marks a completion not yet reviewed. Rows
-- projected before this version are of directives issued before review, whose completions count as
-- 办结 as they did: they keep `completed` and wait for nothing.
ALTER TABLE directive_targets ADD COLUMN awaiting_review INTEGER NOT NULL DEFAULT 0;
