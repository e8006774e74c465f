-- Instance settings written once (root-key binding, installation id).
CREATE TABLE settings (
    name       TEXT PRIMARY KEY NOT NULL,
    value      BYTEA NOT NULL,
    created_at BIGINT NOT NULL DEFAULT (extract(epoch FROM now())::BIGINT)
);
