-- Kit tous risques: initial schema.
-- Content (risks, checklists, contacts, sites) is edited locally; everything that travels
-- between kits is a record in `records` (origin, seq) and is projected into the tables the
-- pages read (messages, checkins, alerts).

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE risks (
    slug         TEXT PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('risk', 'guide')),
    position     INTEGER NOT NULL,
    name_fr      TEXT NOT NULL,
    name_falc    TEXT NOT NULL,
    name_en      TEXT NOT NULL,
    summary_fr   TEXT NOT NULL,
    summary_falc TEXT NOT NULL,
    summary_en   TEXT NOT NULL
);

CREATE TABLE checklist_items (
    id        INTEGER PRIMARY KEY,
    risk      TEXT NOT NULL REFERENCES risks (slug) ON DELETE CASCADE,
    phase     TEXT NOT NULL CHECK (phase IN ('avant', 'pendant', 'apres')),
    audience  TEXT NOT NULL CHECK (audience IN ('habitant', 'benevole', 'cellule')),
    position  INTEGER NOT NULL,
    text_fr   TEXT NOT NULL,
    text_falc TEXT NOT NULL,
    text_en   TEXT NOT NULL,
    source    TEXT NOT NULL
);
CREATE INDEX checklist_items_by_risk ON checklist_items (risk, audience, phase, position);

CREATE TABLE contacts (
    slug            TEXT PRIMARY KEY,
    grp             TEXT NOT NULL CHECK (grp IN ('national', 'commune', 'cellule')),
    position        INTEGER NOT NULL,
    name_fr         TEXT NOT NULL,
    name_en         TEXT NOT NULL,
    role_fr         TEXT NOT NULL,
    role_falc       TEXT NOT NULL,
    role_en         TEXT NOT NULL,
    phone           TEXT NOT NULL,
    sms_only        INTEGER NOT NULL DEFAULT 0,
    phone_secondary TEXT NOT NULL DEFAULT '',
    organisation    TEXT NOT NULL DEFAULT '',
    deputy          TEXT REFERENCES contacts (slug) DEFERRABLE INITIALLY DEFERRED,
    visibility      TEXT NOT NULL CHECK (visibility IN ('public', 'cellule', 'confidentiel')),
    last_verified   TEXT NOT NULL,
    note_fr         TEXT NOT NULL DEFAULT '',
    note_en         TEXT NOT NULL DEFAULT ''
);

CREATE TABLE sites (
    slug       TEXT PRIMARY KEY,
    position   INTEGER NOT NULL,          -- also the site's code on the radio (shared content)
    name       TEXT NOT NULL,
    type       TEXT NOT NULL CHECK (type IN ('hebergement', 'accueil', 'rassemblement', 'eau', 'soins', 'pcc')),
    address    TEXT NOT NULL,
    lat        REAL NOT NULL,
    lon        REAL NOT NULL,
    capacity   INTEGER NOT NULL DEFAULT 0 CHECK (capacity >= 0),
    present    INTEGER NOT NULL DEFAULT 0 CHECK (present >= 0),
    status     TEXT NOT NULL CHECK (status IN ('ferme', 'en-preparation', 'ouvert', 'complet', 'evacue')),
    amenities  TEXT NOT NULL DEFAULT '',   -- space-separated amenity codes
    needs      INTEGER NOT NULL DEFAULT 0, -- flags reported over the radio (water, food, …)
    status_at  INTEGER NOT NULL DEFAULT 0, -- created_at of the status report applied last
    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'cellule')),
    updated_at TEXT NOT NULL,
    note_fr    TEXT NOT NULL DEFAULT '',
    note_en    TEXT NOT NULL DEFAULT ''
);

