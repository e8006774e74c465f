//! The shared C2SP checkpoint vector (`tests/vectors/tlog`, accepted by three
//! independent implementations): our Merkle tree, proofs and signed-note code
//! must agree with it byte for byte, and refuse it with any byte changed.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use strongroom_crypto::merkle::{self, Frontier, Hash, NodeId};
use strongroom_crypto::note::{Checkpoint, NoteVerifier, open_note};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/tlog");

fn read(name: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}/{name}")).unwrap()
}

fn entries() -> Vec<Vec<u8>> {
    let bundle = read("entries.bin");
    let mut rest = bundle.as_slice();
    let mut entries = Vec::new();
    while !rest.is_empty() {
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        entries.push(rest[2..2 + len].to_vec());
        rest = &rest[2 + len..];
    }
    entries
}

fn hashes(lines: &str) -> Vec<Hash> {
    lines.lines().filter(|l| !l.is_empty()).map(|l| STANDARD.decode(l).unwrap().try_into().unwrap()).collect()
}

#[test]
fn our_tree_and_note_code_reproduce_the_shared_vector() {
    let note = String::from_utf8(read("checkpoint.txt")).unwrap();
    let verifier = NoteVerifier::parse(&String::from_utf8(read("vkey.txt")).unwrap()).unwrap();
    let checkpoint = Checkpoint::parse(open_note(&note, std::slice::from_ref(&verifier)).unwrap()).unwrap();
    assert_eq!(checkpoint.origin, "audit.example.com/secsrv/log1");
    assert_eq!(checkpoint.size, 5);

    let mut frontier = Frontier::new();
    let mut nodes = std::collections::HashMap::<NodeId, Hash>::new();
    let leaves: Vec<Hash> = entries().iter().map(|e| merkle::leaf_hash(e)).collect();
    let mut root_at_3 = [0; 32];
    for leaf in &leaves {
        nodes.extend(frontier.push(*leaf));
        if frontier.size() == 3 {
            root_at_3 = frontier.root();
        }
    }
    assert_eq!(frontier.size(), 5);
    assert_eq!(frontier.root(), checkpoint.root);

    let proofs = String::from_utf8(read("proofs.txt")).unwrap();
    let (inclusion, consistency) = proofs.split_once("--\n").unwrap();
    let inclusion = hashes(inclusion);
    let mut consistency = hashes(consistency);
    let expected_root_3 = consistency.pop().unwrap();
    assert_eq!(root_at_3, expected_root_3);
    assert_eq!(merkle::inclusion_proof(&nodes, 2, 5).unwrap(), inclusion);
    assert!(merkle::verify_inclusion(&leaves[2], 2, 5, &inclusion, &checkpoint.root));
    assert_eq!(merkle::consistency_proof(&nodes, 3, 5).unwrap(), consistency);
    assert!(merkle::verify_consistency(3, 5, &root_at_3, &checkpoint.root, &consistency));
}

#[test]
fn fail_any_changed_byte_of_the_checkpoint_is_refused() {
    let note = read("checkpoint.txt");
    let verifier = NoteVerifier::parse(&String::from_utf8(read("vkey.txt")).unwrap()).unwrap();
    for position in 0..note.len() {
        let mut changed = note.clone();
        changed[position] ^= 0x01;
        let Ok(text) = String::from_utf8(changed) else { continue };
        assert!(open_note(&text, std::slice::from_ref(&verifier)).is_err(), "byte {position} changed, still accepted");
    }
}
