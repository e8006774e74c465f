//! The transit API: encryption as a service, compatible with Vault's and
//! OpenBao's transit engine (paths, JSON fields, `vault:v<N>:` ciphertexts,
//! `X-Vault-Token`), so applications switch by changing the URL and token.
//!
//! Differences a Vault user may meet (documented in docs/transit.md):
//! `context` binds the ciphertext as associated data (no derived keys);
//! keys are never exportable; `key_version` on encrypt may only name the
//! latest version; batch items fail individually with an `error` field.
//!
//! The use cases (deciding, the batch, the key-version rule, the audit
//! event) are [`strongroom_core::transit::Transit`]'s; here is only Vault's
//! wire: the JSON envelope, base64 and `vault:v<N>:` text.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use strongroom_core::transit::{
    self as core_transit, Answers, Check, CiphertextItem, Items, PlaintextItem, VerifyItem,
};
use strongroom_core::{CoreError, KeyAlgorithm, KeyState};
use strongroom_crypto::CryptoError;
use strongroom_proto::{
    BatchResults, CiphertextResult, ConfigureTransitKey, CreateTransitKey, DataKey, DataKeyRequest, DecryptRequest,
    EncryptRequest, InputItem, InputRequest, InputResult, PlaintextResult, TransitKey, TransitKeyList, VaultResponse,
};

use crate::extract::lenient_json;
use crate::middleware::RequestId;
use crate::{ApiError, AppState, Caller};

type VaultJson<T> = Json<VaultResponse<T>>;

fn envelope<T>(request_id: &RequestId, data: T) -> VaultJson<T> {
    Json(VaultResponse::new(request_id.0.clone(), data))
}

fn decode_base64(field: &str, value: &str) -> Result<Vec<u8>, CoreError> {
    STANDARD.decode(value).map_err(|_| CoreError::InvalidInput(format!("{field}: not valid base64")))
}

fn decode_context(value: Option<&String>) -> Result<Option<Vec<u8>>, CoreError> {
    value.map(|encoded| decode_base64("context", encoded)).transpose()
}

/// `vault:v<N>:<base64 of an SR v1 sealed value>`.
fn render_ciphertext(sealed: &core_transit::Sealed) -> String {
    format!("vault:v{}:{}", sealed.key_version, STANDARD.encode(&sealed.sealed))
}

/// `vault:v<N>:<base64>` of an HMAC or signature → (N, bytes).
fn parse_versioned(field: &str, text: &str) -> Result<(u32, Vec<u8>), CoreError> {
    let invalid = || CoreError::InvalidInput(format!("{field}: expected vault:v<N>:<base64>"));
    let rest = text.strip_prefix("vault:v").ok_or_else(invalid)?;
    let (version, encoded) = rest.split_once(':').ok_or_else(invalid)?;
    Ok((version.parse().map_err(|_| invalid())?, STANDARD.decode(encoded).map_err(|_| invalid())?))
}

/// `vault:v<N>:<base64>` → (N, sealed bytes); anything else is refused as a
/// ciphertext that does not open (core checks N against the sealed header).
fn parse_ciphertext(text: &str) -> Result<(u32, Vec<u8>), CoreError> {
    let refused = || CoreError::Crypto(CryptoError::Decrypt);
    let rest = text.strip_prefix("vault:v").ok_or_else(refused)?;
    let (version, encoded) = rest.split_once(':').ok_or_else(refused)?;
    let version: u32 = version.parse().map_err(|_| refused())?;
    Ok((version, STANDARD.decode(encoded).map_err(|_| refused())?))
}

/// Seconds from Vault's `auto_rotate_period` (a number or `"24h"`-style text); 0 is none.
fn rotation_period(value: Option<&serde_json::Value>) -> Result<Option<Option<i64>>, ApiError> {
    let invalid = || ApiError::InvalidRequest("auto_rotate_period: seconds, or a duration such as \"24h\"".into());
    let seconds = match value {
        None => return Ok(None),
        Some(serde_json::Value::Number(n)) => n.as_i64().ok_or_else(invalid)?,
        Some(serde_json::Value::String(text)) => {
            let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
            let (number, unit) = text.split_at(split);
            let number: i64 = number.parse().map_err(|_| invalid())?;
            let factor = match unit {
                "" | "s" => 1,
                "m" => 60,
                "h" => 3600,
                "d" => 86_400,
                _ => return Err(invalid()),
            };
            number.checked_mul(factor).ok_or_else(invalid)?
        }
        Some(_) => return Err(invalid()),
    };
    Ok(Some((seconds > 0).then_some(seconds)))
}

