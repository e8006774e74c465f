//! Words with their offsets and shapes: what the name and address detectors
//! read. A word keeps its inner apostrophes, hyphens and dots ("O'Sullivan",
//! "Al-Rashid", "P.O"); a trailing possessive ("Mendoza's") is left out of
//! a capitalised word, so the placeholder keeps the "'s".

/// How a word is written.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Shape {
    /// "Jane", "O'Brien", "Ólafur": an upper-case letter, then not all upper case.
    Capitalised,
    /// "SMITH", "IBM": two or more letters, all upper case.
    Upper,
    /// "jane", "the".
    Lower,
    /// Letters of a script without case (Arabic, Hebrew, CJK, Thai, …).
    Caseless,
    /// "42", "221B", "5th".
    Number,
    /// A single upper-case letter ("J" in "J. Smith", "Q" in "Q:").
    Letter,
    /// Punctuation kept as a word: "&".
    Symbol,
}

pub(crate) struct Token<'a> {
    pub start: usize,
    pub end: usize,
    pub text: &'a str,
    pub lower: String,
    pub shape: Shape,
    /// The text between the previous word and this one.
    pub gap: &'a str,
    /// A "." follows the word directly ("Mr.", "St.", "J.").
    pub dot: bool,
}

impl Token<'_> {
    /// Capitalised, all upper case or caseless: may be part of a proper name.
    pub(crate) fn is_capitalised(&self) -> bool {
        matches!(self.shape, Shape::Capitalised | Shape::Upper | Shape::Caseless)
    }

    /// Only spaces separate it from the word before.
    pub(crate) fn joined(&self) -> bool {
        !self.gap.is_empty() && self.gap.bytes().all(|b| b == b' ')
    }

    /// Only spaces, or a "." after an abbreviation or initial, separate it
    /// from the word before ("Mr. Smith", "J. Smith", "St. Olav").
    pub(crate) fn joined_after_abbreviation(&self) -> bool {
        self.joined() || (self.gap.starts_with('.') && self.gap[1..].bytes().all(|b| b == b' ') && self.gap.len() > 1)
    }

    /// A name spelled out letter by letter: "Z-A-W-A-D-Z-K-I", "r-u-s-s-o".
    pub(crate) fn spelled_letters(&self) -> usize {
        let parts = self.text.split('-');
        let mut count = 0;
        for part in parts {
            let mut chars = part.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if c.is_alphabetic() => count += 1,
                _ => return 0,
            }
        }
        if count >= 2 { count } else { 0 }
    }

    /// The first character of the word's gap that ends a sentence or clause
    /// (".", "!", "?", ":", a line break), or the start of the text.
    pub(crate) fn starts_sentence(&self, previous: Option<&Token<'_>>) -> bool {
        match previous {
            None => true,
            Some(p) => {
                self.gap.contains(['!', '?', ':', '\n', '"', '“', '(', '[', '—'])
                    || (self.gap.contains('.') && !(p.shape == Shape::Letter || is_abbreviation(&p.lower)))
            }
        }
    }
}

/// Abbreviations after which a "." does not end a sentence.
fn is_abbreviation(lower: &str) -> bool {
    matches!(
        lower,
        "mr" | "mrs"
            | "ms"
            | "dr"
            | "prof"
            | "st"
            | "jr"
            | "sr"
            | "sra"
            | "det"
            | "sgt"
            | "lt"
            | "capt"
            | "rev"
            | "mme"
            | "mlle"
            | "no"
            | "vs"
            | "v"
            | "sig"
            | "dott"
            | "ing"
            | "w"
            | "e"
            | "n"
            | "s"
            | "ave"
            | "rd"
    )
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_mark(c)
}

/// Combining marks (decomposed diacritics, Indic vowel signs) belong to the word.
fn is_mark(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F | 0x0900..=0x0DFF | 0x0E31..=0x0E4E | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x200C | 0x200D)
}

/// The words of `text`, in order.
pub(crate) fn tokenize(text: &str) -> Vec<Token<'_>> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::with_capacity(text.len() / 5 + 1);
    let mut last_end = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c == '&' {
            tokens.push(make(text, last_end, start, start + 1));
            last_end = start + 1;
            continue;
        }
        if !is_word_char(c) {
            continue;
        }
        let mut end = start + c.len_utf8();
        // Inner apostrophes, hyphens and dots join when a word character follows.
        while let Some(&(at, next)) = chars.peek() {
            if is_word_char(next) {
                end = at + next.len_utf8();
                chars.next();
                continue;
            }
            if matches!(next, '\'' | '’' | '-' | '.') {
                let after = text[at + next.len_utf8()..].chars().next();
                if after.is_some_and(is_word_char) {
                    chars.next();
                    end = at + next.len_utf8();
                    continue;
                }
            }
            break;
        }
        let mut token = make(text, last_end, start, end);
        // "Mendoza's" is Mendoza, then "'s".
        if token.is_capitalised() {
            for suffix in ["'s", "’s", "'S"] {
                if token.text.len() > suffix.len() + 1 && token.text.ends_with(suffix) {
                    token = make(text, last_end, start, end - suffix.len());
                    break;
                }
            }
        }
        token.dot = bytes.get(end) == Some(&b'.');
        last_end = token.end;
        tokens.push(token);
    }
    tokens
}

fn make(text: &str, last_end: usize, start: usize, end: usize) -> Token<'_> {
    let word = &text[start..end];
    let lower = if word.bytes().any(|b| b.is_ascii_uppercase()) || !word.is_ascii() {
        word.to_lowercase()
    } else {
        word.to_owned()
    };
    Token { start, end, text: word, lower, shape: shape(word), gap: &text[last_end..start], dot: false }
}

fn shape(word: &str) -> Shape {
    let mut chars = word.chars();
    let Some(first) = chars.next() else { return Shape::Symbol };
    if first.is_ascii_digit() {
        return Shape::Number;
    }
    if !first.is_alphabetic() {
        return Shape::Symbol;
    }
    if first.is_uppercase() {
        let letters: Vec<char> = word.chars().filter(|c| c.is_alphabetic()).collect();
        if letters.len() == 1 {
            return Shape::Letter;
        }
        if letters.iter().all(|c| c.is_uppercase()) {
            return Shape::Upper;
        }
        return Shape::Capitalised;
    }
    if first.is_lowercase() {
        return Shape::Lower;
    }
    Shape::Caseless
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_their_inner_punctuation_and_drop_possessives() {
        let text = "Mr. O'Brien's car, Al-Rashid & P.O. Box; SMITH: r-u-s-s-o";
        let words: Vec<&str> = tokenize(text).iter().map(|t| t.text).collect();
        assert_eq!(words, ["Mr", "O'Brien", "car", "Al-Rashid", "&", "P.O", "Box", "SMITH", "r-u-s-s-o"]);
        let tokens = tokenize(text);
        assert!(tokens[0].dot);
        assert_eq!(tokens[2].gap, "'s ");
        assert_eq!(tokens[7].shape, Shape::Upper);
        assert_eq!(tokens[8].spelled_letters(), 5);
    }
}
