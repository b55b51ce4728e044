-- Outbox item IDs are never used twice (AUTOINCREMENT). The sender records a delivery by
-- ID a moment after the send (deliveries are written in batches), and `!vergessen` may
-- delete the item meanwhile: a plain INTEGER PRIMARY KEY gave the next item (the goodbye)
-- the deleted item's ID, and the late record made it look delivered.
CREATE TABLE outbox_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
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
    sent_at         REAL,
    priority        INTEGER NOT NULL DEFAULT 2
);
INSERT INTO outbox_new (
    id, key, action, target_kind, target, payload, subject_user, status, attempts,
    next_attempt_at, last_error, event_id, room_id, created_at, sent_at, priority
)
SELECT
    id, key, action, target_kind, target, payload, subject_user, status, attempts,
    next_attempt_at, last_error, event_id, room_id, created_at, sent_at, priority
FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at, id);
CREATE INDEX outbox_subject ON outbox (subject_user);
CREATE INDEX outbox_heads ON outbox (status, target_kind, target, id);
