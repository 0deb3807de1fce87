-- HTTP API tokens. `hash` is the SHA-256 (hex) of the secret; the secret itself is never stored.
-- `revoked` is the time of revocation; a revoked token is kept so the history of who held it stays.
CREATE TABLE tokens (
    id      TEXT PRIMARY KEY NOT NULL,
    name    TEXT NOT NULL,
    role    TEXT NOT NULL,
    hash    TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL,
    revoked TEXT
);
