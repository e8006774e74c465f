//! Who is calling, and from where. A route that needs a principal takes
//! [`Caller`] as an argument (so forgetting it means there is no principal,
//! and no audit context, to pass on) and hands its `subject` and `context`
//! to the one core call that acts for it; core asks the authorizer, and the
//! router refuses to answer for a route that declared an action but asked
//! nothing (`routes::guard`).
//!
//! Credentials: a user's access token (an EdDSA JWT) or an API key's
//! service token (OAuth2 client credentials) as `Authorization: Bearer`; an
//! API key (`sr_<id>_<secret>`) as `X-API-Key`, Vault's `X-Vault-Token` (so
//! Vault clients work unchanged), `Authorization: Bearer`, or HTTP Basic
//! with the key's id and secret (RFC 6749 §2.3.1, as OAuth2 clients send
//! them). An application key (`app:` scopes) is refused on every route. Both failures are audited before they are answered: a presented
//! but invalid credential as `auth.failure`, a denial as `permission.denied`
//! (with the action and resource). Rate limits: every request counts
//! against its client address ([`limit_by_address`]), a user's against the
//! user, an API key's against the key (`strongroom_core::rate_limits`).

use std::net::IpAddr;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath};
use axum::http::header::{AUTHORIZATION, USER_AGENT};
use axum::http::request::Parts;
use strongroom_core::audit::{Actor, AuditContext, EventType, Outcome, Target};
use strongroom_core::authz::{DecisionTrail, Subject};
use strongroom_core::identity::UserPrincipal;
use strongroom_core::oauth::{BearerOwner, looks_like_jwt};
use strongroom_core::{ApiKeyPrincipal, ApiKeys, CoreError};

use crate::middleware::RequestId;
use crate::serve::ClientAddr;
use crate::{ApiError, AppState};

/// Headers that carry only API keys.
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
    pub(crate) fn from_parts(parts: &Parts, state: &AppState) -> Self {
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

/// Paths no address limit applies to: probes a load balancer or Prometheus
/// polls, which must keep answering while a client floods the rest.
const UNLIMITED_PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// Counts every request against its client address's rate limit
/// (`ratelimit.per_address_per_second`) before anything else is done for
/// it, credentials included: `429 rate_limited` with `Retry-After` over it.
pub(crate) async fn limit_by_address(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if !UNLIMITED_PATHS.contains(&request.uri().path()) {
        let (parts, body) = request.into_parts();
        let origin = RequestOrigin::from_parts(&parts, &state);
        if let Some(ip) = origin.ip
            && let Err(error) = state.rate_limits.admit_address(ip, &origin.context(Actor::anonymous())).await
        {
            return ApiError::from(error).into_response();
        }
        return next.run(axum::extract::Request::from_parts(parts, body)).await;
    }
    next.run(request).await
}

impl FromRequestParts<AppState> for RequestOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts, state))
    }
}

/// An authenticated principal.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A person with a session.
    User(UserPrincipal),
    /// A machine with an API key.
    ApiKey(ApiKeyPrincipal),
}

/// The authenticated caller of a request and its audit context; rejects the
/// request with 401 (after auditing a presented, invalid credential) otherwise.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who.
    pub principal: Principal,
    /// Who and from where, for every event the request causes.
    pub context: AuditContext,
    /// The principal as the authorizer sees it (roles, scopes, grants,
    /// elevations), recording the decisions it asks for in the request's
    /// trail, which the router checks (`routes::guard`).
    pub subject: Subject,
}

impl Caller {
    /// The user, when the caller is one.
    pub fn user(&self) -> Option<&UserPrincipal> {
        match &self.principal {
            Principal::User(user) => Some(user),
            Principal::ApiKey(_) => None,
        }
    }
}

