//! RFC 6962 / RFC 9162 Merkle trees: the hashing, an append-only frontier,
//! inclusion and consistency proofs, and their verification.
//!
//! Which API should I use?
//! - [`leaf_hash`] / [`node_hash`]: the two hash rules (`0x00 || entry`,
//!   `0x01 || left || right`), so the prefixes never collide.
//! - [`Frontier`]: the right edge of a tree (one root per complete subtree),
//!   enough to append leaves and compute the root without reading the tree.
//!   Each push returns the complete subtrees it finished, for storage.
//! - [`inclusion_proof`] / [`consistency_proof`] over a [`NodeSource`] of
//!   stored complete subtrees; [`nodes_needed_for_inclusion`] and
//!   [`nodes_needed_for_consistency`] list what they will read, so a store can
//!   fetch them in one query first.
//! - [`verify_inclusion`] / [`verify_consistency`]: the RFC 9162 checks, for
//!   clients and the offline verifier.
//!
//! Invariant: a stored node `(level, index)` is the root of the complete
//! subtree over leaves `[index << level, (index + 1) << level)`. Every subtree
//! the proof algorithms ask for is either such a node or is split into them.

use ring::digest::{Context, SHA256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// Identifies a complete subtree: `level` (its height) and `index` (its position at that level).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Height: 0 for a leaf.
    pub level: u8,
    /// Position among the nodes of that level, from the left.
    pub index: u64,
}

impl NodeId {
    /// The node at `level`, `index`.
    pub fn new(level: u8, index: u64) -> Self {
        Self { level, index }
    }
}

/// The hash of an empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    digest(&[&[]])
}

/// `SHA-256(0x00 || entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    digest(&[&[0x00], entry])
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    digest(&[&[0x01], left, right])
}

fn digest(parts: &[&[u8]]) -> Hash {
    let mut context = Context::new(&SHA256);
    for part in parts {
        context.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(context.finish().as_ref());
    out
}

/// The largest power of two strictly below `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// The complete subtrees that make up a tree of `size` leaves, left to right.
pub fn frontier_nodes(size: u64) -> Vec<NodeId> {
    let mut nodes = Vec::new();
    let mut start = 0u64;
    for level in (0..64u8).rev() {
        if size & (1 << level) != 0 {
            nodes.push(NodeId::new(level, start >> level));
            start += 1 << level;
        }
    }
    nodes
}

/// The right edge of a tree: the roots of its complete subtrees, largest
/// (leftmost) first. Appending needs nothing else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// `(level, hash)`, levels strictly decreasing.
    stack: Vec<(u8, Hash)>,
}

impl Frontier {
    /// The frontier of an empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The frontier of a tree of `size` leaves whose complete-subtree roots
    /// are `hashes`, in the order of [`frontier_nodes`]`(size)`. `None` if
    /// the count does not match.
    pub fn from_parts(size: u64, hashes: &[Hash]) -> Option<Self> {
        let nodes = frontier_nodes(size);
        if nodes.len() != hashes.len() {
            return None;
        }
        Some(Self { size, stack: nodes.iter().zip(hashes).map(|(node, hash)| (node.level, *hash)).collect() })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The complete-subtree roots, in the order [`Frontier::from_parts`] takes them.
    pub fn hashes(&self) -> Vec<Hash> {
        self.stack.iter().map(|(_, hash)| *hash).collect()
    }

    /// Appends a leaf (its [`leaf_hash`]) and returns every complete subtree
    /// this finished, the leaf first, so the caller can store them.
    pub fn push(&mut self, leaf: Hash) -> Vec<(NodeId, Hash)> {
        let index = self.size;
        let mut finished = vec![(NodeId::new(0, index), leaf)];
        let (mut level, mut hash) = (0u8, leaf);
        while let Some(&(top_level, left)) = self.stack.last() {
            if top_level != level {
                break;
            }
            self.stack.pop();
            hash = node_hash(&left, &hash);
            level += 1;
            finished.push((NodeId::new(level, index >> level), hash));
        }
        self.stack.push((level, hash));
        self.size += 1;
        finished
    }

    /// The tree head: the root over all leaves so far.
    pub fn root(&self) -> Hash {
        let mut hashes = self.stack.iter().rev().map(|(_, hash)| *hash);
        match hashes.next() {
            None => empty_root(),
            Some(last) => hashes.fold(last, |right, left| node_hash(&left, &right)),
        }
    }
}

/// Stored complete subtrees, read by the proof algorithms.
pub trait NodeSource {
    /// The root of complete subtree `node`; `None` if it is not stored.
    fn node(&self, node: NodeId) -> Option<Hash>;
}

impl NodeSource for std::collections::HashMap<NodeId, Hash> {
    fn node(&self, node: NodeId) -> Option<Hash> {
        self.get(&node).copied()
    }
}

/// A proof could not be built: the tree sizes are wrong or a node is missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The requested indexes or sizes are out of range; the text says which.
    #[error("{0}")]
    OutOfRange(String),
    /// The store lacks a node the proof needs (a damaged tree).
    #[error("the stored tree lacks node level {} index {}", .0.level, .0.index)]
    MissingNode(NodeId),
}

