-- Audit nodes keyed by the last leaf they cover, then level, instead of
-- (level, idx). Every node an append completes covers a leaf of that
-- append, so its nodes now land side by side at the right edge of the
-- index: one or two pages per commit instead of one per level (measured on
-- SQLite: 12 of the 26 pages a commit wrote were audit_nodes pages;
-- bench/README.md, 2026-12-03). (level, last_leaf) still names the node:
-- idx = ((last_leaf + 1) >> level) - 1.
CREATE TABLE audit_nodes_by_last_leaf (
    last_leaf BIGINT NOT NULL,
    level     INTEGER NOT NULL,
    hash      BLOB NOT NULL,
    PRIMARY KEY (last_leaf, level)
) WITHOUT ROWID;
INSERT INTO audit_nodes_by_last_leaf (last_leaf, level, hash)
SELECT ((idx + 1) << level) - 1, level, hash FROM audit_nodes;
DROP TABLE audit_nodes;
ALTER TABLE audit_nodes_by_last_leaf RENAME TO audit_nodes;
