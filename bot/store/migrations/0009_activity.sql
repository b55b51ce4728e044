-- When each person last used the bot (a command, a dialog answer, a reaction on one of our
-- messages), with or without a profile: the inactivity retention limit reaches everybody
-- the store knows (review finding S-06). Deleted with the person (`!vergessen`, retention).
CREATE TABLE activity (
    user_id      TEXT PRIMARY KEY,
    last_seen_at REAL NOT NULL
);

-- What the profiles knew so far.
INSERT INTO activity (user_id, last_seen_at)
SELECT user_id, last_seen_at FROM profiles WHERE last_seen_at IS NOT NULL;