impl axum::extract::OptionalFromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    /// `None` when no credential is presented at all; a presented, invalid
    /// one is still refused (and audited).
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Option<Self>, Self::Rejection> {
        match <Self as FromRequestParts<AppState>>::from_request_parts(parts, state).await {
            Ok(caller) => Ok(Some(caller)),
            Err(ApiError::Unauthenticated) if !presents_credentials(parts) => Ok(None),
            Err(other) => Err(other),
        }
    }
}

/// The API key in an `Authorization: Basic` header: the id as user name and
/// the secret (or the whole key) as password.
fn basic_api_key(authorization: &str) -> Option<String> {
    use base64::Engine;
    let encoded = authorization.strip_prefix("Basic ").or_else(|| authorization.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    // RFC 6749 §2.3.1: both parts are form-urlencoded first; ours need no escaping.
    Some(if secret.starts_with("sr_") { secret.to_owned() } else { format!("sr_{id}_{secret}") })
}

fn presents_credentials(parts: &Parts) -> bool {
    API_KEY_HEADERS.iter().any(|name| parts.headers.contains_key(*name)) || parts.headers.contains_key(AUTHORIZATION)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let origin = RequestOrigin::from_parts(parts, state);
        let headers = &parts.headers;
        let api_key = API_KEY_HEADERS.iter().find_map(|name| headers.get(*name)).and_then(|v| v.to_str().ok());
        let authorization = headers.get(AUTHORIZATION).and_then(|value| value.to_str().ok());
        let bearer = authorization
            .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
            .map(str::trim);
        let basic = authorization.and_then(basic_api_key);
        let api_key = api_key.or(basic.as_deref());
        let anonymous = origin.context(Actor::anonymous());
        // A bearer value with the shape of a JWT is a user's access token;
        // anything else presented is an API key.
        let (credential, outcome) = match (api_key, bearer) {
            (None, Some(token)) if looks_like_jwt(token) => (
                "access_token",
                state.oauth.authenticate_bearer(token, origin.ip, &anonymous).await.map(|owner| match owner {
                    BearerOwner::User(user) => {
                        let context = origin.context(user.actor());
                        (Principal::User(user), context)
                    }
                    BearerOwner::ApiKey(key) => {
                        let context = origin.context(key.actor());
                        (Principal::ApiKey(key), context)
                    }
                }),
            ),
            (Some(key), _) | (None, Some(key)) => (
                "api_key",
                state.api_keys.authenticate(key.trim(), origin.ip).await.map(|key| {
                    let context = origin.context(key.actor());
                    (Principal::ApiKey(key), context)
                }),
            ),
            (None, None) => return Err(ApiError::Unauthenticated),
        };
        match outcome {
            Ok((principal, context)) => {
                let mut subject = match &principal {
                    Principal::User(user) => user.subject(),
                    Principal::ApiKey(key) => key.subject(),
                };
                if let Some(trail) = parts.extensions.get::<DecisionTrail>() {
                    subject.trail = trail.clone();
                }
                // An API key's own limit was counted when it was checked.
                if let Principal::User(user) = &principal {
                    state.rate_limits.admit_user(&user.user_id, &context).await?;
                }
                Ok(Self { principal, context, subject })
            }
            Err(error @ (CoreError::Unauthenticated | CoreError::Forbidden(_) | CoreError::Denied(_))) => {
                // Only an API key's public id is kept (so failures count per
                // key), never the rest of what was presented: it may be a secret.
                let reason = match error {
                    CoreError::Forbidden(_) => "address_not_allowed",
                    CoreError::Denied(_) => "application_key",
                    _ => "unauthenticated",
                };
                let mut event = state
                    .audit
                    .event(EventType::AuthFailure, &anonymous)
                    .detail("credential", credential)
                    .detail("route", origin.route.clone())
                    .failed(Outcome::Failure, reason);
                if let Some(id) = api_key.or(bearer).and_then(|k| ApiKeys::public_id(k.trim())) {
                    event = event.target(Target::new("api_key", id));
                }
                state.audit.record(&event).await?;
                Err(error.into())
            }
            Err(other) => Err(other.into()),
        }
    }
}
