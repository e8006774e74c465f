//! The one mapping from failures to HTTP answers.
//!
//! Invariant: [`ApiError::problem`] is an exhaustive `match`, so a new variant
//! cannot compile without a status and code. Internal failures are logged with
//! a random `error_id` and answered with that id only: the cause (which may
//! name tables, files or keys) never reaches the client.

use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use strongroom_core::authz::DenialKind;
use strongroom_core::records::BlobError;
use strongroom_core::{CoreError, StoreError};
use strongroom_crypto::CryptoError;
use strongroom_proto::{PolicyProblem, Problem, ProblemCode};

/// Everything a handler can answer with instead of success.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The body is not JSON or not of the expected shape; the text says where.
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    /// A value failed validation; the text names the field and the rule.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The body's content type is not accepted by this route.
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// The body is larger than the configured limit.
    #[error("request body too large")]
    PayloadTooLarge,
    /// No valid credentials (missing, malformed, unknown, revoked, expired).
    #[error("unauthenticated")]
    Unauthenticated,
    /// Valid credentials without the permission; the text names what is missing.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Nothing here by that name (also used where existence must not leak).
    #[error("not found: {0}")]
    NotFound(String),
    /// The request conflicts with existing state.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Too many attempts; retry after the given seconds (sent as `Retry-After`).
    #[error("rate limited: {detail}")]
    RateLimited {
        /// Seconds to wait.
        retry_after_seconds: i64,
        /// What to tell the caller.
        detail: String,
    },
    /// A dependency is down; the text names which, for operators and clients alike.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A domain rule refused the request; `code` says which rule, `detail` explains.
    #[error("{detail}")]
    Refused {
        /// The specific code (key_not_found, decryption_failed, …).
        code: ProblemCode,
        /// What to tell the caller.
        detail: String,
    },
    /// The authorizer refused; `policies` names the deciding policies.
    #[error("{detail}")]
    Denied {
        /// forbidden, mfa_required, access_request_required or self_approval.
        code: ProblemCode,
        /// What to tell the caller.
        detail: String,
        /// The deciding policies (empty: no policy permits).
        policies: Vec<String>,
    },
    /// Policies that do not load, each error with its line and column.
    #[error("invalid policies")]
    InvalidPolicy(Vec<PolicyProblem>),
    /// Anything unexpected. Logged with its cause, answered opaquely.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// The problem code of this error, without logging anything.
    pub fn code(&self) -> ProblemCode {
        match self {
            Self::MalformedJson(_) => ProblemCode::MalformedJson,
            Self::InvalidRequest(_) => ProblemCode::InvalidRequest,
            Self::UnsupportedMediaType(_) => ProblemCode::UnsupportedMediaType,
            Self::PayloadTooLarge => ProblemCode::PayloadTooLarge,
            Self::Unauthenticated => ProblemCode::Unauthenticated,
            Self::Forbidden(_) => ProblemCode::Forbidden,
            Self::NotFound(_) => ProblemCode::NotFound,
            Self::Conflict(_) => ProblemCode::Conflict,
            Self::Unavailable(_) => ProblemCode::Unavailable,
            Self::RateLimited { .. } => ProblemCode::RateLimited,
            Self::Refused { code, .. } | Self::Denied { code, .. } => *code,
            Self::InvalidPolicy(_) => ProblemCode::InvalidPolicy,
            Self::Internal(_) => ProblemCode::Internal,
        }
    }

    /// The problem body for this error. For [`ApiError::Internal`] this logs
    /// the cause under a fresh `error_id` first.
    pub fn problem(&self) -> Problem {
        let detail = match self {
            Self::MalformedJson(detail)
            | Self::InvalidRequest(detail)
            | Self::UnsupportedMediaType(detail)
            | Self::Forbidden(detail)
            | Self::NotFound(detail)
            | Self::Conflict(detail)
            | Self::Unavailable(detail)
            | Self::RateLimited { detail, .. }
            | Self::Refused { detail, .. } => detail.as_str(),
            Self::Denied { detail, policies, .. } => {
                let mut problem = Problem::new(self.code(), detail.as_str());
                problem.policies = policies.clone();
                return problem;
            }
            Self::InvalidPolicy(errors) => {
                let summary: Vec<String> = errors
                    .iter()
                    .map(|e| match (e.line, e.column) {
                        (Some(line), Some(column)) => format!("{}:{line}:{column}: {}", e.origin, e.message),
                        _ => format!("{}: {}", e.origin, e.message),
                    })
                    .collect();
                let mut problem = Problem::new(self.code(), summary.join("; "));
                problem.errors = errors.clone();
                return problem;
            }
            Self::PayloadTooLarge => "the request body is larger than this server accepts (server.body_limit_bytes)",
            Self::Unauthenticated => {
                "send valid credentials: a user's access token or an API key as Authorization: Bearer, \
                 or an API key as X-API-Key or X-Vault-Token"
            }
            Self::Internal(cause) => return internal_problem(cause.as_ref()),
        };
        Problem::new(self.code(), detail)
    }
}

