//! Sessions opened by a login, access tokens (signed JWTs), refresh rotation and checking a token on every request.

use std::time::Instant;

use serde_json::{Map, Value};
use strongroom_crypto::{jwt_assemble, jwt_signing_input};

use super::model::{RefreshOutcome, SessionRecord, UserRecord};
use super::signer;
use crate::audit::{AuditContext, EventType, Outcome, Target};
use crate::principal::PrincipalAccess;
use crate::{CoreError, KeyPurpose, KeyState};

use super::service::*;

impl Identity {
    /// Creates a session and its tokens; evicts the oldest sessions beyond the limit.
    pub(super) async fn start_session(
        &self,
        user: &UserRecord,
        mfa_at: Option<i64>,
        context: &AuditContext,
    ) -> Result<TokenPair, CoreError> {
        let now = self.now();
        let id = random_id()?;
        let ip = context.ip.map(|ip| ip.to_string());
        let client = self.sealed_session_fields(&id, ip.as_deref(), context.user_agent.as_deref()).await?;
        let session = SessionRecord {
            id,
            user_id: user.id.clone(),
            created_at: now,
            created_ms: i64::try_from(self.clock.now().as_millis()).unwrap_or(i64::MAX),
            last_seen_at: now,
            expires_at: now + self.settings.session_absolute_seconds,
            sealed_ip: client.sealed_ip,
            sealed_user_agent: client.sealed_user_agent,
            ip_mac: client.ip_mac,
            user_agent_mac: client.user_agent_mac,
            mfa_at,
            revoked_at: None,
            revoked_reason: None,
        };
        let live = self.store.sessions_of(&user.id, false).await?;
        let keep = self.settings.max_sessions_per_user.max(1) - 1;
        let evicted: Vec<String> = live.iter().skip(keep).map(|s| s.id.clone()).collect();
        let refresh = random_token("sr_rt_")?;
        let refresh_hash = self.token_hash("refresh", refresh.expose()).await?;
        let event = self
            .user_event(EventType::LoginSuccess, user, context)
            .target(Target::new("session", session.id.clone()))
            .detail("mfa", mfa_at.is_some())
            .detail("evicted_sessions", evicted.clone());
        let sealed = [self.audit.seal(&event)?];
        let insert = self.store.insert_session(&session, &refresh_hash, &evicted, &sealed);
        self.keyring.freshness().after_change(insert).await?;
        Ok(TokenPair {
            access_token: self.access_token(user, &session).await?,
            refresh_token: refresh,
            expires_in: self.settings.access_token_seconds,
            session_id: session.id,
        })
    }

    pub(super) async fn access_token(
        &self,
        user: &UserRecord,
        session: &SessionRecord,
    ) -> Result<OneTimeSecret, CoreError> {
        let generation = self.signer_generation().await?;
        let key = self.keyring.use_key(KeyPurpose::JwtSigning, &signer::key_name(generation)).await?;
        let version = key.info().latest_version;
        let now = self.now();
        let mut claims = Map::new();
        claims.insert("iss".into(), self.settings.issuer.clone().into());
        claims.insert("aud".into(), self.settings.audience.clone().into());
        claims.insert("sub".into(), user.id.clone().into());
        claims.insert("preferred_username".into(), user.username.clone().into());
        claims.insert("sid".into(), session.id.clone().into());
        claims.insert("roles".into(), user.roles.iter().map(|r| Value::from(r.as_str())).collect());
        claims.insert("iat".into(), now.into());
        claims.insert("nbf".into(), now.into());
        claims.insert("exp".into(), (now + self.settings.access_token_seconds).into());
        claims.insert("jti".into(), random_id()?.into());
        if let Some(mfa_at) = session.mfa_at {
            claims.insert("mfa_time".into(), mfa_at.into());
        }
        let input = jwt_signing_input(&signer::kid(generation, version), &claims);
        let (signed_with, signature) = key.sign(input.as_bytes()).await?;
        debug_assert_eq!(signed_with, version);
        Ok(OneTimeSecret::new(jwt_assemble(&input, &signature)))
    }

