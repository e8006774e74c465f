//! RFC 9457 problem details, the body of every error answer.
//!
//! Invariant: a [`ProblemCode`] is a public, stable identifier. Add codes; never
//! rename or reuse one, because clients match on them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The media type of every error answer.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// Stable machine-readable error codes. The HTTP status belongs to the code, so
/// a client that knows the code knows the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProblemCode {
    /// The request body is not valid JSON, or not of the expected shape.
    MalformedJson,
    /// The request names a content type this route does not accept.
    UnsupportedMediaType,
    /// A field of the request failed validation; `detail` says which and why.
    InvalidRequest,
    /// No route matches the path.
    NotFound,
    /// The path exists but not for this HTTP method.
    MethodNotAllowed,
    /// The request body is larger than `server.body_limit_bytes`.
    PayloadTooLarge,
    /// The request did not finish within `server.request_timeout_seconds`.
    RequestTimeout,
    /// The caller is not authenticated.
    Unauthenticated,
    /// The caller is authenticated but not allowed to do this.
    Forbidden,
    /// The request conflicts with the current state (for example a duplicate name).
    Conflict,
    /// Too many requests; retry after the `Retry-After` header.
    RateLimited,
    /// A dependency (database, root-key provider, audit log) is unavailable; retry later.
    Unavailable,
    /// An unexpected failure inside the server. The answer carries an `error_id`
    /// that operators find in the logs; the cause itself is never sent.
    Internal,
    /// Any other client error that has no specific code yet.
    BadRequest,
    /// No key has the name given.
    KeyNotFound,
    /// The key has no such version (or the ciphertext names one it lacks).
    KeyVersionNotFound,
    /// The ciphertext's key version is below the key's `min_decryption_version`.
    KeyVersionRetired,
    /// The key's state (decrypt-only, disabled, compromised, destroyed) forbids this.
    KeyUnusable,
    /// The key's algorithm does not do this (for example signing with an AES key).
    WrongKeyType,
    /// The ciphertext was made with another key than the one named.
    WrongKey,
    /// The ciphertext is malformed, altered, or presented with another context.
    /// Deliberately says nothing more.
    DecryptionFailed,
    /// The audit log cannot record the event, so the action was refused and
    /// nothing of it was committed (fail closed); retry later.
    AuditUnavailable,
    /// The stored audit log is damaged or was rolled back; an operator must look.
    AuditDamaged,
    /// The database could not be reached or refused for now; nothing was
    /// written. Transient: retry after `Retry-After`.
    DatabaseUnavailable,
    /// The server's storage is full or read-only; nothing was written.
    StorageFull,
    /// The stored audit log does not extend a checkpoint signed earlier (the
    /// database was rolled back or forked): every audited action is refused
    /// until an operator resolves it (`strongroom audit accept-rollback`).
    AuditRolledBack,
    /// The username, password or second-factor code is wrong (one answer for
    /// every reason, so accounts cannot be enumerated).
    LoginFailed,
    /// A second factor is needed first: for a login, log in with
    /// `POST /v1/auth/login` (it answers an `mfa_token` for
    /// `POST /v1/auth/mfa`); for a decrypt, prove one recently with
    /// `POST /v1/auth/step-up`.
    MfaRequired,
    /// The action needs an access request approved by someone else first
    /// (two-person rule): `POST /v1/access-requests`.
    AccessRequestRequired,
    /// An access request is decided by someone other than its requester.
    SelfApproval,
    /// Policies do not parse or validate; `errors` points at each line and column.
    InvalidPolicy,
    /// The `Range` asked for lies outside the content (`Content-Range` gives its length).
    RangeNotSatisfiable,
    /// The record names a blob whose stored object is gone (deleted behind
    /// the server's back, a lost volume or bucket): data loss, audited as
    /// `blob.missing` and alerted. Retrying does not help; restoring the
    /// object from a backup of the blob store does.
    BlobMissing,
    /// The blob store (the disk, the S3 endpoint) cannot be reached or
    /// failed transiently; nothing was changed. Retry after `Retry-After`.
    BlobStorageUnavailable,
    /// The blob store has no room left (disk full, quota); nothing was
    /// stored. An operator must free or add space.
    BlobStorageFull,
    /// The key name starts with a prefix kept for the server's own keys
    /// (`matter.`, `blind.`, `system.`): pick another name.
    ReservedKeyName,
    /// The password-reset token is unknown, already used or expired (one
    /// answer for all): ask an administrator for a new one.
    InvalidResetToken,
}