fn describe(key: core_transit::TransitKey) -> TransitKey {
    let core_transit::TransitKey { info, versions } = key;
    let usable = matches!(info.state, KeyState::Active);
    let readable = matches!(info.state, KeyState::Active | KeyState::DecryptOnly | KeyState::Compromised);
    TransitKey {
        key_type: info.algorithm.as_str().to_owned(),
        state: info.state.as_str().to_owned(),
        latest_version: info.latest_version,
        min_decryption_version: info.min_decryption_version,
        min_encryption_version: 0,
        deletion_allowed: info.deletion_allowed,
        keys: versions.into_iter().map(|(version, created)| (version.to_string(), created)).collect(),
        auto_rotate_period: info.rotation_period_seconds.unwrap_or(0),
        exportable: false,
        derived: false,
        supports_encryption: usable && info.algorithm == KeyAlgorithm::Aes256Gcm,
        supports_decryption: readable && info.algorithm == KeyAlgorithm::Aes256Gcm,
        supports_signing: info.algorithm == KeyAlgorithm::Ed25519,
        name: info.name,
    }
}

/// Creates a transit key. Scope `transit:manage`.
#[utoipa::path(method(post, put), path = "/v1/transit/keys/{name}", tag = "transit",
    params(("name" = String, Path, description = "Key name: 1-128 of a-z 0-9 . _ -, starting with a letter or digit; \
`matter.`, `blind.` and `system.` are kept for the server's own keys",
        pattern = "^(?!(matter|blind|system)\\.)[a-z0-9][a-z0-9._-]{0,127}$")), request_body = Option<CreateTransitKey>,
    responses((status = 200, description = "The new key", body = VaultResponse<TransitKey>)),
    security(("api_key" = [])))]
pub(crate) async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<VaultJson<TransitKey>, ApiError> {
    let request: CreateTransitKey = lenient_json(&bytes)?;
    if request.derived == Some(true) {
        return Err(ApiError::InvalidRequest(
            "derived: key derivation is not offered; use context to bind ciphertexts".into(),
        ));
    }
    if request.exportable == Some(true) {
        return Err(ApiError::InvalidRequest("exportable: keys never leave Strongroom".into()));
    }
    let algorithm = match request.key_type.as_deref() {
        None | Some("aes256-gcm96") => KeyAlgorithm::Aes256Gcm,
        Some("ed25519") => KeyAlgorithm::Ed25519,
        Some(other) => {
            return Err(ApiError::InvalidRequest(format!(
                "type: {other:?} is not offered; use aes256-gcm96 or ed25519"
            )));
        }
    };
    let rotation_period_seconds = rotation_period(request.auto_rotate_period.as_ref())?.flatten();
    let key =
        state.transit.create_key(&caller.subject, &name, algorithm, rotation_period_seconds, &caller.context).await?;
    Ok(envelope(&request_id, describe(key)))
}

/// Reads a transit key. Scope `transit:use`.
#[utoipa::path(get, path = "/v1/transit/keys/{name}", tag = "transit",
    params(("name" = String, Path, description = "Key name")),
    responses((status = 200, description = "The key", body = VaultResponse<TransitKey>)),
    security(("api_key" = [])))]
pub(crate) async fn read_key(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    Path(name): Path<String>,
) -> Result<VaultJson<TransitKey>, ApiError> {
    let key = state.transit.key(&caller.subject, &name, &caller.context).await?;
    Ok(envelope(&request_id, describe(key)))
}

/// Query of the key listing.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    list: Option<String>,
}

/// Lists transit keys: `LIST /v1/transit/keys` or `GET …?list=true`, as Vault. Scope `transit:manage`.
#[utoipa::path(get, path = "/v1/transit/keys", tag = "transit",
    params(("list" = String, Query, description = "Must be true (or use the LIST method)", pattern = "^true$")),
    responses((status = 200, description = "Key names", body = VaultResponse<TransitKeyList>)),
    security(("api_key" = [])))]
