-- safemesh store, format version 1.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

-- One row per Automerge document. `snapshot` is a compacted save; `doc_changes` holds the
-- incremental chunks written since. `seq` is the node-wide sequence number of the last write.
CREATE TABLE documents (
    id         TEXT PRIMARY KEY NOT NULL,
    kind       TEXT NOT NULL,
    owner      TEXT NOT NULL,
    heads      TEXT NOT NULL,
    snapshot   BYTEA NOT NULL,
    seq        BIGINT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX documents_seq ON documents (seq);

CREATE TABLE doc_changes (
    doc_id TEXT NOT NULL,
    seq    BIGINT NOT NULL,
    data   BYTEA NOT NULL
);
CREATE INDEX doc_changes_doc ON doc_changes (doc_id, seq);

-- Who holds a document: an office, or an office and its whole subtree.
CREATE TABLE doc_audience (
    doc_id  TEXT NOT NULL,
    code    TEXT NOT NULL,
    subtree BIGINT NOT NULL,
    PRIMARY KEY (doc_id, code, subtree)
);
CREATE INDEX doc_audience_code ON doc_audience (code);

-- Per-link state. recv_cursor: the peer's seq this node has durably received up to (sent in hello).
-- acked_cursor: this node's seq the peer has acknowledged.
CREATE TABLE links (
    peer         TEXT PRIMARY KEY NOT NULL,
    peer_install TEXT,
    recv_cursor  BIGINT NOT NULL DEFAULT 0,
    acked_cursor BIGINT NOT NULL DEFAULT 0,
    last_sync_at TEXT,
    bytes_in     BIGINT NOT NULL DEFAULT 0,
    bytes_out    BIGINT NOT NULL DEFAULT 0,
    last_error   TEXT
);

-- The heads each peer is known to hold, per document.
CREATE TABLE peer_heads (
    peer   TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    heads  TEXT NOT NULL,
    PRIMARY KEY (peer, doc_id)
);

-- Query projections, written in the same transaction as their document.
CREATE TABLE hazards (
    id          TEXT PRIMARY KEY NOT NULL,
    owner       TEXT NOT NULL,
    title       TEXT NOT NULL,
    sector      TEXT NOT NULL,
    grade       TEXT NOT NULL,
    channel     TEXT NOT NULL,
    status      TEXT NOT NULL,
    deadline    TEXT NOT NULL,
    supervising TEXT,
    created     TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX hazards_owner ON hazards (owner);

CREATE TABLE directives (
    id         TEXT PRIMARY KEY NOT NULL,
    issuer     TEXT NOT NULL,
    title      TEXT NOT NULL,
    deadline   TEXT NOT NULL,
    created    TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    body       TEXT NOT NULL
);

CREATE TABLE directive_targets (
    directive_id TEXT NOT NULL,
    target       TEXT NOT NULL,
    received     BIGINT NOT NULL,
    completed    BIGINT NOT NULL,
    percent      BIGINT,
    PRIMARY KEY (directive_id, target)
);

-- Summaries are single-writer snapshots: the latest per office, and one per office and period.
CREATE TABLE summaries (
    owner       TEXT PRIMARY KEY NOT NULL,
    version     BIGINT NOT NULL,
    period      TEXT NOT NULL,
    as_of       TEXT NOT NULL,
    body        TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX summaries_seq ON summaries (seq);

CREATE TABLE summary_history (
    owner   TEXT NOT NULL,
    period  TEXT NOT NULL,
    version BIGINT NOT NULL,
    as_of   TEXT NOT NULL,
    body    TEXT NOT NULL,
    PRIMARY KEY (owner, period)
);
