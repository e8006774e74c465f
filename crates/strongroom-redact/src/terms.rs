//! An operator's own terms: names that are always redacted in a matter or
//! collection (the parties of a case, a client's codename), whatever the
//! detectors make of them. A term matches whole words, in any case
//! ("ACME corp" finds "Acme Corp"); a person's term also matches each of its
//! words alone where written with a capital ("Ms. Roe" after "Jane Roe").

use std::collections::HashMap;

use crate::gazetteer::Gazetteer;
use crate::names::{LOCATION, ORG, PERSON};
use crate::tokens::{Token, tokenize};
use crate::{Span, address::ADDRESS};

/// The most terms one list may hold, and the longest term: enough for the
/// parties of a large matter, small enough to match at full speed.
pub const MAX_TERMS: usize = 10_000;
pub const MAX_TERM_CHARS: usize = 200;

/// One term and the placeholder it becomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
    pub text: String,
    /// `PERSON`, `ORG`, `LOCATION` or `ADDRESS`.
    pub kind: String,
}

/// Why a list of terms was refused.
#[derive(Debug)]
pub enum TermError {
    TooMany,
    Empty(usize),
    TooLong(usize),
    UnknownKind(usize, String),
}

impl std::fmt::Display for TermError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooMany => write!(f, "at most {MAX_TERMS} terms"),
            Self::Empty(i) => write!(f, "terms[{i}]: a term is more than white space"),
            Self::TooLong(i) => write!(f, "terms[{i}]: at most {MAX_TERM_CHARS} characters"),
            Self::UnknownKind(i, kind) => {
                write!(f, "terms[{i}].type: {kind:?} is not one of PERSON, ORG, LOCATION, ADDRESS")
            }
        }
    }
}

impl std::error::Error for TermError {}

/// One way a term matches: its lower-cased words and placeholder.
#[derive(Debug)]
struct Entry {
    words: Vec<String>,
    label: &'static str,
    /// A word of a person's name, matched alone only where capitalised.
    capital_only: bool,
}

/// A compiled list of terms, ready to match.
#[derive(Default, Debug)]
pub struct Terms {
    /// The ways terms match, by their first word.
    by_first_word: HashMap<String, Vec<Entry>>,
}

pub(crate) fn placeholder(kind: &str) -> Option<&'static str> {
    match kind {
        "PERSON" => Some(PERSON),
        "ORG" => Some(ORG),
        "LOCATION" => Some(LOCATION),
        "ADDRESS" => Some(ADDRESS),
        _ => None,
    }
}

impl Terms {
    /// Checks and compiles `terms`.
    pub fn new(terms: &[Term]) -> Result<Self, TermError> {
        if terms.len() > MAX_TERMS {
            return Err(TermError::TooMany);
        }
        let common = Gazetteer::get();
        let mut by_first_word: HashMap<String, Vec<Entry>> = HashMap::new();
        for (i, term) in terms.iter().enumerate() {
            if term.text.chars().count() > MAX_TERM_CHARS {
                return Err(TermError::TooLong(i));
            }
            let label = placeholder(&term.kind).ok_or_else(|| TermError::UnknownKind(i, term.kind.clone()))?;
            if term.text.trim().is_empty() {
                return Err(TermError::Empty(i));
            }
            let words: Vec<String> = tokenize(&term.text).into_iter().map(|t| t.lower).collect();
            // Punctuation alone ("!!!") has no word to match: kept, never matching.
            let Some(first) = words.first() else { continue };
            by_first_word.entry(first.clone()).or_default().push(Entry {
                words: words.clone(),
                label,
                capital_only: false,
            });
            if label == PERSON && words.len() > 1 {
                for word in words.iter().filter(|w| w.chars().count() > 2 && !common.is_common(w)) {
                    by_first_word.entry(word.clone()).or_default().push(Entry {
                        words: vec![word.clone()],
                        label,
                        capital_only: true,
                    });
                }
            }
        }
        Ok(Self { by_first_word })
    }

    pub fn is_empty(&self) -> bool {
        self.by_first_word.is_empty()
    }

    /// The spans of the terms in `tokens`, longest first where several start at one word.
    pub(crate) fn spans(&self, tokens: &[Token<'_>], out: &mut Vec<Span>) {
        if self.by_first_word.is_empty() {
            return;
        }
        for (i, token) in tokens.iter().enumerate() {
            let Some(candidates) = self.by_first_word.get(&token.lower) else { continue };
            let best = candidates
                .iter()
                .filter(|entry| {
                    (!entry.capital_only || token.is_capitalised())
                        && i + entry.words.len() <= tokens.len()
                        && entry.words.iter().enumerate().all(|(k, w)| {
                            tokens[i + k].lower == *w
                                && (k == 0 || tokens[i + k].gap.trim_matches([' ', '.']).is_empty())
                        })
                })
                .max_by_key(|entry| entry.words.len());
            if let Some(entry) = best {
                out.push((token.start, tokens[i + entry.words.len() - 1].end, entry.label));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact_with;

    fn term(text: &str, kind: &str) -> Term {
        Term { text: text.into(), kind: kind.into() }
    }

    #[test]
    fn terms_match_whole_words_in_any_case_and_a_persons_words_alone_when_capitalised() {
        let terms = Terms::new(&[term("Zebulon Mxyzptlk", "PERSON"), term("project quillfeather", "ORG")]).unwrap();
        assert_eq!(
            redact_with("ZEBULON MXYZPTLK ran Project Quillfeather; Mxyzptlk denied it, mxyzptlk-ish.", &terms),
            "[PERSON] ran [ORG]; [PERSON] denied it, mxyzptlk-ish."
        );
        assert_eq!(redact_with("quillfeathers and projects", &terms), "quillfeathers and projects");
    }

    #[test]
    fn lists_that_cannot_match_are_refused() {
        assert!(matches!(Terms::new(&[term("  ", "PERSON")]), Err(TermError::Empty(0))));
        assert!(matches!(Terms::new(&[term("Acme", "PLANET")]), Err(TermError::UnknownKind(0, _))));
        assert!(matches!(Terms::new(&[term(&"a".repeat(201), "ORG")]), Err(TermError::TooLong(0))));
        let many: Vec<Term> = (0..=MAX_TERMS).map(|i| term(&format!("t{i}"), "ORG")).collect();
        assert!(matches!(Terms::new(&many), Err(TermError::TooMany)));
    }
}