/// `Retry-After` of a transient dependency fault, in seconds.
const TRANSIENT_RETRY_SECONDS: i64 = 5;

/// Logs `cause` under a new error id and returns the opaque problem that quotes it.
pub(crate) fn internal_problem(cause: &dyn std::fmt::Display) -> Problem {
    let error_id = uuid::Uuid::new_v4().to_string();
    tracing::error!(%error_id, error = %cause, "internal error");
    let mut problem =
        Problem::new(ProblemCode::Internal, "the server failed unexpectedly; quote the error_id to its operators");
    problem.error_id = Some(error_id);
    problem
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // RFC 9110 §15.5.2: every 401 names the scheme that would work.
        let unauthenticated = self.code().status() == 401;
        let retry_after = match &self {
            Self::RateLimited { retry_after_seconds, .. } => {
                metrics::counter!("strongroom_rate_limited_total").increment(1);
                Some((*retry_after_seconds).max(1))
            }
            // Transient dependency faults: worth a retry, not at once.
            Self::Unavailable(_)
            | Self::Refused { code: ProblemCode::DatabaseUnavailable | ProblemCode::AuditUnavailable, .. } => {
                Some(TRANSIENT_RETRY_SECONDS)
            }
            Self::Refused { code: ProblemCode::BlobStorageUnavailable, .. } => Some(BLOB_RETRY_AFTER_SECONDS),
            _ => None,
        };
        let mut response = problem_response(self.problem());
        if unauthenticated {
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(seconds));
        }
        response
    }
}

/// A response carrying `problem`. The body is written by the problem
/// middleware, which adds the request id; see `middleware::finish_problems`.
pub(crate) fn problem_response(problem: Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = status.into_response();
    response.extensions_mut().insert(problem);
    response
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonSyntaxError(e) => Self::MalformedJson(e.body_text()),
            JsonRejection::JsonDataError(e) => Self::InvalidRequest(e.body_text()),
            JsonRejection::MissingJsonContentType(_) => {
                Self::UnsupportedMediaType("send the body with Content-Type: application/json".into())
            }
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            other => Self::MalformedJson(other.body_text()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(detail) => Self::Conflict(detail),
            StoreError::AuditRefused(cause) => {
                tracing::error!(error = %cause, "a write was refused because its audit event could not be appended");
                audit_unavailable()
            }
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "the database is unavailable; the request was refused");
                Self::Refused {
                    code: ProblemCode::DatabaseUnavailable,
                    detail: "the database cannot be reached right now; nothing was changed; retry later".into(),
                }
            }
            StoreError::StorageFull(cause) => {
                tracing::error!(error = %cause, "the database's storage is full or read-only; the request was refused");
                Self::Refused {
                    code: ProblemCode::StorageFull,
                    detail: "the server's storage is full or read-only; nothing was changed".into(),
                }
            }
            StoreError::Backend(cause) => Self::Internal(cause),
        }
    }
}

/// `Retry-After` of `blob_storage_unavailable`: the S3 client has retried
/// for up to a minute already, so a client waits a little, not as long.
const BLOB_RETRY_AFTER_SECONDS: i64 = 10;

