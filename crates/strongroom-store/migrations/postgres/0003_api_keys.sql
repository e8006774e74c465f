-- API keys for machines. The secret is stored only as an HMAC under the
-- keyring's API-key hashing key (hash_key_version says which version).
CREATE TABLE api_keys (
    id               TEXT PRIMARY KEY NOT NULL,
    name             TEXT NOT NULL,
    scopes           TEXT NOT NULL,
    secret_hash      BYTEA NOT NULL,
    hash_key_version BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT,
    revoked_at       BIGINT,
    last_used_at     BIGINT,
    use_count        BIGINT NOT NULL DEFAULT 0
);