impl ProblemCode {
    /// The HTTP status that goes with this code.
    pub fn status(self) -> u16 {
        match self {
            Self::MalformedJson
            | Self::InvalidRequest
            | Self::BadRequest
            | Self::KeyVersionNotFound
            | Self::KeyVersionRetired
            | Self::WrongKeyType
            | Self::WrongKey
            | Self::DecryptionFailed
            | Self::InvalidPolicy
            | Self::ReservedKeyName => 400,
            Self::Unauthenticated | Self::LoginFailed | Self::InvalidResetToken => 401,
            Self::Forbidden | Self::MfaRequired | Self::AccessRequestRequired | Self::SelfApproval => 403,
            Self::NotFound | Self::KeyNotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::RequestTimeout => 408,
            Self::Conflict | Self::KeyUnusable => 409,
            Self::BlobMissing => 410,
            Self::PayloadTooLarge => 413,
            Self::RangeNotSatisfiable => 416,
            Self::UnsupportedMediaType => 415,
            Self::RateLimited => 429,
            Self::Internal => 500,
            Self::Unavailable
            | Self::AuditUnavailable
            | Self::AuditDamaged
            | Self::AuditRolledBack
            | Self::DatabaseUnavailable
            | Self::BlobStorageUnavailable => 503,
            Self::StorageFull | Self::BlobStorageFull => 507,
        }
    }

    /// The snake_case name used on the wire (`"malformed_json"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MalformedJson => "malformed_json",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::InvalidRequest => "invalid_request",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RequestTimeout => "request_timeout",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::Conflict => "conflict",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
            Self::BadRequest => "bad_request",
            Self::KeyNotFound => "key_not_found",
            Self::KeyVersionNotFound => "key_version_not_found",
            Self::KeyVersionRetired => "key_version_retired",
            Self::KeyUnusable => "key_unusable",
            Self::WrongKeyType => "wrong_key_type",
            Self::WrongKey => "wrong_key",
            Self::DecryptionFailed => "decryption_failed",
            Self::AuditUnavailable => "audit_unavailable",
            Self::AuditDamaged => "audit_damaged",
            Self::AuditRolledBack => "audit_rolled_back",
            Self::DatabaseUnavailable => "database_unavailable",
            Self::StorageFull => "storage_full",
            Self::LoginFailed => "login_failed",
            Self::MfaRequired => "mfa_required",
            Self::AccessRequestRequired => "access_request_required",
            Self::SelfApproval => "self_approval",
            Self::InvalidPolicy => "invalid_policy",
            Self::RangeNotSatisfiable => "range_not_satisfiable",
            Self::BlobMissing => "blob_missing",
            Self::BlobStorageUnavailable => "blob_storage_unavailable",
            Self::BlobStorageFull => "blob_storage_full",
            Self::ReservedKeyName => "reserved_key_name",
            Self::InvalidResetToken => "invalid_reset_token",
        }
    }

    /// A short human title, constant per code (RFC 9457 `title`).
    pub fn title(self) -> &'static str {
        match self {
            Self::MalformedJson => "Malformed JSON body",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::InvalidRequest => "Invalid request",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::PayloadTooLarge => "Payload too large",
            Self::RequestTimeout => "Request timeout",
            Self::Unauthenticated => "Authentication required",
            Self::Forbidden => "Forbidden",
            Self::Conflict => "Conflict",
            Self::RateLimited => "Too many requests",
            Self::Unavailable => "Service unavailable",
            Self::Internal => "Internal error",
            Self::BadRequest => "Bad request",
            Self::KeyNotFound => "Key not found",
            Self::KeyVersionNotFound => "Key version not found",
            Self::KeyVersionRetired => "Key version retired",
            Self::KeyUnusable => "Key unusable in its state",
            Self::WrongKeyType => "Wrong key type",
            Self::WrongKey => "Ciphertext of another key",
            Self::DecryptionFailed => "Decryption failed",
            Self::AuditUnavailable => "Audit log unavailable",
            Self::AuditDamaged => "Audit log damaged",
            Self::AuditRolledBack => "Audit log rolled back",
            Self::DatabaseUnavailable => "Database unavailable",
            Self::StorageFull => "Storage full",
            Self::LoginFailed => "Login failed",
            Self::MfaRequired => "Second factor required",
            Self::AccessRequestRequired => "Approved access request required",
            Self::SelfApproval => "Self-approval refused",
            Self::InvalidPolicy => "Invalid policy",
            Self::RangeNotSatisfiable => "Range not satisfiable",
            Self::BlobMissing => "Blob missing from storage",
            Self::BlobStorageUnavailable => "Blob storage unavailable",
            Self::BlobStorageFull => "Blob storage full",
            Self::ReservedKeyName => "Reserved key name",
            Self::InvalidResetToken => "Invalid reset token",
        }
    }
}

