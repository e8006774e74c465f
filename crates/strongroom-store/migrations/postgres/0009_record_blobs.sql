-- Blobs of records: where the ciphertext object is, its sizes, type and the
-- plaintext's SHA-256. The blob's own key is in the object's header, sealed
-- under the record's data key, so deleting the record (these rows go with
-- it) shreds its blobs wherever copies of the objects are.
CREATE TABLE record_blobs (
    collection   TEXT NOT NULL,
    record_id    TEXT NOT NULL,
    field        TEXT NOT NULL,
    object       TEXT NOT NULL,
    size         BIGINT NOT NULL,
    stored_size  BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (collection, record_id, field),
    FOREIGN KEY (collection, record_id) REFERENCES records (collection, id) ON DELETE CASCADE
);
