-- PostgreSQL twin of 0012_outbox_priority.sql. Differs in types only: INTEGER -> BIGINT.
ALTER TABLE outbox ADD COLUMN priority BIGINT NOT NULL DEFAULT 2;
UPDATE outbox SET priority = CASE
    WHEN action IN ('edit', 'reaction', 'redact') THEN 3
    WHEN substr(key, 1, 7) = 'crisis:' THEN 0
    WHEN substr(key, 1, 6) = 'reply:' THEN 1
    ELSE 2
END;
CREATE INDEX outbox_heads ON outbox (status, target_kind, target, id);
