-- Hospitations (job shadowing): offers, places with waiting list, announcements,
-- standing wishes, the guided offer dialog, feedback after the date and the ties that
-- feedback confirms (read by the network statistics).

-- One offer. Name, department and municipality are a snapshot of the host's profile at
-- the time of the offer. When the host asks to be forgotten, host, host_name, title and
-- description are wiped (title becomes ''), the row stays for the others' history.
CREATE TABLE hospitation_offers (
    id             TEXT PRIMARY KEY,              -- "H-7KQX"
    host           TEXT,                          -- Matrix ID; NULL once forgotten
    host_name      TEXT,
    department     TEXT,
    municipality   TEXT,
    title          TEXT NOT NULL,
    description    TEXT,
    start_date     TEXT NOT NULL,                 -- ISO dates, local time zone of the config
    end_date       TEXT NOT NULL,
    start_time     TEXT,                          -- "HH:MM" or NULL for all-day offers
    end_time       TEXT,
    capacity       INTEGER NOT NULL CHECK (capacity >= 1),
    status         TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'cancelled')),
    cancelled_by   TEXT CHECK (cancelled_by IN ('host', 'forgotten')),
    -- Bumped on every change of places or status; effect keys of edits and notices carry
    -- it, so each change is announced exactly once, also after a crash.
    version        INTEGER NOT NULL DEFAULT 0,
    wishes_checked INTEGER NOT NULL DEFAULT 0,    -- standing wishes compared (job)
    host_reminded  INTEGER NOT NULL DEFAULT 0,
    feedback_asked INTEGER NOT NULL DEFAULT 0,
    created_at     REAL NOT NULL,
    cancelled_at   REAL
);
CREATE INDEX hospitation_offers_host ON hospitation_offers (host);
CREATE INDEX hospitation_offers_upcoming ON hospitation_offers (status, end_date);

-- Places: confirmed participants and the waiting list, served in sign-up order (seq).
CREATE TABLE hospitation_seats (
    offer_id  TEXT NOT NULL REFERENCES hospitation_offers (id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL,
    state     TEXT NOT NULL CHECK (state IN ('confirmed', 'waiting')),
    seq       INTEGER NOT NULL,
    joined_at REAL NOT NULL,
    reminded  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (offer_id, user_id)
);
CREATE INDEX hospitation_seats_user ON hospitation_seats (user_id);

-- Where an offer was announced (the configured rooms may change later; edits follow the
-- rooms that really got the post). effect_key is the outbox key of the post.
CREATE TABLE hospitation_announcements (
    offer_id   TEXT NOT NULL REFERENCES hospitation_offers (id) ON DELETE CASCADE,
    room_id    TEXT NOT NULL,
    effect_key TEXT NOT NULL,
    PRIMARY KEY (offer_id, room_id)
);

-- Standing wishes: "tell me when someone offers something in this area".
CREATE TABLE hospitation_wishes (
    id         INTEGER PRIMARY KEY,
    user_id    TEXT NOT NULL,
    area       TEXT NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (user_id, area)
);

-- The guided `!hospitation anbieten` dialog in a DM, one per person.
CREATE TABLE hospitation_dialogs (
    user_id    TEXT PRIMARY KEY,
    step       TEXT NOT NULL CHECK (step IN ('title', 'date', 'places', 'description')),
    title      TEXT,
    when_text  TEXT,
    places     TEXT,
    updated_at REAL NOT NULL
);

-- "Did the hospitation take place?" after the date: asked of the host and every
-- confirmed participant. took_place NULL = asked, not (or no longer) answered.
CREATE TABLE hospitation_feedback (
    offer_id    TEXT NOT NULL REFERENCES hospitation_offers (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('host', 'participant')),
    took_place  INTEGER CHECK (took_place IN (0, 1)),
    asked_at    REAL NOT NULL,
    answered_at REAL,
    PRIMARY KEY (offer_id, user_id)
);
CREATE INDEX hospitation_feedback_user ON hospitation_feedback (user_id);

-- Completed hospitations as ties of the network, for the statistics: one row per
-- (offer, participant) whose hospitation took place (at least one 👍 of host or
-- participant and no 👎 of either). Departments and municipalities are snapshots at
-- the time of the tie. A forgotten person's ID becomes NULL; the tie stays counted.
CREATE TABLE hospitation_ties (
    id                       INTEGER PRIMARY KEY,
    offer_id                 TEXT NOT NULL,
    host                     TEXT,
    participant              TEXT,
    happened_on              TEXT NOT NULL,       -- ISO start date of the offer
    host_department          TEXT,
    host_municipality        TEXT,
    participant_department   TEXT,
    participant_municipality TEXT,
    recorded_at              REAL NOT NULL,
    UNIQUE (offer_id, participant)
);
CREATE INDEX hospitation_ties_host ON hospitation_ties (host);
CREATE INDEX hospitation_ties_participant ON hospitation_ties (participant);