-- The sync log: every record created here or received from another kit, once
-- (kit/storage/sqlite_store.py implements the mesh core's RecordStore on it).
CREATE TABLE records (
    origin        INTEGER NOT NULL,        -- 32-bit id of the kit that created it
    seq           INTEGER NOT NULL,        -- per-origin sequence, from 1
    kind          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,        -- unix seconds, as stated by the origin
    received_at   INTEGER NOT NULL,        -- unix seconds, local clock
    exercise      INTEGER NOT NULL DEFAULT 0,
    body          TEXT NOT NULL,           -- JSON of the record's own fields
    target_origin INTEGER,                 -- corrections and deletions: what they change
    target_seq    INTEGER,
    dedup_sender  INTEGER,                 -- volunteer texts: (sender node, packet id)
    dedup_packet  INTEGER,
    PRIMARY KEY (origin, seq)
) WITHOUT ROWID;
CREATE INDEX records_by_target ON records (target_origin, target_seq) WHERE target_origin IS NOT NULL;
CREATE INDEX records_by_dedup ON records (dedup_sender, dedup_packet) WHERE dedup_sender IS NOT NULL;

-- This kit's own records not yet handed to the radio: the durable outbox. A row goes
-- when the record's last frame has been given to the radio (kit/radio/service.py).
CREATE TABLE outbox (
    origin INTEGER NOT NULL,
    seq    INTEGER NOT NULL,
    PRIMARY KEY (origin, seq),
    FOREIGN KEY (origin, seq) REFERENCES records (origin, seq)
) WITHOUT ROWID;

-- Per origin: every seq up to `contiguous` is held; `highest` is the largest held.
CREATE TABLE origins (
    origin     INTEGER PRIMARY KEY,
    contiguous INTEGER NOT NULL,
    highest    INTEGER NOT NULL
);

-- Public board: board posts, needs, offers and volunteers' radio texts.
-- `id` is a local cursor for ?since=.
CREATE TABLE messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    origin     INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('board', 'need', 'offer', 'radio')),
    text       TEXT NOT NULL,
    name       TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    exercise   INTEGER NOT NULL DEFAULT 0,
    hidden     INTEGER NOT NULL DEFAULT 0,
    UNIQUE (origin, seq),
    FOREIGN KEY (origin, seq) REFERENCES records (origin, seq)
);
CREATE INDEX messages_by_kind ON messages (kind, hidden, id);

-- "I'm safe" check-ins: looked up by exact normalised name, never listed.
CREATE TABLE checkins (
    origin     INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL,
    note       TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    exercise   INTEGER NOT NULL DEFAULT 0,
    hidden     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (origin, seq),
    FOREIGN KEY (origin, seq) REFERENCES records (origin, seq)
) WITHOUT ROWID;
CREATE INDEX checkins_by_name ON checkins (name_key);

-- Official alerts (CAP 1.2 semantics). Signature checks come with the crisis-cell issue.
CREATE TABLE alerts (
    origin        INTEGER NOT NULL,
    seq           INTEGER NOT NULL,
    status        TEXT NOT NULL DEFAULT 'Actual',
    msg_type      TEXT NOT NULL DEFAULT 'Alert' CHECK (msg_type IN ('Alert', 'Update', 'Cancel')),
    references_id TEXT NOT NULL DEFAULT '',
    category      TEXT NOT NULL DEFAULT 'Safety',
    event         TEXT NOT NULL,
    urgency       TEXT NOT NULL DEFAULT 'Unknown',
    severity      TEXT NOT NULL DEFAULT 'Unknown',
    certainty     TEXT NOT NULL DEFAULT 'Unknown',
    response_type TEXT NOT NULL DEFAULT 'None',
    headline      TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    instruction   TEXT NOT NULL DEFAULT '',
    area          TEXT NOT NULL DEFAULT '',
    sent_at       INTEGER NOT NULL,
    expires_at    INTEGER,
    exercise      INTEGER NOT NULL DEFAULT 0,
    verified      INTEGER NOT NULL DEFAULT 0,
    superseded    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (origin, seq),
    FOREIGN KEY (origin, seq) REFERENCES records (origin, seq)
) WITHOUT ROWID;

-- Volunteers' and operators' field reports (ETHANE-like, compact).
CREATE TABLE field_reports (
    origin     INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    location   TEXT NOT NULL,
    incident   TEXT NOT NULL,
    severity   TEXT NOT NULL,
    text       TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    exercise   INTEGER NOT NULL DEFAULT 0,
    hidden     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (origin, seq),
    FOREIGN KEY (origin, seq) REFERENCES records (origin, seq)
) WITHOUT ROWID;

-- The latest health report of every kit heard (one row per kit).
CREATE TABLE kit_health (
    origin     INTEGER PRIMARY KEY,
    seq        INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    body       TEXT NOT NULL
);
