//! The transit API: encryption as a service, compatible with Vault's and
//! OpenBao's transit engine (paths, JSON fields, `vault:v<N>:` ciphertexts,
//! `X-Vault-Token`), so applications switch by changing the URL and token.
//!
//! Differences a Vault user may meet (documented in docs/transit.md):
//! `context` binds the ciphertext as associated data (no derived keys);
//! keys are never exportable; `key_version` on encrypt may only name the
//! latest version; batch items fail individually with an `error` field.
//!
//! Only keys of purpose `transit` are visible here: the server's own keys
//! (API-key hashing, signing) answer `key_not_found`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use strongroom_core::audit::{EventType, Outcome, Target};
use strongroom_core::authz::{Action, Resource};
use strongroom_core::{CoreError, KeyInfo, KeyPurpose, KeySpec, KeyState};
use strongroom_crypto::{AssociatedData, SealedHeader};
use strongroom_proto::{
    BatchResults, CiphertextResult, ConfigureTransitKey, CreateTransitKey, DataKey, DataKeyRequest, DecryptRequest,
    EncryptRequest, InputItem, InputRequest, InputResult, PlaintextResult, TransitKey, TransitKeyList, VaultResponse,
};

use crate::extract::lenient_json;
use crate::middleware::RequestId;
use crate::{ApiError, AppState, Caller};

/// Largest `batch_input` accepted.
const MAX_BATCH: usize = 1000;

type VaultJson<T> = Json<VaultResponse<T>>;

fn envelope<T>(request_id: &RequestId, data: T) -> VaultJson<T> {
    Json(VaultResponse::new(request_id.0.clone(), data))
}

fn decode_base64(field: &str, value: &str) -> Result<Vec<u8>, ApiError> {
    STANDARD.decode(value).map_err(|_| ApiError::InvalidRequest(format!("{field}: not valid base64")))
}

fn context(value: Option<&String>) -> Result<AssociatedData, ApiError> {
    Ok(match value {
        Some(encoded) => AssociatedData::new().with("transit.context", &decode_base64("context", encoded)?),
        None => AssociatedData::new(),
    })
}

/// `vault:v<N>:<base64 of an SR v1 sealed value>`.
fn render_ciphertext(sealed: &[u8]) -> Result<String, ApiError> {
    let (header, _) = SealedHeader::parse(sealed).map_err(CoreError::from)?;
    Ok(format!("vault:v{}:{}", header.key_version, STANDARD.encode(sealed)))
}

/// `vault:v<N>:<base64>` of an HMAC or signature → (N, bytes).
fn parse_versioned(field: &str, text: &str) -> Result<(u32, Vec<u8>), ApiError> {
    let invalid = || ApiError::InvalidRequest(format!("{field}: expected vault:v<N>:<base64>"));
    let rest = text.strip_prefix("vault:v").ok_or_else(invalid)?;
    let (version, encoded) = rest.split_once(':').ok_or_else(invalid)?;
    Ok((version.parse().map_err(|_| invalid())?, STANDARD.decode(encoded).map_err(|_| invalid())?))
}

fn parse_ciphertext(text: &str) -> Result<Vec<u8>, ApiError> {
    let refused = || ApiError::from(CoreError::Crypto(strongroom_crypto::CryptoError::Decrypt));
    let rest = text.strip_prefix("vault:v").ok_or_else(refused)?;
    let (version, encoded) = rest.split_once(':').ok_or_else(refused)?;
    let version: u32 = version.parse().map_err(|_| refused())?;
    let sealed = STANDARD.decode(encoded).map_err(|_| refused())?;
    let (header, _) = SealedHeader::parse(&sealed).map_err(|_| refused())?;
    // The prefix is informational; it must agree with the authenticated header.
    if header.key_version != version {
        return Err(refused());
    }
    Ok(sealed)
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

/// A transit key's info; keys of other purposes do not exist here.
async fn transit_key(state: &AppState, name: &str) -> Result<KeyInfo, ApiError> {
    Ok(state.keyring.info_for(KeyPurpose::Transit, name).await?)
}

async fn describe(state: &AppState, info: KeyInfo) -> Result<TransitKey, ApiError> {
    let versions = state.keyring.version_times(&info.name).await?;
    let usable = matches!(info.state, KeyState::Active);
    let readable = matches!(info.state, KeyState::Active | KeyState::DecryptOnly | KeyState::Compromised);
    Ok(TransitKey {
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
        supports_encryption: usable && info.algorithm == strongroom_core::KeyAlgorithm::Aes256Gcm,
        supports_decryption: readable && info.algorithm == strongroom_core::KeyAlgorithm::Aes256Gcm,
        supports_signing: info.algorithm == strongroom_core::KeyAlgorithm::Ed25519,
        name: info.name,
    })
}

/// Creates a transit key. Scope `transit:manage`.
#[utoipa::path(post, path = "/v1/transit/keys/{name}", tag = "transit",
    params(("name" = String, Path, description = "Key name")), request_body = CreateTransitKey,
    responses((status = 200, description = "The new key", body = VaultResponse<TransitKey>)),
    security(("api_key" = [])))]
