-- Site statuses reported during a drill (EXERCICE) are kept apart from the real ones:
-- shown over them, marked EXERCICE, while the kit's exercise flag is on; the real status
-- is there again when the drill ends.
CREATE TABLE site_exercise_status (
    position   INTEGER PRIMARY KEY,       -- the site's code (sites.position)
    status     TEXT NOT NULL CHECK (status IN ('ferme', 'en-preparation', 'ouvert', 'complet', 'evacue')),
    present    INTEGER,
    capacity   INTEGER,
    needs      INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    status_at  INTEGER NOT NULL
);
