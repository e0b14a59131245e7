-- Trust on the mesh (kit/mesh/frame_auth.py): two different authenticated records for one
-- uid are kept out of the public pages and shown to the crisis cell with both versions.
CREATE TABLE record_conflicts (
    id INTEGER PRIMARY KEY,
    origin INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    held TEXT NOT NULL,        -- the record held first (JSON, kit/storage/json_records.py)
    heard TEXT NOT NULL,       -- the other version
    from_node INTEGER,         -- the radio it came from
    heard_at INTEGER NOT NULL
);
CREATE INDEX record_conflicts_uid ON record_conflicts (origin, seq);

-- Volunteers' handhelds the crisis cell has enrolled: their #site and #besoin act at once;
-- any other node's wait for an operator (pending_commands).
CREATE TABLE enrolled_nodes (
    node INTEGER PRIMARY KEY,  -- Meshtastic node number
    label TEXT NOT NULL DEFAULT '',
    added_by TEXT NOT NULL DEFAULT '',
    added_at INTEGER NOT NULL
);

CREATE TABLE pending_commands (
    id INTEGER PRIMARY KEY,
    node INTEGER NOT NULL,
    node_name TEXT NOT NULL,
    text TEXT NOT NULL,        -- the command as sent
    kind TEXT NOT NULL,        -- the record it would make
    fields TEXT NOT NULL,      -- JSON, kit/storage/json_records.py conventions
    reply TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'rejected')),
    decided_by TEXT
);