pub(crate) async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<VaultJson<TransitKey>, ApiError> {
    caller.authorize(&state, Action::TransitManage, &Resource::Key(name.clone())).await?;
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
        None | Some("aes256-gcm96") => strongroom_core::KeyAlgorithm::Aes256Gcm,
        Some("ed25519") => strongroom_core::KeyAlgorithm::Ed25519,
        Some(other) => {
            return Err(ApiError::InvalidRequest(format!(
                "type: {other:?} is not offered; use aes256-gcm96 or ed25519"
            )));
        }
    };
    let rotation_period_seconds = rotation_period(request.auto_rotate_period.as_ref())?.flatten();
    let spec = KeySpec {
        purpose: KeyPurpose::Transit,
        algorithm: Some(algorithm),
        rotation_period_seconds,
        deletion_allowed: false,
    };
    let info = state.keyring.create(&name, spec, &caller.context).await?;
    Ok(envelope(&request_id, describe(&state, info).await?))
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
    caller.authorize(&state, Action::TransitRead, &Resource::Key(name.clone())).await?;
    let info = transit_key(&state, &name).await?;
    Ok(envelope(&request_id, describe(&state, info).await?))
}

/// Query of the key listing.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    list: Option<String>,
}

/// Lists transit keys: `LIST /v1/transit/keys` or `GET …?list=true`, as Vault. Scope `transit:manage`.
#[utoipa::path(get, path = "/v1/transit/keys", tag = "transit",
    params(("list" = bool, Query, description = "Must be true (or use the LIST method)")),
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
    caller.authorize(&state, Action::TransitRead, &Resource::Service).await?;
    let keys = state
        .keyring
        .list()
        .await?
        .into_iter()
        .filter(|key| key.purpose == KeyPurpose::Transit)
        .map(|key| key.name)
        .collect();
    Ok(envelope(&request_id, TransitKeyList { keys }).into_response())
}

/// Adds a key version. Scope `transit:manage`.
#[utoipa::path(post, path = "/v1/transit/keys/{name}/rotate", tag = "transit",
    params(("name" = String, Path, description = "Key name")),
    responses((status = 200, description = "The rotated key", body = VaultResponse<TransitKey>)),
    security(("api_key" = [])))]
pub(crate) async fn rotate_key(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    Path(name): Path<String>,
) -> Result<VaultJson<TransitKey>, ApiError> {
    caller.authorize(&state, Action::TransitManage, &Resource::Key(name.clone())).await?;
    transit_key(&state, &name).await?;
    let info = state.keyring.rotate(&name, &caller.context).await?;
    Ok(envelope(&request_id, describe(&state, info).await?))
}

/// Sets `min_decryption_version`, `deletion_allowed`, `auto_rotate_period`. Scope `transit:manage`.
#[utoipa::path(post, path = "/v1/transit/keys/{name}/config", tag = "transit",
    params(("name" = String, Path, description = "Key name")), request_body = ConfigureTransitKey,
    responses((status = 200, description = "The key", body = VaultResponse<TransitKey>)),
    security(("api_key" = [])))]