/// Blob storage failures, each kind one answer: 500 only for what is a bug
/// or a setup fault (logged under an `error_id`).
impl From<BlobError> for ApiError {
    fn from(error: BlobError) -> Self {
        match error {
            BlobError::Missing(_) => Self::Refused {
                code: ProblemCode::BlobMissing,
                detail: "the blob's stored object is missing from blob storage: this is data loss, recorded as \
                         blob.missing and alerted; an operator can restore the object from a backup of the store"
                    .into(),
            },
            BlobError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "blob storage unavailable");
                Self::Refused {
                    code: ProblemCode::BlobStorageUnavailable,
                    detail: "blob storage cannot be reached right now and nothing was changed; retry later".into(),
                }
            }
            BlobError::Full(cause) => {
                tracing::error!(error = %cause, "blob storage is full");
                Self::Refused {
                    code: ProblemCode::BlobStorageFull,
                    detail: "blob storage has no room left, so nothing was stored; operators must free space".into(),
                }
            }
            failed @ BlobError::Failed(_) => Self::Internal(Box::new(failed)),
        }
    }
}

fn audit_unavailable() -> ApiError {
    ApiError::Refused {
        code: ProblemCode::AuditUnavailable,
        detail: "the audit log cannot record this action, so it was refused and nothing was changed; retry later"
            .into(),
    }
}

