-- Users, sessions and the tokens of logins. No secret is stored in clear:
-- passwords as Argon2id (or imported bcrypt) hashes, tokens and recovery
-- codes as HMACs under the keyring's token key, TOTP seeds sealed by the keyring.
CREATE TABLE users (
    id                 TEXT PRIMARY KEY NOT NULL,
    username           TEXT NOT NULL UNIQUE,
    email              TEXT NOT NULL,
    full_name          TEXT NOT NULL,
    roles              TEXT NOT NULL,
    password_hash      TEXT,
    disabled           INTEGER NOT NULL,
    locked             INTEGER NOT NULL,
    totp_sealed_secret BLOB,
    totp_enabled       INTEGER NOT NULL,
    totp_last_step     BIGINT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);

CREATE TABLE sessions (
    id             TEXT PRIMARY KEY NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     BIGINT NOT NULL,
    -- Milliseconds, to order sessions made within one second (the oldest is evicted first).
    created_ms     BIGINT NOT NULL,
    last_seen_at   BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    ip             TEXT,
    user_agent     TEXT,
    mfa_at         BIGINT,
    revoked_at     BIGINT,
    revoked_reason TEXT
);
CREATE INDEX sessions_user ON sessions (user_id, created_ms);

-- Refresh tokens by HMAC; a used one is kept, so presenting it again is recognised as theft.
CREATE TABLE refresh_tokens (
    hash       BLOB PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- Failed logins per account and per address, and their lockouts.
CREATE TABLE login_throttle (
    throttle_key TEXT PRIMARY KEY NOT NULL,
    failures     BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT
);

-- Single-use tokens (MFA challenges, MFA enrolment, password reset) by HMAC.
CREATE TABLE one_time_tokens (
    hash       BLOB PRIMARY KEY NOT NULL,
    kind       TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash    BLOB NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (user_id, hash)
);
