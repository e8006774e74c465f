-- Rate limits (crates/strongroom-core/src/rate_limits.rs): an API key's
-- burst above its per-minute rate. SQLite has one instance, which counts
-- its buckets in memory, so no counter table here (PostgreSQL has one).
ALTER TABLE api_keys ADD COLUMN rate_limit_burst BIGINT;

-- The burst is cached with the key like every other column: a change
-- made by hand must move the change generation too.
DROP TRIGGER api_keys_update_moves_generation;
CREATE TRIGGER api_keys_update_moves_generation AFTER UPDATE OF name, scopes, secret_hash, hash_key_version, expires_at, revoked_at, allowed_cidrs, rate_limit_per_minute, rate_limit_burst, owner_user_id, previous_secret_hash, previous_hash_key_version, previous_valid_until ON api_keys
BEGIN
    UPDATE change_generation SET generation = generation + 1 WHERE id = 1;
END;
