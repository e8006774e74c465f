-- The severity of each entry as a search column (0 info, 1 notice, 2 warning,
-- 3 critical), for `GET /v1/audit/events?severity=` and `min_severity=`.
-- Like the other search columns it is a copy of a value inside the entry
-- (its `severity` member), so verification derives it from the entry again
-- and reports a difference as damage. Existing entries get theirs here.
ALTER TABLE audit_entries ADD COLUMN severity SMALLINT NOT NULL DEFAULT 0;
UPDATE audit_entries SET severity = CASE convert_from(entry, 'UTF8')::jsonb ->> 'severity'
    WHEN 'notice' THEN 1 WHEN 'warning' THEN 2 WHEN 'critical' THEN 3 ELSE 0 END;
CREATE INDEX audit_entries_severity ON audit_entries (severity, leaf_index);