/// Runs the proof algorithms once to record which nodes they read.
struct Recorder(std::cell::RefCell<Vec<NodeId>>);

impl NodeSource for Recorder {
    fn node(&self, node: NodeId) -> Option<Hash> {
        self.0.borrow_mut().push(node);
        Some([0; 32])
    }
}

/// MTH of leaves `[start, start + len)`, from stored complete subtrees.
fn subtree_root(source: &dyn NodeSource, start: u64, len: u64) -> Result<Hash, ProofError> {
    if len.is_power_of_two() {
        let level = len.trailing_zeros() as u8;
        let node = NodeId::new(level, start >> level);
        return source.node(node).ok_or(ProofError::MissingNode(node));
    }
    let k = split_point(len);
    Ok(node_hash(&subtree_root(source, start, k)?, &subtree_root(source, start + k, len - k)?))
}

/// The root of the tree made of the first `size` leaves.
pub fn root_at(source: &dyn NodeSource, size: u64) -> Result<Hash, ProofError> {
    if size == 0 { Ok(empty_root()) } else { subtree_root(source, 0, size) }
}

/// The nodes [`root_at`] reads for `size`.
pub fn nodes_needed_for_root(size: u64) -> Vec<NodeId> {
    record(|source| root_at(source, size).map(|_| ()))
}

fn record(run: impl FnOnce(&dyn NodeSource) -> Result<(), ProofError>) -> Vec<NodeId> {
    let recorder = Recorder(Default::default());
    // The recorder answers every node, so only a range error can occur, and
    // then the real run reports it.
    let _ = run(&recorder);
    let mut nodes = recorder.0.into_inner();
    nodes.sort_unstable();
    nodes.dedup();
    nodes
}

/// RFC 9162 §2.1.3.1 PATH(index, D[size]): the audit path of leaf `index`.
pub fn inclusion_proof(source: &dyn NodeSource, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
    if index >= size {
        return Err(ProofError::OutOfRange(format!("index {index} is not below tree size {size}")));
    }
    let mut path = Vec::new();
    inclusion_path(source, index, 0, size, &mut path)?;
    Ok(path)
}

fn inclusion_path(
    source: &dyn NodeSource,
    index: u64,
    start: u64,
    len: u64,
    path: &mut Vec<Hash>,
) -> Result<(), ProofError> {
    if len == 1 {
        return Ok(());
    }
    let k = split_point(len);
    if index < start + k {
        inclusion_path(source, index, start, k, path)?;
        path.push(subtree_root(source, start + k, len - k)?);
    } else {
        inclusion_path(source, index, start + k, len - k, path)?;
        path.push(subtree_root(source, start, k)?);
    }
    Ok(())
}

/// The nodes [`inclusion_proof`] reads for `index` in a tree of `size`.
pub fn nodes_needed_for_inclusion(index: u64, size: u64) -> Vec<NodeId> {
    record(|source| inclusion_proof(source, index, size).map(|_| ()))
}

/// RFC 9162 §2.1.4.1 PROOF(first, D[second]): that the tree of `first`
/// leaves is a prefix of the tree of `second`. Empty when the sizes are equal.
pub fn consistency_proof(source: &dyn NodeSource, first: u64, second: u64) -> Result<Vec<Hash>, ProofError> {
    if first == 0 || first > second {
        return Err(ProofError::OutOfRange(format!(
            "a consistency proof needs 0 < from <= to (from {first}, to {second})"
        )));
    }
    let mut path = Vec::new();
    subproof(source, first, 0, second, true, &mut path)?;
    Ok(path)
}

