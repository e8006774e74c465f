-- The audit log: an RFC 6962 Merkle tree over the canonical event bytes
-- (docs/audit.md). Rows are only ever inserted, never updated or deleted,
-- except the single head row, which moves forward with every append.
CREATE TABLE audit_head (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    size     BIGINT NOT NULL,
    root     BLOB NOT NULL,
    -- The roots of the complete subtrees of the tree (its right edge), so an
    -- append reads one row instead of the tree.
    frontier BLOB NOT NULL
);
INSERT INTO audit_head (id, size, root, frontier)
VALUES (1, 0, X'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', X'');

-- One leaf per event. The columns after `entry` are copies of values inside
-- it, for filtering; verification reads only `entry`.
CREATE TABLE audit_entries (
    leaf_index INTEGER PRIMARY KEY NOT NULL,
    entry      BLOB NOT NULL,
    time_ms    BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    actor_id   TEXT NOT NULL,
    target_id  TEXT,
    matter     TEXT,
    ip_key     TEXT
);
CREATE INDEX audit_entries_type_time ON audit_entries (event_type, time_ms);
CREATE INDEX audit_entries_time ON audit_entries (time_ms);
CREATE INDEX audit_entries_actor ON audit_entries (actor_id);
CREATE INDEX audit_entries_target ON audit_entries (target_id);
CREATE INDEX audit_entries_matter ON audit_entries (matter);

-- HMACs carried by entries, to search by value without revealing it.
CREATE TABLE audit_hmacs (
    hmac       BLOB NOT NULL,
    leaf_index BIGINT NOT NULL,
    PRIMARY KEY (hmac, leaf_index)
) WITHOUT ROWID;

-- Roots of complete subtrees: (level, idx) covers leaves [idx << level, (idx + 1) << level).
CREATE TABLE audit_nodes (
    level INTEGER NOT NULL,
    idx   BIGINT NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

-- Signed checkpoints (C2SP signed notes), one per tree size.
CREATE TABLE audit_checkpoints (
    tree_size  BIGINT PRIMARY KEY NOT NULL,
    root       BLOB NOT NULL,
    note       TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);

-- Raised alerts; the id (rule, counted value, window) makes a burst raise one.
CREATE TABLE audit_alerts (
    id              TEXT PRIMARY KEY NOT NULL,
    rule            TEXT NOT NULL,
    group_key       TEXT NOT NULL,
    count           BIGINT NOT NULL,
    window_start_ms BIGINT NOT NULL,
    created_ms      BIGINT NOT NULL,
    message         TEXT NOT NULL
);
CREATE INDEX audit_alerts_created ON audit_alerts (created_ms);
