-- Enterprises (企业), a projection of enterprise documents, keyed by unified social credit code.
CREATE TABLE enterprises (
    id          TEXT PRIMARY KEY NOT NULL,
    credit_code TEXT NOT NULL,
    owner       TEXT NOT NULL,
    name        TEXT NOT NULL,
    sector      TEXT NOT NULL,
    created     TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX enterprises_credit_code ON enterprises (credit_code);
