-- Foundation: bot state, event de-duplication, the outbox and known rooms.
CREATE TABLE bot_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Every timeline event we have handled, so a replayed sync never runs a command twice.
CREATE TABLE processed_events (
    event_id     TEXT PRIMARY KEY,
    processed_at REAL NOT NULL
);
CREATE INDEX processed_events_age ON processed_events (processed_at);

-- Every side effect towards Matrix, stored before it is attempted.
-- target_kind: 'room' (target = room id), 'dm' (target = user id), 'roomkey' (target = rooms.key)
-- action: 'message', 'edit', 'file', 'reaction', 'create_room', 'invite'
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    key             TEXT NOT NULL UNIQUE,
    action          TEXT NOT NULL,
    target_kind     TEXT NOT NULL,
    target          TEXT NOT NULL,
    payload         TEXT NOT NULL,
    subject_user    TEXT,
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    last_error      TEXT,
    event_id        TEXT,
    room_id         TEXT,
    created_at      REAL NOT NULL,
    sent_at         REAL
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at, id);
CREATE INDEX outbox_subject ON outbox (subject_user);

-- DM room per person: the one we use to talk to them.
CREATE TABLE dm_rooms (
    user_id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL
);

-- Rooms the bot creates for a purpose (a match, a circle, a crisis connection).
-- invitees: JSON list of the people invited at creation; nothing is sent into the room
-- before they show up in its member list, or their devices would miss the room key.
CREATE TABLE purpose_rooms (
    key        TEXT PRIMARY KEY,
    room_id    TEXT,
    invitees   TEXT NOT NULL DEFAULT '[]',
    created_at REAL NOT NULL
);

-- Reactions on our own messages (answers to follow-ups and requests), so that a
-- redaction can take the answer back.
CREATE TABLE reactions (
    event_id   TEXT PRIMARY KEY,
    sender     TEXT NOT NULL,
    target_key TEXT NOT NULL,
    emoji      TEXT NOT NULL
);
CREATE INDEX reactions_sender ON reactions (sender);

-- The UI language a person chose with !sprache (absent: the configured default).
CREATE TABLE language_choice (
    user_id  TEXT PRIMARY KEY,
    language TEXT NOT NULL CHECK (language IN ('de', 'en'))
);
