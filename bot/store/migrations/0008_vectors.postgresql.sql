-- PostgreSQL twin of 0008_vectors.sql. Differs in types only: BLOB -> BYTEA,
-- INTEGER -> BIGINT, REAL -> DOUBLE PRECISION.
CREATE TABLE text_vectors (
    kind       TEXT NOT NULL,
    owner      TEXT NOT NULL,
    user_id    TEXT,
    model      TEXT NOT NULL,
    text_hash  TEXT NOT NULL,
    phrases    BIGINT NOT NULL,
    vectors    BYTEA NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (kind, owner)
);
CREATE INDEX text_vectors_user ON text_vectors (user_id);
