//! Detectors for patterned personal data: `"mail me at ann@example.com"`
//! becomes `"mail me at [EMAIL]"`. Written without a regex engine: each detector is a
//! small scanner with the check its type allows (Luhn for card numbers,
//! ISO 7064 mod 97 for IBANs, address parsing for IPs, calendar ranges for
//! dates), so near-misses stay readable text.
//!
//! Placeholders: `[EMAIL]`, `[URL]`, `[IP]`, `[IBAN]`, `[CARD]`, `[SSN]`,
//! `[DATE]`, `[PHONE]`.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::{NOT_PERSONAL, Span};

/// Every patterned span, including the `NOT_PERSONAL` ones that shadow other
/// detectors (account numbers shaped like IBANs).
pub(crate) fn spans(text: &str, spans: &mut Vec<Span>) {
    spans.extend(words(text));
    spans.extend(ibans(text));
    spans.extend(number_runs(text));
    spans.extend(written_dates(text));
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// A month's name or its three-letter abbreviation (`Sept` too), any case.
pub(crate) fn is_month(word: &str) -> bool {
    let word = word.trim_end_matches(['.', ',', ';']).to_lowercase();
    word.len() >= 3 && MONTHS.iter().any(|m| *m == word || (word.len() <= 4 && m.starts_with(word.as_str())))
}

/// A day of the month, with an optional ordinal suffix (`7`, `07`, `7th`, `21st,`).
fn is_day(word: &str) -> bool {
    let word = word.trim_end_matches(',');
    let digits = word.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &word[digits.len()..];
    !digits.is_empty()
        && digits.len() <= 2
        && digits.parse::<u32>().is_ok_and(|d| (1..=31).contains(&d))
        && matches!(suffix.to_lowercase().as_str(), "" | "st" | "nd" | "rd" | "th")
}

fn is_year(word: &str) -> bool {
    let word = word.trim_end_matches(['.', ',', ';', ':', ')', '!', '?']);
    word.len() == 4 && word.parse::<u32>().is_ok_and(|y| (1900..=2100).contains(&y))
}

/// Written dates: `March 7, 2024`, `Mar 7 2024`, `7 March 2024`, `7th of March, 2024`.
fn written_dates(text: &str) -> Vec<Span> {
    let mut words = Vec::new();
    let mut offset = 0;
    for piece in text.split_inclusive(char::is_whitespace) {
        let word = piece.trim_end();
        if !word.is_empty() {
            words.push((offset, word));
        }
        offset += piece.len();
    }
    let end_of =
        |(start, word): (usize, &str)| start + word.trim_end_matches(['.', ',', ';', ':', ')', '!', '?']).len();
    let mut spans = Vec::new();
    for (i, &(start, word)) in words.iter().enumerate() {
        if !is_month(word) {
            continue;
        }
        // Month Day[,] Year
        if let (Some(&day), Some(&year)) = (words.get(i + 1), words.get(i + 2))
            && is_day(day.1)
            && is_year(year.1)
        {
            spans.push((start, end_of(year), "[DATE]"));
            continue;
        }
        // Day [of] Month[,] Year
        let day_before = match (i.checked_sub(1).map(|j| words[j]), i.checked_sub(2).map(|j| words[j])) {
            (Some((_, "of")), Some(day)) if is_day(day.1) => Some(day),
            (Some(day), _) if is_day(day.1) => Some(day),
            _ => None,
        };
        if let (Some(day), Some(&year)) = (day_before, words.get(i + 1))
            && is_year(year.1)
        {
            spans.push((day.0, end_of(year), "[DATE]"));
        }
    }
    spans
}

fn trim_punctuation(word: &str) -> (usize, &str) {
    let start = word.len() - word.trim_start_matches(['(', '[', '{', '<', '"', '\'', '«']).len();
    let core = &word[start..];
    let core = core.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']', '}', '>', '"', '\'', '»']);
    (start, core)
}

