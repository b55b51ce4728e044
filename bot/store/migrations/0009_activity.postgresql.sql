-- PostgreSQL twin of 0009_activity.sql. Differs in types only: REAL -> DOUBLE PRECISION.
CREATE TABLE activity (
    user_id      TEXT PRIMARY KEY,
    last_seen_at DOUBLE PRECISION NOT NULL
);

INSERT INTO activity (user_id, last_seen_at)
SELECT user_id, last_seen_at FROM profiles WHERE last_seen_at IS NOT NULL;
