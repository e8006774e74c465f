//! Recomputing the tree from its entries and checking it against signed
//! checkpoints: the same code serves `GET /v1/audit/stats` (over the
//! database) and `strongroom audit verify` (over an export, offline).
//!
//! What it catches, and how it says where:
//! - an entry edited in place: its recomputed leaf hash differs from the one
//!   stored in the tree (that index), and every later checkpoint's root differs;
//! - an entry deleted or a gap: the index sequence breaks (those indexes);
//! - entries inserted or reordered: duplicate indexes or leaf mismatches;
//! - a truncated tail: a signed checkpoint, or the tree head, covers more
//!   entries than there are (the missing range);
//! - a rewritten tree (entries and nodes recomputed): the signed checkpoints'
//!   roots no longer match (the range since the last checkpoint that held).

use std::collections::BTreeMap;

use strongroom_crypto::merkle::{Frontier, Hash, leaf_hash};
use strongroom_crypto::note::{Checkpoint, NoteVerifier, open_note};

use super::store::{IndexedColumns, TreeHead};

/// Reports stop being collected after this many (the first ones locate the damage).
const MAX_PROBLEMS: usize = 100;

/// One thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrityProblem {
    /// The first leaf index concerned, when it can be named.
    pub index: Option<u64>,
    /// What is wrong, for a human.
    pub message: String,
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrityReport {
    /// Entries read.
    pub entries_checked: u64,
    /// Root recomputed over them.
    pub root: Hash,
    /// Signed checkpoints whose signature verified and whose root was compared.
    pub checkpoints_checked: usize,
    /// Everything wrong; empty when the log verifies.
    pub problems: Vec<IntegrityProblem>,
}

impl IntegrityReport {
    /// Whether nothing is wrong.
    pub fn verified(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Feeds on entries in index order; see the module documentation.
#[derive(Debug, Default)]
pub struct LogVerifier {
    frontier: Frontier,
    checkpoints: BTreeMap<u64, Hash>,
    compared: usize,
    last_good_checkpoint: u64,
    problems: Vec<IntegrityProblem>,
}

impl LogVerifier {
    /// A verifier with no checkpoints yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn problem(&mut self, index: Option<u64>, message: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(IntegrityProblem { index, message });
        }
    }

    /// Adds a signed checkpoint after checking its signature against
    /// `trusted` and its origin against `origin`; a bad one is a problem.
    pub fn add_signed_checkpoint(&mut self, note: &str, trusted: &[NoteVerifier], origin: &str) {
        match open_note(note, trusted)
            .map_err(|e| e.to_string())
            .and_then(|text| Checkpoint::parse(text).map_err(|e| e.to_string()))
        {
            Ok(checkpoint) if checkpoint.origin == origin => {
                if let Some(previous) = self.checkpoints.insert(checkpoint.size, checkpoint.root)
                    && previous != checkpoint.root
                {
                    self.problem(
                        Some(checkpoint.size.saturating_sub(1)),
                        format!("two signed checkpoints of size {} disagree: the log forked", checkpoint.size),
                    );
                }
            }
            Ok(checkpoint) => {
                self.problem(None, format!("a checkpoint is for origin {:?}, not {origin:?}", checkpoint.origin))
            }
            Err(why) => self.problem(None, format!("a checkpoint does not verify: {why}")),
        }
    }

    /// Feeds the entry at `index`; `stored_leaf` is the leaf hash the tree
    /// stores for it, when known, and `columns` the search columns stored
    /// beside it, when read: they must say what the entry says.
    pub fn feed(&mut self, index: u64, entry: &[u8], stored_leaf: Option<Hash>, columns: Option<&IndexedColumns>) {
        if let Some(stored) = columns {
            match IndexedColumns::of_entry(entry) {
                Some(derived) => {
                    let differ = derived.differences(stored);
                    if !differ.is_empty() {
                        self.problem(
                            Some(index),
                            format!(
                                "entry {index}'s search columns ({}) do not say what the entry says: \
                                 they were edited, and searches by them miss or misreport it",
                                differ.join(", ")
                            ),
                        );
                    }
                }
                None => self.problem(Some(index), format!("entry {index} is not an audit event")),
            }
        }
        let expected = self.frontier.size();
        if index < expected {
            self.problem(Some(index), format!("entry {index} appears again after entry {}", expected - 1));
            return;
        }
        if index > expected {
            self.problem(Some(expected), format!("entries {expected} to {} are missing", index - 1));
            // Stand-ins keep the positions right, so later checks still name indexes.
            while self.frontier.size() < index {
                self.push([0; 32]);
            }
        }
        let leaf = leaf_hash(entry);
        match stored_leaf {
            Some(stored) if stored != leaf => self.problem(
                Some(index),
                format!("entry {index} does not hash to the leaf stored in the tree: it was edited or replaced"),
            ),
            None => self.problem(Some(index), format!("the tree stores no leaf for entry {index}")),
            Some(_) => {}
        }
        self.push(leaf);
    }

    /// Feeds an entry from an export that carries no stored leaf hash.
    pub fn feed_unhashed(&mut self, index: u64, entry: &[u8]) {
        let leaf = leaf_hash(entry);
        self.feed(index, entry, Some(leaf), None);
    }

    fn push(&mut self, leaf: Hash) {
        self.frontier.push(leaf);
        let size = self.frontier.size();
        if let Some(root) = self.checkpoints.get(&size).copied() {
            self.compared += 1;
            if root == self.frontier.root() {
                self.last_good_checkpoint = size;
            } else {
                let from = self.last_good_checkpoint;
                self.problem(
                    Some(from),
                    format!(
                        "the signed checkpoint of size {size} does not match the entries: an entry between {from} and {} was edited, inserted, removed or reordered",
                        size - 1
                    ),
                );
            }
        }
    }

