//! Fuzzes the EdDSA JWT parser (crates/strongroom-crypto/src/jwt.rs): access
//! tokens arrive from anyone in an `Authorization` header.
//!
//! The input is read two ways, neither of which may panic:
//! - as a token: `ParsedJwt::parse`, then `verify` with the fuzz key. What
//!   parses must re-serialise consistently: a token made from its `kid` and
//!   claims with `jwt_signing_input` parses back to the same `kid` and claims.
//!   What verifies must be byte-identical to the token re-signed from its
//!   signing input (Ed25519 is deterministic), so no second encoding of a
//!   signature (non-canonical base64url, a malleable `S`) is accepted;
//! - as the claims part of a token signed by the fuzz key: whatever parses
//!   must verify and keep the fuzz key's `kid`.
//!
//! The seeds in `fuzz/seeds/jwt/` are tokens signed by the fuzz key and claim
//! sets, so the fuzzer starts on the success path.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use strongroom_crypto::{MAX_TOKEN_LEN, ParsedJwt, ed25519_public_key, ed25519_sign, jwt_assemble, jwt_signing_input};

#[path = "fuzz_key.rs"]
mod fuzz_key;
use fuzz_key::PKCS8;

/// The `kid` of the seeds.
const KID: &str = "jwt-1";

fn sign(input: &str) -> String {
    jwt_assemble(input, &ed25519_sign(&PKCS8, input.as_bytes()).expect("the fuzz key is valid PKCS#8"))
}

fuzz_target!(|data: &[u8]| {
    let public = ed25519_public_key(&PKCS8).expect("the fuzz key is valid PKCS#8");

    // 1. The input as a token.
    if let Ok(token) = std::str::from_utf8(data)
        && let Ok(parsed) = ParsedJwt::parse(token)
    {
        assert!(token.len() <= MAX_TOKEN_LEN, "a token of {} bytes was parsed", token.len());
        let resigned = sign(&jwt_signing_input(&parsed.kid, &parsed.claims));
        match ParsedJwt::parse(&resigned) {
            Ok(again) => {
                assert_eq!(again.kid, parsed.kid, "the kid does not survive re-serialisation");
                assert_eq!(again.claims, parsed.claims, "the claims do not survive re-serialisation");
                assert!(again.verify(&public), "a re-signed token does not verify");
            }
            // Our header has all three fields and serde_json may spell numbers
            // longer (`1E2` → `100.0`), so only a token near the limit may grow past it.
            Err(_) => assert!(resigned.len() > MAX_TOKEN_LEN, "a re-serialised token is refused: {resigned}"),
        }
        if parsed.verify(&public) {
            let (signing_input, _) = token.rsplit_once('.').expect("a parsed token has three parts");
            assert_eq!(sign(signing_input), token, "a second encoding of a valid token verifies");
        }
    }

    // 2. The input as the claims of a token signed by the fuzz key.
    let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"EdDSA","typ":"at+jwt","kid":"{KID}"}}"#));
    let token = sign(&format!("{header}.{}", URL_SAFE_NO_PAD.encode(data)));
    if let Ok(parsed) = ParsedJwt::parse(&token) {
        assert_eq!(parsed.kid, KID);
        assert!(parsed.verify(&public), "a token signed by the fuzz key does not verify");
    }
});
