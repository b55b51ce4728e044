-- Encrypted messages the bot is waiting for keys for (review finding S-10): kept in the
-- store so that a restart within the wait still answers them once the wait is over. A row
-- lives at most `bot.decrypt_wait_s` (plus downtime); `event` is the encrypted event as
-- received (ciphertext, no plain text). Deleted with the person (`!vergessen`, retention).
CREATE TABLE pending_decryptions (
    event_id   TEXT PRIMARY KEY,
    room_id    TEXT NOT NULL,
    sender     TEXT NOT NULL,
    session_id TEXT NOT NULL,
    deadline   REAL NOT NULL,
    event      TEXT NOT NULL
);
CREATE INDEX pending_decryptions_sender ON pending_decryptions (sender);
