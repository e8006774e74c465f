-- Collections with their schemas (JSON), and records: public values in
-- clear, encrypted fields as base64 SR values sealed under the record's data
-- key, redacted renditions, and the data key sealed under the matter's key.
-- Deleting a row destroys the sealed data key: crypto-shredding.
CREATE TABLE collections (
    name        TEXT PRIMARY KEY,
    schema      TEXT NOT NULL,
    revision    BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE records (
    collection        TEXT NOT NULL REFERENCES collections (name),
    id                TEXT NOT NULL,
    matter_id         TEXT NOT NULL,
    public_fields     TEXT NOT NULL,
    sealed_fields     TEXT NOT NULL,
    renditions        TEXT NOT NULL,
    wrapped_key       BYTEA NOT NULL,
    subject_index     TEXT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    created_by        TEXT NOT NULL,
    expires_at        BIGINT,
    legal_hold        BOOLEAN NOT NULL,
    access_count      BIGINT NOT NULL,
    last_accessed_at  BIGINT,
    revision          BIGINT NOT NULL,
    PRIMARY KEY (collection, id)
);
CREATE INDEX records_by_matter ON records (collection, matter_id, created_at, id);
CREATE INDEX records_by_time ON records (collection, created_at, id);
CREATE INDEX records_expiring ON records (expires_at);
CREATE INDEX records_by_subject ON records (subject_index);

-- Blind indexes: the HMAC of a normalised value under the collection+field key.
CREATE TABLE record_index (
    collection  TEXT NOT NULL,
    field       TEXT NOT NULL,
    digest      TEXT NOT NULL,
    record_id   TEXT NOT NULL,
    PRIMARY KEY (collection, field, digest, record_id)
);
CREATE INDEX record_index_by_record ON record_index (collection, record_id);
