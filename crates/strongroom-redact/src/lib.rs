//! The detectors behind a `redacted` field's rendition: `"Hi, I am Jane Roe
//! from Acme Corporation, mail me at jane@example.com"` becomes `"Hi, I am
//! [PERSON] from [ORG], mail me at [EMAIL]"`.
//!
//! Two families, one pipeline:
//! - patterned data, found by shape and checksum (`patterned.rs`): `[EMAIL]`,
//!   `[URL]`, `[IP]`, `[IBAN]`, `[CARD]`, `[SSN]`, `[DATE]`, `[PHONE]`;
//! - words about people (`names.rs`, `address.rs`): `[PERSON]`, `[ORG]`,
//!   `[LOCATION]`, `[ADDRESS]`, found with gazetteers built from Faker's
//!   locale data (`data/`, see `data/NOTICE`) and context rules;
//! - and an operator's own terms (`Terms`): the parties of a matter, redacted
//!   wherever they appear.
//!
//! Everything runs offline, without a regex engine or a model; the
//! gazetteers are compiled into the binary and loaded on first use.

mod address;
mod gazetteer;
mod lexicon;
mod names;
mod patterned;
mod terms;
mod tokens;

pub use terms::{Term, TermError, Terms};

/// A detected span: byte range and placeholder.
pub type Span = (usize, usize, &'static str);

/// Every placeholder a detector can produce, in the order the docs list them.
pub const PLACEHOLDERS: [&str; 12] = [
    "[PERSON]",
    "[ORG]",
    "[LOCATION]",
    "[ADDRESS]",
    "[EMAIL]",
    "[URL]",
    "[IP]",
    "[IBAN]",
    "[CARD]",
    "[SSN]",
    "[DATE]",
    "[PHONE]",
];

/// The label of a span that is recognised as something else than personal
/// data (an IBAN-shaped account number that fails its check): it shadows
/// other detectors and is left as it is.
pub(crate) const NOT_PERSONAL: &str = "";

/// The text with every detected value replaced by its placeholder.
pub fn redact(text: &str) -> String {
    redact_with(text, &Terms::default())
}

/// [`redact`], also replacing an operator's own terms.
pub fn redact_with(text: &str, terms: &Terms) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end, label) in detect_with(text, terms) {
        out.push_str(&text[at..start]);
        out.push_str(label);
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

/// The detected spans, in order and without overlaps.
pub fn detect(text: &str) -> Vec<Span> {
    detect_with(text, &Terms::default())
}

/// [`detect`] with an operator's own terms. Operators' terms come first,
/// then patterned data, then street addresses, then people, organisations
/// and places, each detector skipping the words an earlier one took; where
/// spans still overlap, the one that starts first, and of those the
/// longest, wins.
pub fn detect_with(text: &str, terms: &Terms) -> Vec<Span> {
    let tokens = tokens::tokenize(text);
    let mut spans = Vec::new();
    terms.spans(&tokens, &mut spans);
    patterned::spans(text, &mut spans);
    let taken = spans.clone();
    address::spans(text, &tokens, &taken, &mut spans);
    let taken = spans.clone();
    names::spans(text, &tokens, &taken, &mut spans);
    spans.sort_by_key(|&(start, end, _)| (start, std::cmp::Reverse(end)));
    let mut kept: Vec<Span> = Vec::with_capacity(spans.len());
    for span in spans {
        if kept.last().is_none_or(|last| span.0 >= last.1) {
            kept.push(span);
        }
    }
    kept.retain(|span| span.2 != NOT_PERSONAL);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interview_guides_example_is_anonymised() {
        assert_eq!(redact("Hi, I am Jane Roe from Acme Corporation"), "Hi, I am [PERSON] from [ORG]");
    }

    #[test]
    fn each_new_detector_replaces_its_kind() {
        let cases = [
            ("Q: Did you speak with Mr. Okonkwo?", "Q: Did you speak with Mr. [PERSON]?"),
            ("MR. SMITH: Objection, form.", "MR. [PERSON]: Objection, form."),
            ("A: It's L-I W-E-I.", "A: It's [PERSON]."),
            ("my name is jane roe and i live in denver", "my name is [PERSON] and i live in [LOCATION]"),
            ("I worked at Pinecrest Freight LLC in Boise.", "I worked at [ORG] in [LOCATION]."),
            ("We lived at 4417 Larkspur Lane, Boise, Idaho 83704 then.", "We lived at [ADDRESS] then."),
            ("Send it to Hauptstraße 23, 10827 Berlin.", "Send it to [ADDRESS]."),
            ("Carlos Mendoza's badge", "[PERSON]'s badge"),
        ];
        for (input, expected) in cases {
            assert_eq!(redact(input), expected, "{input}");
        }
    }

    #[test]
    fn everyday_capitals_stay_text() {
        for text in [
            "Will you be able to attend the hearing in March?",
            "May I ask a question about the Agreement?",
            "THE WITNESS: Yes.",
            "Please open the Settings page and click Save.",
            "Thank you, Your Honor.",
        ] {
            assert_eq!(redact(text), text);
        }
    }
}