impl From<CoreError> for ApiError {
    fn from(error: CoreError) -> Self {
        let refused = |code, error: &CoreError| Self::Refused { code, detail: error.to_string() };
        match error {
            CoreError::Store(store) => store.into(),
            CoreError::Blob(blob) => blob.into(),
            CoreError::InvalidKeyName(_) | CoreError::InvalidKeyChange(_) | CoreError::InvalidInput(_) => {
                Self::InvalidRequest(error.to_string())
            }
            CoreError::TooLarge(detail) => Self::Refused { code: ProblemCode::PayloadTooLarge, detail },
            CoreError::RangeNotSatisfiable(size) => Self::Refused {
                code: ProblemCode::RangeNotSatisfiable,
                detail: format!("the content has {size} bytes"),
            },
            CoreError::Unauthenticated => Self::Unauthenticated,
            CoreError::LoginFailed => refused(ProblemCode::LoginFailed, &error),
            CoreError::InvalidResetToken => refused(ProblemCode::InvalidResetToken, &error),
            CoreError::TooManyAttempts { retry_after_seconds } => {
                Self::RateLimited { retry_after_seconds, detail: error.to_string() }
            }
            CoreError::NotFound(detail) => Self::NotFound(detail),
            CoreError::Conflict(detail) => Self::Conflict(detail),
            CoreError::Forbidden(detail) => Self::Forbidden(detail),
            CoreError::Denied(denial) => {
                // Core says what is missing; the answer also says which route provides it.
                let (code, detail) = match denial.kind {
                    DenialKind::Forbidden => (ProblemCode::Forbidden, denial.detail),
                    DenialKind::MfaRequired => {
                        (ProblemCode::MfaRequired, format!("{}: POST /v1/auth/step-up, then retry", denial.detail))
                    }
                    DenialKind::MfaRequiredAtLogin => (ProblemCode::MfaRequired, denial.detail),
                    DenialKind::AccessRequestRequired => {
                        (ProblemCode::AccessRequestRequired, format!("{}: POST /v1/access-requests", denial.detail))
                    }
                    DenialKind::SelfApproval => (ProblemCode::SelfApproval, denial.detail),
                };
                Self::Denied { code, detail, policies: denial.policies }
            }
            CoreError::InvalidPolicy(errors) => Self::InvalidPolicy(
                errors
                    .0
                    .into_iter()
                    .map(|e| PolicyProblem {
                        origin: e.origin,
                        line: e.line,
                        column: e.column,
                        policy: e.policy,
                        message: e.message,
                    })
                    .collect(),
            ),
            CoreError::KeyExists(_) => Self::Conflict(error.to_string()),
            CoreError::ReservedKeyName { .. } => refused(ProblemCode::ReservedKeyName, &error),
            CoreError::KeyNotFound(_) => refused(ProblemCode::KeyNotFound, &error),
            CoreError::KeyVersionNotFound { .. } => refused(ProblemCode::KeyVersionNotFound, &error),
            CoreError::KeyVersionRetired { .. } => refused(ProblemCode::KeyVersionRetired, &error),
            CoreError::KeyUnusable { .. } => refused(ProblemCode::KeyUnusable, &error),
            CoreError::WrongAlgorithm { .. } => refused(ProblemCode::WrongKeyType, &error),
            CoreError::WrongKeyForCiphertext(_) => refused(ProblemCode::WrongKey, &error),
            CoreError::AuditUnavailable(cause) => {
                tracing::error!(%cause, "an action was refused because its audit event could not be recorded");
                audit_unavailable()
            }
            CoreError::AuditDamaged(detail) => Self::Refused { code: ProblemCode::AuditDamaged, detail },
            CoreError::AuditRolledBack(detail) => Self::Refused { code: ProblemCode::AuditRolledBack, detail },
            CoreError::Crypto(CryptoError::Decrypt) => Self::Refused {
                code: ProblemCode::DecryptionFailed,
                detail: "the ciphertext is malformed, altered, or does not belong to this context".into(),
            },
            // Root-key faults stop the server at start; other crypto
            // failures (the random generator) are faults, not bad input.
            CoreError::Crypto(_) | CoreError::RootKeyMismatch { .. } | CoreError::RootKeyProvider(_) => {
                Self::Internal(Box::new(error))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_errors_map_to_specific_client_codes_never_internal() {
        let cases = [
            (CoreError::KeyNotFound("k".into()), 404, ProblemCode::KeyNotFound),
            (
                CoreError::KeyVersionRetired { name: "k".into(), version: 1, min: 2 },
                400,
                ProblemCode::KeyVersionRetired,
            ),
            (CoreError::WrongKeyForCiphertext("k".into()), 400, ProblemCode::WrongKey),
            (CoreError::Crypto(CryptoError::Decrypt), 400, ProblemCode::DecryptionFailed),
            (CoreError::KeyExists("k".into()), 409, ProblemCode::Conflict),
            (CoreError::InvalidKeyName("K".into()), 400, ProblemCode::InvalidRequest),
            (
                CoreError::ReservedKeyName {
                    name: "matter.x".into(),
                    prefix: "matter.",
                    purposes: "matter_data".into(),
                },
                400,
                ProblemCode::ReservedKeyName,
            ),
            (
                CoreError::KeyUnusable { name: "k".into(), state: "disabled", operation: "encrypt" },
                409,
                ProblemCode::KeyUnusable,
            ),
        ];
        for (error, status, code) in cases {
            let problem = ApiError::from(error).problem();
            assert_eq!((problem.status, problem.code), (status, code));
        }
    }
    #[test]
    fn blob_storage_faults_map_to_their_own_codes_and_only_bugs_to_internal() {
        let full = std::io::Error::from_raw_os_error(28);
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let cases = [
            (BlobError::Missing("c/r/f/01".into()), 410, ProblemCode::BlobMissing, None),
            (BlobError::from_io(refused, None), 503, ProblemCode::BlobStorageUnavailable, Some("10")),
            (BlobError::from_io(full, None), 507, ProblemCode::BlobStorageFull, None),
            (BlobError::Failed("invalid object name".into()), 500, ProblemCode::Internal, None),
        ];
        for (error, status, code, retry_after) in cases {
            let response = ApiError::from(CoreError::Blob(error)).into_response();
            let problem = response.extensions().get::<Problem>().unwrap().clone();
            assert_eq!((problem.status, problem.code), (status, code));
            assert_eq!(response.status().as_u16(), status);
            let header = response.headers().get(axum::http::header::RETRY_AFTER);
            assert_eq!(header.map(|v| v.to_str().unwrap()), retry_after, "{code:?}");
            assert!(!problem.detail.contains("c/r/f/01"), "object names stay in the logs");
        }
    }
}
