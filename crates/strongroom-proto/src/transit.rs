//! Wire types of the transit API, shaped like HashiCorp Vault's / OpenBao's
//! transit engine so that their clients (hvac, the Vault CLI, SDKs) work
//! unchanged. Unknown request fields are ignored, as Vault does, because
//! those clients send options we do not implement (they are refused only
//! when they would change the meaning, e.g. `derived: true`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Vault's response envelope: everything a Vault client expects around `data`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VaultResponse<T> {
    /// The request id (also in `X-Request-Id`).
    pub request_id: String,
    /// Always empty: transit answers hold no leases.
    pub lease_id: String,
    /// Always false.
    pub renewable: bool,
    /// Always 0.
    pub lease_duration: u64,
    /// The answer itself.
    pub data: T,
    /// Always null.
    pub wrap_info: Option<serde_json::Value>,
    /// Always null.
    pub warnings: Option<Vec<String>>,
    /// Always null.
    pub auth: Option<serde_json::Value>,
}

impl<T> VaultResponse<T> {
    /// Wraps `data` for request `request_id`.
    pub fn new(request_id: String, data: T) -> Self {
        Self {
            request_id,
            lease_id: String::new(),
            renewable: false,
            lease_duration: 0,
            data,
            wrap_info: None,
            warnings: None,
            auth: None,
        }
    }
}

/// `POST /v1/transit/keys/{name}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CreateTransitKey {
    /// `aes256-gcm96` (default) or `ed25519`.
    #[serde(rename = "type", default)]
    #[schema(pattern = "^(aes256-gcm96|ed25519)$")]
    pub key_type: Option<String>,
    /// Key derivation from `context` is not offered; `true` is refused.
    #[serde(default, deserialize_with = "weak::bool")]
    #[schema(schema_with = crate::rules::refused_flag)]
    pub derived: Option<bool>,
    /// Keys never leave Strongroom; `true` is refused.
    #[serde(default, deserialize_with = "weak::bool")]
    #[schema(schema_with = crate::rules::refused_flag)]
    pub exportable: Option<bool>,
    /// Automatic rotation period: seconds, or a string such as `"24h"`; `0` or absent: none.
    #[serde(default)]
    #[schema(schema_with = crate::rules::rotate_period)]
    pub auto_rotate_period: Option<serde_json::Value>,
}

/// `POST /v1/transit/keys/{name}/config`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ConfigureTransitKey {
    /// Retire versions below this from decryption.
    #[serde(default, deserialize_with = "weak::number")]
    pub min_decryption_version: Option<u32>,
    /// Allow `DELETE`.
    #[serde(default, deserialize_with = "weak::bool")]
    pub deletion_allowed: Option<bool>,
    /// As in [`CreateTransitKey`].
    #[serde(default)]
    #[schema(schema_with = crate::rules::rotate_period)]
    pub auto_rotate_period: Option<serde_json::Value>,
}

/// A transit key's description (`data` of `GET /v1/transit/keys/{name}`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TransitKey {
    /// Name.
    pub name: String,
    /// `aes256-gcm96` or `ed25519`.
    #[serde(rename = "type")]
    pub key_type: String,
    /// Lifecycle state (Strongroom extension).
    pub state: String,
    /// The version new ciphertexts use.
    pub latest_version: u32,
    /// Versions below this no longer decrypt.
    pub min_decryption_version: u32,
    /// Always 0: encryption always uses the latest version.
    pub min_encryption_version: u32,
    /// Whether `DELETE` is allowed.
    pub deletion_allowed: bool,
    /// Version → creation time (Unix seconds), as Vault lists them.
    pub keys: std::collections::BTreeMap<String, i64>,
    /// Automatic rotation period in seconds (0: none).
    pub auto_rotate_period: i64,
    /// Always false.
    pub exportable: bool,
    /// Always false.
    pub derived: bool,
    /// Whether the key encrypts.
    pub supports_encryption: bool,
    /// Whether the key decrypts.
    pub supports_decryption: bool,
    /// Whether the key signs.
    pub supports_signing: bool,
}

/// `data` of a key listing.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TransitKeyList {
    /// Key names.
    pub keys: Vec<String>,
}

