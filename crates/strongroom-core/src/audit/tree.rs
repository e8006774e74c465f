//! The audit tree's arithmetic, without I/O: what an append adds (the leaf
//! hashes, the complete subtrees they finish, the new frontier and head) and
//! the key each stored node lives under. The stores persist what this
//! computes and convert keys to and from their columns; they decide nothing
//! about the tree.
//!
//! Invariants a reader must not break:
//! - An [`AppendPlan`] extends exactly the tree it was made from (its
//!   [`extends`](AppendPlan::extends) leaves and their frontier). Stored over
//!   a head of any other size it would fork the tree, so a store refuses it:
//!   the head moves only from that size, in the transaction that read it.
//! - A node `(level, index)`, the root of leaves `[index·2^level,
//!   (index+1)·2^level)`, is stored under its last leaf and its level
//!   ([`NodeKey`], migration 0012), so the nodes one append finishes sit side
//!   by side at the right edge of the index.

use strongroom_crypto::merkle::{Frontier, Hash, NodeId, leaf_hash};

use super::store::{AppendReceipt, AuditRecord, TreeHead};
use crate::StoreError;

/// What a store reports when its stored tree cannot be read as a tree.
fn damaged(what: &str) -> StoreError {
    StoreError::Backend(format!("the stored audit tree is damaged: {what}").into())
}

/// The key a node is stored under: the last leaf it covers and its level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeKey {
    /// The index of the last leaf the node covers.
    pub last_leaf: u64,
    /// The node's height: 0 for a leaf.
    pub level: u8,
}

impl NodeKey {
    /// The key of `id`. An id beyond any tree (its last leaf past `u64::MAX`)
    /// gets `u64::MAX`, which matches no stored row.
    pub fn of(id: NodeId) -> Self {
        let end = (u128::from(id.index) + 1) << id.level;
        Self { last_leaf: u64::try_from(end - 1).unwrap_or(u64::MAX), level: id.level }
    }

    /// The node stored under this key; an error (damage) when the key names
    /// no complete subtree: a level of 64 or more, or a last leaf that does
    /// not end a subtree of that level.
    pub fn node(self) -> Result<NodeId, StoreError> {
        if self.level >= 64 {
            return Err(damaged("a node level out of range"));
        }
        let end = self.last_leaf.checked_add(1).ok_or_else(|| damaged("a leaf index out of range"))?;
        if end.trailing_zeros() < u32::from(self.level) {
            return Err(damaged("a node that does not end on a subtree boundary"));
        }
        Ok(NodeId::new(self.level, (end >> self.level) - 1))
    }
}

/// The frontier stored in the head row: its hashes, concatenated, in the
/// order of [`strongroom_crypto::merkle::frontier_nodes`].
fn frontier_bytes(frontier: &Frontier) -> Vec<u8> {
    frontier.hashes().concat()
}

/// The frontier of a tree of `size` leaves from its stored bytes; an error
/// (damage) when they do not fit the size.
fn stored_frontier(size: u64, bytes: &[u8]) -> Result<Frontier, StoreError> {
    let hashes: Vec<Hash> = bytes
        .chunks_exact(32)
        .map(|chunk| Hash::try_from(chunk).map_err(|_| damaged("a hash is not 32 bytes")))
        .collect::<Result<_, _>>()?;
    Frontier::from_parts(size, &hashes).ok_or_else(|| damaged("the head's frontier does not fit its size"))
}

/// Everything an append writes to the tree, computed from the head it extends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendPlan {
    extends: u64,
    nodes: Vec<(NodeKey, Hash)>,
    frontier: Frontier,
    head: TreeHead,
}

impl AppendPlan {
    /// The plan to append `records`, in order, to the tree of `size` leaves
    /// whose stored frontier is `frontier`; an error (damage) when the
    /// frontier does not fit the size.
    pub fn new(size: u64, frontier: &[u8], records: &[AuditRecord]) -> Result<Self, StoreError> {
        let mut frontier = stored_frontier(size, frontier)?;
        let mut nodes = Vec::with_capacity(records.len() * 2);
        for record in records {
            nodes.extend(frontier.push(leaf_hash(&record.entry)).into_iter().map(|(id, hash)| (NodeKey::of(id), hash)));
        }
        let head = TreeHead { size: frontier.size(), root: frontier.root() };
        Ok(Self { extends: size, nodes, frontier, head })
    }

    /// The size of the tree the plan extends: the store must find the head
    /// at this size when it moves it, and refuses otherwise.
    pub fn extends(&self) -> u64 {
        self.extends
    }

    /// The leaf index of the record at `offset` in the plan's records.
    pub fn leaf_index(&self, offset: usize) -> u64 {
        self.extends + offset as u64
    }

    /// The nodes to store, under their keys: each record's leaf hash, then
    /// the subtrees it finished, record after record.
    pub fn nodes(&self) -> &[(NodeKey, Hash)] {
        &self.nodes
    }

    /// The head after the append.
    pub fn head(&self) -> TreeHead {
        self.head
    }

    /// The frontier after the append, as the head row stores it.
    pub fn frontier_bytes(&self) -> Vec<u8> {
        frontier_bytes(&self.frontier)
    }

