-- Operators' own redaction terms, one list per matter (the parties of a
-- case, a client's codename): redacted wherever they appear in the matter's
-- records. The list is JSON sealed under the keyring key
-- system.redaction-terms, bound to the matter; revision counts replacements
-- (optimistic concurrency).
CREATE TABLE redaction_terms (
    matter_id   TEXT PRIMARY KEY,
    sealed      BYTEA NOT NULL,
    revision    BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT NOT NULL
);
