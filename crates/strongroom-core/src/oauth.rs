//! OAuth2 for the applications Strongroom serves: token introspection
//! (RFC 7662) for an app protecting its own endpoints, the grants of
//! `/token` (password with an optional TOTP code, refresh, client
//! credentials for API keys), and reading a bearer credential of either
//! kind on Strongroom's own routes.
//!
//! Invariants:
//! - Introspection is decided (`token.introspect`: the scope
//!   `auth:introspect`, or an admin) and answers only `active: false` for
//!   anything not live now (malformed, forged, expired, of a revoked or
//!   logged-out session, of a locked or disabled user, of a revoked or
//!   expired key, over its rate or outside its addresses), never why.
//! - Introspection writes no audit event per call: an app may introspect on
//!   every request it serves, and a durable append each time would cost
//!   more than the answer. A refused caller is audited (by the decision),
//!   a presented invalid credential of the caller too (by the server).
//! - A service token (client credentials) stands for its key: the key's
//!   state is read on every use, so revoking the key ends its tokens at once.
//! - An application key (`app:` scopes) is introspected and gets service
//!   tokens, but is admitted to none of Strongroom's routes.

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::audit::{Actor, ActorKind, AuditContext, AuditLog, EventType, Outcome, Target};
use crate::authz::{Action, Ask, Authz, Denial, DenialKind, Resource, Subject};
use crate::identity::{Identity, LoginOutcome, OneTimeSecret, TokenPair, UserPrincipal};
use crate::{ApiKeyPrincipal, ApiKeys, CoreError, refuse_application_key};

/// Who a bearer credential on one of Strongroom's routes stands for.
#[derive(Debug, Clone)]
pub enum BearerOwner {
    /// A person's access token, with its session.
    User(UserPrincipal),
    /// A service token of an API key (client credentials).
    ApiKey(ApiKeyPrincipal),
}

/// What kind of credential was introspected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// A person's access token (a JWT with a session).
    AccessToken,
    /// A service token of an API key (client credentials grant).
    ServiceToken,
    /// An API key itself.
    ApiKey,
}

impl CredentialKind {
    /// The stable name (`access_token`, `service_token`, `api_key`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessToken => "access_token",
            Self::ServiceToken => "service_token",
            Self::ApiKey => "api_key",
        }
    }
}

/// An introspected credential that is live now (RFC 7662 `active: true`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveCredential {
    /// What was presented.
    pub kind: CredentialKind,
    /// The user's id, or the key's.
    pub sub: String,
    /// The username, or the key's name.
    pub username: String,
    /// The user's roles; `system` for a key (none for an application key).
    pub roles: Vec<String>,
    /// Matters the user or key holds a grant on.
    pub matters: Vec<String>,
    /// The key's scopes, Strongroom's or `app:` ones (none for a person).
    pub scopes: Vec<String>,
    /// Unix seconds after which it is refused, if it expires.
    pub exp: Option<i64>,
    /// Unix seconds of issue (tokens).
    pub iat: Option<i64>,
    /// The session of a person's token.
    pub session: Option<String>,
    /// The key a service token or key is (RFC 7662 `client_id`).
    pub client_id: Option<String>,
    /// Whether it is (or stands for) an application key.
    pub application_key: bool,
}

/// A service token issued by the client credentials grant.
#[derive(Debug, Clone)]
pub struct ServiceToken {
    /// The token (`typ: at+jwt`), shown once.
    pub access_token: OneTimeSecret,
    /// Seconds it lives.
    pub expires_in: i64,
    /// The key's scopes, space-separated.
    pub scope: String,
}

/// Introspection and the OAuth2 grants.
#[derive(Debug)]
pub struct OAuth {
    identity: Arc<Identity>,
    api_keys: Arc<ApiKeys>,
    authz: Arc<Authz>,
    audit: Arc<AuditLog>,
}

/// Whether `token` has the shape of a JWT (three dot-separated parts).
pub fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

/// Failures that mean "not live", as opposed to a fault to report.
fn not_live(error: &CoreError) -> bool {
    matches!(error, CoreError::Unauthenticated | CoreError::Forbidden(_) | CoreError::TooManyAttempts { .. })
}

