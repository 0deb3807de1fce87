-- Directive fields (任务): 文号, category, cascade notices, forwarding links, and per-unit state.
-- `overdue_after` is the day after which a target is overdue (the earlier of its next deadline day and
-- its next report day; NULL when done or nothing is due), so "overdue today" is a comparison in SQL.
ALTER TABLE directives ADD COLUMN doc_number TEXT NOT NULL DEFAULT '';
ALTER TABLE directives ADD COLUMN category TEXT NOT NULL DEFAULT '';
ALTER TABLE directives ADD COLUMN is_cascade BIGINT NOT NULL DEFAULT 0;
ALTER TABLE directives ADD COLUMN parent_directive TEXT;
ALTER TABLE directives ADD COLUMN deadline_kind TEXT NOT NULL DEFAULT 'date';
CREATE INDEX directives_parent ON directives (parent_directive);
CREATE INDEX directives_issuer ON directives (issuer);

-- A target is a node (its code) or a named department (its name), each with its role.
ALTER TABLE directive_targets ADD COLUMN kind TEXT NOT NULL DEFAULT 'node';
ALTER TABLE directive_targets ADD COLUMN role TEXT NOT NULL DEFAULT 'responsible';
ALTER TABLE directive_targets ADD COLUMN received_at TEXT;
ALTER TABLE directive_targets ADD COLUMN overdue_after TEXT;
ALTER TABLE directive_targets ADD COLUMN next_report_due TEXT;

-- Directives projected before this version have a date deadline and no cadence.
UPDATE directive_targets SET overdue_after = (
    SELECT d.deadline FROM directives d WHERE d.id = directive_targets.directive_id
) WHERE completed = 0;
UPDATE directive_targets SET next_report_due = overdue_after;