pub(crate) async fn list_keys(
    method: Method,
    Query(query): Query<ListQuery>,
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
) -> Result<Response, ApiError> {
    let listing = method.as_str() == "LIST" || (method == Method::GET && query.list.as_deref() == Some("true"));
    if !listing {
        // The route takes every method (LIST is not one axum knows), so the
        // router cannot say which it accepts: this answer does, as every 405 must.
        return Ok((StatusCode::METHOD_NOT_ALLOWED, [(axum::http::header::ALLOW, "GET, HEAD, LIST")]).into_response());
    }
    let keys = state.transit.key_names(&caller.subject, &caller.context).await?;
    Ok(envelope(&request_id, TransitKeyList { keys }).into_response())
}

/// Adds a key version. Scope `transit:manage`.
#[utoipa::path(method(post, put), path = "/v1/transit/keys/{name}/rotate", tag = "transit",
    params(("name" = String, Path, description = "Key name")),
    responses((status = 200, description = "The rotated key", body = VaultResponse<TransitKey>)),
    security(("api_key" = [])))]
pub(crate) async fn rotate_key(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    Path(name): Path<String>,
) -> Result<VaultJson<TransitKey>, ApiError> {
    let key = state.transit.rotate_key(&caller.subject, &name, &caller.context).await?;
    Ok(envelope(&request_id, describe(key)))
}

/// Sets `min_decryption_version`, `deletion_allowed`, `auto_rotate_period`. Scope `transit:manage`.
#[utoipa::path(method(post, put), path = "/v1/transit/keys/{name}/config", tag = "transit",
    params(("name" = String, Path, description = "Key name")), request_body = Option<ConfigureTransitKey>,
    responses((status = 200, description = "The key", body = VaultResponse<TransitKey>)),
    security(("api_key" = [])))]
pub(crate) async fn configure_key(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<VaultJson<TransitKey>, ApiError> {
    let request: ConfigureTransitKey = lenient_json(&bytes)?;
    let change = core_transit::TransitKeyChange {
        deletion_allowed: request.deletion_allowed,
        rotation_period_seconds: rotation_period(request.auto_rotate_period.as_ref())?,
        min_decryption_version: request.min_decryption_version,
    };
    let key = state.transit.configure_key(&caller.subject, &name, change, &caller.context).await?;
    Ok(envelope(&request_id, describe(key)))
}

/// Deletes a key whose `deletion_allowed` is set: what it protected becomes unreadable. Scope `transit:manage`.
#[utoipa::path(delete, path = "/v1/transit/keys/{name}", tag = "transit",
    params(("name" = String, Path, description = "Key name")),
    responses((status = 204, description = "Deleted")),
    security(("api_key" = [])))]
pub(crate) async fn delete_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.transit.delete_key(&caller.subject, &name, &caller.context).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A request's items as core takes them, with the batch items' `reference`s
/// kept here to echo them in the answer.
struct Read<T> {
    items: Items<T>,
    references: Vec<Option<String>>,
}

/// Reads the single item or the batch (`batch_input` wins when both are
/// sent, as in Vault); an item that does not read fails alone.
fn read<W, T>(
    single: Option<W>,
    batch: Option<Vec<(W, Option<String>)>>,
    required: &str,
    item: impl Fn(W) -> Result<T, CoreError>,
) -> Result<Read<T>, ApiError> {
    match (batch, single) {
        (Some(batch), _) => {
            let (items, references): (Vec<_>, Vec<_>) =
                batch.into_iter().map(|(wire, reference)| (item(wire), reference)).unzip();
            Ok(Read { items: Items::Batch(items), references })
        }
        (None, Some(wire)) => Ok(Read { items: Items::One(item(wire)), references: Vec::new() }),
        (None, None) => Err(ApiError::InvalidRequest(format!("{required} or batch_input is required"))),
    }
}

/// Why a batch item failed, for its `error` field: the problem's detail.
fn item_error(error: CoreError) -> String {
    match ApiError::from(error) {
        ApiError::Internal(_) => "internal error".into(),
        other => other.problem().detail,
    }
}

/// A batch result that can carry a per-item failure and echo a reference.
trait BatchResult: Serialize + Default {
    fn set_reference(&mut self, reference: Option<String>);
    fn failed(error: String) -> Self;
}

