-- Instance settings written once (root-key binding, installation id).
CREATE TABLE settings (
    name       TEXT PRIMARY KEY NOT NULL,
    value      BLOB NOT NULL,
    created_at INTEGER NOT NULL DEFAULT (unixepoch())
);
