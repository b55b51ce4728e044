-- Outbox priorities (issue #14): which waiting item goes first when the sender's slots are
-- full. 0 crisis asks and everything else about a crisis request, 1 answers to commands,
-- 2 announcements, introductions and other notices, 3 reaction buttons, edits and
-- redactions. New rows get theirs from `bot.store.outbox.priority_of`; this fills in the
-- rows written before the column existed, by the same rules.
ALTER TABLE outbox ADD COLUMN priority INTEGER NOT NULL DEFAULT 2;
UPDATE outbox SET priority = CASE
    WHEN action IN ('edit', 'reaction', 'redact') THEN 3
    WHEN substr(key, 1, 7) = 'crisis:' THEN 0
    WHEN substr(key, 1, 6) = 'reply:' THEN 1
    ELSE 2
END;
-- The sender picks the first items of every target (one head per target, a window over
-- the pending rows of each target in id order).
CREATE INDEX outbox_heads ON outbox (status, target_kind, target, id);
