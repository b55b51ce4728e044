-- Colleague search: `!profil auffindbar`, `!suche`, `!vorstellen` (docs/search.md).
-- Times are Unix epoch seconds (UTC).

-- Whether others may find the person with `!suche`. Off until the person says yes.
ALTER TABLE profiles ADD COLUMN findable INTEGER NOT NULL DEFAULT 0;
CREATE INDEX profiles_findable ON profiles (findable, confirmed);

-- One row per `!suche`. The job encodes the text outside any transaction, stores the
-- results and sets `done_at` in the transaction that queues the answer. Rows and their
-- results are deleted a day after the search; the last hour's rows are the rate limit.
-- AUTOINCREMENT: an ID is never reused, so an effect key `search:<id>:…` is never either.
CREATE TABLE colleague_searches (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    TEXT NOT NULL,
    query      TEXT NOT NULL,
    created_at REAL NOT NULL,
    done_at    REAL,
    -- How the results were found: 'meaning' (embedding vectors) or 'words' (fallback).
    method     TEXT CHECK (method IN ('meaning', 'words')),
    -- How many results were shown (some may be gone since: no longer findable).
    shown      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX colleague_searches_user ON colleague_searches (user_id, created_at);
CREATE INDEX colleague_searches_pending ON colleague_searches (done_at, id);

-- The numbered list shown for a search (what `!vorstellen <Nr>` refers to).
CREATE TABLE colleague_search_results (
    search_id INTEGER NOT NULL REFERENCES colleague_searches (id) ON DELETE CASCADE,
    rank      INTEGER NOT NULL,
    user_id   TEXT NOT NULL,    -- the colleague found
    phrase    TEXT NOT NULL,    -- their task phrase closest to the search
    score     REAL NOT NULL,
    PRIMARY KEY (search_id, rank)
);
CREATE INDEX colleague_search_results_user ON colleague_search_results (user_id);

-- Introduction requests: 'asked' until the other person answers (👍 'accepted', 👎
-- 'declined'), nobody answers in time ('expired'), or they leave ('withdrawn'). The texts are
-- dropped once settled; the rows stay 90 days, so nobody is asked twice by the same person.
CREATE TABLE introductions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    requester   TEXT,           -- NULL: a former person
    target      TEXT,           -- NULL: a former person
    query       TEXT,           -- the requester's search text
    phrase      TEXT,           -- the target's task phrase that fitted it
    state       TEXT NOT NULL DEFAULT 'asked'
                CHECK (state IN ('asked', 'accepted', 'declined', 'expired', 'withdrawn')),
    created_at  REAL NOT NULL,
    expires_at  REAL NOT NULL,
    answered_at REAL
);
CREATE INDEX introductions_requester ON introductions (requester, created_at);
CREATE INDEX introductions_target ON introductions (target, state);
CREATE INDEX introductions_due ON introductions (state, expires_at);
