-- Issue 19 #4: per-child quotas. What a child's subtree holds at this node — the documents received
-- from it that were new here, and the bytes stored from it — counted in the same transaction as the
-- batch that stores them, so a quota is checked without scanning. Links that exist already start
-- from the documents their peer's subtree owns here (the owner's code begins with the peer's).
ALTER TABLE links ADD COLUMN held_docs BIGINT NOT NULL DEFAULT 0;
ALTER TABLE links ADD COLUMN held_bytes BIGINT NOT NULL DEFAULT 0;
UPDATE links SET
    held_docs = (SELECT COUNT(*) FROM documents d WHERE d.owner LIKE links.peer || '%'),
    held_bytes = (SELECT COALESCE(SUM(OCTET_LENGTH(snapshot)), 0) FROM documents d WHERE d.owner LIKE links.peer || '%')
        + (SELECT COALESCE(SUM(OCTET_LENGTH(c.data)), 0) FROM doc_changes c JOIN documents d ON d.id = c.doc_id
           WHERE d.owner LIKE links.peer || '%');
