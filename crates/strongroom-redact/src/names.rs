//! People, organisations and places: `[PERSON]`, `[ORG]`, `[LOCATION]`.
//!
//! No single signal is enough, so each run of capitalised words is weighed
//! by several, strongest first:
//! 1. a title before it ("Mr. Okonkwo", "MR. SMITH:", "Detective Ruiz");
//! 2. what ends or heads it ("… Freight LLC", "… Hospital", "University of …",
//!    "Harlow & Finch …"): an organisation;
//! 3. a cue for an employer before it ("worked at Tesco", "joined Deloitte");
//! 4. the place gazetteer ("Kraków", "New Zealand");
//! 5. the name gazetteers: a given name that is not an everyday word, or two
//!    capitalised words of which one is a name;
//! 6. a cue for a name before it ("my name is", "my manager,", "called");
//! 7. a cue for a place before it ("moved to Chattanooga");
//! 8. a surname alone in mid-sentence.
//!
//! Everyday words ("May", "Will", "Court", "Settings") never count as names
//! on their own capital. Text without any capital letter (speech-to-text
//! output) is read only after strong cues: "my name is jane roe",
//! "i live in denver", "i work at amazon". Names spelled out letter by
//! letter ("L-I W-E-I") are names. A person once found is found again
//! wherever the text repeats one of the name's words ("Sergei").

use crate::Span;
use crate::gazetteer::Gazetteer;
use crate::lexicon::{
    CERTAIN_NAME_CUES, DETERMINERS, FACILITIES, HONORIFICS, JOBS, NAME_CUES, NAME_PARTICLES, ORG_CUES, ORG_HEADS,
    ORG_HEADS_NEED_OF, ORG_JOINERS, PLACE_CUES, RELATIONS, SPLITTERS, STRONG_NAME_CUES,
};
use crate::tokens::{Shape, Token};

pub(crate) const PERSON: &str = "[PERSON]";
pub(crate) const ORG: &str = "[ORG]";
pub(crate) const LOCATION: &str = "[LOCATION]";

/// Runs longer than this are headings or titles, not names.
const MAX_RUN: usize = 8;

struct Reader<'t, 'a> {
    tokens: &'t [Token<'a>],
    /// Words not inside a span another detector found (an e-mail address, a street address).
    free: Vec<bool>,
    gazetteer: &'static Gazetteer,
    found: Vec<(usize, usize, &'static str)>,
}