    /// Trades a refresh token for a new pair. A used token presented again
    /// revokes its session (theft suspected) and is refused.
    pub async fn refresh(&self, refresh_token: &str, context: &AuditContext) -> Result<TokenPair, CoreError> {
        let presented = self.token_hash("refresh", refresh_token.trim()).await?;
        let found = match self.store.refresh_session(&presented).await? {
            Some(session_id) => self.store.session_with_user(&session_id, self.now()).await?,
            None => None,
        };
        let Some((session, user, _)) = found else {
            let event = self.audit.event(EventType::TokenRefresh, context).failed(Outcome::Failure, "unknown_token");
            self.audit.record(&event).await?;
            return Err(CoreError::Unauthenticated);
        };
        let as_user = AuditContext { actor: user_actor(&user), ..context.clone() };
        let target = Target::new("session", session.id.clone());
        let rotated = self.audit.event(EventType::TokenRefresh, &as_user).target(target.clone());
        let reused = self
            .audit
            .event(EventType::TokenReuse, &as_user)
            .target(target)
            .detail("action", "session revoked: a used refresh token was presented again");
        let next = random_token("sr_rt_")?;
        let next_hash = self.token_hash("refresh", next.expose()).await?;
        let (rotated, reused) = ([self.audit.seal(&rotated)?], [self.audit.seal(&reused)?]);
        let rotate = self.store.rotate_refresh_token(&presented, &next_hash, self.now(), &rotated, &reused);
        let outcome = self.keyring.freshness().after_change(rotate).await?;
        match outcome {
            RefreshOutcome::Rotated { session_id } => {
                let (session, user, _) = self.live_session(&session_id).await?;
                Ok(TokenPair {
                    access_token: self.access_token(&user, &session).await?,
                    refresh_token: next,
                    expires_in: self.settings.access_token_seconds,
                    session_id,
                })
            }
            RefreshOutcome::Reused { .. } | RefreshOutcome::Unknown => Err(CoreError::Unauthenticated),
        }
    }

    /// A session that is live now, with its user who may use it.
    pub(super) async fn live_session(
        &self,
        session_id: &str,
    ) -> Result<(SessionRecord, UserRecord, PrincipalAccess), CoreError> {
        let (session, user, access) =
            self.store.session_with_user(session_id, self.now()).await?.ok_or(CoreError::Unauthenticated)?;
        self.alive(session, user, access)
    }

    /// The session with its user if it is live now: not revoked, expired or
    /// idle, its user neither locked nor disabled.
    fn alive(
        &self,
        session: SessionRecord,
        user: UserRecord,
        access: PrincipalAccess,
    ) -> Result<(SessionRecord, UserRecord, PrincipalAccess), CoreError> {
        let session_id = session.id.as_str();
        let now = self.now();
        let seen = self.pending_seen.lock().unwrap_or_else(|p| p.into_inner()).get(session_id).copied();
        let last_seen = seen.unwrap_or(session.last_seen_at).max(session.last_seen_at);
        let alive = session.revoked_at.is_none()
            && now < session.expires_at
            && now - last_seen <= self.settings.session_idle_seconds
            && !user.disabled
            && !user.locked;
        if alive { Ok((session, user, access)) } else { Err(CoreError::Unauthenticated) }
    }

