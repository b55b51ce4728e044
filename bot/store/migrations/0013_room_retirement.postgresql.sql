-- PostgreSQL twin of 0013_room_retirement.sql. Differs in types only: REAL -> DOUBLE
-- PRECISION.
ALTER TABLE purpose_rooms ADD COLUMN done_at DOUBLE PRECISION;
ALTER TABLE purpose_rooms ADD COLUMN left_at DOUBLE PRECISION;
CREATE INDEX purpose_rooms_joined ON purpose_rooms (done_at, key) WHERE left_at IS NULL;
