-- Issue 16: 佐证材料 — evidence files as content-addressed blobs, apart from the documents.
-- A blob is one `blobs` row (its SHA-256 in hex, size, media type) and its bytes in `blob_chunks`,
-- in order by offset. `complete` is 0 while a blob is being received (its chunks so far are what a
-- cut transfer resumes from) and 1 once every byte is held and the SHA-256 verified: only then is it
-- usable. `created` dates it for the collector (an upload waits a while to be referenced).
CREATE TABLE blobs (
    sha256     TEXT PRIMARY KEY NOT NULL,
    size       INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    received   INTEGER NOT NULL,
    complete   INTEGER NOT NULL,
    created    TEXT NOT NULL
);

CREATE TABLE blob_chunks (
    sha256 TEXT NOT NULL,
    offset_at INTEGER NOT NULL,
    data   BLOB NOT NULL,
    PRIMARY KEY (sha256, offset_at)
);

-- What the documents reference: one row per (document, blob), written with the document's
-- projection. A document references a blob only by hash, size, media type and name.
CREATE TABLE blob_refs (
    doc_id     TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    size       INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    name       TEXT NOT NULL,
    PRIMARY KEY (doc_id, sha256)
);
CREATE INDEX blob_refs_sha256 ON blob_refs (sha256);
