-- Operators, the main courante, and residents' posts awaiting moderation.

CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'volunteer')),
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0
);

-- The main courante: every operator action and every message in and out, in order.
CREATE TABLE journal (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,             -- unix seconds, local clock
    author       TEXT NOT NULL,                -- account name, radio node, or 'résident'
    source       TEXT NOT NULL CHECK (source IN ('web', 'api', 'radio', 'cli', 'system')),
    action       TEXT NOT NULL,                -- e.g. alert.create, mode.set, message.in
    subject      TEXT NOT NULL DEFAULT '',     -- record id, site, user… that it is about
    detail       TEXT NOT NULL DEFAULT '',
    verification TEXT NOT NULL DEFAULT 'a_verifier'
                 CHECK (verification IN ('a_verifier', 'en_cours', 'verifiee')),
    exercise     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX journal_by_time ON journal (at);

-- Residents' board posts, needs and offers: shown on this kit at once, sent on the radio
-- only once an operator approves them (then they become records).
CREATE TABLE pending_posts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL CHECK (kind IN ('board', 'need', 'offer')),
    text       TEXT NOT NULL,
    name       TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    exercise   INTEGER NOT NULL DEFAULT 0,
    state      TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'rejected')),
    decided_by TEXT NOT NULL DEFAULT '',
    origin     INTEGER,                        -- the record it became, once approved
    seq        INTEGER
);
CREATE INDEX pending_by_state ON pending_posts (state, id);