fn subproof(
    source: &dyn NodeSource,
    m: u64,
    start: u64,
    n: u64,
    whole: bool,
    path: &mut Vec<Hash>,
) -> Result<(), ProofError> {
    if m == n {
        if !whole {
            path.push(subtree_root(source, start, n)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(source, m, start, k, whole, path)?;
        path.push(subtree_root(source, start + k, n - k)?);
    } else {
        subproof(source, m - k, start + k, n - k, false, path)?;
        path.push(subtree_root(source, start, k)?);
    }
    Ok(())
}

/// The nodes [`consistency_proof`] reads for `first` → `second`.
pub fn nodes_needed_for_consistency(first: u64, second: u64) -> Vec<NodeId> {
    record(|source| consistency_proof(source, first, second).map(|_| ()))
}

/// RFC 9162 §2.1.3.2: whether `path` proves leaf `leaf` at `index` in the tree
/// of `size` leaves with root `root`.
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, path: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && r == *root
}

/// RFC 9162 §2.1.4.2: whether `path` proves the tree of `first` leaves (root
/// `first_root`) is a prefix of the tree of `second` leaves (root `second_root`).
pub fn verify_consistency(first: u64, second: u64, first_root: &Hash, second_root: &Hash, path: &[Hash]) -> bool {
    if first == 0 || first > second {
        return false;
    }
    if first == second {
        return path.is_empty() && first_root == second_root;
    }
    let mut nodes: Vec<Hash> = Vec::with_capacity(path.len() + 1);
    if first.is_power_of_two() {
        nodes.push(*first_root);
    }
    nodes.extend_from_slice(path);
    let Some((&head, rest)) = nodes.split_first() else {
        return false;
    };
    let (mut fn_, mut sn) = (first - 1, second - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (head, head);
    for c in rest {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    fr == *first_root && sr == *second_root && sn == 0
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// The RFC's recursive definition, straight from the text, as the reference.
    fn reference_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
            }
        }
    }

    fn build(count: u64) -> (Vec<Hash>, HashMap<NodeId, Hash>, Vec<Hash>) {
        let mut frontier = Frontier::new();
        let mut nodes = HashMap::new();
        let mut leaves = Vec::new();
        let mut roots = vec![frontier.root()];
        for i in 0..count {
            let leaf = leaf_hash(format!("entry {i}").as_bytes());
            leaves.push(leaf);
            nodes.extend(frontier.push(leaf));
            roots.push(frontier.root());
        }
        (leaves, nodes, roots)
    }

    #[test]
    fn frontier_root_matches_the_recursive_definition_at_every_size() {
        let (leaves, nodes, roots) = build(70);
        for size in 0..=70usize {
            assert_eq!(roots[size], reference_root(&leaves[..size]), "size {size}");
            assert_eq!(root_at(&nodes, size as u64).unwrap(), roots[size]);
        }
    }

    #[test]
    fn frontier_rebuilt_from_stored_nodes_continues_the_same_tree() {
        let (_, nodes, roots) = build(45);
        for size in [1u64, 2, 7, 8, 21, 44] {
            let hashes: Vec<Hash> = frontier_nodes(size).iter().map(|id| nodes[id]).collect();
            let mut frontier = Frontier::from_parts(size, &hashes).unwrap();
            assert_eq!(frontier.root(), roots[size as usize]);
            frontier.push(leaf_hash(format!("entry {size}").as_bytes()));
            assert_eq!(frontier.root(), roots[size as usize + 1]);
        }
        assert!(Frontier::from_parts(3, &[[0; 32]]).is_none());
    }

    #[test]
    fn every_inclusion_proof_verifies_and_fails_when_altered() {
        let (leaves, nodes, roots) = build(33);
        for size in 1..=33u64 {
            for index in 0..size {
                let path = inclusion_proof(&nodes, index, size).unwrap();
                let root = &roots[size as usize];
                assert!(verify_inclusion(&leaves[index as usize], index, size, &path, root), "{index}/{size}");
                let other_leaf = leaf_hash(b"not in the tree");
                assert!(!verify_inclusion(&other_leaf, index, size, &path, root));
                if size > 1 {
                    let other_index = (index + 1) % size;
                    assert!(!verify_inclusion(&leaves[index as usize], other_index, size, &path, root));
                    let mut bad = path.clone();
                    bad[0][0] ^= 1;
                    assert!(!verify_inclusion(&leaves[index as usize], index, size, &bad, root));
                }
                let needed = nodes_needed_for_inclusion(index, size);
                let subset: HashMap<NodeId, Hash> = needed.iter().map(|id| (*id, nodes[id])).collect();
                assert_eq!(inclusion_proof(&subset, index, size).unwrap(), path);
            }
        }
        assert!(inclusion_proof(&nodes, 5, 5).is_err());
    }

    #[test]
    fn every_consistency_proof_verifies_and_fails_for_other_roots() {
        let (_, nodes, roots) = build(33);
        for second in 1..=33u64 {
            for first in 1..=second {
                let path = consistency_proof(&nodes, first, second).unwrap();
                let (r1, r2) = (&roots[first as usize], &roots[second as usize]);
                assert!(verify_consistency(first, second, r1, r2, &path), "{first}->{second}");
                if first != second {
                    let mut other = *r1;
                    other[3] ^= 0x10;
                    assert!(!verify_consistency(first, second, &other, r2, &path));
                    assert!(!verify_consistency(first, second, r1, &other, &path));
                }
                let needed = nodes_needed_for_consistency(first, second);
                let subset: HashMap<NodeId, Hash> = needed.iter().map(|id| (*id, nodes[id])).collect();
                assert_eq!(consistency_proof(&subset, first, second).unwrap(), path);
            }
        }
        assert!(consistency_proof(&nodes, 0, 3).is_err());
        assert!(consistency_proof(&nodes, 4, 3).is_err());
    }

    #[test]
    fn a_missing_node_is_reported_not_guessed() {
        let (_, mut nodes, _) = build(8);
        nodes.remove(&NodeId::new(2, 1));
        assert_eq!(inclusion_proof(&nodes, 0, 8), Err(ProofError::MissingNode(NodeId::new(2, 1))));
    }
}
