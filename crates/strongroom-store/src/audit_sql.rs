//! What both audit append paths share (the sqlx one in `audit.rs`, the
//! SQLite thread in `sqlite_audit_writer.rs`): the SQL of the rows an
//! append writes, and the conversion of core's tree values to and from
//! columns. A leaf module, so the two paths import it and not each other.
//!
//! Invariant: the tree arithmetic (which nodes, under which key, the new
//! head) is core's [`AppendPlan`] and [`NodeKey`]; this module only
//! converts, so the two paths cannot store a tree differently.

use strongroom_core::StoreError;
use strongroom_core::audit::{AppendPlan, AuditRecord, NodeKey};
use strongroom_crypto::merkle::{Hash, NodeId};

pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Backend(format!("the stored audit tree is damaged: {what}").into())
}

pub(crate) fn hash(bytes: Vec<u8>) -> Result<Hash, StoreError> {
    bytes.try_into().map_err(|_| corrupt("a hash is not 32 bytes"))
}

pub(crate) fn index(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| corrupt("a negative leaf index"))
}

pub(crate) fn signed(value: u64) -> i64 {
    // Invariant: a tree never reaches 2^63 leaves.
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The `last_leaf` column of node `id` (see [`NodeKey`]); an id beyond any
/// tree gets `i64::MAX`, which matches no row.
pub(crate) fn last_leaf(id: NodeId) -> i64 {
    signed(NodeKey::of(id).last_leaf)
}

/// The node stored under the columns `level` and `last_leaf`.
pub(crate) fn node_id(level: i32, last_leaf: i64) -> Result<NodeId, StoreError> {
    let level = u8::try_from(level).map_err(|_| corrupt("a node level out of range"))?;
    NodeKey { last_leaf: index(last_leaf)?, level }.node()
}

/// The `audit_hmacs` rows of `records` appended by `plan`: `(leaf, hmac)`.
pub(crate) fn hmac_rows<'a>(plan: &AppendPlan, records: &'a [AuditRecord]) -> Vec<(i64, &'a Vec<u8>)> {
    records
        .iter()
        .enumerate()
        .flat_map(|(i, record)| record.hmacs.iter().map(move |mac| (signed(plan.leaf_index(i)), mac)))
        .collect()
}

// The SQL as literals, so each path can `concat!` its own placeholders onto
// them: one column list to keep in step with the rows bound.
macro_rules! read_head {
    () => {
        "SELECT size, frontier FROM audit_head WHERE id = 1"
    };
}
macro_rules! insert_entries {
    () => {
        "INSERT INTO audit_entries (leaf_index, entry, time_ms, event_type, outcome, actor_id, target_id, matter, ip_key, \
         severity) "
    };
}
macro_rules! insert_hmacs {
    () => {
        "INSERT INTO audit_hmacs (hmac, leaf_index) "
    };
}
// A leaf carrying the same HMAC twice stores it once.
macro_rules! hmacs_conflict {
    () => {
        " ON CONFLICT DO NOTHING"
    };
}
macro_rules! insert_nodes {
    () => {
        "INSERT INTO audit_nodes (last_leaf, level, hash) "
    };
}
pub(crate) use {hmacs_conflict, insert_entries, insert_hmacs, insert_nodes, read_head};

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use strongroom_crypto::merkle::{Frontier, leaf_hash};

    use super::*;

    #[test]
    fn nodes_are_keyed_by_their_last_leaf_and_back() {
        for (level, idx, last) in [(0, 0, 0), (0, 7, 7), (1, 0, 1), (2, 1, 7), (3, 0, 7), (4, 5, 95)] {
            let id = NodeId::new(level, idx);
            assert_eq!(last_leaf(id), last, "{id:?}");
            assert_eq!(node_id(i32::from(level), last).unwrap(), id);
        }
        assert!(node_id(2, 6).is_err(), "leaves 4..=6 are no complete subtree");
        assert!(node_id(-1, 0).is_err() && node_id(64, 0).is_err() && node_id(0, -1).is_err());
        assert_eq!(last_leaf(NodeId::new(63, u64::MAX)), i64::MAX, "beyond any tree: matches no row");
    }

    /// A database whose tree was stored under the old key keeps every node
    /// through the migration, each found again under its own id.
    #[test]
    fn migration_12_moves_every_node_to_its_last_leaf() {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        db.execute_batch(include_str!("../migrations/sqlite/0004_audit.sql")).unwrap();
        let mut frontier = Frontier::new();
        let mut nodes = HashMap::new();
        for leaf in 0..37u32 {
            for (id, node) in frontier.push(leaf_hash(&leaf.to_be_bytes())) {
                db.execute(
                    "INSERT INTO audit_nodes (level, idx, hash) VALUES (?1, ?2, ?3)",
                    rusqlite::params![i32::from(id.level), signed(id.index), node.as_slice()],
                )
                .unwrap();
                nodes.insert(id, node);
            }
        }
        db.execute_batch(include_str!("../migrations/sqlite/0012_audit_nodes_by_last_leaf.sql")).unwrap();
        let mut moved = HashMap::new();
        let mut rows = db.prepare("SELECT last_leaf, level, hash FROM audit_nodes").unwrap();
        let rows = rows.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get::<_, Vec<u8>>(2)?))).unwrap();
        for row in rows {
            let (last, level, node) = row.unwrap();
            moved.insert(node_id(level, last).unwrap(), hash(node).unwrap());
        }
        assert_eq!(moved.len(), nodes.len());
        assert_eq!(moved, nodes);
    }

    /// Entries stored before the severity column get the severity their
    /// own bytes name, so verification finds the column and the entry agree.
    #[test]
    fn migration_16_copies_each_entrys_severity_into_its_column() {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        db.execute_batch(include_str!("../migrations/sqlite/0004_audit.sql")).unwrap();
        for (leaf, severity) in ["info", "notice", "warning", "critical"].into_iter().enumerate() {
            let entry = format!(r#"{{"severity":"{severity}","type":"key.rotate"}}"#);
            db.execute(
                "INSERT INTO audit_entries (leaf_index, entry, time_ms, event_type, outcome, actor_id) \
                 VALUES (?1, ?2, 0, 'key.rotate', 'success', 'a')",
                rusqlite::params![leaf as i64, entry.into_bytes()],
            )
            .unwrap();
        }
        db.execute_batch(include_str!("../migrations/sqlite/0016_audit_severity.sql")).unwrap();
        let mut rows = db.prepare("SELECT severity FROM audit_entries ORDER BY leaf_index").unwrap();
        let ranks: Vec<i64> = rows.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect();
        assert_eq!(ranks, vec![0, 1, 2, 3]);
    }
}
