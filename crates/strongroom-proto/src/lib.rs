//! Wire types of the Strongroom HTTP API.
//!
//! Which type should I use?
//! - [`Problem`] is the body of every error answer (RFC 9457), with a stable
//!   machine-readable [`ProblemCode`]. Clients branch on `code`, never on `detail`.
//! - [`Health`] and [`Readiness`] are the bodies of `/healthz` and `/readyz`.
//! - The audit types ([`AuditEventList`], [`InclusionProof`], [`AuditStats`], …)
//!   are the bodies of `/v1/audit/…`; [`time`] converts RFC 3339 ↔ Unix ms.
//! - The authorization types ([`MatterView`], [`AccessRequestView`],
//!   [`PolicySetView`], [`Explanation`], …) are the bodies of `/v1/matters`,
//!   `/v1/access-requests`, `/v1/policies` and `/v1/authz/…`.
//! - The transit types ([`EncryptRequest`], [`VaultResponse`], …) follow
//!   Vault's transit engine field for field, so Vault clients work unchanged;
//!   [`VaultHealth`] and [`TokenLookup`] answer Vault's `sys/health` and
//!   `auth/token/lookup-self`.
//!
//! These types are shared by the server, the CLI, the tests and (as the OpenAPI
//! schema) the Python client, so a change here is a change of the public contract.
//!
//! ```
//! use strongroom_proto::{Problem, ProblemCode};
//! let problem = Problem::new(ProblemCode::NotFound, "no route for GET /nope");
//! assert_eq!(problem.status, 404);
//! let json = serde_json::to_value(&problem).unwrap();
//! assert_eq!(json["code"], "not_found");
//! ```

mod audit;
mod authz;
mod health;
mod identity;
mod keys;
mod oauth;
mod problem;
mod records;
pub mod rules;
pub mod time;
mod transit;
mod vault;

pub use audit::{
    AlertList, AlertView, AppEvent, AppEventBatch, AppEventTarget, AppEventsRecorded, AuditEventList, AuditEventProof,
    AuditEventView, AuditStats, CheckpointView, ConsistencyProof, HourCountView, InclusionProof, IntegrityProblemView,
    IntegrityView,
};
pub use authz::{
    AccessRequestList, AccessRequestView, CreateAccessRequest, CreateGrant, CreateMatter, CreateRole,
    DecideAccessRequest, DeleteRole, ExplainContext, ExplainRequest, Explanation, GrantList, GrantView, MatterList,
    MatterView, PolicySetView, PolicySummary, PolicyText, PrincipalView, ReachView, ReasonView, ReplacePolicies,
    ReplaceRole, ResourceRef, RevokeGrant, RoleList, RoleView, WhoCan,
};
pub use health::{CheckState, Health, Readiness, ReadinessCheck};
pub use identity::{
    ApiKeyList, ApiKeyView, CodeRequest, CreateApiKey, CreateUser, EnrollmentToken, IssuedApiKeyView, Jwk, Jwks,
    LockUser, LoginRequest, LoginResponse, MfaRequest, RecoveryCodes, RefreshRequest, ResetPasswordRequest, ResetToken,
    RevokedSessions, RotateApiKey, SessionList, SessionView, SetRoles, StepUp, TokenResponse, TotpConfirmRequest,
    TotpEnrollRequest, TotpEnrollment, UpdateUser, UserList, UserView,
};
pub use keys::{ConfigureKey, JobView, KeyList, KeyStateChanged, KeyVersionView, KeyView, SetKeyState};
pub use oauth::{
    IntrospectRequest, Introspection, MatterPermissions, Me, OAuthToken, OpenIdConfiguration, PermissionsView,
    TokenRequest,
};
pub use problem::{PROBLEM_CONTENT_TYPE, PolicyProblem, Problem, ProblemCode};
pub use records::{
    BlobView, CollectionDef, CollectionList, CollectionView, CreateRecord, ExportedRecord, FieldDef, HoldRequest,
    NewCollection, RecordList, RecordRef, RecordView, RedactionTerm, RedactionTermsView, ReplaceRedactionTerms,
    RevealRequest, RevealResponse, SubjectEraseRequest, SubjectErasure, SubjectExport, SubjectExportRequest,
    UpdateRecord,
};
pub use transit::{
    BatchResults, CiphertextResult, ConfigureTransitKey, CreateTransitKey, DataKey, DataKeyRequest, DecryptItem,
    DecryptRequest, EncryptItem, EncryptRequest, InputItem, InputRequest, InputResult, PlaintextResult, TransitKey,
    TransitKeyList, VaultResponse,
};
pub use vault::{TokenLookup, VaultHealth};
