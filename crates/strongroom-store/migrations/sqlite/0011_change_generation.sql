-- The change generation: a counter that moves, when the change commits, on
-- every change to what instances cache (key metadata, API keys with their
-- grants and elevations; crates/strongroom-core/src/freshness.rs). Each
-- instance polls it every `database.cache_refresh_ms` and drops its caches
-- when it moved, so a change made by another instance, a CLI command or by
-- hand takes effect everywhere within that time. Triggers, not application
-- code, move it, so no writer can forget to.
--
-- api_keys: every column but the usage tally (use_count, last_used_at),
-- which moves every second under load and changes nothing cached. A column
-- added to api_keys later must be added to its trigger.
CREATE TABLE change_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO change_generation (id, generation) VALUES (1, 0);

CREATE TRIGGER keys_insert_moves_generation AFTER INSERT ON keys
BEGIN
    UPDATE change_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER keys_update_moves_generation AFTER UPDATE ON keys
BEGIN
    UPDATE change_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER keys_delete_moves_generation AFTER DELETE ON keys
BEGIN
    UPDATE change_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER key_versions_insert_moves_generation AFTER INSERT ON key_versions
BEGIN
    UPDATE change_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER key_versions_update_moves_generation AFTER UPDATE ON key_versions
BEGIN
    UPDATE change_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER key_versions_delete_moves_generation AFTER DELETE ON key_versions
BEGIN
    UPDATE change_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER api_keys_insert_moves_generation AFTER INSERT ON api_keys
BEGIN
    UPDATE change_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER api_keys_update_moves_generation AFTER UPDATE OF name, scopes, secret_hash, hash_key_version, expires_at, revoked_at, allowed_cidrs, rate_limit_per_minute, owner_user_id, previous_secret_hash, previous_hash_key_version, previous_valid_until ON api_keys
BEGIN
    UPDATE change_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER api_keys_delete_moves_generation AFTER DELETE ON api_keys
BEGIN
    UPDATE change_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER matter_grants_insert_moves_generation AFTER INSERT ON matter_grants
BEGIN
    UPDATE change_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER matter_grants_update_moves_generation AFTER UPDATE ON matter_grants
BEGIN
    UPDATE change_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER matter_grants_delete_moves_generation AFTER DELETE ON matter_grants
BEGIN
    UPDATE change_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER access_requests_insert_moves_generation AFTER INSERT ON access_requests
BEGIN
    UPDATE change_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER access_requests_update_moves_generation AFTER UPDATE ON access_requests
BEGIN
    UPDATE change_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER access_requests_delete_moves_generation AFTER DELETE ON access_requests
BEGIN
    UPDATE change_generation SET generation = generation + 1 WHERE id = 1;
END;
