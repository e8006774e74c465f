-- Which keyring key and version wrap each record's data key (read from the
-- sealed key's header, kept here so the census and the rewrap and
-- re-encryption jobs find a key's records through an index), and how many
-- sealed values the record holds. Rows from before this migration are
-- labelled by the server at start.
ALTER TABLE records ADD COLUMN key_name TEXT;
ALTER TABLE records ADD COLUMN key_version BIGINT;
ALTER TABLE records ADD COLUMN sealed_count BIGINT;
CREATE INDEX records_by_key ON records (key_name, key_version, collection, id);

-- Background jobs over a key's data: `rewrap` moves data keys to the key's
-- latest version after a rotation; `reencrypt` moves the records of a
-- compromised key to a fresh key with new data keys. Progress is committed
-- with each batch, so a job resumes where it stopped; the lease keeps one
-- instance on a job at a time.
CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    key_name     TEXT NOT NULL,
    target       TEXT NOT NULL,
    state        TEXT NOT NULL,
    total        BIGINT NOT NULL,
    done         BIGINT NOT NULL,
    error        TEXT,
    lease_owner  TEXT,
    lease_until  BIGINT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX jobs_running ON jobs (state, lease_until);