impl BatchResult for CiphertextResult {
    fn set_reference(&mut self, reference: Option<String>) {
        self.reference = reference;
    }
    fn failed(error: String) -> Self {
        Self { error: Some(error), ..Self::default() }
    }
}

impl BatchResult for InputResult {
    fn set_reference(&mut self, reference: Option<String>) {
        self.reference = reference;
    }
    fn failed(error: String) -> Self {
        Self { error: Some(error), ..Self::default() }
    }
}

impl BatchResult for PlaintextResult {
    fn set_reference(&mut self, reference: Option<String>) {
        self.reference = reference;
    }
    fn failed(error: String) -> Self {
        Self { error: Some(error), ..Self::default() }
    }
}

/// Answers in Vault's envelope: the single result, or every batch item's
/// result or `error`, with its `reference`.
fn answer<Out, Wire: BatchResult>(
    request_id: &RequestId,
    answers: Answers<Out>,
    references: Vec<Option<String>>,
    render: impl Fn(Out) -> Wire,
) -> Response {
    match answers {
        Answers::One(out) => envelope(request_id, render(out)).into_response(),
        Answers::Batch(results) => {
            let batch_results = results
                .into_iter()
                .zip(references)
                .map(|(result, reference)| {
                    let mut wire = result.map_or_else(|error| Wire::failed(item_error(error)), &render);
                    wire.set_reference(reference);
                    wire
                })
                .collect();
            envelope(request_id, BatchResults { batch_results }).into_response()
        }
    }
}

fn ciphertext_result(sealed: core_transit::Sealed) -> CiphertextResult {
    CiphertextResult {
        ciphertext: Some(render_ciphertext(&sealed)),
        key_version: Some(sealed.key_version),
        ..CiphertextResult::default()
    }
}

/// Encrypts one plaintext or a batch. Scope `transit:use`.
#[utoipa::path(method(post, put), path = "/v1/transit/encrypt/{name}", tag = "transit",
    params(("name" = String, Path, description = "Key name")), request_body = EncryptRequest,
    responses((status = 200, description = "`{ciphertext, key_version}`, or `{batch_results}` for a batch", body = VaultResponse<CiphertextResult>)),
    security(("api_key" = [])))]
pub(crate) async fn encrypt(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let request: EncryptRequest = lenient_json(&bytes)?;
    let single = request.plaintext.map(|plaintext| (plaintext, request.context));
    let batch = request
        .batch_input
        .map(|items| items.into_iter().map(|item| ((item.plaintext, item.context), item.reference)).collect());
    let Read { items, references } = read(single, batch, "plaintext", |(plaintext, context)| {
        Ok(PlaintextItem {
            plaintext: zeroize::Zeroizing::new(decode_base64("plaintext", &plaintext)?),
            context: decode_context(context.as_ref())?,
        })
    })?;
    let answers = state.transit.encrypt(&caller.subject, &name, request.key_version, items, &caller.context).await?;
    Ok(answer(&request_id, answers, references, ciphertext_result))
}

/// The single `(ciphertext, context)` and the batch items of a decrypt or rewrap request, read.
fn ciphertexts(request: DecryptRequest) -> Result<Read<CiphertextItem>, ApiError> {
    let single = request.ciphertext.map(|ciphertext| (ciphertext, request.context));
    let batch = request
        .batch_input
        .map(|items| items.into_iter().map(|item| ((item.ciphertext, item.context), item.reference)).collect());
    read(single, batch, "ciphertext", |(ciphertext, context)| {
        let (claimed_version, sealed) = parse_ciphertext(&ciphertext)?;
        Ok(CiphertextItem { claimed_version, sealed, context: decode_context(context.as_ref())? })
    })
}

/// Decrypts one ciphertext or a batch. Scope `transit:use`.
#[utoipa::path(method(post, put), path = "/v1/transit/decrypt/{name}", tag = "transit",
    params(("name" = String, Path, description = "Key name")), request_body = DecryptRequest,
    responses((status = 200, description = "`{plaintext}`, or `{batch_results}` for a batch", body = VaultResponse<PlaintextResult>)),
    security(("api_key" = [])))]