/// Whitespace-separated words: e-mail addresses, URLs and IP addresses.
fn words(text: &str) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut offset = 0;
    for word in text.split_inclusive(char::is_whitespace) {
        let trimmed = word.trim_end();
        let (lead, core) = trim_punctuation(trimmed);
        let start = offset + lead;
        let label = if is_url(core) {
            Some("[URL]")
        } else if is_email(core) {
            Some("[EMAIL]")
        } else if is_ip(core) {
            Some("[IP]")
        } else {
            None
        };
        if let Some(label) = label {
            spans.push((start, start + core.len(), label));
        }
        offset += word.len();
    }
    spans
}

fn is_url(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    let rest =
        lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://")).or_else(|| lower.strip_prefix("www."));
    rest.is_some_and(|rest| rest.len() > 3 && rest.contains('.') && !rest.starts_with('.'))
}

fn is_email(word: &str) -> bool {
    let Some((local, domain)) = word.split_once('@') else { return false };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local.chars().all(|c| c.is_alphanumeric() || "._%+-'".contains(c))
        && !local.starts_with('.')
        && !local.ends_with('.');
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
        && labels.last().is_some_and(|tld| tld.len() >= 2 && tld.chars().all(char::is_alphabetic));
    local_ok && domain_ok
}

fn is_ip(word: &str) -> bool {
    let plain = word.split('/').next().unwrap_or(word);
    (plain.contains('.') && plain.parse::<Ipv4Addr>().is_ok())
        || (plain.matches(':').count() >= 2 && plain.parse::<Ipv6Addr>().is_ok())
}

/// IBANs: two letters, two check digits, then up to 30 letters and digits,
/// optionally in groups of four separated by single spaces; valid when the
/// ISO 7064 mod-97 check holds.
fn ibans(text: &str) -> Vec<Span> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i + 4 <= bytes.len() {
        let boundary = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let head = bytes[i].is_ascii_uppercase()
            && bytes[i + 1].is_ascii_uppercase()
            && bytes[i + 2].is_ascii_digit()
            && bytes[i + 3].is_ascii_digit();
        if !(boundary && head) {
            i += 1;
            continue;
        }
        // Collect candidate characters and the byte end after each.
        let mut chars = Vec::new();
        let mut j = i;
        while j < bytes.len() && chars.len() < 34 {
            let b = bytes[j];
            if b.is_ascii_alphanumeric() {
                chars.push((b.to_ascii_uppercase(), j + 1));
                j += 1;
            } else if b == b' ' && j + 1 < bytes.len() && bytes[j + 1].is_ascii_alphanumeric() && chars.len() % 4 == 0 {
                j += 1;
            } else {
                break;
            }
        }
        let found = (15..=chars.len()).rev().find(|&n| {
            let end = chars[n - 1].1;
            let ends_cleanly = end == bytes.len() || !bytes[end].is_ascii_alphanumeric();
            ends_cleanly && iban_valid(&chars[..n].iter().map(|c| c.0).collect::<Vec<u8>>())
        });
        match found {
            Some(n) => {
                let end = chars[n - 1].1;
                spans.push((i, end, "[IBAN]"));
                i = end;
            }
            // Shaped like an IBAN but failing its check: an account number
            // of some kind, whose digit groups are no card or phone number.
            None if chars.len() >= 15 => {
                let end = chars[chars.len() - 1].1;
                spans.push((i, end, NOT_PERSONAL));
                i = end;
            }
            None => i += 1,
        }
    }
    spans
}

fn iban_valid(iban: &[u8]) -> bool {
    if iban.len() < 15 || iban.len() > 34 {
        return false;
    }
    let rearranged = iban[4..].iter().chain(&iban[..4]);
    let mut remainder: u32 = 0;
    for &c in rearranged {
        let value = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => return false,
        };
        remainder = if value >= 10 { (remainder * 100 + value) % 97 } else { (remainder * 10 + value) % 97 };
    }
    remainder == 1
}

