//! Cross-checks our Merkle tree, proofs, checkpoints and signed notes against
//! independent implementations: the `tlog_tiles` and `signed_note` crates,
//! Cloudflare's Rust ports of Go's `sumdb/tlog` and `sumdb/note`, which share
//! no code with ours (their SHA-256 is `sha2`, their Ed25519 `ed25519-dalek`;
//! ours are ring's). Tree heads and proofs must agree byte for byte, what one
//! side signs or proves the other accepts, and both accept and refuse the same
//! notes, a failing signature by a trusted key included.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use signed_note::{Note, StandardSigner, StandardVerifier, Verifier, VerifierList};
use strongroom_crypto::merkle::{self, Frontier, Hash, NodeId};
use strongroom_crypto::note::{Checkpoint, NoteVerifier, note_key_id, open_note, sign_note};
use strongroom_crypto::{ed25519_public_key, generate_ed25519_pkcs8};
use tlog_tiles::{HashReader, check_record, check_tree, prove_record, prove_tree, stored_hashes, tree_hash};

/// The other implementation's tree: Go's stored-hash layout, in memory.
#[derive(Default)]
struct TheirTree(Vec<tlog_tiles::Hash>);

impl HashReader for TheirTree {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        indexes.iter().map(|&i| self.0.get(i as usize).copied().ok_or(tlog_tiles::Error::IndexesNotInTree)).collect()
    }
}

/// Both trees over `entries`: ours (leaves, stored nodes, root at every size) and theirs.
struct Trees {
    leaves: Vec<Hash>,
    nodes: HashMap<NodeId, Hash>,
    roots: Vec<Hash>,
    theirs: TheirTree,
}

fn build(entries: &[Vec<u8>]) -> Trees {
    let mut frontier = Frontier::new();
    let (mut leaves, mut nodes, mut roots) = (Vec::new(), HashMap::new(), vec![frontier.root()]);
    let mut theirs = TheirTree::default();
    for (n, entry) in entries.iter().enumerate() {
        let leaf = merkle::leaf_hash(entry);
        leaves.push(leaf);
        nodes.extend(frontier.push(leaf));
        roots.push(frontier.root());
        let stored = stored_hashes(n as u64, entry, &theirs).unwrap();
        theirs.0.extend(stored);
    }
    Trees { leaves, nodes, roots, theirs }
}

fn theirs(hash: &Hash) -> tlog_tiles::Hash {
    tlog_tiles::Hash(*hash)
}

fn ours(hashes: Vec<tlog_tiles::Hash>) -> Vec<Hash> {
    hashes.into_iter().map(|h| h.0).collect()
}

/// Every inclusion and consistency proof of the trees up to `entries.len()`
/// leaves (or of the given pairs): equal on both sides and accepted by both verifiers.
fn cross_check_proofs(trees: &Trees, inclusion: &[(u64, u64)], consistency: &[(u64, u64)]) {
    for (size, root) in trees.roots.iter().enumerate() {
        assert_eq!(tree_hash(size as u64, &trees.theirs).unwrap().0, *root, "tree head of size {size}");
    }
    for &(index, size) in inclusion {
        let (leaf, root) = (&trees.leaves[index as usize], &trees.roots[size as usize]);
        let our_proof = merkle::inclusion_proof(&trees.nodes, index, size).unwrap();
        let their_proof = prove_record(size, index, &trees.theirs).unwrap();
        let their_check =
            check_record(&our_proof.iter().map(theirs).collect(), size, theirs(root), index, theirs(leaf));
        assert!(their_check.is_ok(), "they refuse our inclusion proof of {index} in {size}: {their_check:?}");
        assert!(merkle::verify_inclusion(leaf, index, size, &ours(their_proof.clone()), root));
        assert_eq!(ours(their_proof), our_proof, "inclusion proofs of {index} in {size} differ");
    }
    for &(first, second) in consistency {
        let (first_root, second_root) = (&trees.roots[first as usize], &trees.roots[second as usize]);
        let our_proof = merkle::consistency_proof(&trees.nodes, first, second).unwrap();
        let their_proof = prove_tree(second, first, &trees.theirs).unwrap();
        let their_check =
            check_tree(&our_proof.iter().map(theirs).collect(), second, theirs(second_root), first, theirs(first_root));
        assert!(their_check.is_ok(), "they refuse our consistency proof {first} -> {second}: {their_check:?}");
        assert!(merkle::verify_consistency(first, second, first_root, second_root, &ours(their_proof.clone())));
        assert_eq!(ours(their_proof), our_proof, "consistency proofs {first} -> {second} differ");
    }
}

