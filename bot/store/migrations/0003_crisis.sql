-- Crisis routing "Wer kennt wen?": bridge contacts, availability, requests and their timeline.
-- Times are Unix seconds (UTC).

-- A working contact a person declared: an organisation and a sector, never a third person.
CREATE TABLE crisis_contacts (
    id           TEXT PRIMARY KEY,           -- short and typeable, e.g. K-7KQX
    user_id      TEXT NOT NULL,
    organisation TEXT NOT NULL,
    sector       TEXT NOT NULL,
    created_at   REAL NOT NULL,
    confirmed_at REAL NOT NULL,              -- last declaration or reconfirmation
    reminded_at  REAL                        -- reconfirmation asked since confirmed_at
);
CREATE INDEX crisis_contacts_user ON crisis_contacts (user_id);
CREATE INDEX crisis_contacts_confirmed ON crisis_contacts (confirmed_at);

-- When a bridge person may be asked (`!erreichbar`), as they wrote it.
CREATE TABLE crisis_availability (
    user_id      TEXT PRIMARY KEY,
    window_text  TEXT NOT NULL,
    updated_at   REAL NOT NULL
);

-- One request; `state` is the routing state of bot.domain.crisis as JSON. A person who asked to
-- be forgotten is replaced everywhere (requester, state, timeline) by a label `~former-<n>`.
CREATE TABLE crisis_requests (
    id            TEXT PRIMARY KEY,          -- e.g. A-4MZP
    requester     TEXT,
    text          TEXT NOT NULL,
    urgent        INTEGER NOT NULL,
    drill         INTEGER NOT NULL,
    status_room   TEXT,                      -- where the status message lives
    state         TEXT NOT NULL,
    active        INTEGER NOT NULL,          -- neither closed nor expired
    next_check_at REAL,                      -- when routing may have something to do
    status_edits  INTEGER NOT NULL DEFAULT 0,
    created_at    REAL NOT NULL,
    finished_at   REAL                       -- closed or expired
);
CREATE INDEX crisis_requests_due ON crisis_requests (next_check_at) WHERE next_check_at IS NOT NULL;
CREATE INDEX crisis_requests_requester ON crisis_requests (requester);
CREATE INDEX crisis_requests_finished ON crisis_requests (finished_at);

-- Everything that happened to a request, for the protocol (Einsatztagebuch). `person` is the
-- Matrix ID of the one concerned (NULL: nobody in particular).
CREATE TABLE crisis_timeline (
    id         INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES crisis_requests (id) ON DELETE CASCADE,
    at         REAL NOT NULL,
    kind       TEXT NOT NULL,
    person     TEXT,
    tier       INTEGER,
    detail     TEXT
);
CREATE INDEX crisis_timeline_request ON crisis_timeline (request_id, id);
CREATE INDEX crisis_timeline_person ON crisis_timeline (person);
CREATE INDEX crisis_timeline_asks ON crisis_timeline (kind, at);
