-- Coffee matches (Kaffeerunde) and topic circles (Themenrunden): rounds, groups, members
-- and the "did you meet?" answers. Times are Unix epoch seconds (UTC).

-- One row per round that ran. `key` makes a round run at most once: 'coffee:2026-W48',
-- 'circle:2026-12' (an extra admin round gets a suffix, 'coffee:2026-W48+1').
-- `seq` orders the rounds of one kind (history: "met n rounds ago").
CREATE TABLE coffee_rounds (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('coffee', 'circle')),
    key        TEXT NOT NULL UNIQUE,
    seq        INTEGER NOT NULL,
    trigger    TEXT NOT NULL CHECK (trigger IN ('schedule', 'admin')),
    started_at REAL NOT NULL,
    -- Aggregates only: how many people took part, groups, and people left without a group.
    people     INTEGER NOT NULL,
    groups     INTEGER NOT NULL,
    unmatched  INTEGER NOT NULL,
    -- How many were asked whether to pause (after unanswered introductions).
    pause_questions INTEGER NOT NULL DEFAULT 0,
    UNIQUE (kind, seq)
);

-- One row per pair, trio or circle. `room_key` names the purpose room (purpose_rooms.key);
-- `intro_key` and `followup_key` are the outbox keys of the introduction and of the
-- "did you meet?" question (reactions on it are the answers).
-- For the network statistics: a group is a tie between its members; `met` on the members
-- says who confirmed a meeting.
CREATE TABLE coffee_groups (
    id               INTEGER PRIMARY KEY,
    round_id         INTEGER NOT NULL REFERENCES coffee_rounds (id) ON DELETE CASCADE,
    idx              INTEGER NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('pair', 'trio', 'circle')),
    topic            TEXT,
    weight           REAL,
    similarity       REAL,
    -- JSON list of what the members share (topics, then task words), shown in the intro.
    shared           TEXT NOT NULL DEFAULT '[]',
    room_key         TEXT NOT NULL UNIQUE,
    intro_key        TEXT NOT NULL UNIQUE,
    followup_key     TEXT NOT NULL UNIQUE,
    -- Set once room and introduction are in the outbox (queued in chunks after the round
    -- is stored; a restart finishes what is still NULL).
    intro_queued_at  REAL,
    followup_due_at  REAL NOT NULL,
    followup_sent_at REAL,
    created_at       REAL NOT NULL,
    UNIQUE (round_id, idx)
);
CREATE INDEX coffee_groups_followup ON coffee_groups (followup_sent_at, followup_due_at);
CREATE INDEX coffee_groups_unqueued ON coffee_groups (intro_queued_at, round_id);

-- Members of a group. `person` is the Matrix ID; after !vergessen it becomes a neutral
-- placeholder ('~forgotten:<random>', the same one for all of that person's rows), so the
-- history of the others stays whole. Department and municipality as they were at the time.
-- `met`: NULL no answer, 1 yes, 0 no.
CREATE TABLE coffee_members (
    group_id     INTEGER NOT NULL REFERENCES coffee_groups (id) ON DELETE CASCADE,
    person       TEXT NOT NULL,
    department   TEXT NOT NULL DEFAULT '',
    municipality TEXT NOT NULL DEFAULT '',
    met          INTEGER CHECK (met IN (0, 1)),
    answer_emoji TEXT,
    answered_at  REAL,
    PRIMARY KEY (group_id, person)
);
CREATE INDEX coffee_members_person ON coffee_members (person, group_id);

-- "You did not answer the last introductions - pause?" was asked after this group.
CREATE TABLE coffee_pause_questions (
    person         TEXT PRIMARY KEY,
    after_group_id INTEGER NOT NULL,
    asked_at       REAL NOT NULL
);

-- `!admin runde` / `!admin themenrunde` (also `probe`): stored with the command, carried
-- out by the round job. `round_key` is fixed before the round runs, so a restart finishes
-- that round instead of starting an extra one. The answer goes to `reply_room`, or to the
-- requester's DM when NULL.
CREATE TABLE coffee_requests (
    id           INTEGER PRIMARY KEY,
    event_id     TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL CHECK (kind IN ('coffee', 'circle')),
    mode         TEXT NOT NULL CHECK (mode IN ('run', 'preview')),
    requested_by TEXT NOT NULL,
    reply_room   TEXT,
    round_key    TEXT,
    created_at   REAL NOT NULL,
    done_at      REAL
);
CREATE INDEX coffee_requests_open ON coffee_requests (done_at, kind);
