//! Street addresses: `[ADDRESS]`. A street line is found by its shape —
//! a house number and a street word ("4417 Larkspur Lane", "88 Rue de la
//! Roquette", "Hauptstraße 23", "Via Garibaldi 14", "PO Box 4471"), or a
//! named street after "on"/"at" ("on Ashgrove Road") — and then extended
//! over what follows it on the envelope: unit, city, state, postcode
//! ("…, Apt 5C", "…, Boise, Idaho 83704", "…, Norwich NR4 7TJ", "…, 10827 Berlin").
//! In text without capitals (speech-to-text) numbers may be words:
//! "fifty two elm street".

use crate::Span;
use crate::gazetteer::Gazetteer;
use crate::lexicon::NUMBER_WORDS;
use crate::tokens::{Shape, Token};

pub(crate) const ADDRESS: &str = "[ADDRESS]";

/// Street words that come before the street's name ("Rue de Rivoli", "Via Roma", "Route 9").
const PREFIX_STREET_WORDS: &[&str] = &[
    "rue",
    "avenue",
    "av",
    "avenida",
    "calle",
    "via",
    "viale",
    "corso",
    "piazza",
    "rua",
    "route",
    "highway",
    "hwy",
    "boulevard",
    "bd",
    "chemin",
    "allée",
    "place",
    "plaza",
    "plac",
    "ulica",
    "ul",
    "carrer",
    "travessa",
    "largo",
    "praça",
    "paseo",
    "camino",
    "strada",
    "interstate",
];

/// Street words that end a named street without a number ("on Ashgrove Road").
const STRONG_STREET_WORDS: &[&str] = &[
    "street",
    "st",
    "road",
    "rd",
    "avenue",
    "ave",
    "lane",
    "ln",
    "drive",
    "boulevard",
    "blvd",
    "terrace",
    "close",
    "crescent",
    "parkway",
    "highway",
    "way",
    "court",
    "place",
    "square",
    "mews",
    "gardens",
    "grove",
    "row",
];

/// Endings of one-word street names ("Hauptstraße", "Kalverstraat", "Drottninggatan").
const COMPOUND_STREET_ENDINGS: &[&str] = &[
    "straße", "strasse", "str", "weg", "gasse", "platz", "allee", "damm", "ufer", "ring", "straat", "laan", "gracht",
    "plein", "gatan", "vägen", "gade", "vej", "veien", "vegen", "gata", "gränd", "torget", "katu", "tie", "utca",
];

/// Words before a street's name in running text: "we lived on Elm Street".
const STREET_CUES: &[&str] = &["on", "at", "along", "off", "onto", "down", "up", "near", "in", "from", "to"];

const UNIT_WORDS: &[&str] =
    &["apt", "apartment", "suite", "ste", "unit", "flat", "floor", "fl", "room", "rm", "bldg", "building", "no"];

const DIRECTIONS: &[&str] = &["n", "s", "e", "w", "ne", "nw", "se", "sw", "north", "south", "east", "west"];

struct Reader<'t, 'a> {
    tokens: &'t [Token<'a>],
    free: Vec<bool>,
    speech: bool,
    gazetteer: &'static Gazetteer,
}