pub(crate) async fn configure_key(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<VaultJson<TransitKey>, ApiError> {
    caller.authorize(&state, Action::TransitManage, &Resource::Key(name.clone())).await?;
    let request: ConfigureTransitKey = lenient_json(&bytes)?;
    transit_key(&state, &name).await?;
    let period = rotation_period(request.auto_rotate_period.as_ref())?;
    let mut info = state.keyring.configure(&name, request.deletion_allowed, period, &caller.context).await?;
    if let Some(version) = request.min_decryption_version
        && version != info.min_decryption_version
    {
        info = state.keyring.set_min_decryption_version(&name, version, &caller.context).await?;
    }
    Ok(envelope(&request_id, describe(&state, info).await?))
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
    caller.authorize(&state, Action::TransitManage, &Resource::Key(name.clone())).await?;
    transit_key(&state, &name).await?;
    state.keyring.delete(&name, &caller.context).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Why a batch item failed, for its `error` field: the problem's detail.
fn item_error(error: ApiError) -> String {
    match error {
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

/// How many items a request carried and how many of them failed, for its audit event.
#[derive(Debug, Clone, Copy)]
struct Tally {
    items: usize,
    failed: usize,
}

const ONE_ITEM: Tally = Tally { items: 1, failed: 0 };

type Answer = Result<(Response, Tally), ApiError>;

/// Records the audit event of a transit operation on key `name`, then
/// answers. The event is committed before the answer leaves (fail closed:
/// without a record, a decrypt's plaintext is never sent); a refused request
/// is recorded as a failure with its problem code.
async fn audited(
    state: &AppState,
    caller: &Caller,
    event_type: EventType,
    name: &str,
    answer: Answer,
) -> Result<Response, ApiError> {
    let event = state.audit.event(event_type, &caller.context).target(Target::new("transit_key", name));
    match answer {
        Ok((response, tally)) => {
            let event = event.detail("items", tally.items).detail("failed_items", tally.failed);
            state.audit.record(&event).await?;
            Ok(response)
        }
        Err(error) => {
            state.audit.record_refusal(&event.failed(Outcome::Failure, error.code().as_str())).await;
            Err(error)
        }
    }
}

/// Runs `operation` on the single item, or on every batch item (failures
/// becoming that item's `error`), and answers in Vault's envelope.
async fn single_or_batch<Item, Out, Operation, Pending>(
    request_id: &RequestId,
    single: Option<Item>,
    batch: Option<Vec<(Item, Option<String>)>>,
    required: &str,
    operation: Operation,
) -> Answer
where
    Out: BatchResult,
    Operation: Fn(Item) -> Pending,
    Pending: Future<Output = Result<Out, ApiError>>,
{
    match (batch, single) {
        (Some(batch), _) => {
            if batch.is_empty() || batch.len() > MAX_BATCH {
                return Err(ApiError::InvalidRequest(format!("batch_input: between 1 and {MAX_BATCH} items")));
            }
            let mut results = Vec::with_capacity(batch.len());
            let mut tally = Tally { items: batch.len(), failed: 0 };
            for (item, reference) in batch {
                let mut result = operation(item).await.unwrap_or_else(|e| {
                    tally.failed += 1;
                    Out::failed(item_error(e))
                });
                result.set_reference(reference);
                results.push(result);
            }
            Ok((envelope(request_id, BatchResults { batch_results: results }).into_response(), tally))
        }
        (None, Some(item)) => Ok((envelope(request_id, operation(item).await?).into_response(), ONE_ITEM)),
        (None, None) => Err(ApiError::InvalidRequest(format!("{required} or batch_input is required"))),
    }
}

/// Encrypts one plaintext or a batch. Scope `transit:use`.
#[utoipa::path(post, path = "/v1/transit/encrypt/{name}", tag = "transit",
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
    caller.authorize(&state, Action::TransitUse, &Resource::Key(name.clone())).await?;
    let answer: Answer = async {
        let request: EncryptRequest = lenient_json(&bytes)?;
        // One lookup of the key serves the whole request, however large the batch.
        let key = state.keyring.use_key(KeyPurpose::Transit, &name).await?;
        if request.key_version.is_some_and(|v| v != 0 && v != key.info().latest_version) {
            return Err(ApiError::InvalidRequest("key_version: encryption always uses the latest version".into()));
        }
        let seal = |(plaintext, context_value): (String, Option<String>)| {
            let key = &key;
            async move {
                let plaintext = zeroize::Zeroizing::new(decode_base64("plaintext", &plaintext)?);
                let context = context(context_value.as_ref())?;
                let sealed = key.encrypt(&plaintext, &context).await?;
                ciphertext_result(&sealed)
            }
        };
        let single = request.plaintext.map(|plaintext| (plaintext, request.context));
        let batch = request
            .batch_input
            .map(|items| items.into_iter().map(|item| ((item.plaintext, item.context), item.reference)).collect());
        single_or_batch(&request_id, single, batch, "plaintext", seal).await
    }
    .await;
    audited(&state, &caller, EventType::TransitEncrypt, &name, answer).await
}

/// Decrypts one ciphertext or a batch. Scope `transit:use`.
#[utoipa::path(post, path = "/v1/transit/decrypt/{name}", tag = "transit",
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
    caller.authorize(&state, Action::TransitUse, &Resource::Key(name.clone())).await?;
    let answer: Answer = async {
        let request: DecryptRequest = lenient_json(&bytes)?;
        let key = state.keyring.use_key(KeyPurpose::Transit, &name).await?;
        let open = |(ciphertext, context_value): (String, Option<String>)| {
            let key = &key;
            async move {
                let sealed = parse_ciphertext(&ciphertext)?;
                let context = context(context_value.as_ref())?;
                let plaintext = key.decrypt(&sealed, &context).await?;
                // Deliberately public: decrypting for the caller is this route's purpose.
                Ok::<_, ApiError>(PlaintextResult {
                    plaintext: Some(STANDARD.encode(plaintext.expose())),
                    ..PlaintextResult::default()
                })
            }
        };
        let (single, batch) = ciphertext_inputs(request);
        single_or_batch(&request_id, single, batch, "ciphertext", open).await
    }
    .await;
    audited(&state, &caller, EventType::TransitDecrypt, &name, answer).await
}

/// Re-encrypts ciphertexts under the latest version, the plaintext never
/// leaving the server; works with `context` too. Scope `transit:use`.
#[utoipa::path(post, path = "/v1/transit/rewrap/{name}", tag = "transit",
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
    caller.authorize(&state, Action::TransitUse, &Resource::Key(name.clone())).await?;
    let answer: Answer = async {
        let request: DecryptRequest = lenient_json(&bytes)?;
        let key = state.keyring.use_key(KeyPurpose::Transit, &name).await?;
        let rewrap_one = |(ciphertext, context_value): (String, Option<String>)| {
            let key = &key;
            async move {
                let sealed = parse_ciphertext(&ciphertext)?;
                let context = context(context_value.as_ref())?;
                ciphertext_result(&key.rewrap(&sealed, &context).await?)
            }
        };
        let (single, batch) = ciphertext_inputs(request);
        single_or_batch(&request_id, single, batch, "ciphertext", rewrap_one).await
    }
    .await;
    audited(&state, &caller, EventType::TransitRewrap, &name, answer).await
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

/// HMAC-SHA256 of one input or a batch (an AES key MACs with a derived sub-key). Scope `transit:use`.
#[utoipa::path(post, path = "/v1/transit/hmac/{name}", tag = "transit",
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
    caller.authorize(&state, Action::TransitUse, &Resource::Key(name.clone())).await?;
    let answer: Answer = async {
        let (single, batch) = inputs(lenient_json(&bytes)?)?;
        let key = state.keyring.use_key(KeyPurpose::Transit, &name).await?;
        let mac_one = |item: InputItem| {
            let key = &key;
            async move {
                let (version, mac) = key.hmac(&decode_base64("input", &item.input)?).await?;
                Ok::<_, ApiError>(InputResult {
                    hmac: Some(format!("vault:v{version}:{}", STANDARD.encode(mac))),
                    key_version: Some(version),
                    ..InputResult::default()
                })
            }
        };
        single_or_batch(&request_id, single, batch, "input", mac_one).await
    }
    .await;
    audited(&state, &caller, EventType::TransitHmac, &name, answer).await
}

/// Ed25519 signature of one input or a batch. Scope `transit:use`.
#[utoipa::path(post, path = "/v1/transit/sign/{name}", tag = "transit",
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
    caller.authorize(&state, Action::TransitUse, &Resource::Key(name.clone())).await?;
    let answer: Answer = async {
        let (single, batch) = inputs(lenient_json(&bytes)?)?;
        let key = state.keyring.use_key(KeyPurpose::Transit, &name).await?;
        let sign_one = |item: InputItem| {
            let key = &key;
            async move {
                let (version, signature) = key.sign(&decode_base64("input", &item.input)?).await?;
                Ok::<_, ApiError>(InputResult {
                    signature: Some(format!("vault:v{version}:{}", STANDARD.encode(signature))),
                    key_version: Some(version),
                    ..InputResult::default()
                })
            }
        };
        single_or_batch(&request_id, single, batch, "input", sign_one).await
    }
    .await;
    audited(&state, &caller, EventType::TransitSign, &name, answer).await
}

