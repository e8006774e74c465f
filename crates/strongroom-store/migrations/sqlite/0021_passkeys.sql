-- Passkeys (crates/strongroom-core/src/identity/passkeys.rs): a user's
-- WebAuthn credentials, and the ceremonies in progress. Nothing here is
-- secret: a credential is a public key and a signature counter, and a
-- ceremony is the challenge sent and what it expects back. A ceremony is
-- a row, not memory, so any instance can finish what another started; it
-- is deleted as it is used, so it is used once.
CREATE TABLE passkeys (
    credential_id BLOB PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The WebAuthn user handle (random, the same for all of a user's passkeys).
    user_handle   BLOB NOT NULL,
    name          TEXT NOT NULL,
    static_state  BLOB NOT NULL,
    dynamic_state BLOB NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX passkeys_user ON passkeys (user_id);

CREATE TABLE passkey_ceremonies (
    -- The challenge the browser signs (16 random bytes).
    challenge  BLOB PRIMARY KEY NOT NULL,
    -- The user registering; NULL for a sign-in (the passkey says who).
    user_id    TEXT REFERENCES users (id) ON DELETE CASCADE,
    state      BLOB NOT NULL,
    expires_at BIGINT NOT NULL
);