    /// Ends the run. `head` is the tree head the store claims, if any.
    pub fn finish(mut self, head: Option<TreeHead>) -> IntegrityReport {
        let present = self.frontier.size();
        let beyond: Vec<u64> = self.checkpoints.range(present + 1..).map(|(size, _)| *size).collect();
        if let Some(largest) = beyond.last() {
            self.problem(
                Some(present),
                format!(
                    "the log is truncated: a signed checkpoint covers {largest} entries, only {present} are present (missing {present} to {})",
                    largest - 1
                ),
            );
        }
        if let Some(head) = head {
            if head.size > present {
                self.problem(
                    Some(present),
                    format!("the tree head counts {} entries, only {present} are present", head.size),
                );
            } else if head.size < present {
                self.problem(
                    Some(head.size),
                    format!("{} entries lie beyond the tree head ({})", present - head.size, head.size),
                );
            } else if head.root != self.frontier.root() {
                self.problem(None, "the stored tree head's root does not match the entries".into());
            }
        }
        IntegrityReport {
            entries_checked: present,
            root: self.frontier.root(),
            checkpoints_checked: self.compared,
            problems: self.problems,
        }
    }
}

#[cfg(test)]
mod tests {
    use strongroom_crypto::note::sign_note;

    use super::*;

    struct Log {
        entries: Vec<Vec<u8>>,
        notes: Vec<String>,
        verifier: NoteVerifier,
    }

    fn log(count: usize, checkpoint_every: usize) -> Log {
        let pkcs8 = strongroom_crypto::generate_ed25519_pkcs8().unwrap();
        let public = strongroom_crypto::ed25519_public_key(pkcs8.expose()).unwrap();
        let verifier = NoteVerifier::new("test/log", public).unwrap();
        let mut frontier = Frontier::new();
        let mut entries = Vec::new();
        let mut notes = Vec::new();
        for i in 0..count {
            let entry = format!("{{\"n\":{i}}}").into_bytes();
            frontier.push(leaf_hash(&entry));
            entries.push(entry);
            if (i + 1) % checkpoint_every == 0 {
                let text = Checkpoint {
                    origin: "test/log".into(),
                    size: frontier.size(),
                    root: frontier.root(),
                    extensions: vec![],
                }
                .to_text();
                notes.push(sign_note(&text, "test/log", pkcs8.expose()).unwrap());
            }
        }
        Log { entries, notes, verifier }
    }

    fn run(log: &Log, entries: &[(u64, Vec<u8>)], stored: impl Fn(u64) -> Option<Hash>) -> IntegrityReport {
        let mut verifier = LogVerifier::new();
        for note in &log.notes {
            verifier.add_signed_checkpoint(note, std::slice::from_ref(&log.verifier), "test/log");
        }
        for (index, entry) in entries {
            verifier.feed(*index, entry, stored(*index), None);
        }
        verifier.finish(None)
    }

    fn indexed(log: &Log) -> Vec<(u64, Vec<u8>)> {
        log.entries.iter().cloned().enumerate().map(|(i, e)| (i as u64, e)).collect()
    }

    #[test]
    fn an_untouched_log_verifies_against_every_checkpoint() {
        let log = log(40, 10);
        let original = indexed(&log);
        let report = run(&log, &original, |i| Some(leaf_hash(&log.entries[i as usize])));
        assert!(report.verified(), "{:?}", report.problems);
        assert_eq!(report.checkpoints_checked, 4);
    }

    #[test]
    fn an_edited_entry_is_reported_with_its_index() {
        let log = log(40, 10);
        let mut entries = indexed(&log);
        entries[17].1 = b"{\"n\":999}".to_vec();
        let report = run(&log, &entries, |i| Some(leaf_hash(&log.entries[i as usize])));
        assert_eq!(report.problems[0].index, Some(17), "{:?}", report.problems);
        // Even with the stored leaves rewritten too, the checkpoints name the range.
        let report = run(&log, &entries, |i| Some(leaf_hash(&entries[i as usize].1)));
        assert_eq!(report.problems[0].index, Some(10), "{:?}", report.problems);
        assert!(report.problems[0].message.contains("between 10 and 19"));
    }

    #[test]
    fn deleted_reordered_and_truncated_entries_are_reported() {
        let log = log(40, 10);
        let stored = |i: u64| Some(leaf_hash(&log.entries[i as usize]));
        let mut deleted = indexed(&log);
        deleted.remove(5);
        assert_eq!(run(&log, &deleted, stored).problems[0].index, Some(5));

        let mut swapped = indexed(&log);
        let (a, b) = (swapped[3].1.clone(), swapped[4].1.clone());
        swapped[3].1 = b;
        swapped[4].1 = a;
        assert_eq!(run(&log, &swapped, stored).problems[0].index, Some(3));

        let truncated = indexed(&log)[..35].to_vec();
        let report = run(&log, &truncated, stored);
        assert!(report.problems.iter().any(|p| p.index == Some(35) && p.message.contains("truncated")));
    }

    #[test]
    fn a_forged_checkpoint_is_a_problem_not_a_trust_anchor() {
        let mut log = log(10, 10);
        log.notes[0] = log.notes[0].replacen("\n10\n", "\n11\n", 1);
        let report = run(&log, &indexed(&log), |_| None);
        assert!(report.problems.iter().any(|p| p.message.contains("does not verify")));
    }
}
