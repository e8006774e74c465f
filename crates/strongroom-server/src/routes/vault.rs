//! Vault's own endpoints that Vault clients call besides transit: the
//! health a load balancer or `Sys().Health()` asks for, and the token
//! lookup hvac's `is_authenticated()` and `bao token lookup` make.
//! Documented in docs/transit.md ("Vault clients").

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::{Extension, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use strongroom_core::user_management::OwnCredential;
use strongroom_proto::{Problem, ProblemCode, TokenLookup, VaultHealth, VaultResponse};

use crate::error::problem_response;
use crate::middleware::{ProblemMembers, RequestId};
use crate::{ApiError, AppState, Caller};

/// The status of an answer as a `sys/health` query parameter may set it
/// (Vault's `activecode`, `sealedcode`), or `default`.
fn status_param(
    params: &HashMap<String, String>,
    name: &str,
    default: StatusCode,
    allowed: std::ops::RangeInclusive<u16>,
) -> Result<StatusCode, ApiError> {
    let Some(text) = params.get(name) else { return Ok(default) };
    text.parse::<u16>()
        .ok()
        .filter(|code| allowed.contains(code))
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or_else(|| {
            ApiError::InvalidRequest(format!(
                "{name}: an HTTP status between {} and {}",
                allowed.start(),
                allowed.end()
            ))
        })
}

/// Vault's health: 200 with `sealed: false` when every readiness check
/// passes; otherwise `sealed: true` with 503, the status a sealed Vault
/// answers, so load balancers and clients written for Vault stop sending
/// work here. Public, and it tells nothing but that (and the version and
/// clock, as Vault): `/readyz` names the failing check.
///
/// `activecode` (200–399) and `sealedcode` (200–599) change the status, as
/// in Vault (its Go client asks `sealedcode=299` to read the body whatever
/// the state); Vault's other parameters (`standbyok`, `uninitcode`, …) name
/// states Strongroom never is in, and are accepted and ignored. A 4xx or
/// 5xx answer is a problem (`unavailable`, with Vault's `errors`) that also
/// carries the health members, sent as `application/json` as every error
/// of Vault's paths.
#[utoipa::path(
    get,
    path = "/v1/sys/health",
    tag = "health",
    params(
        ("activecode" = Option<u16>, Query, description = "Status when ready (default 200)", minimum = 200, maximum = 399),
        ("sealedcode" = Option<u16>, Query, description = "Status when not ready (default 503)", minimum = 200, maximum = 599),
    ),
    responses(
        (status = 200, description = "Ready", body = VaultHealth),
        (status = "2XX", description = "Ready, answered with the `activecode` asked for", body = VaultHealth),
        (status = "3XX", description = "Ready, answered with the `activecode` asked for", body = VaultHealth),
        (status = 503, description = "Not ready: an `unavailable` problem with the health members and `errors`", body = Problem),
    )
)]
pub(crate) async fn sys_health(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let active = status_param(&params, "activecode", StatusCode::OK, 200..=399)?;
    let sealed = status_param(&params, "sealedcode", StatusCode::SERVICE_UNAVAILABLE, 200..=599)?;
    let failing: Vec<&str> =
        state.readiness.check().await.into_iter().filter(|check| !check.ok).map(|check| check.name).collect();
    let health = VaultHealth {
        initialized: true,
        sealed: !failing.is_empty(),
        standby: false,
        performance_standby: false,
        replication_performance_mode: "disabled".into(),
        replication_dr_mode: "disabled".into(),
        server_time_utc: state.audit.now_ms() / 1000,
        version: env!("CARGO_PKG_VERSION").into(),
        cluster_name: "strongroom".into(),
    };
    let status = if failing.is_empty() { active } else { sealed };
    if status.as_u16() < 400 {
        return Ok((status, Json(health)).into_response());
    }
    let mut problem = Problem::new(
        ProblemCode::Unavailable,
        format!("not ready: {} failing; GET /readyz says why", failing.join(", ")),
    );
    problem.status = status.as_u16();
    let mut response = problem_response(problem);
    if let Ok(serde_json::Value::Object(members)) = serde_json::to_value(&health) {
        response.extensions_mut().insert(ProblemMembers(members));
    }
    Ok(response)
}

