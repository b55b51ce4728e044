-- PostgreSQL twin of 0014_hospitation_limits.sql. Differs in types only: INTEGER -> BIGINT,
-- REAL -> DOUBLE PRECISION.
CREATE TABLE hospitation_joins (
    offer_id TEXT NOT NULL REFERENCES hospitation_offers (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL,
    joins    BIGINT NOT NULL,
    PRIMARY KEY (offer_id, user_id)
);
CREATE INDEX hospitation_joins_user ON hospitation_joins (user_id);

CREATE TABLE hospitation_notices (
    offer_id   TEXT PRIMARY KEY REFERENCES hospitation_offers (id) ON DELETE CASCADE,
    tokens     DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    joined     BIGINT NOT NULL DEFAULT 0,
    left_      BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX hospitation_notices_pending ON hospitation_notices (offer_id)
    WHERE joined + left_ > 0;
