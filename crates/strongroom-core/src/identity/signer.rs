//! Which keyring key signs access tokens, and how a token's `kid` names it.
//!
//! Generations: tokens are signed by `system.jwt-signing`. Once that key is
//! marked compromised (or destroyed), tokens are signed by
//! `system.jwt-signing.r2` (then `.r3`, …), created on first use, so logins
//! go on without an outage while every token of the compromised key is
//! refused at once. A `kid` names generation and version: `jwt-<version>` for
//! the first generation (the form tokens had before generations existed) and
//! `jwt.r<generation>-<version>` after it.
//!
//! Invariant: a `kid` parses to exactly one (generation, version), and every
//! (generation, version) prints to a `kid` that parses back to it.

use super::service::JWT_SIGNING_KEY;

/// How many generations are tried before giving up (each one was compromised).
pub(super) const MAX_GENERATIONS: u32 = 1000;

/// The keyring key of generation `generation` (1, 2, …).
pub(super) fn key_name(generation: u32) -> String {
    if generation <= 1 { JWT_SIGNING_KEY.to_owned() } else { format!("{JWT_SIGNING_KEY}.r{generation}") }
}

/// The `kid` of version `version` of generation `generation`.
pub(super) fn kid(generation: u32, version: u32) -> String {
    if generation <= 1 { format!("jwt-{version}") } else { format!("jwt.r{generation}-{version}") }
}

/// The (generation, version) a `kid` names, if it is one of ours.
pub(super) fn parse_kid(kid: &str) -> Option<(u32, u32)> {
    let rest = kid.strip_prefix("jwt")?;
    let (generation, version) = match rest.strip_prefix(".r") {
        Some(rest) => {
            let (generation, version) = rest.split_once('-')?;
            let generation = number(generation)?;
            (generation >= 2).then_some(())?;
            (generation, version)
        }
        None => (1, rest.strip_prefix('-')?),
    };
    Some((generation, number(version)?))
}

/// A positive decimal without leading zeros or signs.
fn number(digits: &str) -> Option<u32> {
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kid_parses_back_to_its_generation_and_version() {
        for generation in [1, 2, 3, 17, MAX_GENERATIONS] {
            for version in [1, 2, 40, u32::MAX] {
                assert_eq!(parse_kid(&kid(generation, version)), Some((generation, version)));
            }
        }
        assert_eq!(kid(1, 3), "jwt-3", "first-generation tokens keep the kid they always had");
        assert_eq!(key_name(1), "system.jwt-signing");
        assert_eq!(key_name(2), "system.jwt-signing.r2");
    }

    #[test]
    fn fail_kids_that_are_not_ours_or_not_canonical() {
        for kid in ["", "jwt", "jwt-", "jwt-0", "jwt-01", "jwt-+1", "jwt.r1-1", "jwt.r02-1", "jwt.r2-", "jwt.r2", "k-1"]
        {
            assert_eq!(parse_kid(kid), None, "{kid:?}");
        }
    }
}
