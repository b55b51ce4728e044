-- Kaffeeküche: conversation prompts in shared rooms, staff suggestions, spontaneous
-- coffee breaks (`!kaffeepause`) and the ties they create.

-- One row per room that got a prompt: which rotation cycle runs there and the
-- schedule slot (epoch seconds) served last, so a slot is never served twice.
CREATE TABLE kitchen_rooms (
    room_id   TEXT PRIMARY KEY,
    cycle     INTEGER NOT NULL DEFAULT 0,
    last_slot REAL
);

-- Every prompt posted in a room, per cycle: no prompt repeats in a room before every
-- prompt of the rotation was posted there once (then the cycle number goes up).
-- prompt_id: 'b:<n>' shipped catalogue, 'c:<hash>' config, 's:<id>' accepted suggestion.
CREATE TABLE kitchen_posted (
    room_id    TEXT NOT NULL,
    cycle      INTEGER NOT NULL,
    prompt_id  TEXT NOT NULL,
    slot       REAL NOT NULL,
    effect_key TEXT NOT NULL,
    posted_at  REAL NOT NULL,
    PRIMARY KEY (room_id, cycle, prompt_id)
);
CREATE INDEX kitchen_posted_prompt ON kitchen_posted (room_id, prompt_id);

-- Prompts suggested by staff (`!frage vorschlagen`), decided by admins.
-- suggested_by / decided_by become NULL when that person asks to be forgotten; only
-- accepted texts survive that (anonymous, they are part of the rotation).
CREATE TABLE kitchen_suggestions (
    id           INTEGER PRIMARY KEY,
    text         TEXT NOT NULL,
    suggested_by TEXT,
    status       TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'accepted', 'rejected')),
    created_at   REAL NOT NULL,
    decided_at   REAL,
    decided_by   TEXT
);
CREATE INDEX kitchen_suggestions_status ON kitchen_suggestions (status, id);
CREATE INDEX kitchen_suggestions_by ON kitchen_suggestions (suggested_by);

-- `!kaffeepause`: "I have time now" until expires_at.
-- status: open | matched | expired | cancelled. At most one open offer per person.
CREATE TABLE coffee_break_offers (
    id         INTEGER PRIMARY KEY,
    user_id    TEXT NOT NULL,
    minutes    INTEGER NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    status     TEXT NOT NULL DEFAULT 'open'
               CHECK (status IN ('open', 'matched', 'expired', 'cancelled')),
    break_id   INTEGER
);
CREATE INDEX coffee_break_offers_due ON coffee_break_offers (status, expires_at);
CREATE UNIQUE INDEX coffee_break_offers_one_open ON coffee_break_offers (user_id)
    WHERE status = 'open';

-- A spontaneous coffee break of two people in a room of their own (purpose room
-- 'coffeebreak:<id>'). user_a/user_b become NULL when that person is forgotten.
-- answer_a/answer_b: 'yes' | 'no' | NULL, the answers to "Haben Sie gesprochen?".
CREATE TABLE coffee_breaks (
    id            INTEGER PRIMARY KEY,
    user_a        TEXT,
    user_b        TEXT,
    minutes       INTEGER NOT NULL,
    created_at    REAL NOT NULL,
    followup_at   REAL NOT NULL,
    followup_sent INTEGER NOT NULL DEFAULT 0,
    answer_a      TEXT CHECK (answer_a IN ('yes', 'no')),
    answer_b      TEXT CHECK (answer_b IN ('yes', 'no'))
);
CREATE INDEX coffee_breaks_followup ON coffee_breaks (followup_sent, followup_at);
CREATE INDEX coffee_breaks_a ON coffee_breaks (user_a, created_at);
CREATE INDEX coffee_breaks_b ON coffee_breaks (user_b, created_at);

-- Ties from spontaneous coffee breaks: both people confirmed that they talked.
-- For the network statistics: departments and municipalities are a snapshot from the
-- profiles at confirmation (NULL without profile); user ids become NULL on `!vergessen`.
CREATE TABLE coffee_break_ties (
    break_id       INTEGER PRIMARY KEY REFERENCES coffee_breaks (id) ON DELETE CASCADE,
    user_a         TEXT,
    user_b         TEXT,
    department_a   TEXT,
    department_b   TEXT,
    municipality_a TEXT,
    municipality_b TEXT,
    confirmed_at   REAL NOT NULL
);