#[test]
fn tree_heads_and_every_proof_agree_with_tlog_tiles_up_to_64_leaves() {
    let entries: Vec<Vec<u8>> = (0..64).map(|i| format!("entry {i}").into_bytes()).collect();
    let trees = build(&entries);
    let pairs: Vec<(u64, u64)> = (1..=64u64).flat_map(|b| (0..b).map(move |a| (a, b))).collect();
    let consistency: Vec<(u64, u64)> = (1..=64u64).flat_map(|b| (1..=b).map(move |a| (a, b))).collect();
    cross_check_proofs(&trees, &pairs, &consistency);
}

/// A signer of ours and the same key as the other implementation's signer.
struct Key {
    pkcs8: Vec<u8>,
    verifier: NoteVerifier,
    their_signer: StandardSigner,
    their_verifier: StandardVerifier,
}

fn key(name: &str) -> Key {
    let pkcs8 = generate_ed25519_pkcs8().unwrap().expose().to_vec();
    // ring writes PKCS#8 v2 for Ed25519 as this 16-byte prefix, the 32-byte seed, then the public key.
    assert_eq!(pkcs8[..16], [0x30, 0x51, 2, 1, 1, 0x30, 5, 6, 3, 0x2b, 0x65, 0x70, 4, 0x22, 4, 0x20]);
    let public = ed25519_public_key(&pkcs8).unwrap();
    let verifier = NoteVerifier::new(name, public).unwrap();
    let id = u32::from_be_bytes(note_key_id(name, &public));
    let mut private = vec![1u8];
    private.extend_from_slice(&pkcs8[16..48]);
    let their_signer =
        StandardSigner::new(&format!("PRIVATE+KEY+{name}+{id:08x}+{}", STANDARD.encode(private))).unwrap();
    let their_verifier = StandardVerifier::new(&verifier.encode()).unwrap();
    Key { pkcs8, verifier, their_signer, their_verifier }
}

fn their_open(note: &str, trusted: &[&Key]) -> Result<Vec<u8>, signed_note::NoteError> {
    let list =
        VerifierList::new(trusted.iter().map(|k| Box::new(k.their_verifier.clone()) as Box<dyn Verifier>).collect());
    let parsed = Note::from_bytes(note.as_bytes())?;
    parsed.verify(&list)?;
    Ok(parsed.text().to_vec())
}

/// The signature line (with its newline) of a note signed once.
fn signature_line(note: &str) -> String {
    note[note.rfind("\n\n").unwrap() + 2..].to_owned()
}

/// `line` with one byte of the signature proper changed.
fn corrupt(line: &str) -> String {
    let (prefix, encoded) = line.trim_end().rsplit_once(' ').unwrap();
    let mut blob = STANDARD.decode(encoded).unwrap();
    blob[10] ^= 0x40;
    format!("{prefix} {}\n", STANDARD.encode(blob))
}

fn origin() -> impl Strategy<Value = String> {
    "[a-z0-9./-]{1,30}"
}