pub(crate) async fn decrypt(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let Read { items, references } = ciphertexts(lenient_json(&bytes)?)?;
    let answers = state.transit.decrypt(&caller.subject, &name, items, &caller.context).await?;
    Ok(answer(&request_id, answers, references, |plaintext| PlaintextResult {
        // Deliberately public: decrypting for the caller is this route's purpose.
        plaintext: Some(STANDARD.encode(plaintext.expose())),
        ..PlaintextResult::default()
    }))
}

/// Re-encrypts ciphertexts under the latest version, the plaintext never
/// leaving the server; works with `context` too. Scope `transit:use`.
#[utoipa::path(method(post, put), path = "/v1/transit/rewrap/{name}", tag = "transit",
    params(("name" = String, Path, description = "Key name")), request_body = DecryptRequest,
    responses((status = 200, description = "`{ciphertext, key_version}`, or `{batch_results}`", body = VaultResponse<CiphertextResult>)),
    security(("api_key" = [])))]
pub(crate) async fn rewrap(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let Read { items, references } = ciphertexts(lenient_json(&bytes)?)?;
    let answers = state.transit.rewrap(&caller.subject, &name, items, &caller.context).await?;
    Ok(answer(&request_id, answers, references, ciphertext_result))
}

/// The single item and the batch items of an `hmac`, `sign` or `verify` request.
#[allow(clippy::type_complexity, reason = "a pair of the two optional input shapes")]
fn inputs(request: InputRequest) -> Result<(Option<InputItem>, Option<Vec<(InputItem, Option<String>)>>), ApiError> {
    if request.prehashed == Some(true) {
        return Err(ApiError::InvalidRequest("prehashed: pre-hashed input is not offered".into()));
    }
    if request.algorithm.as_deref().is_some_and(|a| a != "sha2-256") {
        return Err(ApiError::InvalidRequest("algorithm: only sha2-256 is offered".into()));
    }
    let single = request.input.map(|input| InputItem {
        input,
        hmac: request.hmac,
        signature: request.signature,
        reference: None,
    });
    let batch = request.batch_input.map(|items| {
        items
            .into_iter()
            .map(|mut item| {
                let reference = item.reference.take();
                (item, reference)
            })
            .collect()
    });
    Ok((single, batch))
}

/// The inputs of an `hmac` or `sign` request, read.
fn plain_inputs(request: InputRequest) -> Result<Read<Vec<u8>>, ApiError> {
    let (single, batch) = inputs(request)?;
    read(single, batch, "input", |item| decode_base64("input", &item.input))
}

/// HMAC-SHA256 of one input or a batch (an AES key MACs with a derived sub-key). Scope `transit:use`.
#[utoipa::path(method(post, put), path = "/v1/transit/hmac/{name}", tag = "transit",
    params(("name" = String, Path, description = "Key name")), request_body = InputRequest,
    responses((status = 200, description = "`{hmac, key_version}`, or `{batch_results}`", body = VaultResponse<InputResult>)),
    security(("api_key" = [])))]
pub(crate) async fn hmac(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let Read { items, references } = plain_inputs(lenient_json(&bytes)?)?;
    let answers = state.transit.hmac(&caller.subject, &name, items, &caller.context).await?;
    Ok(answer(&request_id, answers, references, |mac| InputResult {
        hmac: Some(format!("vault:v{}:{}", mac.key_version, STANDARD.encode(mac.bytes))),
        key_version: Some(mac.key_version),
        ..InputResult::default()
    }))
}

/// Ed25519 signature of one input or a batch. Scope `transit:use`.
#[utoipa::path(method(post, put), path = "/v1/transit/sign/{name}", tag = "transit",
    params(("name" = String, Path, description = "Key name")), request_body = InputRequest,
    responses((status = 200, description = "`{signature, key_version}`, or `{batch_results}`", body = VaultResponse<InputResult>)),
    security(("api_key" = [])))]
pub(crate) async fn sign(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let Read { items, references } = plain_inputs(lenient_json(&bytes)?)?;
    let answers = state.transit.sign(&caller.subject, &name, items, &caller.context).await?;
    Ok(answer(&request_id, answers, references, |signature| InputResult {
        signature: Some(format!("vault:v{}:{}", signature.key_version, STANDARD.encode(signature.bytes))),
        key_version: Some(signature.key_version),
        ..InputResult::default()
    }))
}