/// An RFC 9457 problem details object plus Strongroom's extension members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type: `urn:strongroom:problem:<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary, the same for every occurrence of this code.
    pub title: String,
    /// The HTTP status code, repeated for clients that lost the status line.
    pub status: u16,
    /// What went wrong with this request, for a human. Never contains secrets.
    pub detail: String,
    /// The stable machine-readable code.
    pub code: ProblemCode,
    /// The request id (also in the `X-Request-Id` header) to quote to operators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// For `internal` problems only: the id under which the cause was logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_id: Option<String>,
    /// For denials: the policies that decided (empty: no policy permits).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
    /// For `invalid_policy`: every error, with where it is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<PolicyProblem>,
    /// For `/token` and introspection: the OAuth2 error code (RFC 6749
    /// §5.2: `invalid_request`, `invalid_client`, `invalid_grant`,
    /// `unsupported_grant_type`…), beside the problem's own fields.
    #[serde(default, rename = "error", skip_serializing_if = "Option::is_none")]
    pub oauth_error: Option<String>,
    /// With `error`: the same as `detail` (RFC 6749 §5.2 `error_description`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// One error in a policy text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PolicyProblem {
    /// Which text: `api`, `file:<name>`.
    pub origin: String,
    /// 1-based line, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// 1-based column, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// The policy's id within its text (`@id`, or `policy<N>` counting from 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl Problem {
    /// A problem for `code` with a human `detail`; the request id is filled in
    /// by the server's middleware.
    pub fn new(code: ProblemCode, detail: impl Into<String>) -> Self {
        Self {
            problem_type: format!("urn:strongroom:problem:{}", code.as_str()),
            title: code.title().to_owned(),
            status: code.status(),
            detail: detail.into(),
            code,
            request_id: None,
            error_id: None,
            policies: Vec::new(),
            errors: Vec::new(),
            oauth_error: None,
            error_description: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_name_matches_serde_name_for_every_code() {
        let all = [
            ProblemCode::MalformedJson,
            ProblemCode::UnsupportedMediaType,
            ProblemCode::InvalidRequest,
            ProblemCode::NotFound,
            ProblemCode::MethodNotAllowed,
            ProblemCode::PayloadTooLarge,
            ProblemCode::RequestTimeout,
            ProblemCode::Unauthenticated,
            ProblemCode::Forbidden,
            ProblemCode::Conflict,
            ProblemCode::RateLimited,
            ProblemCode::Unavailable,
            ProblemCode::Internal,
            ProblemCode::BadRequest,
            ProblemCode::KeyNotFound,
            ProblemCode::KeyVersionNotFound,
            ProblemCode::KeyVersionRetired,
            ProblemCode::KeyUnusable,
            ProblemCode::WrongKeyType,
            ProblemCode::WrongKey,
            ProblemCode::DecryptionFailed,
            ProblemCode::AuditUnavailable,
            ProblemCode::AuditDamaged,
            ProblemCode::AuditRolledBack,
            ProblemCode::DatabaseUnavailable,
            ProblemCode::StorageFull,
            ProblemCode::LoginFailed,
            ProblemCode::MfaRequired,
            ProblemCode::AccessRequestRequired,
            ProblemCode::SelfApproval,
            ProblemCode::InvalidPolicy,
            ProblemCode::RangeNotSatisfiable,
            ProblemCode::BlobMissing,
            ProblemCode::BlobStorageUnavailable,
            ProblemCode::BlobStorageFull,
            ProblemCode::ReservedKeyName,
            ProblemCode::InvalidResetToken,
        ];
        for code in all {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, code.as_str());
        }
    }

    #[test]
    fn problem_serialises_rfc9457_members() {
        let mut problem = Problem::new(ProblemCode::PayloadTooLarge, "too big");
        problem.request_id = Some("r-1".into());
        let json = serde_json::to_value(&problem).unwrap();
        assert_eq!(json["type"], "urn:strongroom:problem:payload_too_large");
        assert_eq!(json["status"], 413);
        assert_eq!(json["title"], "Payload too large");
        assert_eq!(json["request_id"], "r-1");
        assert!(json.get("error_id").is_none());
    }
}