fn checkpoint() -> impl Strategy<Value = Checkpoint> {
    (origin(), any::<u64>(), any::<[u8; 32]>(), proptest::collection::vec("[ -~]{1,20}", 0..3))
        .prop_map(|(origin, size, root, extensions)| Checkpoint { origin, size, root, extensions })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_trees_and_proofs_agree_with_tlog_tiles(
        entries in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..300),
        picks in proptest::collection::vec((any::<u64>(), any::<u64>()), 1..20),
    ) {
        let trees = build(&entries);
        let n = entries.len() as u64;
        let inclusion: Vec<(u64, u64)> =
            picks.iter().map(|(a, b)| { let size = b % n + 1; (a % size, size) }).collect();
        let consistency: Vec<(u64, u64)> =
            picks.iter().map(|(a, b)| { let second = b % n + 1; (a % second + 1, second) }).collect();
        cross_check_proofs(&trees, &inclusion, &consistency);
    }

    #[test]
    fn checkpoints_read_and_write_as_tlog_tiles_does(checkpoint in checkpoint()) {
        let text = checkpoint.to_text();
        let extension: String = checkpoint.extensions.iter().map(|line| format!("{line}\n")).collect();
        let their = tlog_tiles::Checkpoint::new(&checkpoint.origin, checkpoint.size, theirs(&checkpoint.root), &extension)
            .unwrap();
        prop_assert_eq!(their.to_bytes(), text.as_bytes());
        let parsed = tlog_tiles::Checkpoint::from_bytes(text.as_bytes()).unwrap();
        prop_assert_eq!(parsed, their);
        prop_assert_eq!(Checkpoint::parse(&text).unwrap(), checkpoint);
    }

    #[test]
    fn signed_notes_are_byte_identical_to_signed_notes_and_open_on_both_sides(checkpoint in checkpoint()) {
        let name = checkpoint.origin.clone();
        let key = key(&name);
        let text = checkpoint.to_text();
        let our_note = sign_note(&text, &name, &key.pkcs8).unwrap();
        let mut their_note = Note::new(text.as_bytes(), &[]).unwrap();
        their_note.add_sigs(&[&key.their_signer]).unwrap();
        let their_note = String::from_utf8(their_note.to_bytes()).unwrap();
        // Ed25519 is deterministic, so the same key signs the same bytes.
        prop_assert_eq!(&our_note, &their_note);
        prop_assert_eq!(their_open(&our_note, &[&key]).unwrap(), text.as_bytes());
        prop_assert_eq!(open_note(&their_note, std::slice::from_ref(&key.verifier)), Ok(text.as_str()));
    }

    #[test]
    fn notes_with_good_bad_repeated_and_unknown_signatures_get_the_same_verdict_as_signed_note(
        lines in proptest::collection::vec(0..5u8, 1..7),
    ) {
        let text = "example.com/log\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let (a, b, stranger) = (key("example.com/log"), key("witness.example"), key("other.example"));
        let good_a = signature_line(&sign_note(text, "example.com/log", &a.pkcs8).unwrap());
        let good_b = signature_line(&sign_note(text, "witness.example", &b.pkcs8).unwrap());
        let unknown = signature_line(&sign_note(text, "other.example", &stranger.pkcs8).unwrap());
        let choices = [good_a.clone(), good_b.clone(), corrupt(&good_a), corrupt(&good_b), unknown];
        let note: String =
            std::iter::once(format!("{text}\n")).chain(lines.iter().map(|&i| choices[i as usize].clone())).collect();
        // Go's rule: the first line by each trusted key decides, and every one must verify.
        let first = |good: u8, bad: u8| lines.iter().find(|&&i| i == good || i == bad).copied();
        let (first_a, first_b) = (first(0, 2), first(1, 3));
        let expected = (first_a.is_some() || first_b.is_some()) && first_a != Some(2) && first_b != Some(3);
        let trusted = [a.verifier.clone(), b.verifier.clone()];
        prop_assert_eq!(open_note(&note, &trusted).is_ok(), expected, "ours on {:?}", lines);
        prop_assert_eq!(their_open(&note, &[&a, &b]).is_ok(), expected, "signed_note on {:?}", lines);
    }
}