    /// The generation of the signer new tokens are signed by: the first
    /// that is neither compromised nor destroyed, created on first use (see
    /// [`signer`]).
    pub(super) async fn signer_generation(&self) -> Result<u32, CoreError> {
        for generation in 1..=signer::MAX_GENERATIONS {
            let name = signer::key_name(generation);
            match self.keyring.use_key(KeyPurpose::JwtSigning, &name).await {
                Ok(key) if matches!(key.info().state, KeyState::Compromised | KeyState::Destroyed) => continue,
                Ok(_) => return Ok(generation),
                Err(CoreError::KeyNotFound(_)) => {
                    let context = AuditContext::service("identity");
                    self.keyring.ensure(&name, jwt_key_spec(), &context).await?;
                    return Ok(generation);
                }
                Err(error) => return Err(error),
            }
        }
        Err(CoreError::InvalidKeyChange("every generation of the JWT signing key is compromised".into()))
    }

    /// The public key of version `version` of generation `generation` of the
    /// JWT signer. The key's state is read on every call (from the keyring's
    /// metadata cache, which follows changes): a compromised signer's tokens
    /// could be forged, so none of them is accepted from the moment it is
    /// marked. Only the derived public key is remembered.
    pub(super) async fn jwt_public_key(&self, generation: u32, version: u32) -> Result<[u8; 32], CoreError> {
        let key = match self.keyring.use_key(KeyPurpose::JwtSigning, &signer::key_name(generation)).await {
            Ok(key) => key,
            Err(CoreError::KeyNotFound(_)) => return Err(CoreError::Unauthenticated),
            Err(error) => return Err(error),
        };
        if !matches!(key.info().state, KeyState::Active | KeyState::DecryptOnly) {
            return Err(CoreError::Unauthenticated);
        }
        if let Some((public, at)) =
            self.public_keys.lock().unwrap_or_else(|p| p.into_inner()).get(&(generation, version))
            && at.elapsed() < PUBLIC_KEY_CACHE
        {
            return Ok(*public);
        }
        let public = key.public_key(version).await.map_err(|_| CoreError::Unauthenticated)?;
        self.public_keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((generation, version), (public, Instant::now()));
        Ok(public)
    }

    /// Checks a token of ours without its session: shape and header (EdDSA,
    /// `typ: at+jwt`), signature by a signer that is not compromised,
    /// issuer, audience and times. Answers its claims.
    pub async fn verify_access_token(&self, token: &str) -> Result<Map<String, Value>, CoreError> {
        let parsed = strongroom_crypto::ParsedJwt::parse(token).map_err(|_| CoreError::Unauthenticated)?;
        let (generation, version) = signer::parse_kid(&parsed.kid).ok_or(CoreError::Unauthenticated)?;
        let public = self.jwt_public_key(generation, version).await?;
        if !self.verified_before(token) {
            if !parsed.verify(&public) {
                return Err(CoreError::Unauthenticated);
            }
            self.remember_verified(token);
        }
        let claims = parsed.claims;
        let number = |name: &str| claims.get(name).and_then(Value::as_i64);
        let now = self.now();
        let timely = number("exp").is_some_and(|exp| now < exp)
            && number("nbf").is_some_and(|nbf| nbf <= now + CLOCK_SKEW_SECONDS)
            && number("iat").is_some_and(|iat| iat <= now + CLOCK_SKEW_SECONDS);
        // RFC 7519: `aud` is one string or an array of them; ours must be among them.
        let audience = self.settings.audience.as_str();
        let for_us = match claims.get("aud") {
            Some(Value::String(aud)) => aud == audience,
            Some(Value::Array(auds)) => auds.iter().any(|aud| aud.as_str() == Some(audience)),
            _ => false,
        };
        if !timely || !for_us || claims.get("iss").and_then(Value::as_str) != Some(self.settings.issuer.as_str()) {
            return Err(CoreError::Unauthenticated);
        }
        Ok(claims)
    }

    /// Whether `token`'s signature was verified before (a cache of digests,
    /// so an app introspecting the same token on every request does not pay
    /// an Ed25519 verification each time). The signer's state is still
    /// checked on every call, before this.
    fn verified_before(&self, token: &str) -> bool {
        let digest = strongroom_crypto::sha256(token.as_bytes());
        self.verified.lock().unwrap_or_else(|p| p.into_inner()).contains(&digest)
    }

