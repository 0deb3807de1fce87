-- Accidents (事故), a projection of accident documents.
CREATE TABLE accidents (
    id               TEXT PRIMARY KEY NOT NULL,
    owner            TEXT NOT NULL,
    title            TEXT NOT NULL,
    occurred_at      TEXT NOT NULL,
    sector           TEXT NOT NULL,
    deaths           INTEGER NOT NULL,
    serious_injuries INTEGER NOT NULL,
    direct_loss_wan  DOUBLE PRECISION NOT NULL,
    grade            TEXT NOT NULL,
    created          TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    body             TEXT NOT NULL
);
CREATE INDEX accidents_owner ON accidents (owner, occurred_at);