    /// Where the append put its records.
    pub fn receipt(&self) -> AppendReceipt {
        AppendReceipt { first_index: self.extends, head: self.head }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use strongroom_crypto::merkle::{self, empty_root, node_hash};

    use super::*;

    fn record(n: u32) -> AuditRecord {
        AuditRecord {
            entry: format!("{{\"n\":{n}}}").into_bytes(),
            time_ms: 0,
            event_type: "test".into(),
            outcome: "success".into(),
            actor_id: "a".into(),
            target_id: None,
            matter: None,
            ip_key: None,
            hmacs: Vec::new(),
            severity: 0,
        }
    }

    /// Appends `records` to the tree `(size, frontier)` as a store would,
    /// keeping every node by id.
    fn apply(tree: &mut (u64, Vec<u8>), nodes: &mut HashMap<NodeId, Hash>, records: &[AuditRecord]) -> AppendPlan {
        let plan = AppendPlan::new(tree.0, &tree.1, records).unwrap();
        for (key, hash) in plan.nodes() {
            assert!(nodes.insert(key.node().unwrap(), *hash).is_none(), "a node is written once: {key:?}");
        }
        *tree = (plan.head().size, plan.frontier_bytes());
        plan
    }

    #[test]
    fn nodes_are_keyed_by_their_last_leaf_and_back() {
        for (level, index, last) in [(0, 0, 0), (0, 7, 7), (1, 0, 1), (2, 1, 7), (3, 0, 7), (4, 5, 95)] {
            let id = NodeId::new(level, index);
            assert_eq!(NodeKey::of(id), NodeKey { last_leaf: last, level }, "{id:?}");
            assert_eq!(NodeKey { last_leaf: last, level }.node().unwrap(), id);
        }
        assert_eq!(NodeKey::of(NodeId::new(63, u64::MAX)).last_leaf, u64::MAX, "beyond any tree: matches no row");
    }

    #[test]
    fn fail_keys_that_name_no_complete_subtree() {
        assert!(NodeKey { last_leaf: 6, level: 2 }.node().is_err(), "leaves 4..=6 are no complete subtree");
        assert!(NodeKey { last_leaf: 0, level: 64 }.node().is_err());
        assert!(NodeKey { last_leaf: u64::MAX, level: 0 }.node().is_err());
    }

    #[test]
    fn plans_appended_in_any_split_give_the_same_tree_and_every_node_once() {
        let records: Vec<AuditRecord> = (0..37).map(record).collect();
        let mut whole = (0, Vec::new());
        let mut whole_nodes = HashMap::new();
        let plan = apply(&mut whole, &mut whole_nodes, &records);
        assert_eq!(plan.receipt(), AppendReceipt { first_index: 0, head: plan.head() });
        let mut split = (0, Vec::new());
        let mut split_nodes = HashMap::new();
        for chunk in [&records[..1], &records[1..2], &records[2..9], &records[9..32], &records[32..]] {
            let first = split.0;
            let plan = apply(&mut split, &mut split_nodes, chunk);
            assert_eq!(plan.extends(), first);
            assert_eq!(plan.leaf_index(chunk.len() - 1), first + chunk.len() as u64 - 1);
            assert_eq!(plan.receipt().first_index, first);
        }
        assert_eq!(split, whole);
        assert_eq!(split_nodes, whole_nodes);
        // The stored nodes give the head's root, and every leaf is stored as its leaf hash.
        assert_eq!(merkle::root_at(&whole_nodes, 37).unwrap(), plan.head().root);
        for (i, record) in records.iter().enumerate() {
            assert_eq!(whole_nodes[&NodeId::new(0, i as u64)], leaf_hash(&record.entry));
        }
        assert_eq!(whole_nodes.len(), 37 + 18 + 9 + 4 + 2 + 1, "every complete subtree of 37 leaves");
    }

    #[test]
    fn a_plan_lists_each_leaf_then_the_subtrees_it_finished() {
        let records = [record(0), record(1)];
        let plan = AppendPlan::new(0, &[], &records).unwrap();
        let (a, b) = (leaf_hash(&records[0].entry), leaf_hash(&records[1].entry));
        let expected = vec![
            (NodeKey { last_leaf: 0, level: 0 }, a),
            (NodeKey { last_leaf: 1, level: 0 }, b),
            (NodeKey { last_leaf: 1, level: 1 }, node_hash(&a, &b)),
        ];
        assert_eq!(plan.nodes(), expected.as_slice());
        assert_eq!(plan.head(), TreeHead { size: 2, root: node_hash(&a, &b) });
        assert_eq!(plan.frontier_bytes(), node_hash(&a, &b).to_vec());
    }

    #[test]
    fn an_empty_plan_keeps_the_head() {
        let plan = AppendPlan::new(0, &[], &[]).unwrap();
        assert_eq!(plan.head(), TreeHead { size: 0, root: empty_root() });
        assert!(plan.nodes().is_empty());
    }

    #[test]
    fn fail_a_frontier_that_does_not_fit_its_size() {
        assert!(AppendPlan::new(3, &[0; 32], &[record(0)]).is_err(), "3 leaves have two complete subtrees");
        assert!(AppendPlan::new(0, &[0; 32], &[record(0)]).is_err());
        assert!(stored_frontier(3, &[0; 64]).is_ok());
    }
}
