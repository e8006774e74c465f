//! Password hashing: Argon2id in the PHC string form
//! (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`), and verification of legacy
//! bcrypt hashes (`$2a$`, `$2b$`, `$2y$`, as passlib and FastAPI apps store
//! them) so imported users log in and are upgraded.
//!
//! Invariants: the hash comparison is constant time; a hash made with other
//! parameters (or with bcrypt) verifies and is reported for re-hashing; each
//! thread reuses one Argon2 work buffer, because fresh 19 MiB allocations per
//! login grow the process (glibc keeps them: FIELD-NOTES measured 116 MiB),
//! and that buffer is wiped after every hash, so the last password's Argon2
//! matrix (enough to test guesses against it cheaply) never outlives the call
//! (cost measured in bench/README.md).

use std::cell::RefCell;

use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use zeroize::{Zeroize, Zeroizing};

use crate::{CryptoError, ct_eq, random_bytes};

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for PasswordParams {
    /// OWASP's first recommendation: m = 19 MiB, t = 2, p = 1.
    fn default() -> Self {
        Self { memory_kib: 19 * 1024, iterations: 2, parallelism: 1 }
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCheck {
    /// It matches; `rehash` when the stored hash is bcrypt or has other parameters.
    Valid {
        /// Store a fresh Argon2id hash with the current parameters.
        rehash: bool,
    },
    /// It does not match.
    Invalid,
}

thread_local! {
    /// One Argon2 work buffer per thread, grown once to the largest size used;
    /// all zero between calls.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

fn argon2(params: &PasswordParams) -> Result<Argon2<'static>, CryptoError> {
    let params = Params::new(params.memory_kib, params.iterations, params.parallelism, Some(32))
        .map_err(|_| CryptoError::InvalidKey("Argon2 parameters out of range"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn derive(params: &PasswordParams, password: &[u8], salt: &[u8]) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let hasher = argon2(params)?;
    let mut out = Zeroizing::new([0u8; 32]);
    BLOCKS.with_borrow_mut(|blocks| {
        let needed = hasher.params().block_count();
        if blocks.len() < needed {
            blocks.resize(needed, Block::default());
        }
        let hashed = hasher
            .hash_password_into_with_memory(password, salt, out.as_mut(), &mut blocks[..needed])
            .map_err(|_| CryptoError::InvalidKey("Argon2 refused the input"));
        // The blocks past `needed` were wiped after the call that last used them.
        blocks[..needed].iter_mut().zeroize();
        hashed
    })?;
    Ok(out)
}

/// A fresh Argon2id hash of `password` with a random 16-byte salt, as a PHC string.
pub fn hash_password(password: &[u8], params: &PasswordParams) -> Result<String, CryptoError> {
    let salt = random_bytes::<16>()?;
    let hash = derive(params, password, &salt)?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.memory_kib,
        params.iterations,
        params.parallelism,
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(hash.as_ref())
    ))
}

/// Parses `$argon2id$v=19$m=M,t=T,p=P$salt$hash`.
fn parse_argon2(stored: &str) -> Option<(PasswordParams, Vec<u8>, Vec<u8>)> {
    let rest = stored.strip_prefix("$argon2id$v=19$")?;
    let mut parts = rest.split('$');
    let (settings, salt, hash) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let mut params = PasswordParams { memory_kib: 0, iterations: 0, parallelism: 0 };
    for setting in settings.split(',') {
        let (name, value) = setting.split_once('=')?;
        let value: u32 = value.parse().ok()?;
        match name {
            "m" => params.memory_kib = value,
            "t" => params.iterations = value,
            "p" => params.parallelism = value,
            _ => return None,
        }
    }
    Some((params, STANDARD_NO_PAD.decode(salt).ok()?, STANDARD_NO_PAD.decode(hash).ok()?))
}

/// Whether `stored` looks like a hash this module verifies.
pub fn is_supported_password_hash(stored: &str) -> bool {
    parse_argon2(stored).is_some() || is_bcrypt(stored)
}

fn is_bcrypt(stored: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"].iter().any(|prefix| stored.starts_with(prefix)) && stored.len() == 60
}

/// Checks `password` against `stored` (Argon2id PHC or bcrypt). `current`
/// are the parameters new hashes use: a match under others asks for a re-hash.
/// An unreadable stored hash is an error, not a mismatch.
pub fn verify_password(password: &[u8], stored: &str, current: &PasswordParams) -> Result<PasswordCheck, CryptoError> {
    if let Some((params, salt, expected)) = parse_argon2(stored) {
        if params.memory_kib > 4 * 1024 * 1024 || params.iterations > 64 || params.parallelism > 64 {
            return Err(CryptoError::InvalidKey("stored Argon2 parameters out of range"));
        }
        let actual = derive(&params, password, &salt)?;
        return Ok(if ct_eq(actual.as_ref(), &expected) {
            PasswordCheck::Valid { rehash: params != *current }
        } else {
            PasswordCheck::Invalid
        });
    }
    if is_bcrypt(stored) {
        // bcrypt reads at most 72 bytes; longer passwords are refused rather than truncated.
        if password.len() > 72 {
            return Ok(PasswordCheck::Invalid);
        }
        return match bcrypt::verify(password, stored) {
            Ok(true) => Ok(PasswordCheck::Valid { rehash: true }),
            Ok(false) => Ok(PasswordCheck::Invalid),
            Err(_) => Err(CryptoError::InvalidKey("unreadable bcrypt hash")),
        };
    }
    Err(CryptoError::InvalidKey("unsupported password hash format"))
}

/// Spends the time of one verification with `current` parameters and
/// answers nothing: for unknown users, so that their answer takes as long
/// as a wrong password's.
pub fn spend_password_check(password: &[u8], current: &PasswordParams) {
    let _ = derive(current, password, b"strongroom-no-such-user");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap parameters: the tests check behaviour, not cost.
    const FAST: PasswordParams = PasswordParams { memory_kib: 64, iterations: 1, parallelism: 1 };

    #[test]
    fn argon2id_round_trips_and_reports_old_parameters() {
        let stored = hash_password(b"correct horse battery staple", &FAST).unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{stored}");
        assert_eq!(
            verify_password(b"correct horse battery staple", &stored, &FAST).unwrap(),
            PasswordCheck::Valid { rehash: false }
        );
        assert_eq!(verify_password(b"wrong", &stored, &FAST).unwrap(), PasswordCheck::Invalid);
        let stronger = PasswordParams { memory_kib: 128, ..FAST };
        assert_eq!(
            verify_password(b"correct horse battery staple", &stored, &stronger).unwrap(),
            PasswordCheck::Valid { rehash: true }
        );
        assert_ne!(hash_password(b"same", &FAST).unwrap(), hash_password(b"same", &FAST).unwrap(), "salted");
    }

    #[test]
    fn the_argon2_work_buffer_holds_only_zeros_after_hashing_and_verifying() {
        let all_zero =
            || BLOCKS.with_borrow(|blocks| blocks.iter().all(|block| block.as_ref().iter().all(|w| *w == 0)));
        let stored = hash_password(b"correct horse battery staple", &FAST).unwrap();
        assert!(BLOCKS.with_borrow(Vec::len) >= 64, "the buffer is reused, not freed");
        assert!(all_zero(), "hash_password left the Argon2 matrix in the buffer");
        verify_password(b"wrong", &stored, &FAST).unwrap();
        assert!(all_zero(), "verify_password left the Argon2 matrix in the buffer");
        spend_password_check(b"anyone", &FAST);
        assert!(all_zero(), "spend_password_check left the Argon2 matrix in the buffer");
    }

    #[test]
    fn argon2id_matches_the_reference_vector_from_python_argon2_cffi() {
        // argon2.low_level.hash_secret(b"password", b"somesaltsomesalt", time_cost=1,
        //     memory_cost=64, parallelism=1, hash_len=32, type=Type.ID), argon2-cffi 25
        let stored = "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$55PWTvddWPUD1GMbKxSff4ASfF85k9ibHJt4HlHQtBM";
        let check = verify_password(b"password", stored, &FAST);
        assert!(matches!(check, Ok(PasswordCheck::Valid { rehash: false })), "{check:?}");
    }

    #[test]
    fn legacy_bcrypt_verifies_and_asks_for_an_upgrade() {
        // Python's bcrypt 4: bcrypt.hashpw(b"hunter2hunter2", b"$2b$04$abcdefghijklmnopqrstuu")
        let stored = "$2b$04$abcdefghijklmnopqrstuuGVoEaTZE4J7DDP8KzFiBdlJoony9TfC";
        assert_eq!(verify_password(b"hunter2hunter2", stored, &FAST).unwrap(), PasswordCheck::Valid { rehash: true });
        assert_eq!(verify_password(b"hunter3hunter3", stored, &FAST).unwrap(), PasswordCheck::Invalid);
        assert!(verify_password(b"x", "$1$md5crypt", &FAST).is_err());
        assert!(verify_password(b"x", "$argon2id$v=19$m=64,t=1$a$b", &FAST).is_err());
    }
}
