-- Profiles: what people tell the bot about themselves (or what an operator imported),
-- and the state of chat dialogs (onboarding, confirmations) so a restart continues them.

-- One row per person. `id` is never reused (AUTOINCREMENT), so features that keep an
-- integer reference can never point a forgotten person's history at someone new.
-- Times are Unix epoch seconds (UTC). Lists are JSON arrays of strings.
CREATE TABLE profiles (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id             TEXT NOT NULL UNIQUE,
    display_name        TEXT,
    department          TEXT,
    municipality        TEXT,
    tasks               TEXT,
    topics              TEXT NOT NULL DEFAULT '[]',
    languages           TEXT NOT NULL DEFAULT '[]',
    availability        TEXT,
    -- Weekly coffee matching: opted in (1) or not (0); paused while paused_until > now.
    coffee              INTEGER NOT NULL DEFAULT 0 CHECK (coffee IN (0, 1)),
    coffee_paused_until REAL,
    -- 1 once the person acted in chat (!start, !kaffee an, !profil ...). Imported
    -- profiles stay 0: not enrolled in anything, never contacted.
    confirmed           INTEGER NOT NULL DEFAULT 0 CHECK (confirmed IN (0, 1)),
    source              TEXT NOT NULL DEFAULT 'chat' CHECK (source IN ('chat', 'import')),
    created_at          REAL NOT NULL,
    updated_at          REAL NOT NULL,
    -- Last command of the person; drives the retention limit for inactive profiles.
    last_seen_at        REAL,
    onboarded_at        REAL
);
CREATE INDEX profiles_coffee ON profiles (confirmed, coffee);
CREATE INDEX profiles_activity ON profiles (last_seen_at, created_at);

-- A running chat dialog per person and kind ('onboarding', 'forget'): the step and the
-- answers so far (JSON). Written in the same transaction as the answer that moved it.
CREATE TABLE dialogs (
    user_id    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    step       TEXT NOT NULL,
    data       TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (user_id, kind)
);
CREATE INDEX dialogs_age ON dialogs (updated_at);