fn key_credential(kind: CredentialKind, key: ApiKeyPrincipal, claims: Option<&Map<String, Value>>) -> ActiveCredential {
    let application_key = !key.app_scopes.is_empty();
    let number = |name: &str| claims.and_then(|c| c.get(name)).and_then(Value::as_i64);
    let exp = match (number("exp"), key.expires_at) {
        (Some(token), Some(key)) => Some(token.min(key)),
        (token, key) => token.or(key),
    };
    ActiveCredential {
        kind,
        client_id: Some(key.id.clone()),
        sub: key.id,
        username: key.name,
        roles: if application_key { Vec::new() } else { vec!["system".to_owned()] },
        matters: key.access.matters,
        scopes: key.scopes.iter().map(|s| s.as_str().to_owned()).chain(key.app_scopes).collect(),
        exp,
        iat: number("iat"),
        session: None,
        application_key,
    }
}

impl OAuth {
    /// Over `identity`'s tokens and `api_keys`, deciding with `authz`.
    pub fn new(identity: Arc<Identity>, api_keys: Arc<ApiKeys>, authz: Arc<Authz>, audit: Arc<AuditLog>) -> Self {
        Self { identity, api_keys, authz, audit }
    }

    /// RFC 7662: whether `token` (an access token, a service token or an API
    /// key) is live now, and whose. `client` is the address the app's own
    /// client called from, checked against a key's allowed addresses (a
    /// key with an allow-list is inactive without it). Counts a key's use
    /// and rate, and a session's activity, as a request with it would.
    pub async fn introspect(
        &self,
        subject: &Subject,
        token: &str,
        client: Option<IpAddr>,
        context: &AuditContext,
    ) -> Result<Option<ActiveCredential>, CoreError> {
        self.authz.authorize(subject, Action::TokenIntrospect, &Resource::Service, &Ask::default(), context).await?;
        let token = token.trim();
        let answer = if looks_like_jwt(token) {
            self.introspect_jwt(token, client).await
        } else {
            self.api_keys.check(token, client).await.map(|key| key_credential(CredentialKind::ApiKey, key, None))
        };
        match answer {
            Ok(active) => Ok(Some(active)),
            Err(error) if not_live(&error) => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn introspect_jwt(&self, token: &str, client: Option<IpAddr>) -> Result<ActiveCredential, CoreError> {
        let claims = self.identity.verify_access_token(token).await?;
        if claims.contains_key("sid") {
            let (session, user, access) = self.identity.session_of_claims(&claims).await?;
            let number = |name: &str| claims.get(name).and_then(Value::as_i64);
            return Ok(ActiveCredential {
                kind: CredentialKind::AccessToken,
                sub: user.id,
                username: user.username,
                roles: user.roles.iter().map(|r| r.as_str().to_owned()).collect(),
                matters: access.matters,
                scopes: Vec::new(),
                exp: number("exp"),
                iat: number("iat"),
                session: Some(session.id),
                client_id: None,
                application_key: false,
            });
        }
        let key_id = service_token_key(&claims)?;
        let key = self.api_keys.check_id(key_id, client).await?;
        Ok(key_credential(CredentialKind::ServiceToken, key, Some(&claims)))
    }

    /// The owner of a bearer JWT presented on one of Strongroom's routes
    /// from `client`: a person's access token (with its session, as
    /// [`Identity::authenticate`] checks it) or an API key's service token
    /// (the key as it stands now; an application key's is refused).
    pub async fn authenticate_bearer(
        &self,
        token: &str,
        client: Option<IpAddr>,
        context: &AuditContext,
    ) -> Result<BearerOwner, CoreError> {
        let claims = self.identity.verify_access_token(token).await?;
        if claims.contains_key("sid") {
            return self.identity.authenticate_claims(&claims, context).await.map(BearerOwner::User);
        }
        let key = self.api_keys.check_id(service_token_key(&claims)?, client).await?;
        refuse_application_key(&key)?;
        Ok(BearerOwner::ApiKey(key))
    }

    /// The password grant: a login, completed with `totp` (the current code
    /// or a recovery code) when the account has a second factor. Without
    /// one such an account is refused `mfa_required`.
    pub async fn password_grant(
        &self,
        username: &str,
        password: &str,
        totp: Option<&str>,
        context: &AuditContext,
    ) -> Result<TokenPair, CoreError> {
        let refusal = |detail: &str| {
            CoreError::Denied(Denial {
                kind: DenialKind::MfaRequiredAtLogin,
                detail: detail.into(),
                policies: Vec::new(),
            })
        };
        match self.identity.login(username, password, context).await? {
            LoginOutcome::Tokens(pair) => Ok(pair),
            LoginOutcome::MfaRequired { mfa_token } => match totp.map(str::trim).filter(|code| !code.is_empty()) {
                Some(code) => self.identity.complete_mfa(mfa_token.expose(), code, context).await,
                None => Err(refusal(
                    "this account has a second factor: send its current code (or a recovery code) as the totp \
                     form field",
                )),
            },
            LoginOutcome::MfaEnrollmentRequired { .. } => Err(refusal(
                "this account must enrol a second factor first: log in with POST /v1/auth/login, which answers an \
                 enrollment_token for POST /v1/auth/totp/enroll and /v1/auth/totp/confirm, then send the current \
                 code as the totp form field",
            )),
        }
    }

    /// The refresh grant: a new pair for a refresh token, used up by this.
    pub async fn refresh_grant(&self, refresh_token: &str, context: &AuditContext) -> Result<TokenPair, CoreError> {
        self.identity.refresh(refresh_token, context).await
    }

    /// The client credentials grant: `client_secret` (the whole key
    /// `sr_<id>_<secret>`, or its secret part) of key `client_id`, used from
    /// `client`, for a short-lived service token. Audited either way.
    pub async fn client_credentials(
        &self,
        client_id: &str,
        client_secret: &str,
        client: Option<IpAddr>,
        context: &AuditContext,
    ) -> Result<ServiceToken, CoreError> {
        let (client_id, client_secret) = (client_id.trim(), client_secret.trim());
        let presented = if client_secret.starts_with("sr_") {
            client_secret.to_owned()
        } else {
            format!("sr_{client_id}_{client_secret}")
        };
        let checked = match ApiKeys::public_id(&presented) {
            Some(id) if id == client_id => self.api_keys.check(&presented, client).await,
            _ => Err(CoreError::Unauthenticated),
        };
        let key = match checked {
            Ok(key) => key,
            Err(error) => {
                if not_live(&error) {
                    let mut event = self
                        .audit
                        .event(EventType::AuthFailure, context)
                        .detail("credential", "client_credentials")
                        .failed(
                            Outcome::Failure,
                            if matches!(error, CoreError::Unauthenticated) { "unauthenticated" } else { "refused" },
                        );
                    if let Some(id) = ApiKeys::public_id(&presented) {
                        event = event.target(Target::new("api_key", id));
                    }
                    self.audit.record(&event).await?;
                }
                return Err(error);
            }
        };
        let scopes: Vec<String> =
            key.scopes.iter().map(|s| s.as_str().to_owned()).chain(key.app_scopes.iter().cloned()).collect();
        let (access_token, expires_in) = self.identity.service_token(&key.id, &scopes).await?;
        let actor =
            Actor { kind: ActorKind::ApiKey, id: key.id.clone(), name: Some(key.name.clone()), roles: scopes.clone() };
        let as_key = AuditContext { actor, ..context.clone() };
        let event = self
            .audit
            .event(EventType::ServiceTokenIssue, &as_key)
            .target(Target::new("api_key", key.id.clone()))
            .detail("expires_in", expires_in)
            .detail("scopes", scopes.clone());
        self.audit.record(&event).await?;
        Ok(ServiceToken { access_token, expires_in, scope: scopes.join(" ") })
    }
}

/// The key a service token names: no session, `client_id` equal to `sub`.
fn service_token_key(claims: &Map<String, Value>) -> Result<&str, CoreError> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    match (text("client_id"), text("sub")) {
        (Some(client), Some(sub)) if client == sub && !claims.contains_key("sid") => Ok(client),
        _ => Err(CoreError::Unauthenticated),
    }
}
