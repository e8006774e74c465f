//! Precision and recall of each redaction detector over a labelled corpus
//! (`tests/data/redaction-corpus.txt`, written independently of the
//! detectors: `[[TYPE|value]]` marks personal data). A detection counts when
//! it overlaps a labelled value of its type. Targets (issue 7): precision ≥
//! 0.95 and recall ≥ 0.90 for every structured type.
//!
//! `cargo test -p strongroom-core --test redaction_corpus -- --nocapture`
//! prints the table. To measure sentences of your own in the same format:
//! `STRONGROOM_REDACTION_CORPUS=mine.txt cargo test -p strongroom-core --test
//! redaction_corpus your_own -- --nocapture` (or try single sentences with
//! `strongroom redact`).

use std::collections::BTreeMap;

use strongroom_core::records::redact::detect;

const CORPUS: &str = include_str!("data/redaction-corpus.txt");
/// Written after the detectors were tuned on `CORPUS`, by someone who saw
/// neither; never tuned on. Its figures are the honest ones.
const HELD_OUT: &str = include_str!("data/redaction-heldout.txt");
const TYPES: [&str; 8] = ["EMAIL", "URL", "IP", "IBAN", "CARD", "SSN", "DATE", "PHONE"];

/// A sentence without markup and its labelled spans (byte range, type).
fn parse(line: &str) -> (String, Vec<(usize, usize, String)>) {
    let mut text = String::new();
    let mut labels = Vec::new();
    let mut rest = line;
    while let Some(open) = rest.find("[[") {
        text.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after.find("]]").unwrap_or_else(|| panic!("unclosed label in {line:?}"));
        let (kind, value) = after[..close].split_once('|').unwrap_or_else(|| panic!("label without | in {line:?}"));
        assert!(TYPES.contains(&kind), "unknown type {kind} in {line:?}");
        labels.push((text.len(), text.len() + value.len(), kind.to_owned()));
        text.push_str(value);
        rest = &after[close + 2..];
    }
    text.push_str(rest);
    (text, labels)
}

#[derive(Default, Debug)]
struct Counts {
    true_positives: u32,
    false_positives: u32,
    false_negatives: u32,
}

fn overlaps(a: (usize, usize), b: (usize, usize)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

#[test]
fn every_detector_meets_its_precision_and_recall_targets() {
    assert_targets("tuning corpus", CORPUS, 200);
}

#[test]
fn every_detector_meets_its_targets_on_held_out_sentences() {
    assert_targets("held-out corpus", HELD_OUT, 100);
}

/// The file `STRONGROOM_REDACTION_CORPUS` names, when set (skipped otherwise).
#[test]
fn your_own_corpus_meets_the_targets_too() {
    let Some(path) = std::env::var_os("STRONGROOM_REDACTION_CORPUS") else {
        eprintln!("skipped: set STRONGROOM_REDACTION_CORPUS to a labelled file to measure it");
        return;
    };
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path:?}: {e}"));
    assert_targets(&format!("{}", std::path::Path::new(&path).display()), &text, 1);
}

fn assert_targets(name: &str, corpus: &str, minimum: usize) {
    let mut counts: BTreeMap<String, Counts> = TYPES.iter().map(|t| ((*t).to_owned(), Counts::default())).collect();
    let mut misses = Vec::new();
    let mut sentences = 0;
    for line in corpus.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        sentences += 1;
        let (text, labels) = parse(line);
        let found: Vec<(usize, usize, String)> = detect(&text)
            .into_iter()
            .map(|(start, end, label)| (start, end, label.trim_matches(['[', ']']).to_owned()))
            .collect();
        for (start, end, kind) in &found {
            let entry = counts.get_mut(kind).unwrap_or_else(|| panic!("unknown detector label {kind}"));
            if labels.iter().any(|(s, e, k)| k == kind && overlaps((*s, *e), (*start, *end))) {
                entry.true_positives += 1;
            } else {
                entry.false_positives += 1;
                misses.push(format!("false {kind}: {:?} in {text:?}", &text[*start..*end]));
            }
        }
        for (start, end, kind) in &labels {
            if !found.iter().any(|(s, e, k)| k == kind && overlaps((*s, *e), (*start, *end))) {
                counts.get_mut(kind).expect("a known type").false_negatives += 1;
                misses.push(format!("missed {kind}: {:?} in {text:?}", &text[*start..*end]));
            }
        }
    }
    assert!(sentences >= minimum, "the {name} holds {sentences} sentences; at least {minimum} are needed");
    println!("{name}: {sentences} sentences");
    println!("{:<6} {:>5} {:>5} {:>5} {:>9} {:>7}", "type", "TP", "FP", "FN", "precision", "recall");
    let mut failures = Vec::new();
    for (kind, c) in &counts {
        let precision = f64::from(c.true_positives) / f64::from((c.true_positives + c.false_positives).max(1));
        let recall = f64::from(c.true_positives) / f64::from((c.true_positives + c.false_negatives).max(1));
        println!(
            "{kind:<6} {:>5} {:>5} {:>5} {precision:>9.3} {recall:>7.3}",
            c.true_positives, c.false_positives, c.false_negatives
        );
        if precision < 0.95 || recall < 0.90 {
            failures.push(format!("{kind}: precision {precision:.3}, recall {recall:.3}"));
        }
    }
    for miss in &misses {
        println!("{miss}");
    }
    assert!(failures.is_empty(), "{name} below target: {failures:?}");
}