/// Runs of digits with separators: card numbers (Luhn), US social security
/// numbers, dates, and phone numbers.
fn number_runs(text: &str) -> Vec<Span> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts = bytes[i].is_ascii_digit()
            || ((bytes[i] == b'+' || bytes[i] == b'(') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit));
        // Not inside a word, nor right after "1." (the middle of a version number).
        let boundary = i == 0
            || !(bytes[i - 1].is_ascii_alphanumeric()
                || (bytes[i - 1] == b'.' && i >= 2 && bytes[i - 2].is_ascii_digit()));
        if !(starts && boundary) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < bytes.len() {
            let b = bytes[j];
            let separator = matches!(b, b' ' | b'-' | b'.' | b'/' | b'(' | b')');
            let continues = bytes.get(j + 1).is_some_and(|n| n.is_ascii_digit() || *n == b'(');
            if b.is_ascii_digit() || (j == i && b == b'+') || (separator && continues) || b == b')' {
                j += 1;
            } else {
                break;
            }
        }
        let end = j;
        let next_is_word = end < bytes.len() && bytes[end].is_ascii_alphabetic();
        let run = &text[i..end];
        let label = if next_is_word { None } else { classify_number(run) };
        match label {
            Some(label) => {
                spans.push((i, end, label));
                i = end;
            }
            None => i = end.max(i + 1),
        }
    }
    spans
}

fn classify_number(run: &str) -> Option<&'static str> {
    let digits: String = run.chars().filter(char::is_ascii_digit).collect();
    let ssn_shaped = run.len() == 11 && run.split('-').map(str::len).eq([3, 2, 4]);
    if ssn_shaped {
        // Numbers the SSA never issues (000, 666, 9xx, 00, 0000) are not SSNs, nor phone numbers.
        return is_ssn(run).then_some("[SSN]");
    }
    if is_date(run) {
        return Some("[DATE]");
    }
    if run.contains('.') && run.parse::<Ipv4Addr>().is_ok() {
        return Some("[IP]");
    }
    if is_card_shaped(run) && (13..=19).contains(&digits.len()) && luhn(&digits) {
        return Some("[CARD]");
    }
    is_phone(run).then_some("[PHONE]")
}

/// Phone numbers as people write them: international (`+` and 8-15
/// digits), with an area code in parentheses, or in the usual national
/// groupings: `415-555-0132`, `555-0132`, `415.555.0132`, `01.23.45.67.89`,
/// `020 7946 0958`, `07700 900123`, `415 555 0132`. Bare digit strings and other groupings
/// (part numbers, ISBNs, versions, invoice numbers) are not phones.
fn is_phone(run: &str) -> bool {
    let digits = run.chars().filter(char::is_ascii_digit).count();
    if !run.chars().all(|c| c.is_ascii_digit() || " -.()+".contains(c)) || !(7..=15).contains(&digits) {
        return false;
    }
    if run.starts_with('+') {
        return digits >= 8;
    }
    if run.starts_with('(') {
        return digits >= 10 && run.find(')').is_some_and(|close| (4..=6).contains(&close));
    }
    let groups = |separator: char| -> Option<Vec<usize>> {
        let parts: Vec<&str> = run.split(separator).collect();
        parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
            .then(|| parts.iter().map(|p| p.len()).collect())
    };
    let us = |g: &[usize]| matches!(g, [3, 4] | [3, 3, 4]);
    let pairs = |g: &[usize]| g.len() >= 4 && g.iter().all(|n| *n == 2);
    if let Some(g) = groups('-') {
        return g.len() > 1 && us(&g);
    }
    if let Some(g) = groups('.') {
        // Not 555.0132: with dots that is more often a decimal number.
        return matches!(g.as_slice(), [3, 3, 4]) || pairs(&g);
    }
    if let Some(g) = groups(' ') {
        // A national number after its trunk 0: 020 7946 0958, 07700 900123, 030 12345678.
        let trunk = run.starts_with('0') && (2..=5).contains(&g[0]) && g[1..].iter().all(|n| (2..=8).contains(n));
        return g.len() > 1 && (us(&g) || pairs(&g) || (trunk && (9..=12).contains(&digits)));
    }
    false
}