    fn remember_verified(&self, token: &str) {
        let digest = strongroom_crypto::sha256(token.as_bytes());
        let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if verified.len() >= VERIFIED_TOKENS_KEPT {
            verified.clear();
        }
        verified.insert(digest);
    }

    /// A short-lived access token for API key `key_id` (the OAuth2 client
    /// credentials grant): `typ: at+jwt`, `sub` and `client_id` the key,
    /// `scope` its scopes, no session. Answers the token and its lifetime.
    pub async fn service_token(&self, key_id: &str, scopes: &[String]) -> Result<(OneTimeSecret, i64), CoreError> {
        let generation = self.signer_generation().await?;
        let key = self.keyring.use_key(KeyPurpose::JwtSigning, &signer::key_name(generation)).await?;
        let version = key.info().latest_version;
        let now = self.now();
        let lifetime = self.settings.access_token_seconds.clamp(1, SERVICE_TOKEN_SECONDS);
        let mut claims = Map::new();
        claims.insert("iss".into(), self.settings.issuer.clone().into());
        claims.insert("aud".into(), self.settings.audience.clone().into());
        claims.insert("sub".into(), key_id.into());
        claims.insert("client_id".into(), key_id.into());
        claims.insert("scope".into(), scopes.join(" ").into());
        claims.insert("iat".into(), now.into());
        claims.insert("nbf".into(), now.into());
        claims.insert("exp".into(), (now + lifetime).into());
        claims.insert("jti".into(), random_id()?.into());
        let input = jwt_signing_input(&signer::kid(generation, version), &claims);
        let (_, signature) = key.sign(input.as_bytes()).await?;
        Ok((OneTimeSecret::new(jwt_assemble(&input, &signature)), lifetime))
    }

    /// Checks an access token and its session: signature (EdDSA only), issuer,
    /// times, then the session and user as stored now, and the binding of
    /// the session to its address or user agent when configured.
    pub async fn authenticate(&self, token: &str, context: &AuditContext) -> Result<UserPrincipal, CoreError> {
        let claims = self.verify_access_token(token).await?;
        self.authenticate_claims(&claims, context).await
    }

    /// [`Identity::authenticate`] after the token's own checks: its session
    /// and user as stored now.
    pub async fn authenticate_claims(
        &self,
        claims: &Map<String, Value>,
        context: &AuditContext,
    ) -> Result<UserPrincipal, CoreError> {
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        let now = self.now();
        let (session_id, subject) = (text("sid").ok_or(CoreError::Unauthenticated)?, text("sub"));
        let (session, user, access) = self.live_session(session_id).await?;
        if subject != Some(user.id.as_str()) {
            return Err(CoreError::Unauthenticated);
        }
        let ip_moved = self.settings.bind_session_to_ip
            && !self
                .same_client("ip", &session.id, session.ip_mac.as_deref(), context.ip.map(|ip| ip.to_string()))
                .await?;
        let agent_moved = self.settings.bind_session_to_user_agent
            && !self
                .same_client("user_agent", &session.id, session.user_agent_mac.as_deref(), context.user_agent.clone())
                .await?;
        if ip_moved || agent_moved {
            let actor = AuditContext { actor: user_actor(&user), ..context.clone() };
            let event = self
                .audit
                .event(EventType::AttackSuspected, &actor)
                .target(Target::new("session", session.id.clone()))
                .detail(
                    "reason",
                    if ip_moved { "token used from another address" } else { "token used from another user agent" },
                )
                .failed(Outcome::Denied, "session_binding");
            self.audit.record(&event).await?;
            return Err(CoreError::Unauthenticated);
        }
        self.pending_seen.lock().unwrap_or_else(|p| p.into_inner()).insert(session.id.clone(), now);
        Ok(UserPrincipal {
            user_id: user.id,
            username: user.username,
            roles: user.roles,
            session_id: session.id,
            mfa_at: session.mfa_at,
            access,
        })
    }

