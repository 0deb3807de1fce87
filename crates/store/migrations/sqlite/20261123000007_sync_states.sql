-- The kept Automerge sync state per (peer, document) (DESIGN §5.6): written when a delta could not
-- apply and the document fell back to Automerge's sync protocol, so the next fallback for the same
-- document on the same link starts from what both sides were last known to share instead of a
-- Bloom filter of the whole history. `state` is `automerge::sync::State::encode()`.
CREATE TABLE sync_states (
    peer       TEXT NOT NULL,
    doc_id     TEXT NOT NULL,
    state      BLOB NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (peer, doc_id)
);
