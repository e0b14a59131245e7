-- Data in and out: the register of vulnerable people (sealed at rest) and CAP imports.

-- Register of vulnerable people (CASF L121-6-1). Every personal field is inside `sealed`
-- (NaCl SecretBox, key in the data folder's `vulnerable.key`, never in this database), so a
-- copied database alone reveals nothing. A removed entry keeps its id and `updated_at`
-- with an empty `sealed` (a tombstone), so merging an older bundle never brings it back.
CREATE TABLE vulnerable_people (
    id         TEXT PRIMARY KEY,            -- random, stable across kits, backups and bundles
    sealed     BLOB NOT NULL,               -- SecretBox(JSON of the fields and the id); empty if removed
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,            -- newest wins when two kits' registers merge
    updated_by TEXT NOT NULL DEFAULT '',
    removed    INTEGER NOT NULL DEFAULT 0
);

-- Official alerts imported from CAP files: which alert each became on this kit, so an
-- imported Update or Cancel finds the alert it replaces and a file is imported once.
CREATE TABLE cap_imports (
    sender      TEXT NOT NULL,
    identifier  TEXT NOT NULL,
    sent        TEXT NOT NULL,
    origin      INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    imported_at INTEGER NOT NULL,
    imported_by TEXT NOT NULL,
    PRIMARY KEY (sender, identifier)
);