/// `POST /v1/transit/encrypt/{name}`: one `plaintext` or a `batch_input`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct EncryptRequest {
    /// Base64 of the plaintext.
    #[serde(default)]
    #[schema(pattern = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$")]
    pub plaintext: Option<String>,
    /// Base64 of the context the ciphertext is bound to (decrypt needs the same).
    #[serde(default)]
    #[schema(pattern = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$")]
    pub context: Option<String>,
    /// Must be absent, 0 or the latest version: encryption always uses the latest.
    #[serde(default, deserialize_with = "weak::number")]
    pub key_version: Option<u32>,
    /// Up to 1000 items, answered in `batch_results` in the same order.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 1000)]
    pub batch_input: Option<Vec<EncryptItem>>,
}

/// One item of an encrypt batch.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct EncryptItem {
    /// Base64 of the plaintext. An item whose value is not base64 fails alone (its `error`), so
    /// the schema does not refuse it: the request is answered 200.
    pub plaintext: String,
    /// Base64 of the context. An item whose value is not base64 fails alone (its `error`), so
    /// the schema does not refuse it: the request is answered 200.
    #[serde(default)]
    pub context: Option<String>,
    /// Echoed back in the result.
    #[serde(default)]
    pub reference: Option<String>,
}

/// `POST /v1/transit/decrypt/{name}` and `/rewrap/{name}`: one `ciphertext` or a `batch_input`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct DecryptRequest {
    /// `vault:v<N>:<base64>`.
    #[serde(default)]
    pub ciphertext: Option<String>,
    /// Base64 of the context given at encryption.
    #[serde(default)]
    #[schema(pattern = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$")]
    pub context: Option<String>,
    /// Up to 1000 items.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 1000)]
    pub batch_input: Option<Vec<DecryptItem>>,
}

/// One item of a decrypt or rewrap batch.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct DecryptItem {
    /// `vault:v<N>:<base64>`.
    pub ciphertext: String,
    /// Base64 of the context. An item whose value is not base64 fails alone (its `error`), so
    /// the schema does not refuse it: the request is answered 200.
    #[serde(default)]
    pub context: Option<String>,
    /// Echoed back in the result.
    #[serde(default)]
    pub reference: Option<String>,
}

/// One result of encrypt or rewrap.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CiphertextResult {
    /// `vault:v<N>:<base64>`; absent when `error` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ciphertext: Option<String>,
    /// The version used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_version: Option<u32>,
    /// The item's `reference`, echoed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Why this batch item failed (the others still succeed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One result of decrypt.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct PlaintextResult {
    /// Base64 of the plaintext; absent when `error` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$")]
    pub plaintext: Option<String>,
    /// The item's `reference`, echoed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Why this batch item failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `data` of a batch answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BatchResults<T> {
    /// One result per input item, in order.
    pub batch_results: Vec<T>,
}

/// One input of `hmac`, `sign` or `verify`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct InputItem {
    /// Base64 of the data. An item whose value is not base64 fails alone (its `error`), so
    /// the schema does not refuse it: the request is answered 200.
    pub input: String,
    /// For `verify` with an HMAC key: `vault:v<N>:<base64>`.
    #[serde(default)]
    pub hmac: Option<String>,
    /// For `verify` with a signing key: `vault:v<N>:<base64>`.
    #[serde(default)]
    pub signature: Option<String>,
    /// Echoed back in the result.
    #[serde(default)]
    pub reference: Option<String>,
}

/// `POST /v1/transit/hmac/{name}`, `/sign/{name}`, `/verify/{name}`: one `input` or a `batch_input`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct InputRequest {
    /// Base64 of the data.
    #[serde(default)]
    #[schema(pattern = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$")]
    pub input: Option<String>,
    /// For `verify`: the HMAC to check.
    #[serde(default)]
    pub hmac: Option<String>,
    /// For `verify`: the signature to check.
    #[serde(default)]
    pub signature: Option<String>,
    /// For `hmac`: only `sha2-256` is offered.
    #[serde(default)]
    #[schema(pattern = "^sha2-256$")]
    pub algorithm: Option<String>,
    /// Pre-hashed input is not offered; `true` is refused.
    #[serde(default, deserialize_with = "weak::bool")]
    #[schema(schema_with = crate::rules::refused_flag)]
    pub prehashed: Option<bool>,
    /// Up to 1000 items.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 1000)]
    pub batch_input: Option<Vec<InputItem>>,
}

