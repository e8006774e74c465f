-- Rate limits (crates/strongroom-core/src/rate_limits.rs): an API key's
-- burst above its per-minute rate, and the buckets every instance counts
-- requests in.
ALTER TABLE api_keys ADD COLUMN rate_limit_burst BIGINT;

DROP TRIGGER api_keys_moves_generation_on_update ON api_keys;
CREATE TRIGGER api_keys_moves_generation_on_update AFTER UPDATE OF name, scopes, secret_hash, hash_key_version, expires_at, revoked_at, allowed_cidrs, rate_limit_per_minute, rate_limit_burst, owner_user_id, previous_secret_hash, previous_hash_key_version, previous_valid_until ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION move_change_generation();

-- One row per bucket (`a:<address>`, `u:<user id>`, `k:<API key id>`): its
-- GCRA theoretical arrival time in microseconds since the Unix epoch. A
-- row whose time has passed means the same as no row, so losing the table
-- in a crash (UNLOGGED: no WAL, no replication, fast) only forgives a
-- moment's counts; housekeeping deletes the passed ones. Not in backups.
CREATE UNLOGGED TABLE rate_limits (
    bucket TEXT PRIMARY KEY,
    tat_us BIGINT NOT NULL
);