    /// The session and user behind a verified user token's claims, for
    /// introspection: live now, the token's subject, and its use counted as
    /// the session's activity (an app checking every request keeps the
    /// session from idling out). The binding to the session's address and
    /// user agent is not checked: the introspecting app is not the client.
    /// The session row is read through a short cache (`introspected`): a
    /// change made through this process (logout, revocation, lock, roles)
    /// drops it at once, a lock or grant made elsewhere within the change
    /// generation's refresh, a logout made through another instance within
    /// [`INTROSPECTED_SESSION_KEPT`]. Expiry and idleness are computed anew
    /// on every call.
    pub async fn session_of_claims(
        &self,
        claims: &Map<String, Value>,
    ) -> Result<(SessionRecord, UserRecord, PrincipalAccess), CoreError> {
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        let session_id = text("sid").ok_or(CoreError::Unauthenticated)?;
        let freshness = self.keyring.freshness();
        let found = match self.introspected.get(freshness, session_id) {
            Some((found, read_at)) if read_at.elapsed() < INTROSPECTED_SESSION_KEPT => Some(found),
            _ => {
                let epoch = freshness.before_read();
                let found = self.store.session_with_user(session_id, self.now()).await?;
                if let Some(found) = &found {
                    self.introspected.put(epoch, session_id.to_owned(), (found.clone(), Instant::now()));
                }
                found
            }
        };
        let (session, user, access) = found.ok_or(CoreError::Unauthenticated)?;
        let (session, user, access) = self.alive(session, user, access)?;
        if text("sub") != Some(user.id.as_str()) {
            return Err(CoreError::Unauthenticated);
        }
        self.pending_seen.lock().unwrap_or_else(|p| p.into_inner()).insert(session.id.clone(), self.now());
        Ok((session, user, access))
    }

    /// Whether a request's `column` value is the one the session was started
    /// with, by keyed hash (absent on both sides counts as the same).
    pub(super) async fn same_client(
        &self,
        column: &str,
        session_id: &str,
        at_login: Option<&[u8]>,
        now: Option<String>,
    ) -> Result<bool, CoreError> {
        Ok(match (at_login, now) {
            (None, None) => true,
            (Some(stored), Some(value)) => {
                strongroom_crypto::ct_eq(stored, &self.session_mac(column, session_id, &value).await?)
            }
            _ => false,
        })
    }

    /// Writes the session activity seen since the last flush (the server
    /// calls it every second). On failure the activity is kept for the next.
    pub async fn flush_session_activity(&self) -> Result<(), CoreError> {
        let pending: Vec<(String, i64)> =
            std::mem::take(&mut *self.pending_seen.lock().unwrap_or_else(|p| p.into_inner())).into_iter().collect();
        if pending.is_empty() {
            return Ok(());
        }
        if let Err(error) = self.store.touch_sessions(&pending).await {
            let mut back = self.pending_seen.lock().unwrap_or_else(|p| p.into_inner());
            for (id, at) in pending {
                let entry = back.entry(id).or_insert(at);
                *entry = (*entry).max(at);
            }
            return Err(error.into());
        }
        Ok(())
    }

    /// The JWKS: every version of the serving signer that may have live
    /// tokens. Earlier generations are compromised or destroyed, so none of
    /// their keys is published (verifiers elsewhere must drop them too).
    pub async fn jwks(&self) -> Result<Vec<(String, [u8; 32])>, CoreError> {
        let generation = self.signer_generation().await?;
        let key = self.keyring.use_key(KeyPurpose::JwtSigning, &signer::key_name(generation)).await?;
        let info = key.info().clone();
        let mut keys = Vec::new();
        for version in (info.min_decryption_version..=info.latest_version).rev() {
            keys.push((signer::kid(generation, version), key.public_key(version).await?));
        }
        Ok(keys)
    }
}
