-- The HMACs of an entry, found by its leaf: verification reads them page by
-- page beside the entries and checks them against the entry's own `hmac`
-- member, so a deleted or edited row cannot hide an event from `hmac_of`
-- searches unnoticed.
CREATE INDEX audit_hmacs_by_leaf ON audit_hmacs (leaf_index);
