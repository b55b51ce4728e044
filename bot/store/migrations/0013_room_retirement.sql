-- Purpose rooms the bot leaves once their work is done (`bot.store.room_retirement`,
-- docs/coffee.md "When Flurfunk leaves a room"). Whatever the network statistics and later
-- follow-ups need stays in the feature tables; the rooms themselves stay with the people.
-- done_at: the feature has nothing more to do in the room (follow-up answered or expired,
--          request closed, feature row gone).
-- left_at: the bot left and forgot the room, or found itself no longer in it. Anything
--          addressed to the room afterwards fails instead of waiting for it.
ALTER TABLE purpose_rooms ADD COLUMN done_at REAL;
ALTER TABLE purpose_rooms ADD COLUMN left_at REAL;
-- The rooms the bot is still in: the only rows the retirement job reads, so its work stays
-- bounded by the active rooms however many a year leaves behind.
CREATE INDEX purpose_rooms_joined ON purpose_rooms (done_at, key) WHERE left_at IS NULL;
