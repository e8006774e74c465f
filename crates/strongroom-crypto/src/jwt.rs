//! JSON Web Tokens signed with Ed25519 (RFC 7519 in RFC 7515 compact form,
//! `alg: EdDSA` per RFC 8037), the access tokens applications verify
//! locally with the keys from `/.well-known/jwks.json`.
//!
//! Invariant: [`ParsedJwt::parse`] accepts exactly one algorithm, `EdDSA`,
//! and requires a `kid`; `none`, `HS256` (the public-key-as-HMAC-secret
//! confusion) and anything else are refused before a key is looked up, a
//! `crit` header is refused as not understood, and a `typ` other than the
//! `at+jwt` we issue (RFC 9068 §4: required) is refused, so another kind of
//! token signed by the same key is not taken for an access token (RFC 8725
//! §3.1, §3.11). Input longer than
//! [`MAX_TOKEN_LEN`] or not of three parts is refused before any decoding.
//! Claims are checked by the caller (times, session) only after
//! [`ParsedJwt::verify`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::ed25519_verify;

/// The longest token parsed, in bytes. Ours are about 500; a token sent in
/// an `Authorization` header beyond 8 KiB is refused by most proxies anyway.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The `typ` header of the access tokens we issue (RFC 9068 §2.1).
const TYP: &str = "at+jwt";

/// Length of a base64url Ed25519 signature without padding (64 bytes).
const SIGNATURE_B64_LEN: usize = 86;

/// Why a token was refused. Deliberately coarse: the answer to a client is
/// the same for all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// Longer than [`MAX_TOKEN_LEN`], or not three base64url parts of JSON objects.
    #[error("malformed token")]
    Malformed,
    /// An algorithm other than EdDSA, a missing `kid`, a `typ` other than
    /// `at+jwt` (or none), or a `crit` header.
    #[error("unacceptable token header")]
    Header,
}

/// `base64url(header) . base64url(claims)`, the bytes an Ed25519 key signs.
pub fn jwt_signing_input(kid: &str, claims: &Map<String, Value>) -> String {
    let header = serde_json::json!({ "alg": "EdDSA", "typ": TYP, "kid": kid });
    // Invariant: JSON maps of strings and numbers always serialise.
    let encode = |value: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("JSON serialises"));
    format!("{}.{}", encode(&header), encode(&Value::Object(claims.clone())))
}

/// The compact token: the signing input and the base64url signature.
pub fn jwt_assemble(signing_input: &str, signature: &[u8; 64]) -> String {
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// A token split and decoded, not yet verified.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedJwt {
    /// The key id from the header.
    pub kid: String,
    /// The claims, untrusted until [`ParsedJwt::verify`] succeeds.
    pub claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

fn decode_object(part: &str) -> Result<Map<String, Value>, JwtError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| JwtError::Malformed)?;
    match serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)? {
        Value::Object(map) => Ok(map),
        _ => Err(JwtError::Malformed),
    }
}

