-- Most events have no matter, and many no target: an index entry for each
-- of them only slows every append (bench/README.md, "Audit ingestion").
-- Indexing only the entries that have one serves the same searches: a
-- `target_id = ?` or `matter = ?` filter implies the value is not NULL, so
-- the partial index applies.
DROP INDEX audit_entries_target;
DROP INDEX audit_entries_matter;
CREATE INDEX audit_entries_target ON audit_entries (target_id) WHERE target_id IS NOT NULL;
CREATE INDEX audit_entries_matter ON audit_entries (matter) WHERE matter IS NOT NULL;