/// The caller's own credential in Vault's token shape (`bao token lookup`,
/// hvac's `is_authenticated()`): an API key's name, scopes (as `policies`),
/// id (as `accessor`) and expiry; a person's username, roles and session.
/// Never the credential itself. Any principal, about itself only; not
/// audited, as reading oneself is not (a credential that fails is, as
/// everywhere). A missing or invalid credential is answered 403 `forbidden`
/// here, as Vault answers it: hvac's `is_authenticated()` says `False` on a
/// 403 and raises on a 401.
#[utoipa::path(
    get,
    path = "/v1/auth/token/lookup-self",
    tag = "auth",
    responses((status = 200, description = "The caller's credential", body = VaultResponse<TokenLookup>)),
    security(("api_key" = []), ("bearer" = []))
)]
pub(crate) async fn lookup_self(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Extension(request_id): Extension<RequestId>,
) -> Result<Json<VaultResponse<TokenLookup>>, ApiError> {
    let caller = caller.map_err(|error| match error {
        ApiError::Unauthenticated => ApiError::Forbidden(
            "permission denied: no valid token (send an API key as X-Vault-Token, or an access token)".into(),
        ),
        other => other,
    })?;
    let now = state.audit.now_ms() / 1000;
    let (kind, path, accessor, display_name, policies, created, expires) =
        match state.user_management.own_credential(&caller.subject).await? {
            OwnCredential::ApiKey(key) => (
                "api_key",
                "api-keys",
                key.id,
                key.name,
                key.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
                key.created_at,
                key.expires_at,
            ),
            OwnCredential::Session { user, session } => (
                "session",
                "auth/login",
                session.id,
                user.username,
                user.roles.iter().map(|r| r.as_str().to_owned()).collect(),
                session.created_at,
                Some(session.expires_at),
            ),
        };
    let rfc3339 = |seconds: i64| strongroom_proto::time::rfc3339_from_ms(seconds.saturating_mul(1000));
    let lookup = TokenLookup {
        accessor,
        creation_time: created,
        creation_ttl: expires.map_or(0, |at| (at - created).max(0)),
        display_name,
        entity_id: String::new(),
        expire_time: expires.map(rfc3339),
        explicit_max_ttl: 0,
        issue_time: rfc3339(created),
        meta: BTreeMap::from([("credential".to_owned(), kind.to_owned())]),
        num_uses: 0,
        orphan: true,
        path: path.into(),
        policies,
        renewable: false,
        // At least 1 while it lives: 0 means "never expires" to Vault clients.
        ttl: expires.map_or(0, |at| (at - now).max(1)),
        token_type: "service".into(),
    };
    Ok(Json(VaultResponse::new(request_id.0, lookup)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_status_parameters_take_vault_codes_within_their_range() {
        let params = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
        };
        let default = StatusCode::SERVICE_UNAVAILABLE;
        assert_eq!(status_param(&params(&[]), "sealedcode", default, 200..=599).unwrap(), default);
        let asked = params(&[("sealedcode", "299")]);
        assert_eq!(status_param(&asked, "sealedcode", default, 200..=599).unwrap().as_u16(), 299);
        for bad in ["abc", "99", "600", "-1"] {
            let error = status_param(&params(&[("sealedcode", bad)]), "sealedcode", default, 200..=599).unwrap_err();
            assert!(error.to_string().contains("sealedcode"), "{bad}: {error}");
        }
        assert!(status_param(&params(&[("activecode", "503")]), "activecode", StatusCode::OK, 200..=399).is_err());
    }
}
