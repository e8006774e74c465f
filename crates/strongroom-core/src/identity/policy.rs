//! The password policy: a minimum length, the 10,000 most common breached
//! passwords refused, and a strength estimate that discounts what guessers
//! try first (repeats, sequences, keyboard runs, common words, the username).
//!
//! The refusal names the rule that failed, so a person can fix the password
//! without guessing. The estimate is deliberately simple (an effective length
//! times the bits per character of the classes used): it is a floor against
//! the obvious, not a model of every cracker; the breached list does the rest.

use std::collections::HashSet;
use std::sync::OnceLock;

/// The shipped list, one password per line (see the file's header).
const COMMON_PASSWORDS: &str = include_str!("../../data/common-passwords.txt");

/// Longest password accepted (Argon2 takes anything; this bounds the work).
pub const MAX_PASSWORD_LENGTH: usize = 1024;

fn common_passwords() -> &'static HashSet<&'static str> {
    static LIST: OnceLock<HashSet<&'static str>> = OnceLock::new();
    LIST.get_or_init(|| COMMON_PASSWORDS.lines().filter(|line| !line.starts_with('#') && !line.is_empty()).collect())
}

/// Words of the list long enough to count as "a common word inside" a longer password.
fn common_words() -> &'static Vec<&'static str> {
    static WORDS: OnceLock<Vec<&'static str>> = OnceLock::new();
    WORDS.get_or_init(|| {
        let mut words: Vec<&str> = common_passwords().iter().copied().filter(|w| w.chars().count() >= 5).collect();
        // Longest first, so a long word is discounted before its parts.
        words.sort_by_key(|w| std::cmp::Reverse(w.len()));
        words
    })
}

/// The policy's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct PasswordPolicy {
    /// Fewest characters.
    pub min_length: usize,
    /// Fewest estimated bits of guessing work.
    pub min_strength_bits: f64,
}

const KEYBOARD_ROWS: [&str; 4] = ["qwertyuiop", "asdfghjkl", "zxcvbnm", "1234567890"];

/// Estimated bits of guessing work for `password` (see the module documentation).
pub fn estimate_strength_bits(password: &str, username: &str) -> f64 {
    let chars: Vec<char> = password.chars().collect();
    if chars.is_empty() {
        return 0.0;
    }
    let has = |test: fn(&char) -> bool| chars.iter().any(test);
    let pool = [
        (has(char::is_ascii_lowercase), 26.0),
        (has(char::is_ascii_uppercase), 26.0),
        (has(char::is_ascii_digit), 10.0),
        (has(|c| c.is_ascii_punctuation() || *c == ' '), 33.0),
        (has(|c| !c.is_ascii()), 100.0),
    ]
    .iter()
    .filter(|(present, _)| *present)
    .map(|(_, size)| size)
    .sum::<f64>();
    // Characters inside a predictable run count as a quarter of a character.
    let mut predictable = vec![false; chars.len()];
    let lower: Vec<char> = chars.iter().flat_map(|c| c.to_lowercase()).collect();
    if lower.len() == chars.len() {
        let text: String = lower.iter().collect();
        let mut mark = |needle: &str| {
            if needle.chars().count() < 3 {
                return;
            }
            let mut from = 0;
            while let Some(found) = text[from..].find(needle) {
                let start = text[..from + found].chars().count();
                for slot in predictable.iter_mut().skip(start).take(needle.chars().count()) {
                    *slot = true;
                }
                from += found + needle.len();
            }
        };
        mark(&username.to_lowercase());
        for word in common_words() {
            if text.contains(word) {
                mark(word);
            }
        }
        for row in KEYBOARD_ROWS {
            for length in (4..=row.len()).rev() {
                for start in 0..=row.len() - length {
                    mark(&row[start..start + length]);
                }
            }
        }
    }
    // Repeats (aaa) and sequences (abc, 321) of three or more.
    for i in 2..chars.len() {
        let (a, b, c) = (chars[i - 2] as i64, chars[i - 1] as i64, chars[i] as i64);
        if (a == b && b == c) || (b - a == c - b && (b - a).abs() == 1) {
            predictable[i - 2..=i].iter_mut().for_each(|slot| *slot = true);
        }
    }
    let effective: f64 = predictable.iter().map(|&p| if p { 0.25 } else { 1.0 }).sum();
    effective * pool.log2()
}

impl PasswordPolicy {
    /// `Ok` if `password` may be used by `username`; otherwise the rule it breaks, for the user.
    pub fn check(&self, password: &str, username: &str) -> Result<(), String> {
        let length = password.chars().count();
        if length < self.min_length {
            return Err(format!("password: at least {} characters (this one has {length})", self.min_length));
        }
        if length > MAX_PASSWORD_LENGTH {
            return Err(format!("password: at most {MAX_PASSWORD_LENGTH} characters"));
        }
        if common_passwords().contains(password.to_lowercase().as_str()) {
            return Err("password: it is one of the 10,000 most common breached passwords; choose another".into());
        }
        if !username.is_empty() && password.to_lowercase().contains(&username.to_lowercase()) {
            return Err("password: it must not contain the username".into());
        }
        let bits = estimate_strength_bits(password, username);
        if bits < self.min_strength_bits {
            return Err(format!(
                "password: too easy to guess (about {bits:.0} bits; at least {:.0} needed): use more words or \
                 characters, and avoid repeats, sequences, keyboard runs and common words",
                self.min_strength_bits
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_is_named_when_it_fails() {
        let policy = PasswordPolicy { min_length: 12, min_strength_bits: 50.0 };
        assert!(policy.check("short", "ann").unwrap_err().contains("at least 12 characters"));
        assert!(policy.check("1qaz2wsx3edc", "ann").unwrap_err().contains("most common"), "on the list");
        assert!(policy.check("QWERTY123456", "ann").unwrap_err().contains("most common"), "case-insensitive");
        assert!(policy.check("annabelle-secret-2026", "annabelle").unwrap_err().contains("username"));
        assert!(policy.check("aaaaaaaaaaaaaaaa", "ann").unwrap_err().contains("too easy"));
        assert!(policy.check("passwordpassword1", "ann").unwrap_err().contains("too easy"));
        assert!(policy.check("abcdefghijklmnop", "ann").unwrap_err().contains("too easy"));
    }

    #[test]
    fn reasonable_passwords_pass() {
        let policy = PasswordPolicy { min_length: 12, min_strength_bits: 50.0 };
        for good in ["correct horse battery staple", "Tr0ub4dor&3-violet", "vy7Qk2mZ-p9Lx", "Le chat dort sur le toit"]
        {
            assert_eq!(policy.check(good, "ann"), Ok(()), "{good}: {} bits", estimate_strength_bits(good, "ann"));
        }
    }

    #[test]
    fn the_list_is_shipped_whole() {
        assert_eq!(common_passwords().len(), 10_000);
        assert!(common_passwords().contains("123456"));
    }
}
