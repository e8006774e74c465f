//! TOTP (RFC 6238 over RFC 4226 HOTP): HMAC-SHA1, 6 digits, 30-second steps,
//! the parameters every authenticator app assumes.
//!
//! Invariants: codes are compared in constant time ([`crate::ct_eq`]); the
//! caller stores the last accepted step and passes it in, so a code is
//! accepted once (replay refused) and never a step at or before the last one.

use ring::hmac;

use crate::{CryptoError, SecretBytes, ct_eq, random_bytes};

/// Seconds per step.
pub const TOTP_STEP_SECONDS: u64 = 30;
/// Digits per code.
pub const TOTP_DIGITS: u32 = 6;
/// Steps of clock skew accepted on either side.
pub const TOTP_SKEW_STEPS: u64 = 1;

/// A fresh 160-bit TOTP secret (RFC 4226's recommended length).
pub fn generate_totp_secret() -> Result<SecretBytes, CryptoError> {
    Ok(SecretBytes::new(random_bytes::<20>()?.to_vec()))
}

/// The HOTP value of `secret` at `counter`, as a zero-padded decimal string.
pub fn hotp(secret: &[u8], counter: u64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let mac = hmac::sign(&key, &counter.to_be_bytes());
    let mac = mac.as_ref();
    let offset = usize::from(mac[19] & 0x0f);
    let binary = u32::from_be_bytes([mac[offset] & 0x7f, mac[offset + 1], mac[offset + 2], mac[offset + 3]]);
    format!("{:0width$}", binary % 10u32.pow(TOTP_DIGITS), width = TOTP_DIGITS as usize)
}

/// The step a Unix time falls in.
pub fn totp_step(unix_seconds: u64) -> u64 {
    unix_seconds / TOTP_STEP_SECONDS
}

/// Checks `code` against the steps around `unix_seconds` (±[`TOTP_SKEW_STEPS`]),
/// skipping every step at or before `last_accepted_step`. Returns the step
/// that matched, to be stored as the new last accepted step.
pub fn verify_totp(secret: &[u8], code: &str, unix_seconds: u64, last_accepted_step: Option<u64>) -> Option<u64> {
    let code = code.trim();
    if code.len() != TOTP_DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = totp_step(unix_seconds);
    let mut matched = None;
    // Every candidate is computed and compared, so timing does not tell which matched.
    for step in now.saturating_sub(TOTP_SKEW_STEPS)..=now + TOTP_SKEW_STEPS {
        let fresh = last_accepted_step.is_none_or(|last| step > last);
        if ct_eq(hotp(secret, step).as_bytes(), code.as_bytes()) && fresh && matched.is_none() {
            matched = Some(step);
        }
    }
    matched
}

/// RFC 4648 base32 without padding, as `otpauth://` URIs carry secrets.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1, truncated to 6 digits (the RFC prints 8).
    #[test]
    fn rfc_6238_vectors() {
        let secret = b"12345678901234567890";
        for (time, eight_digits) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(hotp(secret, totp_step(time)), eight_digits[2..], "t={time}");
        }
    }

    #[test]
    fn a_code_is_accepted_once_within_one_step_of_skew() {
        let secret = b"12345678901234567890";
        let now = 1_111_111_111;
        let code = hotp(secret, totp_step(now));
        let step = verify_totp(secret, &code, now, None).unwrap();
        assert_eq!(verify_totp(secret, &code, now, Some(step)), None, "replay");
        let previous = hotp(secret, totp_step(now) - 1);
        assert_eq!(verify_totp(secret, &previous, now, None), Some(totp_step(now) - 1));
        let stale = hotp(secret, totp_step(now) - 2);
        assert_eq!(verify_totp(secret, &stale, now, None), None);
        assert_eq!(verify_totp(secret, "12a456", now, None), None);
        assert_eq!(verify_totp(secret, "1234567", now, None), None);
    }

    #[test]
    fn base32_matches_rfc_4648() {
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"12345678901234567890"), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }
}
