//! The one constant-time comparison. Every secret comparison in Strongroom
//! (tokens, API keys, TOTP and recovery codes, MACs) goes through [`ct_eq`] so
//! that timing never tells an attacker how many leading bytes were right.

use subtle::ConstantTimeEq;

/// Compares two byte strings in time that depends only on their lengths.
///
/// Lengths are not secret here (all our secrets have fixed, public lengths),
/// so unequal lengths return `false` at once.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::ct_eq;

    #[test]
    fn equal_and_unequal_inputs() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"abcd"));
        assert!(ct_eq(b"", b""));
    }
}