/// Digits alone, or in the groups cards are printed in (4-4-4-4, 4-4-4-4-3,
/// 4-6-5, 4-6-4) with spaces or dashes.
fn is_card_shaped(run: &str) -> bool {
    if run.chars().all(|c| c.is_ascii_digit()) {
        return true;
    }
    let groups: Vec<usize> = run.split([' ', '-']).map(str::len).collect();
    run.chars().all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
        && matches!(groups.as_slice(), [4, 4, 4, 4] | [4, 4, 4, 4, 3] | [4, 6, 5] | [4, 6, 4])
}

fn is_ssn(run: &str) -> bool {
    let parts: Vec<&str> = run.split('-').collect();
    parts.len() == 3
        && [3, 2, 4].iter().zip(&parts).all(|(n, p)| p.len() == *n && p.chars().all(|c| c.is_ascii_digit()))
        && parts[0] != "000"
        && parts[0] != "666"
        && !parts[0].starts_with('9')
        && parts[1] != "00"
        && parts[2] != "0000"
}

fn is_date(run: &str) -> bool {
    let numbers = |sep: char| -> Option<Vec<u32>> {
        let parts: Vec<&str> = run.split(sep).collect();
        (parts.len() == 3
            && parts.iter().all(|p| !p.is_empty() && p.len() <= 4 && p.chars().all(|c| c.is_ascii_digit())))
        .then(|| parts.iter().filter_map(|p| p.parse().ok()).collect())
    };
    let valid = |year: u32, month: u32, day: u32| {
        (1900..=2100).contains(&year) && (1..=12).contains(&month) && (1..=31).contains(&day)
    };
    for sep in ['-', '/', '.'] {
        let Some(n) = numbers(sep) else { continue };
        let lens: Vec<usize> = run.split(sep).map(str::len).collect();
        // Year first: 2024-03-07, 2024/3/7, but 2024.03.07 only with two-digit
        // parts (2024.3.1 is a version number).
        if lens[0] == 4 && valid(n[0], n[1], n[2]) && (sep != '.' || (lens[1] == 2 && lens[2] == 2)) {
            return true;
        }
        if lens[2] == 4 && (valid(n[2], n[1], n[0]) || valid(n[2], n[0], n[1])) {
            return true;
        }
    }
    false
}

fn luhn(digits: &str) -> bool {
    let mut sum = 0;
    for (i, c) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(c - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

#[cfg(test)]
mod tests {
    use crate::redact;

    #[test]
    fn each_detector_replaces_its_kind() {
        let cases = [
            ("write to ann.lee@example.co.uk today", "write to [EMAIL] today"),
            ("see https://example.com/a?b=1.", "see [URL]."),
            ("from 192.168.10.20 and 2001:db8::1", "from [IP] and [IP]"),
            ("IBAN DE89 3704 0044 0532 0130 00 please", "IBAN [IBAN] please"),
            ("iban GB82WEST12345698765432.", "iban [IBAN]."),
            ("card 4111 1111 1111 1111 expires", "card [CARD] expires"),
            ("ssn 123-45-6789", "ssn [SSN]"),
            ("born 1984-03-07 or 07/03/1984", "born [DATE] or [DATE]"),
            ("heard on March 7, 2024 and 7th of March 2024.", "heard on [DATE] and [DATE]."),
            ("signed 12 Sept 2023, filed Jan. 3 2024", "signed [DATE], filed [DATE]"),
            ("call +1 (555) 123-4567 now", "call [PHONE] now"),
            ("or 020 7946 0958", "or [PHONE]"),
        ];
        for (input, expected) in cases {
            assert_eq!(redact(input), expected, "{input}");
        }
    }

    #[test]
    fn near_misses_stay_text() {
        for text in [
            "card 4111 1111 1111 1112 fails Luhn",
            "IBAN DE89 3704 0044 0532 0130 01 fails mod 97",
            "version 1.2.3 and 999.1.1.1",
            "room 42, 7 people, in 2024",
            "in March 2024 we may meet on the 7th",
            "ssn 000-12-3456 is not valid",
            "a@b is not an address",
        ] {
            assert!(!redact(text).contains('['), "{text} -> {}", redact(text));
        }
    }
}
