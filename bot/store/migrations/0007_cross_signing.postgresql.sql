-- PostgreSQL twin of 0007_cross_signing.sql. Differs in types only: BLOB -> BYTEA,
-- REAL -> DOUBLE PRECISION.
CREATE TABLE cross_signing_keys (
    user_id           TEXT PRIMARY KEY,
    master_public     TEXT NOT NULL,
    kdf_salt          BYTEA NOT NULL,
    nonce             BYTEA NOT NULL,
    ciphertext        BYTEA NOT NULL,
    created_at        DOUBLE PRECISION NOT NULL,
    uploaded_at       DOUBLE PRECISION,
    recovery_shown_at DOUBLE PRECISION
);