/// The street addresses in `tokens`, skipping words inside `taken` spans.
pub(crate) fn spans(text: &str, tokens: &[Token<'_>], taken: &[Span], out: &mut Vec<Span>) {
    let free = tokens.iter().map(|t| !taken.iter().any(|s| t.start < s.1 && s.0 < t.end)).collect();
    let reader = Reader { tokens, free, speech: !text.chars().any(char::is_uppercase), gazetteer: Gazetteer::get() };
    let mut i = 0;
    while i < tokens.len() {
        match reader.street_line(i) {
            Some(end) => {
                let end = reader.tail(end);
                let start = reader.unit_before(i);
                out.push((tokens[start].start, tokens[end - 1].end, ADDRESS));
                i = end;
            }
            None => i += 1,
        }
    }
}

impl Reader<'_, '_> {
    fn lower(&self, i: usize) -> &str {
        &self.tokens[i].lower
    }

    fn get(&self, i: usize) -> Option<&Token<'_>> {
        self.tokens.get(i).filter(|_| self.free[i])
    }

    /// Token `i` follows the one before it after spaces only (or after an abbreviation's dot).
    fn joined(&self, i: usize) -> bool {
        self.get(i).is_some_and(|t| t.joined() || (t.joined_after_abbreviation() && self.tokens[i - 1].text.len() <= 4))
    }

    fn is_house_number(&self, i: usize) -> bool {
        self.get(i).is_some_and(|t| {
            t.shape == Shape::Number && {
                let digits = t.text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
                let digits_ok = |d: &str| (1..=5).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit());
                let suffix = t.text.len() - digits.len();
                (suffix <= 1 && digits_ok(digits))
                    || digits.split_once('-').is_some_and(|(a, b)| digits_ok(a) && digits_ok(b))
                    || digits.split_once('/').is_some_and(|(a, b)| digits_ok(a) && digits_ok(b))
            }
        })
    }

    /// The end of the house number at `i`: digits, or number words in speech.
    fn house_number_end(&self, i: usize) -> Option<usize> {
        if self.is_house_number(i) {
            return Some(i + 1);
        }
        if !self.speech {
            return None;
        }
        let mut j = i;
        while j < self.tokens.len()
            && self.free[j]
            && NUMBER_WORDS.contains(&self.lower(j))
            && (j == i || self.joined(j))
        {
            j += 1;
        }
        (j > i).then_some(j)
    }

    fn is_street_word(&self, i: usize) -> bool {
        self.get(i).is_some_and(|t| (t.is_capitalised() || self.speech) && self.gazetteer.is_street_word(&t.lower))
    }

    /// A word of a street's name: capitalised, an ordinal ("5th"), or in
    /// speech any word that is not a function word.
    fn is_name_word(&self, i: usize) -> bool {
        self.get(i).is_some_and(|t| {
            (t.is_capitalised() && !matches!(t.lower.as_str(), "i" | "the" | "and"))
                || (t.shape == Shape::Number && t.text.ends_with(['h', 'd', 't']))
                || (self.speech && t.shape == Shape::Lower && !is_speech_stop(&t.lower))
        })
    }

    fn is_particle(&self, i: usize) -> bool {
        self.get(i).is_some_and(|t| {
            matches!(
                t.lower.as_str(),
                "de" | "la"
                    | "le"
                    | "des"
                    | "du"
                    | "del"
                    | "della"
                    | "di"
                    | "da"
                    | "do"
                    | "dos"
                    | "das"
                    | "van"
                    | "von"
                    | "der"
                    | "l"
            )
        })
    }

    /// The end of a street line starting at `i`, if one does.
    fn street_line(&self, i: usize) -> Option<usize> {
        self.get(i)?;
        if let Some(end) = self.po_box(i) {
            return Some(end);
        }
        if let Some(after_number) = self.house_number_end(i) {
            return self.street_after_number(after_number);
        }
        let t = &self.tokens[i];
        if !t.is_capitalised() {
            return None;
        }
        // Hauptstraße 23
        if COMPOUND_STREET_ENDINGS.iter().any(|e| t.lower.len() > e.len() + 2 && t.lower.ends_with(e))
            && self.joined(i + 1)
            && self.is_house_number(i + 1)
        {
            return Some(i + 2);
        }
        // Via Garibaldi 14, Calle de Alcalá 45
        if PREFIX_STREET_WORDS.contains(&t.lower.as_str()) {
            let mut j = i + 1;
            let mut names = 0;
            while j < self.tokens.len() && j - i <= 5 && self.joined(j) && (self.is_name_word(j) || self.is_particle(j))
            {
                names += usize::from(self.is_name_word(j));
                j += 1;
            }
            if names >= 1 && self.joined(j) && self.is_house_number(j) {
                return Some(j + 1);
            }
        }
        // on Ashgrove Road
        if i >= 1 && STREET_CUES.contains(&self.lower(i - 1)) && self.tokens[i].joined() {
            let mut j = i;
            while j < self.tokens.len() && j - i < 3 && (j == i || self.joined(j)) && self.is_name_word(j) {
                if j > i && STRONG_STREET_WORDS.contains(&self.lower(j)) && self.tokens[j].is_capitalised() {
                    return Some(j + 1);
                }
                j += 1;
            }
        }
        None
    }

    fn po_box(&self, i: usize) -> Option<usize> {
        let lower = self.lower(i);
        let box_at = match lower {
            "po" | "p.o" => i + 1,
            "post" if self.get(i + 1).is_some_and(|t| t.lower == "office") => i + 2,
            _ => return None,
        };
        (self.get(box_at).is_some_and(|t| t.lower == "box") && self.is_house_number(box_at + 1)).then_some(box_at + 2)
    }

    /// After a house number: "[W.] Larkspur Lane", "Rue de la Roquette", "Route 9".
    fn street_after_number(&self, mut j: usize) -> Option<usize> {
        if !self.joined(j) {
            return None;
        }
        if self.get(j).is_some_and(|t| DIRECTIONS.contains(&t.lower.as_str()) && t.shape != Shape::Lower)
            && self.joined(j + 1)
        {
            j += 1;
        }
        // Prefix style: 88 Rue de la Roquette, 140 Route 9.
        if self.get(j).is_some_and(|t| t.is_capitalised() && PREFIX_STREET_WORDS.contains(&t.lower.as_str())) {
            let mut k = j + 1;
            let mut names = 0;
            while k < self.tokens.len()
                && k - j <= 5
                && self.joined(k)
                && (self.is_name_word(k) || self.is_particle(k) || self.is_house_number(k))
            {
                names += usize::from(!self.is_particle(k));
                k += 1;
            }
            while k > j + 1 && self.is_particle(k - 1) {
                k -= 1;
            }
            if names >= 1 {
                return Some(k);
            }
        }
        // Suffix style: 4417 Larkspur Lane, 350 Fifth Avenue, fifty two elm street.
        let start = j;
        while j < self.tokens.len() && j - start < 4 && (j == start || self.joined(j)) && self.is_name_word(j) {
            if j > start && self.is_street_word(j) {
                let mut end = j + 1;
                if self.get(end).is_some_and(|t| DIRECTIONS.contains(&t.lower.as_str()) && t.shape != Shape::Lower)
                    && self.joined(end)
                {
                    end += 1;
                }
                return Some(end);
            }
            j += 1;
        }
        None
    }

    /// "Flat 3, 19 Victoria Road": the unit written before the street line.
    fn unit_before(&self, i: usize) -> usize {
        if i >= 2
            && self.tokens[i].gap.trim() == ","
            && UNIT_WORDS.contains(&self.lower(i - 2))
            && self.free[i - 2]
            && self.tokens[i - 1].shape == Shape::Number
        {
            i - 2
        } else {
            i
        }
    }

    /// What follows a street line on the envelope: unit, city, state, postcode.
    fn tail(&self, mut end: usize) -> usize {
        for _ in 0..4 {
            let Some(next) = self.get(end) else { break };
            let comma = next.gap.trim().trim_start_matches('.') == ",";
            if !(comma || next.joined()) {
                break;
            }
            match self.segment(end, comma) {
                Some(segment_end) => end = segment_end,
                None => break,
            }
        }
        end
    }

    /// One piece of an address's tail starting at `i`, and its end.
    fn segment(&self, i: usize, after_comma: bool) -> Option<usize> {
        let t = self.get(i)?;
        // Apt 5C, Suite 200, #12
        if UNIT_WORDS.contains(&t.lower.as_str())
            && self.joined(i + 1)
            && self.get(i + 1).is_some_and(|n| n.shape == Shape::Number || n.shape == Shape::Letter)
        {
            return Some(i + 2);
        }
        // Postcodes: 83704, 10827 Berlin, NR4 7TJ, M5H 2M5, or state and ZIP: TN 37203, ON M5H 2M5.
        if let Some(end) = self.postcode(i) {
            let end = if self.joined(end) && self.is_city_word(end) { self.city_end(end) } else { end };
            return Some(end);
        }
        // TN 37203, ON M5H 2M5, NSW 2000
        if t.shape == Shape::Upper && (2..=3).contains(&t.text.len()) {
            if self.joined(i + 1)
                && let Some(end) = self.postcode(i + 1)
            {
                return Some(end);
            }
            return after_comma.then_some(i + 1);
        }
        // A city (and its district number, state or postcode after it): Boise, Dublin 4, Idaho 83704.
        if after_comma && self.is_city_word(i) {
            let mut end = self.city_end(i);
            if self.joined(end) {
                if let Some(code) = self.postcode(end) {
                    end = code;
                } else if self.get(end).is_some_and(|n| n.shape == Shape::Number && n.text.len() <= 2) {
                    end += 1;
                }
            }
            return Some(end);
        }
        None
    }

    fn is_city_word(&self, i: usize) -> bool {
        if self.place_of_words_end(i).is_some() {
            return true;
        }
        self.get(i).is_some_and(|t| {
            matches!(t.shape, Shape::Capitalised | Shape::Caseless)
                && (!self.gazetteer.is_common(&t.lower) || self.gazetteer.is_place(&t.lower))
        }) || (self.speech && self.get(i).is_some_and(|t| self.gazetteer.is_place(&t.lower)))
    }

    /// The end of a place of several words at `i`: "New York", "Clifton Park".
    fn place_of_words_end(&self, i: usize) -> Option<usize> {
        [3, 2].into_iter().map(|words| i + words).find(|&end| {
            end <= self.tokens.len()
                && (i + 1..end).all(|j| self.joined(j))
                && (i..end).all(|j| self.get(j).is_some_and(Token::is_capitalised))
                && self.gazetteer.is_place(&(i..end).map(|j| self.lower(j)).collect::<Vec<_>>().join(" "))
        })
    }

    fn city_end(&self, i: usize) -> usize {
        if let Some(end) = self.place_of_words_end(i) {
            return end;
        }
        let mut end = i + 1;
        while end < self.tokens.len() && end - i < 3 && self.joined(end) && self.is_city_word(end) {
            end += 1;
        }
        end
    }

    /// A postcode at `i`: four or five digits (ZIP+4 too), or the two parts
    /// of a British or Canadian one. Its end.
    fn postcode(&self, i: usize) -> Option<usize> {
        let t = self.get(i)?;
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        let text = t.text;
        if t.shape == Shape::Number
            && ((4..=5).contains(&text.len()) && digits(text) || (text.len() == 10 && text.as_bytes()[5] == b'-'))
        {
            return Some(i + 1);
        }
        let mixed = |s: &str| {
            (2..=4).contains(&s.len())
                && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                && s.bytes().any(|b| b.is_ascii_digit())
                && s.bytes().any(|b| b.is_ascii_uppercase())
        };
        if mixed(text) && self.joined(i + 1) && self.get(i + 1).is_some_and(|n| n.text.len() == 3 && mixed(n.text)) {
            return Some(i + 2);
        }
        None
    }
}

fn is_speech_stop(lower: &str) -> bool {
    matches!(
        lower,
        "i" | "the"
            | "a"
            | "an"
            | "and"
            | "on"
            | "in"
            | "at"
            | "to"
            | "of"
            | "is"
            | "was"
            | "my"
            | "we"
            | "you"
            | "he"
            | "she"
            | "they"
            | "it"
            | "for"
            | "with"
            | "or"
            | "but"
            | "so"
            | "um"
            | "uh"
            | "yeah"
            | "people"
            | "times"
            | "days"
            | "years"
            | "minutes"
            | "hours"
            | "of the"
    )
}