/// Checks an `hmac` or a `signature` over `input` (one or a batch); `valid` says the outcome. Scope `transit:use`.
#[utoipa::path(post, path = "/v1/transit/verify/{name}", tag = "transit",
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
    caller.authorize(&state, Action::TransitUse, &Resource::Key(name.clone())).await?;
    let answer: Answer = async {
        let (single, batch) = inputs(lenient_json(&bytes)?)?;
        let key = state.keyring.use_key(KeyPurpose::Transit, &name).await?;
        let verify_one = |item: InputItem| {
            let key = &key;
            async move {
                let input = decode_base64("input", &item.input)?;
                let valid = match (&item.hmac, &item.signature) {
                    (Some(mac), None) => {
                        let (version, mac) = parse_versioned("hmac", mac)?;
                        key.verify_hmac(version, &input, &mac).await?
                    }
                    (None, Some(signature)) => {
                        let (version, signature) = parse_versioned("signature", signature)?;
                        key.verify_signature(version, &input, &signature).await?
                    }
                    _ => return Err(ApiError::InvalidRequest("give exactly one of hmac and signature".into())),
                };
                Ok(InputResult { valid: Some(valid), ..InputResult::default() })
            }
        };
        single_or_batch(&request_id, single, batch, "input", verify_one).await
    }
    .await;
    audited(&state, &caller, EventType::TransitVerify, &name, answer).await
}

