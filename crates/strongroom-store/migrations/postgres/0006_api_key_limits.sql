-- API keys: an address allow-list, a per-key rate limit, an owner (a
-- service account), and the previous secret's hash during a rotation's
-- grace period.
ALTER TABLE api_keys ADD COLUMN allowed_cidrs TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN rate_limit_per_minute BIGINT;
ALTER TABLE api_keys ADD COLUMN owner_user_id TEXT;
ALTER TABLE api_keys ADD COLUMN previous_secret_hash BYTEA;
ALTER TABLE api_keys ADD COLUMN previous_hash_key_version BIGINT;
ALTER TABLE api_keys ADD COLUMN previous_valid_until BIGINT;