impl ParsedJwt {
    /// Splits `token`, decodes header and claims, and checks the header:
    /// length and shape first, then the header, the claims last.
    pub fn parse(token: &str) -> Result<Self, JwtError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(JwtError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed);
        };
        if signature.len() != SIGNATURE_B64_LEN {
            return Err(JwtError::Malformed);
        }
        let header_map = decode_object(header)?;
        let typ_ok = header_map.get("typ").and_then(Value::as_str) == Some(TYP);
        if header_map.get("alg").and_then(Value::as_str) != Some("EdDSA") || header_map.contains_key("crit") || !typ_ok
        {
            return Err(JwtError::Header);
        }
        let kid = header_map.get("kid").and_then(Value::as_str).ok_or(JwtError::Header)?.to_owned();
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| JwtError::Malformed)?;
        if signature.len() != 64 {
            return Err(JwtError::Malformed);
        }
        Ok(Self { kid, claims: decode_object(claims)?, signing_input: format!("{header}.{claims}"), signature })
    }

    /// Whether the signature is `public_key`'s over the token.
    pub fn verify(&self, public_key: &[u8; 32]) -> bool {
        ed25519_verify(public_key, self.signing_input.as_bytes(), &self.signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(pkcs8: &[u8], kid: &str) -> String {
        let mut claims = Map::new();
        claims.insert("sub".into(), "u1".into());
        let input = jwt_signing_input(kid, &claims);
        jwt_assemble(&input, &crate::ed25519_sign(pkcs8, input.as_bytes()).unwrap())
    }

    #[test]
    fn a_signed_token_verifies_with_its_key_only() {
        let pkcs8 = crate::generate_ed25519_pkcs8().unwrap();
        let public = crate::ed25519_public_key(pkcs8.expose()).unwrap();
        let parsed = ParsedJwt::parse(&token(pkcs8.expose(), "k1")).unwrap();
        assert_eq!(parsed.kid, "k1");
        assert_eq!(parsed.claims["sub"], "u1");
        assert!(parsed.verify(&public));
        let other = crate::generate_ed25519_pkcs8().unwrap();
        assert!(!parsed.verify(&crate::ed25519_public_key(other.expose()).unwrap()));
    }

    #[test]
    fn fail_none_hs256_crit_missing_kid_and_tampered_tokens() {
        let pkcs8 = crate::generate_ed25519_pkcs8().unwrap();
        let public = crate::ed25519_public_key(pkcs8.expose()).unwrap();
        let good = token(pkcs8.expose(), "k1");
        let (_, rest) = good.split_once('.').unwrap();
        let header = |json: &str| URL_SAFE_NO_PAD.encode(json);
        for bad_header in [
            r#"{"alg":"none","kid":"k1"}"#,
            r#"{"alg":"HS256","kid":"k1"}"#,
            r#"{"alg":"EdDSA"}"#,
            r#"{"alg":"EdDSA","kid":"k1","crit":["exp"]}"#,
        ] {
            assert_eq!(
                ParsedJwt::parse(&format!("{}.{rest}", header(bad_header))),
                Err(JwtError::Header),
                "{bad_header}"
            );
        }
        let mut claims = Map::new();
        claims.insert("sub".into(), "admin".into());
        let forged_claims = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        let parts: Vec<&str> = good.split('.').collect();
        let forged = ParsedJwt::parse(&format!("{}.{forged_claims}.{}", parts[0], parts[2])).unwrap();
        assert!(!forged.verify(&public));
        for malformed in ["", "a.b", "a.b.c.d", &format!("{}.{}.", parts[0], parts[1])] {
            assert!(ParsedJwt::parse(malformed).is_err(), "{malformed}");
        }
    }

    #[test]
    fn fail_tokens_of_another_type() {
        let pkcs8 = crate::generate_ed25519_pkcs8().unwrap();
        let good = token(pkcs8.expose(), "k1");
        let (_, rest) = good.split_once('.').unwrap();
        for typ in [r#""JWT""#, r#""JWS""#, r#""at+jwt ""#, "null", "1"] {
            let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"EdDSA","typ":{typ},"kid":"k1"}}"#));
            assert_eq!(ParsedJwt::parse(&format!("{header}.{rest}")), Err(JwtError::Header), "typ {typ}");
        }
        let untyped = URL_SAFE_NO_PAD.encode(r#"{"alg":"EdDSA","kid":"k1"}"#);
        assert_eq!(ParsedJwt::parse(&format!("{untyped}.{rest}")), Err(JwtError::Header), "typ is required");
    }

    #[test]
    fn fail_oversize_tokens_before_decoding_them() {
        let pkcs8 = crate::generate_ed25519_pkcs8().unwrap();
        let public = crate::ed25519_public_key(pkcs8.expose()).unwrap();
        let mut claims = Map::new();
        claims.insert("sub".into(), "u1".into());
        claims.insert("pad".into(), "x".repeat(MAX_TOKEN_LEN).into());
        let input = jwt_signing_input("k1", &claims);
        let oversize = jwt_assemble(&input, &crate::ed25519_sign(pkcs8.expose(), input.as_bytes()).unwrap());
        assert_eq!(ParsedJwt::parse(&oversize), Err(JwtError::Malformed));

        claims.insert("pad".into(), "x".repeat(MAX_TOKEN_LEN / 2).into());
        let input = jwt_signing_input("k1", &claims);
        let large = jwt_assemble(&input, &crate::ed25519_sign(pkcs8.expose(), input.as_bytes()).unwrap());
        assert!(ParsedJwt::parse(&large).unwrap().verify(&public), "a token within the limit still verifies");
    }
}
