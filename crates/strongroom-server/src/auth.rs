//! Who is calling, and from where. For now the only principals are API keys
//! (users and sessions arrive with the identity issue); a route that needs
//! one takes [`ApiKeyAuth`] as an argument, so forgetting it means the route
//! has no principal (and no audit context) to pass on, and every use states
//! its scope at its first line with [`ApiKeyAuth::require`].
//!
//! Both failures are audited before they are answered: a presented but
//! invalid credential as `auth.failure`, a missing scope as
//! `permission.denied` (with the route and the scope).

use std::net::IpAddr;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath};
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;
use strongroom_core::audit::{Actor, ActorKind, AuditContext, EventType, Outcome, Target};
use strongroom_core::{ApiKeyPrincipal, ApiKeys, CoreError, Scope};

use crate::middleware::RequestId;
use crate::serve::ClientAddr;
use crate::{ApiError, AppState};

/// Headers that may carry an API key: our own, Vault's (so Vault clients
/// work unchanged) and the standard bearer header.
const API_KEY_HEADERS: [&str; 2] = ["x-api-key", "x-vault-token"];

/// The longest user agent kept in audit events.
const MAX_USER_AGENT: usize = 256;

/// Where a request comes from: the client address (the peer, or the last
/// `X-Forwarded-For` hop when the peer is a trusted proxy), its user agent and
/// the request id. Never fails.
#[derive(Debug, Clone)]
pub struct RequestOrigin {
    /// The client address, if known.
    pub ip: Option<IpAddr>,
    /// `User-Agent`, shortened.
    pub user_agent: Option<String>,
    /// The request id the client sees.
    pub request_id: Option<String>,
    /// `METHOD /matched/path`, for denial events.
    pub route: String,
}

impl RequestOrigin {
    fn from_parts(parts: &Parts, state: &AppState) -> Self {
        let peer = parts.extensions.get::<ConnectInfo<ClientAddr>>().map(|info| info.0.0.ip());
        let forwarded = || {
            let header = parts.headers.get("x-forwarded-for")?.to_str().ok()?;
            header.rsplit(',').next()?.trim().parse::<IpAddr>().ok()
        };
        let ip = match peer {
            Some(peer) if state.http.trusted_proxies.contains(&peer) => forwarded().or(Some(peer)),
            other => other,
        };
        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(|agent| agent.chars().filter(|c| !c.is_control()).take(MAX_USER_AGENT).collect());
        let path = parts.extensions.get::<MatchedPath>().map_or_else(|| parts.uri.path(), MatchedPath::as_str);
        Self {
            ip,
            user_agent,
            request_id: parts.extensions.get::<RequestId>().map(|id| id.0.clone()),
            route: format!("{} {path}", parts.method),
        }
    }

    /// The audit context of `actor` making this request.
    pub fn context(&self, actor: Actor) -> AuditContext {
        AuditContext { actor, ip: self.ip, user_agent: self.user_agent.clone(), request_id: self.request_id.clone() }
    }
}

impl FromRequestParts<AppState> for RequestOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts, state))
    }
}

/// An authenticated API key and the audit context of its request; rejects
/// the request with 401 (after auditing a presented, invalid key) otherwise.
#[derive(Debug, Clone)]
pub struct ApiKeyAuth {
    /// The key.
    pub principal: ApiKeyPrincipal,
    /// Who (this key) and from where, for every event the request causes.
    pub context: AuditContext,
    route: String,
}

impl ApiKeyAuth {
    /// Refuses with 403, after auditing the denial, unless the key holds one of `scopes`.
    pub async fn require(&self, state: &AppState, scopes: &[Scope]) -> Result<(), ApiError> {
        if scopes.iter().any(|scope| self.principal.require(*scope).is_ok()) {
            return Ok(());
        }
        let names: Vec<String> = scopes.iter().map(|s| s.as_str().to_owned()).collect();
        let event = state
            .audit
            .event(EventType::PermissionDenied, &self.context)
            .target(Target::new("route", self.route.clone()))
            .detail("required_scope", names.clone())
            .failed(Outcome::Denied, "forbidden");
        state.audit.record(&event).await?;
        Err(CoreError::Forbidden(format!("this API key lacks the scope {}", names.join(" or "))).into())
    }
}

impl FromRequestParts<AppState> for ApiKeyAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let origin = RequestOrigin::from_parts(parts, state);
        let headers = &parts.headers;
        let from_key_headers = API_KEY_HEADERS.iter().find_map(|name| headers.get(*name));
        let from_bearer = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        let presented = match (from_key_headers.and_then(|v| v.to_str().ok()), from_bearer) {
            (Some(key), _) => key,
            (None, Some(bearer)) => bearer,
            (None, None) => return Err(ApiError::Unauthenticated),
        };
        match state.api_keys.authenticate(presented.trim()).await {
            Ok(principal) => {
                let actor = Actor {
                    kind: ActorKind::ApiKey,
                    id: principal.id.clone(),
                    name: Some(principal.name.clone()),
                    roles: principal.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
                };
                Ok(Self { context: origin.context(actor), principal, route: origin.route })
            }
            Err(CoreError::Unauthenticated) => {
                // Only the key's public id is kept (so failures count per key),
                // never the rest of what was presented: it may be a real secret.
                let mut event = state
                    .audit
                    .event(EventType::AuthFailure, &origin.context(Actor::anonymous()))
                    .detail("credential", "api_key")
                    .detail("route", origin.route.clone())
                    .failed(Outcome::Failure, "unauthenticated");
                if let Some(id) = ApiKeys::public_id(presented.trim()) {
                    event = event.target(Target::new("api_key", id));
                }
                state.audit.record(&event).await?;
                Err(ApiError::Unauthenticated)
            }
            Err(other) => Err(other.into()),
        }
    }
}