/// Checks an `hmac` or a `signature` over `input` (one or a batch); `valid` says the outcome. Scope `transit:use`.
#[utoipa::path(method(post, put), path = "/v1/transit/verify/{name}", tag = "transit",
    params(("name" = String, Path, description = "Key name")), request_body = InputRequest,
    responses((status = 200, description = "`{valid}`, or `{batch_results}`", body = VaultResponse<InputResult>)),
    security(("api_key" = [])))]
pub(crate) async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let (single, batch) = inputs(lenient_json(&bytes)?)?;
    let Read { items, references } = read(single, batch, "input", |item| {
        let input = decode_base64("input", &item.input)?;
        let check = match (&item.hmac, &item.signature) {
            (Some(mac), None) => {
                let (version, mac) = parse_versioned("hmac", mac)?;
                Check::Hmac { version, mac }
            }
            (None, Some(signature)) => {
                let (version, signature) = parse_versioned("signature", signature)?;
                Check::Signature { version, signature }
            }
            _ => return Err(CoreError::InvalidInput("give exactly one of hmac and signature".into())),
        };
        Ok(VerifyItem { input, check })
    })?;
    let answers = state.transit.verify(&caller.subject, &name, items, &caller.context).await?;
    Ok(answer(&request_id, answers, references, |valid| InputResult { valid: Some(valid), ..InputResult::default() }))
}

/// A fresh 256-bit data key wrapped by this key (and, for `plaintext`, in
/// clear too) for envelope encryption in the application. Scope `transit:use`.
#[utoipa::path(method(post, put), path = "/v1/transit/datakey/{kind}/{name}", tag = "transit",
    params(("kind" = String, Path, description = "`plaintext` or `wrapped`", pattern = "^(plaintext|wrapped)$"), ("name" = String, Path, description = "Key name")),
    request_body = Option<DataKeyRequest>,
    responses((status = 200, description = "The wrapped key, and the key itself for `plaintext`", body = VaultResponse<DataKey>)),
    security(("api_key" = [])))]
pub(crate) async fn datakey(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    Path((kind, name)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let request: DataKeyRequest = lenient_json(&bytes)?;
    let reveal = match kind.as_str() {
        "plaintext" => true,
        "wrapped" => false,
        _ => return Err(ApiError::NotFound(format!("no datakey kind {kind:?}; use plaintext or wrapped"))),
    };
    if request.bits.is_some_and(|bits| bits != 256) {
        return Err(ApiError::InvalidRequest("bits: only 256 is offered".into()));
    }
    let key_context = decode_context(request.context.as_ref())?;
    let data_key = state.transit.data_key(&caller.subject, &name, key_context, &caller.context).await?;
    Ok(envelope(
        &request_id,
        DataKey {
            ciphertext: render_ciphertext(&data_key.wrapped),
            // Deliberately public: handing the caller its data key is what `plaintext` asks for.
            plaintext: reveal.then(|| STANDARD.encode(data_key.plaintext.as_ref())),
            key_version: data_key.wrapped.key_version,
        },
    )
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ciphertexts_render_and_parse_as_vault_text() {
        let sealed = core_transit::Sealed { key_version: 2, sealed: b"sealed bytes".to_vec() };
        let text = render_ciphertext(&sealed);
        assert!(text.starts_with("vault:v2:"));
        assert_eq!(parse_ciphertext(&text).unwrap(), (2, sealed.sealed));
        for bad in ["", "vault:v", "vault:vx:AAAA", "vault:v1:!!!", "other:v1:AAAA"] {
            assert!(parse_ciphertext(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rotation_periods_accept_vault_forms() {
        assert_eq!(rotation_period(None).unwrap(), None);
        assert_eq!(rotation_period(Some(&serde_json::json!(0))).unwrap(), Some(None));
        assert_eq!(rotation_period(Some(&serde_json::json!("24h"))).unwrap(), Some(Some(86_400)));
        assert_eq!(rotation_period(Some(&serde_json::json!(7200))).unwrap(), Some(Some(7200)));
        assert!(rotation_period(Some(&serde_json::json!("1w"))).is_err());
        assert!(rotation_period(Some(&serde_json::json!(true))).is_err());
    }
}
