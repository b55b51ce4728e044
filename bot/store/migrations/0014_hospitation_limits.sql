-- Hospitation limits against floods (review finding S-11).

-- How often a person signed up for an offer, counting sign-ups again after cancelling:
-- capped per offer (`hospitation.joins_per_offer_max`). Cancelling is always possible.
CREATE TABLE hospitation_joins (
    offer_id TEXT NOT NULL REFERENCES hospitation_offers (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL,
    joins    INTEGER NOT NULL,
    PRIMARY KEY (offer_id, user_id)
);
CREATE INDEX hospitation_joins_user ON hospitation_joins (user_id);

-- What the host hears of sign-ups and cancellations: a token bucket per offer (tokens as
-- of updated_at, `hospitation.notify_burst` at most, one back every `notify_window_s`).
-- A change told at once takes a token; without one it is only counted here, and the
-- counted changes go out as one digest (and one edit of the announcements) as soon as a
-- token is back. Counts only, no names: nothing here is about a person.
CREATE TABLE hospitation_notices (
    offer_id   TEXT PRIMARY KEY REFERENCES hospitation_offers (id) ON DELETE CASCADE,
    tokens     REAL NOT NULL,
    updated_at REAL NOT NULL,
    joined     INTEGER NOT NULL DEFAULT 0,
    left_      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX hospitation_notices_pending ON hospitation_notices (offer_id)
    WHERE joined + left_ > 0;