/// One result of `hmac`, `sign` or `verify`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct InputResult {
    /// `vault:v<N>:<base64>` (hmac).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hmac: Option<String>,
    /// `vault:v<N>:<base64>` (sign).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// The version used (hmac, sign).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_version: Option<u32>,
    /// Whether the HMAC or signature is right (verify).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid: Option<bool>,
    /// The item's `reference`, echoed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Why this batch item failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `POST /v1/transit/datakey/{plaintext|wrapped}/{name}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct DataKeyRequest {
    /// Base64 of the context the wrapped key is bound to.
    #[serde(default)]
    #[schema(pattern = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$")]
    pub context: Option<String>,
    /// Key size; only 256 is offered.
    #[serde(default, deserialize_with = "weak::number")]
    #[schema(minimum = 256, maximum = 256)]
    pub bits: Option<u32>,
}

/// A new data key: wrapped always, in clear only for `plaintext`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct DataKey {
    /// `vault:v<N>:<base64>`: decrypt it with `/decrypt` to get the key back.
    pub ciphertext: String,
    /// Base64 of the 32-byte key (`plaintext` variant only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$")]
    pub plaintext: Option<String>,
    /// The version that wrapped it.
    pub key_version: u32,
}

/// Vault's weak typing of request fields: the `vault`/`bao` CLI sends every
/// `key=value` as a string (`"true"`, `"2"`), and Vault takes both forms.
mod weak {
    use serde::Deserialize;
    use serde::de::{Deserializer, Error};
    use serde_json::Value;

    /// A boolean, or Go's `strconv.ParseBool` text (`true`, `1`, `t`, `FALSE`, …).
    pub(super) fn bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
        match Option::<Value>::deserialize(deserializer)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(value)) => Ok(Some(value)),
            Some(Value::String(text)) => match text.as_str() {
                "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(Some(true)),
                "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(Some(false)),
                _ => Err(D::Error::custom(format!("expected a boolean, got {text:?}"))),
            },
            Some(other) => Err(D::Error::custom(format!("expected a boolean, got {other}"))),
        }
    }

    /// A non-negative integer, or its decimal text.
    pub(super) fn number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
        let value = Option::<Value>::deserialize(deserializer)?;
        let parsed = match &value {
            None | Some(Value::Null) => return Ok(None),
            // `2.0` is the integer 2 to JSON Schema, as to Vault (Go reads numbers as floats).
            Some(Value::Number(number)) => number
                .as_u64()
                .or_else(|| {
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    number
                        .as_f64()
                        .filter(|f| f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(f))
                        .map(|f| f as u64)
                })
                .and_then(|n| u32::try_from(n).ok()),
            Some(Value::String(text)) => text.trim().parse().ok(),
            Some(_) => None,
        };
        parsed.map(Some).ok_or_else(|| {
            D::Error::custom(format!("expected a non-negative integer, got {}", value.unwrap_or(Value::Null)))
        })
    }

    #[cfg(test)]
    mod tests {
        #[derive(Debug, serde::Deserialize)]
        struct Fields {
            #[serde(default, deserialize_with = "super::bool")]
            flag: Option<bool>,
            #[serde(default, deserialize_with = "super::number")]
            count: Option<u32>,
        }

        fn read(json: &str) -> Result<(Option<bool>, Option<u32>), serde_json::Error> {
            serde_json::from_str::<Fields>(json).map(|f| (f.flag, f.count))
        }

        #[test]
        fn the_cli_strings_and_the_json_types_both_read() {
            assert_eq!(read("{}").unwrap(), (None, None));
            assert_eq!(read(r#"{"flag": true, "count": 2}"#).unwrap(), (Some(true), Some(2)));
            assert_eq!(read(r#"{"flag": "true", "count": "2"}"#).unwrap(), (Some(true), Some(2)));
            assert_eq!(read(r#"{"flag": "0", "count": null}"#).unwrap(), (Some(false), None));
            assert_eq!(read(r#"{"count": 3.0}"#).unwrap(), (None, Some(3)));
            for bad in [r#"{"flag": "yes"}"#, r#"{"flag": 1}"#, r#"{"count": "-1"}"#, r#"{"count": 1.5}"#] {
                assert!(read(bad).is_err(), "{bad}");
            }
        }
    }
}
