-- Authorization: matters (cases, tenants), standing grants on them, access
-- requests (time-bound elevations decided by a second person) and the
-- operators' policy document, one row per version.
CREATE TABLE matters (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL
);

-- Loaded with every principal: the primary key serves that lookup.
CREATE TABLE matter_grants (
    principal_kind  TEXT NOT NULL,
    principal_id    TEXT NOT NULL,
    matter_id       TEXT NOT NULL REFERENCES matters (id),
    granted_by      TEXT NOT NULL,
    justification   TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (principal_kind, principal_id, matter_id)
);
CREATE INDEX matter_grants_by_matter ON matter_grants (matter_id);

-- The matter is not a foreign key: a request may name a matter that does
-- not exist (refusing it would tell requesters which matters exist);
-- approval checks.
CREATE TABLE access_requests (
    id                TEXT PRIMARY KEY,
    requester_kind    TEXT NOT NULL,
    requester_id      TEXT NOT NULL,
    requester_name    TEXT NOT NULL,
    action            TEXT NOT NULL,
    matter_id         TEXT NOT NULL,
    record_id         TEXT,
    duration_minutes  BIGINT NOT NULL,
    justification     TEXT NOT NULL,
    purpose           TEXT,
    status            TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    decided_by        TEXT,
    decided_at        BIGINT,
    decision_note     TEXT,
    expires_at        BIGINT,
    expiry_recorded   BOOLEAN NOT NULL
);
CREATE INDEX access_requests_live ON access_requests (requester_kind, requester_id, status, expires_at);
CREATE INDEX access_requests_expiring ON access_requests (status, expiry_recorded, expires_at);

CREATE TABLE policy_documents (
    version        BIGINT PRIMARY KEY,
    text           TEXT NOT NULL,
    updated_at     BIGINT NOT NULL,
    updated_by     TEXT NOT NULL,
    justification  TEXT NOT NULL
);