/// A fresh 256-bit data key wrapped by this key (and, for `plaintext`, in
/// clear too) for envelope encryption in the application. Scope `transit:use`.
#[utoipa::path(post, path = "/v1/transit/datakey/{kind}/{name}", tag = "transit",
    params(("kind" = String, Path, description = "`plaintext` or `wrapped`"), ("name" = String, Path, description = "Key name")),
    request_body = DataKeyRequest,
    responses((status = 200, description = "The wrapped key, and the key itself for `plaintext`", body = VaultResponse<DataKey>)),
    security(("api_key" = [])))]
pub(crate) async fn datakey(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    Path((kind, name)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.authorize(&state, Action::TransitUse, &Resource::Key(name.clone())).await?;
    let answer: Answer = async {
        let request: DataKeyRequest = lenient_json(&bytes)?;
        let reveal = match kind.as_str() {
            "plaintext" => true,
            "wrapped" => false,
            _ => return Err(ApiError::NotFound(format!("no datakey kind {kind:?}; use plaintext or wrapped"))),
        };
        if request.bits.is_some_and(|bits| bits != 256) {
            return Err(ApiError::InvalidRequest("bits: only 256 is offered".into()));
        }
        let key = state.keyring.use_key(KeyPurpose::Transit, &name).await?;
        let data_key = zeroize::Zeroizing::new(strongroom_crypto::random_bytes::<32>().map_err(CoreError::from)?);
        let sealed = key.encrypt(data_key.as_ref(), &context(request.context.as_ref())?).await?;
        let wrapped = ciphertext_result(&sealed)?;
        Ok((
            envelope(
                &request_id,
                DataKey {
                    ciphertext: wrapped.ciphertext.unwrap_or_default(),
                    // Deliberately public: handing the caller its data key is what `plaintext` asks for.
                    plaintext: reveal.then(|| STANDARD.encode(data_key.as_ref())),
                    key_version: wrapped.key_version.unwrap_or_default(),
                },
            )
            .into_response(),
            ONE_ITEM,
        ))
    }
    .await;
    audited(&state, &caller, EventType::TransitDatakey, &name, answer).await
}

type CiphertextInput = (String, Option<String>);

/// The single `(ciphertext, context)` and the batch items of a decrypt or rewrap request.
#[allow(clippy::type_complexity, reason = "a pair of the two optional input shapes")]
fn ciphertext_inputs(
    request: DecryptRequest,
) -> (Option<CiphertextInput>, Option<Vec<(CiphertextInput, Option<String>)>>) {
    let single = request.ciphertext.map(|ciphertext| (ciphertext, request.context));
    let batch = request
        .batch_input
        .map(|items| items.into_iter().map(|item| ((item.ciphertext, item.context), item.reference)).collect());
    (single, batch)
}

fn ciphertext_result(sealed: &[u8]) -> Result<CiphertextResult, ApiError> {
    let key_version = SealedHeader::parse(sealed).map_err(CoreError::from)?.0.key_version;
    Ok(CiphertextResult {
        ciphertext: Some(render_ciphertext(sealed)?),
        key_version: Some(key_version),
        ..CiphertextResult::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ciphertext_prefix_must_match_the_sealed_header() {
        let key = strongroom_crypto::SecretKey::from_bytes([1; 32]);
        let header = SealedHeader { key_name: "k".into(), key_version: 2 };
        let sealed = strongroom_crypto::seal(&key, &header, b"x", &AssociatedData::new()).unwrap();
        let text = render_ciphertext(&sealed).unwrap();
        assert!(text.starts_with("vault:v2:"));
        assert_eq!(parse_ciphertext(&text).unwrap(), sealed);
        let lying = text.replacen("vault:v2:", "vault:v1:", 1);
        assert!(parse_ciphertext(&lying).is_err());
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