/// The spans of people, organisations and places in `tokens`, skipping words
/// inside `taken` spans.
pub(crate) fn spans(text: &str, tokens: &[Token<'_>], taken: &[Span], out: &mut Vec<Span>) {
    let free = tokens.iter().map(|t| !taken.iter().any(|s| t.start < s.1 && s.0 < t.end)).collect();
    let mut reader = Reader { tokens, free, gazetteer: Gazetteer::get(), found: Vec::new() };
    let speech = !text.chars().any(char::is_uppercase);
    if speech {
        reader.read_speech();
    } else {
        reader.read_written();
    }
    reader.read_spelled();
    reader.repeat_people();
    out.extend(reader.found.iter().map(|&(s, e, label)| (tokens[s].start, tokens[e - 1].end, label)));
}

impl Reader<'_, '_> {
    fn lower(&self, i: usize) -> &str {
        &self.tokens[i].lower
    }

    fn is_common(&self, i: usize) -> bool {
        let lower = self.lower(i);
        self.gazetteer.is_common(lower) || self.tokens[i].lower.chars().count() < 2
    }

    /// A given name, or a surname, that is not an everyday word; hyphenated
    /// names count when a part is one ("Jean-Pierre", "Adeyemi-Cole").
    fn is_name(&self, i: usize, given_only: bool) -> bool {
        let lower = self.lower(i);
        if self.is_common(i) {
            return false;
        }
        let known = |w: &str| if given_only { self.gazetteer.is_given(w) } else { self.gazetteer.is_name(w) };
        known(lower)
            || (lower.contains(['-', '\'', '’'])
                && lower.split(['-', '\'', '’']).any(|p| p.chars().count() > 2 && known(p)))
            || self.is_cjk_name(i)
    }

    /// A Chinese, Japanese or Korean name written without a space: a surname
    /// of one or two characters, then a given name ("王伟").
    fn is_cjk_name(&self, i: usize) -> bool {
        let token = &self.tokens[i];
        if token.shape != Shape::Caseless {
            return false;
        }
        let chars: Vec<(usize, char)> = token.lower.char_indices().collect();
        if !(2..=4).contains(&chars.len()) {
            return false;
        }
        (1..=2).any(|n| {
            n < chars.len() && {
                let (surname, given) = token.lower.split_at(chars[n].0);
                self.gazetteer.is_surname(surname) && (self.gazetteer.is_given(given) || given.chars().count() <= 2)
            }
        })
    }

    fn phrase(&self, s: usize, end: usize) -> String {
        (s..end).map(|i| self.lower(i)).collect::<Vec<_>>().join(" ")
    }

    /// A place the gazetteer knows, of three letters or more ("Mi" is no town here).
    fn is_place(&self, phrase: &str) -> bool {
        phrase.chars().count() >= 3 && self.gazetteer.is_place(phrase)
    }

    /// "a software engineer at Wipro": a job, then "at".
    fn job_at_before(&self, at: usize) -> bool {
        at >= 2 && self.lower(at - 1) == "at" && self.tokens[at].joined() && JOBS.contains(&self.lower(at - 2))
    }

    fn is_surname(&self, i: usize) -> bool {
        !self.is_common(i) && self.gazetteer.is_surname(self.lower(i))
    }

    fn is_honorific(&self, i: usize) -> bool {
        HONORIFICS.contains(&self.lower(i))
    }

    /// The words right before token `at` (ignoring a comma) are one of `cues`.
    fn cue_before(&self, at: usize, cues: &[&[&str]]) -> bool {
        cues.iter().any(|cue| {
            at >= cue.len() && {
                let first = at - cue.len();
                let gap = self.tokens[at].gap.trim();
                (gap.is_empty() || gap == ",")
                    && cue.iter().enumerate().all(|(k, w)| self.tokens[first + k].lower == *w)
                    && (1..cue.len()).all(|k| !self.tokens[first + k].gap.contains(['.', ',', ':', '\n']))
            }
        })
    }

    /// The word before token `at` is a title: "Mr.", "Dr", "Detective".
    fn title_before(&self, at: usize) -> bool {
        at >= 1 && self.is_honorific(at - 1) && self.tokens[at].joined_after_abbreviation()
    }

    fn relation_before(&self, at: usize) -> bool {
        at >= 1 && {
            let gap = self.tokens[at].gap.trim();
            (gap.is_empty() || gap == ",") && RELATIONS.contains(&self.lower(at - 1))
        }
    }

    fn place_cue_before(&self, at: usize) -> Option<&str> {
        (at >= 1 && self.tokens[at].joined() && PLACE_CUES.contains(&self.lower(at - 1))).then(|| self.lower(at - 1))
    }

    /// Can token `i` start or continue a run of capitalised words?
    fn capitalised(&self, i: usize) -> bool {
        let t = &self.tokens[i];
        self.free[i] && (t.is_capitalised() || (t.shape == Shape::Letter && t.dot))
    }

    /// "H" in "H&R Block": a letter joined to "&".
    fn letter_before_ampersand(&self, i: usize) -> bool {
        self.free[i]
            && self.tokens[i].shape == Shape::Letter
            && self.tokens.get(i + 1).is_some_and(|t| t.text == "&" && t.gap.is_empty())
    }

    fn read_written(&mut self) {
        let mut i = 0;
        while i < self.tokens.len() {
            // "A: my name is jane roe." in text that has capitals elsewhere.
            if self.free[i]
                && self.tokens[i].shape == Shape::Lower
                && self.cue_before(i, CERTAIN_NAME_CUES)
                && self.is_name(i, false)
            {
                let mut end = i + 1;
                while end < self.tokens.len()
                    && end - i < 3
                    && self.free[end]
                    && self.tokens[end].joined()
                    && self.tokens[end].shape == Shape::Lower
                    && self.gazetteer.is_name(self.lower(end))
                    && !is_function_word(self.lower(end))
                {
                    end += 1;
                }
                self.found.push((i, end, PERSON));
                i = end;
                continue;
            }
            if !(self.capitalised(i) || self.letter_before_ampersand(i)) || self.tokens[i].spelled_letters() > 0 {
                i += 1;
                continue;
            }
            let end = self.run_end(i);
            self.classify_run(i, end);
            i = end;
        }
    }

    /// The end (exclusive) of the run of capitalised words from `start`,
    /// through initials, particles ("van der"), joiners ("of", "&") and
    /// possessives when a capitalised word follows them.
    fn run_end(&self, start: usize) -> usize {
        let tokens = self.tokens;
        let mut end = start + 1;
        let mut j = start + 1;
        while j < tokens.len() && j - start < MAX_RUN {
            let t = &tokens[j];
            let previous = &tokens[j - 1];
            let attached = t.joined()
                || (t.joined_after_abbreviation()
                    && (previous.shape == Shape::Letter || self.is_honorific(j - 1) || previous.lower == "st"))
                || t.gap.is_empty() && (t.text == "&" || previous.text == "&")
                || matches!(t.gap, "'s " | "’s ");
            if !attached || !self.free[j] {
                break;
            }
            if self.capitalised(j) || (t.gap.is_empty() && previous.text == "&" && t.shape == Shape::Letter) {
                j += 1;
                end = j;
                continue;
            }
            let joiner =
                t.text == "&" || NAME_PARTICLES.contains(&t.lower.as_str()) || ORG_JOINERS.contains(&t.lower.as_str());
            if joiner && !matches!(t.gap, "'s " | "’s ") {
                j += 1;
                continue;
            }
            break;
        }
        end
    }

    fn classify_run(&mut self, start: usize, end: usize) {
        // "H&R Block", "Ernst & Young": one organisation, letters and all.
        if (start..end).any(|i| self.tokens[i].text == "&")
            && let Some(label) = self.organisation(start, end)
        {
            return self.found.push((start, end, label));
        }
        // Everyday words and titles that open the run are context, not name.
        let mut s = start;
        while s < end {
            if self.is_honorific(s) {
                // What follows a title is the name, everyday word or not
                // ("MR. SMITH"), particles too ("Ms. van der Berg"), up to a joiner.
                s += 1;
                let name_end = (s..end).find(|&i| SPLITTERS.contains(&self.lower(i))).unwrap_or(end);
                if name_end > s && self.organisation(s, end).is_none() {
                    self.found.push((s, name_end, PERSON));
                    if name_end + 1 < end {
                        self.classify_run(name_end + 1, end);
                    }
                    return;
                }
                break;
            }
            let heads_organisation = ORG_HEADS.contains(&self.lower(s)) && s + 1 < end && self.lower(s + 1) == "of";
            let initial = self.tokens[s].shape == Shape::Letter && self.tokens[s].dot;
            // "Bill Gates", "Mark Johnson": an everyday word that is a given name, before a surname.
            let given_before_surname = s + 1 < end
                && self.gazetteer.is_given(self.lower(s))
                && self.capitalised(s + 1)
                && self.is_surname(s + 1);
            if heads_organisation
                || initial
                || given_before_surname
                || !(self.is_common(s) || self.tokens[s].text == "&")
            {
                break;
            }
            s += 1;
        }
        // "New York", "Cape Town": a place may open with an everyday word.
        let whole = self.phrase(start, end);
        if s > start
            && end - start >= 2
            && !self.is_honorific(start)
            && (start..end).all(|i| self.capitalised(i))
            && self.is_place(&whole)
        {
            return self.found.push((start, end, LOCATION));
        }
        // "The New York Times", "Los Angeles Lakers": a place's name opening a
        // longer run is an organisation's.
        let place_first = (start..=s.min(end - 1))
            .find(|&k| [3, 2].into_iter().any(|n| k + n < end && self.is_place(&self.phrase(k, k + n))));
        if let Some(k) = place_first
            && !self.is_honorific(start)
            && (k..end).all(|i| self.capitalised(i))
        {
            return self.found.push((k, end, ORG));
        }
        // A joiner or particle left first is no part of a name.
        while s < end && !self.capitalised(s) {
            s += 1;
        }
        if s >= end {
            return;
        }
        if let Some(label) = self.organisation(s, end) {
            self.found.push((s, end, label));
            return;
        }
        // Not one organisation: its parts, split at joiners ("and", "of",
        // "&") and possessives, but not at a name's particles ("de Vries").
        let mut part = s;
        for j in s..=end {
            let splitter = j < end && SPLITTERS.contains(&self.lower(j));
            let split = j == end || (splitter && j > part) || (j > part && matches!(self.tokens[j].gap, "'s " | "’s "));
            if split {
                let mut part_end = j;
                while part_end > part && !self.capitalised(part_end - 1) {
                    part_end -= 1;
                }
                while part < part_end && !self.capitalised(part) {
                    part += 1;
                }
                if part_end > part {
                    self.classify_part(part, part_end);
                }
                part = j + usize::from(splitter);
            }
        }
    }

    /// `[ORG]` when the run's last word is an organisation suffix or its
    /// first heads one ("University of"), or it joins names with "&".
    fn organisation(&self, s: usize, end: usize) -> Option<&'static str> {
        let words = end - s;
        let last = self.lower(end - 1).trim_end_matches('.');
        let has_uncommon =
            (s..end).any(|i| self.capitalised(i) && !self.is_common(i) && self.tokens[i].shape != Shape::Letter);
        // "Thomas Müller of Siemens AG" is a person and an organisation.
        let person_of = (s + 1..end)
            .find(|&i| self.lower(i) == "of")
            .is_some_and(|of| self.is_name(s, true) && !(s..of).any(|i| self.gazetteer.is_org_suffix(self.lower(i))));
        if person_of {
            return None;
        }
        if words >= 2 && has_uncommon && self.gazetteer.is_org_suffix(last) {
            return Some(ORG);
        }
        let first = self.lower(s);
        let of_follows = words >= 3 && self.lower(s + 1) == "of";
        if ORG_HEADS.contains(&first)
            && (of_follows || (words >= 2 && has_uncommon && !ORG_HEADS_NEED_OF.contains(&first)))
        {
            return Some(ORG);
        }
        // "Royal Infirmary of Edinburgh", "Bank of America".
        let org_word_of = (s + 1..end.saturating_sub(1)).any(|i| {
            self.lower(i) == "of"
                && (self.gazetteer.is_org_suffix(self.lower(i - 1)) || ORG_HEADS.contains(&self.lower(i - 1)))
        });
        if org_word_of {
            return Some(ORG);
        }
        let ampersand = (s + 1..end - 1).any(|i| self.tokens[i].text == "&");
        let long_word = (s..end).any(|i| self.tokens[i].text.chars().count() > 1 && self.tokens[i].text != "&");
        if ampersand && long_word {
            return Some(ORG);
        }
        None
    }

    /// One run of capitalised words without joiners: a person, an
    /// organisation, a place or nothing, by the signals in the module's order.
    fn classify_part(&mut self, s: usize, end: usize) {
        let g = self.gazetteer;
        let words = end - s;
        let all_letters = (s..end).all(|i| self.tokens[i].shape == Shape::Letter);
        if all_letters {
            return;
        }
        let titled = self.title_before(s);
        let name_cue = titled || self.cue_before(s, NAME_CUES) || self.relation_before(s);
        if titled {
            return self.found.push((s, end, PERSON));
        }
        let org_cue = self.cue_before(s, ORG_CUES) || self.job_at_before(s);
        // After "worked at", only a given name and surnames make a person ("Wells Fargo" is a bank).
        let full_name = words >= 2 && self.is_name(s, true) && (s + 1..end).all(|i| self.is_surname(i));
        let org_word_last = words >= 2 && g.is_org_suffix(self.lower(end - 1).trim_end_matches('.'));
        if self.organisation(s, end).is_some()
            || (org_cue && (org_word_last || !(self.is_name(s, true) && (words == 1 || full_name))))
        {
            return self.found.push((s, end, ORG));
        }
        if words >= 2 && FACILITIES.contains(&self.lower(end - 1)) {
            return self.found.push((s, end, LOCATION));
        }
        // "a Nike jacket", "the Hilton": a thing, unless a title or cue says otherwise.
        let determined = s >= 1 && self.tokens[s].joined() && DETERMINERS.contains(&self.lower(s - 1));
        let phrase = self.phrase(s, end);
        let place_cue = self.place_cue_before(s);
        let names = (s..end).filter(|&i| self.is_name(i, false)).count();
        let given = (s..end).any(|i| self.is_name(i, true));
        // "Winnipeg, Manitoba": a place after a place and a comma.
        let after_place = self.found.last().is_some_and(|&(_, e, label)| {
            label == LOCATION
                && ((e == s && self.tokens[s].gap.trim() == ",")
                    || (e + 1 == s && matches!(self.lower(e), "and" | "or") && self.tokens[s].joined()))
        });
        // A lone word that is also a name and a town somewhere ("Rodriguez")
        // is a place only where the sentence says so.
        let placed = place_cue.is_some() || after_place || words >= 2 || names == 0;
        if self.is_place(&phrase)
            && !self.is_common(s)
            && !name_cue
            && placed
            && (place_cue.is_some() || !(given && words >= 2))
        {
            return self.found.push((s, end, LOCATION));
        }
        let sentence_start = self.tokens[s].starts_sentence(s.checked_sub(1).map(|p| &self.tokens[p]));
        let upper_only = (s..end).all(|i| self.tokens[i].shape == Shape::Upper);
        // "JOHN SMITH, having been duly sworn": capitals alone need two names.
        let initials = self.tokens[s].shape == Shape::Letter
            && self.tokens[end - 1].shape != Shape::Letter
            && !self.is_common(end - 1);
        let leading_given =
            self.is_name(s, true) || (words >= 2 && self.gazetteer.is_given(self.lower(s)) && self.is_surname(s + 1));
        if determined && words == 1 && !name_cue {
            return;
        }
        if (given && !upper_only)
            || (words >= 2 && names >= 1 && !upper_only)
            || (upper_only && leading_given && words >= 2)
            || initials
        {
            return self.found.push((s, end, PERSON));
        }
        if name_cue && !(s..end).all(|i| self.is_common(i)) {
            return self.found.push((s, end, PERSON));
        }
        if let Some(cue) = place_cue
            && !(s..end).all(|i| self.is_common(i))
            && !upper_only
        {
            // "Jane Roe from Acme": after a person, "from" names the employer.
            let after_person = cue == "from"
                && self.found.last().is_some_and(|&(_, e, label)| label == PERSON && e + 1 >= s.saturating_sub(1));
            return self.found.push((s, end, if after_person { ORG } else { LOCATION }));
        }
        // "Rodriguez stated that …": a surname opening a sentence, a verb after it.
        let subject = sentence_start && self.tokens.get(end).is_some_and(|t| t.shape == Shape::Lower && t.joined());
        if words == 1
            && names == 1
            && (!sentence_start || subject)
            && !upper_only
            && self.tokens[s].shape != Shape::Caseless
        {
            self.found.push((s, end, PERSON));
        }
    }

    /// Text without capitals: names only after strong cues, places after
    /// "in"/"from", employers after "work at".
    fn read_speech(&mut self) {
        let g = self.gazetteer;
        let n = self.tokens.len();
        let mut i = 0;
        while i < n {
            if !self.free[i] || self.tokens[i].spelled_letters() > 0 {
                i += 1;
                continue;
            }
            let certain =
                self.cue_before(i, CERTAIN_NAME_CUES) && !self.is_common(i) && !is_function_word(self.lower(i));
            let strong = self.cue_before(i, STRONG_NAME_CUES);
            // "i'm thabo nkosi": a word no list knows, then a surname.
            let before_surname = strong
                && !self.is_common(i)
                && !is_function_word(self.lower(i))
                && i + 1 < n
                && self.tokens[i + 1].joined()
                && self.is_surname(i + 1);
            // "a lady named patricia", "i told michael": weaker cues need a given name.
            let weak = (self.cue_before(i, NAME_CUES) || self.relation_before(i)) && self.is_name(i, true);
            if (certain || strong || weak) && (certain || weak || before_surname || self.is_name(i, false)) {
                let mut end = i + 1;
                while end < n
                    && end - i < 3
                    && self.free[end]
                    && self.tokens[end].joined()
                    && self.tokens[end].spelled_letters() == 0
                    && g.is_name(self.lower(end))
                    && !is_function_word(self.lower(end))
                {
                    end += 1;
                }
                self.found.push((i, end, PERSON));
                i = end;
                continue;
            }
            if self.place_cue_before(i).is_some() && !self.is_common(i) {
                let two = (i + 1 < n && self.tokens[i + 1].joined())
                    .then(|| format!("{} {}", self.lower(i), self.lower(i + 1)))
                    .filter(|p| g.is_place(p));
                if two.is_some() {
                    self.found.push((i, i + 2, LOCATION));
                    i += 2;
                    continue;
                }
                if self.is_place(self.lower(i)) {
                    self.found.push((i, i + 1, LOCATION));
                    i += 1;
                    continue;
                }
            }
            if self.cue_before(i, ORG_CUES) && !self.is_common(i) && !is_function_word(self.lower(i)) {
                self.found.push((i, i + 1, ORG));
            }
            i += 1;
        }
    }

    /// Names spelled out: "Z-A-W-A-D-Z-K-I", "L-I W-E-I" (two letters when
    /// another spelled word is beside it).
    fn read_spelled(&mut self) {
        let n = self.tokens.len();
        for i in 0..n {
            let letters = self.tokens[i].spelled_letters();
            if letters == 0 || !self.free[i] {
                continue;
            }
            let beside = (i > 0 && self.tokens[i - 1].spelled_letters() > 0 && self.tokens[i].joined())
                || (i + 1 < n && self.tokens[i + 1].spelled_letters() > 0 && self.tokens[i + 1].joined());
            if letters >= 3 || beside {
                match self.found.last_mut() {
                    Some(last)
                        if last.2 == PERSON
                            && last.1 == i
                            && self.tokens[i].joined()
                            && self.tokens[i - 1].spelled_letters() > 0 =>
                    {
                        last.1 = i + 1;
                    }
                    _ => self.found.push((i, i + 1, PERSON)),
                }
            }
        }
        self.found.sort_unstable_by_key(|f| f.0);
    }

    /// A person's name words found once are found again elsewhere in the
    /// text: "Sergei" after "Sergei Kuznetsov", "Pemberton" after "Harold Pemberton".
    fn repeat_people(&mut self) {
        let mut known: Vec<&str> = Vec::new();
        for &(s, e, label) in &self.found {
            if label == PERSON {
                known.extend(
                    (s..e)
                        .filter(|&i| self.tokens[i].lower.chars().count() > 2 && !self.is_common(i))
                        .map(|i| self.lower(i)),
                );
            }
        }
        if known.is_empty() {
            return;
        }
        let covered = |found: &[(usize, usize, &str)], i: usize| found.iter().any(|&(s, e, _)| s <= i && i < e);
        let mut more = Vec::new();
        for i in 0..self.tokens.len() {
            if self.free[i] && self.capitalised(i) && known.contains(&self.lower(i)) && !covered(&self.found, i) {
                more.push((i, i + 1, PERSON));
            }
        }
        self.found.extend(more);
    }
}

/// Words that end a name in speech: "i'm peter novak i'm the manager".
fn is_function_word(lower: &str) -> bool {
    matches!(
        lower,
        "i" | "i'm"
            | "im"
            | "and"
            | "the"
            | "a"
            | "an"
            | "from"
            | "in"
            | "at"
            | "to"
            | "of"
            | "is"
            | "was"
            | "calling"
            | "speaking"
            | "here"
            | "yes"
            | "yeah"
            | "no"
            | "not"
            | "um"
            | "uh"
            | "so"
            | "but"
            | "or"
            | "my"
            | "me"
            | "you"
            | "he"
            | "she"
            | "we"
            | "they"
            | "it"
            | "this"
            | "that"
            | "with"
            | "for"
            | "on"
            | "about"
            | "just"
            | "like"
            | "okay"
            | "ok"
            | "well"
            | "sorry"
            | "please"
            | "everyone"
            | "does"
            | "do"
            | "did"
    )
}
