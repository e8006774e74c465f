-- The keyring: named keys and their versions. Material is stored only
-- wrapped by the root key; a destroyed version keeps its row with empty material.
CREATE TABLE keys (
    name                    TEXT PRIMARY KEY NOT NULL,
    purpose                 TEXT NOT NULL,
    algorithm               TEXT NOT NULL,
    state                   TEXT NOT NULL,
    latest_version          BIGINT NOT NULL,
    min_decryption_version  BIGINT NOT NULL,
    rotation_period_seconds BIGINT,
    deletion_allowed        INTEGER NOT NULL,
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL
);

CREATE TABLE key_versions (
    key_name         TEXT NOT NULL REFERENCES keys (name) ON DELETE CASCADE,
    version          BIGINT NOT NULL,
    wrapped_material BLOB NOT NULL,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (key_name, version)
);
