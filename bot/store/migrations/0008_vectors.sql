-- Embedding vectors of texts people wrote (profile tasks and topics, bridge contacts,
-- hospitation offers and wishes), computed once when a text changes and reused by every
-- round, routing step and search. One row per text owner; `vectors` holds one float32 unit
-- vector per phrase, row-major. `text_hash` covers the model id, the prompt prefix and the
-- phrases, so an edited text or another model is encoded again. `user_id` is whose text it
-- is: `!vergessen` deletes the person's rows, `!meinedaten` counts them.
CREATE TABLE text_vectors (
    kind       TEXT NOT NULL,      -- profile | contact | offer | wish | ...
    owner      TEXT NOT NULL,      -- the row the text belongs to (user id, contact id, ...)
    user_id    TEXT,
    model      TEXT NOT NULL,
    text_hash  TEXT NOT NULL,
    phrases    INTEGER NOT NULL,
    vectors    BLOB NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (kind, owner)
);
CREATE INDEX text_vectors_user ON text_vectors (user_id);
