-- PostgreSQL twin of 0011_pending_decryptions.sql. Differs in types only: REAL -> DOUBLE
-- PRECISION.
CREATE TABLE pending_decryptions (
    event_id   TEXT PRIMARY KEY,
    room_id    TEXT NOT NULL,
    sender     TEXT NOT NULL,
    session_id TEXT NOT NULL,
    deadline   DOUBLE PRECISION NOT NULL,
    event      TEXT NOT NULL
);
CREATE INDEX pending_decryptions_sender ON pending_decryptions (sender);
