//! Passkeys (WebAuthn): a user registers them from a signed-in session,
//! lists and removes them, and signs in with one instead of a password and
//! a code. A passkey proves possession of the authenticator and, because
//! user verification is required, its PIN or biometric: a sign-in with one
//! counts as a second factor (the session's `mfa_at` is set, as after a
//! TOTP code), so step-up checks accept it.
//!
//! The ceremonies are [`webauthn_rp`]'s (pure Rust, RustCrypto; ES256,
//! ES384, EdDSA and RS256 keys; no attestation asked). Each ceremony's
//! server half is a row of the store, found by the challenge it sent and
//! deleted as it is used: any instance finishes what another started, and
//! a response is accepted once.
//!
//! Where the console is, for WebAuthn, is a [`RelyingParty`]: the RP ID (a
//! domain the browser checks against the page) and the exact origin the
//! browser signs into its response.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use webauthn_rp::bin::{Decode, Encode};
use webauthn_rp::request::auth::AuthenticationVerificationOptions;
use webauthn_rp::request::register::{
    CredProtect, PublicKeyCredentialUserEntity, RegistrationVerificationOptions, UserHandle64, Username,
};
use webauthn_rp::request::{AsciiDomain, ExtensionInfo, RpId, TimedCeremony};
use webauthn_rp::response::auth::ser_relaxed::DiscoverableAuthenticationRelaxed64;
use webauthn_rp::response::register::ser_relaxed::RegistrationRelaxed;
use webauthn_rp::response::register::{CompressedPubKey, DynamicState, StaticState};
use webauthn_rp::{
    AuthenticatedCredential, DiscoverableAuthenticationServerState, DiscoverableCredentialRequestOptions,
    PublicKeyCredentialCreationOptions, RegistrationServerState,
};

use super::model::{PasskeyCeremony, PasskeyRecord, UserRecord};
use super::service::{Identity, TokenPair, UserPrincipal, user_actor};
use crate::audit::{AuditContext, EventType, Outcome, Target};
use crate::{CoreError, StoreError};

/// Where the console is, as WebAuthn sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelyingParty {
    /// The RP ID: the origin's host, a domain (browsers refuse IP addresses).
    pub id: String,
    /// The exact origin pages are served from (`https://host[:port]`).
    pub origin: String,
}

impl RelyingParty {
    /// From an origin: `https://host[:port]`, or `http://localhost[:port]`
    /// (browsers treat localhost as secure; nothing else over plain HTTP).
    pub fn from_origin(origin: &str) -> Result<Self, CoreError> {
        let origin = origin.trim().trim_end_matches('/');
        let refuse =
            || CoreError::InvalidInput(format!("passkeys: {origin:?} is not an https:// origin (or http://localhost)"));
        let (secure, rest) = match origin.split_once("://") {
            Some(("https", rest)) => (true, rest),
            Some(("http", rest)) => (false, rest),
            _ => return Err(refuse()),
        };
        let host = rest
            .rsplit_once(':')
            .map_or(rest, |(host, port)| if port.chars().all(|c| c.is_ascii_digit()) { host } else { rest });
        let is_domain = !host.is_empty()
            && host
                .split('.')
                .all(|label| !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
            && !host.chars().all(|c| c.is_ascii_digit() || c == '.');
        if !is_domain || rest.contains('/') || (!secure && host != "localhost") {
            return Err(refuse());
        }
        Ok(Self { id: host.to_ascii_lowercase(), origin: origin.to_ascii_lowercase() })
    }

    fn rp_id(&self) -> Result<RpId, CoreError> {
        AsciiDomain::try_from(self.id.clone())
            .map(RpId::Domain)
            .map_err(|_| CoreError::InvalidInput(format!("passkeys: {:?} is not a domain", self.id)))
    }
}

/// A passkey as its owner sees it listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyView {
    /// The credential id, base64url: names it for removal.
    pub id: String,
    /// What the user called it.
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last sign-in with it.
    pub last_used_at: Option<i64>,
}

impl From<&PasskeyRecord> for PasskeyView {
    fn from(record: &PasskeyRecord) -> Self {
        Self {
            id: URL_SAFE_NO_PAD.encode(&record.credential_id),
            name: record.name.clone(),
            created_at: record.created_at,
            last_used_at: record.last_used_at,
        }
    }
}

/// The longest passkey name.
const MAX_NAME_CHARS: usize = 64;

/// A stored public key, as the ceremony verifies with it.
type StoredKey = StaticState<CompressedPubKey<[u8; 32], [u8; 32], [u8; 48], Vec<u8>>>;

/// A response the ceremony cannot use: one answer for all (it says nothing
/// of which check failed).
fn unusable(what: &str) -> CoreError {
    CoreError::InvalidInput(format!("passkey: the {what} could not be verified"))
}

fn corrupt(what: &str) -> CoreError {
    CoreError::Store(StoreError::Backend(format!("a stored passkey {what} does not decode").into()))
}

fn user_handle(stored: &[u8]) -> Result<UserHandle64, CoreError> {
    let bytes: [u8; 64] = stored.try_into().map_err(|_| corrupt("user handle"))?;
    UserHandle64::decode(bytes).map_err(|_| corrupt("user handle"))
}

fn unix(time: std::time::SystemTime) -> i64 {
    time.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Identity {
    /// Starts registering a passkey for the signed-in `user`: the options
    /// for `navigator.credentials.create` (WebAuthn's JSON form).
    pub async fn start_passkey_registration(
        &self,
        user: &UserPrincipal,
        party: &RelyingParty,
    ) -> Result<String, CoreError> {
        let record = self.user(&user.user_id).await?;
        let existing = self.store.passkeys_of(&record.id).await?;
        let handle = match existing.first() {
            Some(passkey) => user_handle(&passkey.user_handle)?,
            None => UserHandle64::new(),
        };
        let name = Username::try_from(record.username.as_str())
            .map_err(|_| CoreError::InvalidInput("passkey: this username cannot name a passkey".into()))?;
        let rp_id = party.rp_id()?;
        let entity = PublicKeyCredentialUserEntity { name, id: &handle, display_name: None };
        let mut creation = PublicKeyCredentialCreationOptions::passkey(&rp_id, entity, Vec::new());
        // Asked for, not enforced: an authenticator without credProtect
        // (ChromeDriver's virtual one, older keys) still registers. Every
        // sign-in requires user verification anyway.
        creation.extensions.cred_protect = CredProtect::UserVerificationRequired(ExtensionInfo::AllowDontEnforceValue);
        let (server, client) =
            creation.start_ceremony().map_err(|error| CoreError::InvalidInput(format!("passkey: {error}")))?;
        let options = serde_json::to_string(&client).map_err(|error| CoreError::InvalidInput(error.to_string()))?;
        let ceremony = PasskeyCeremony {
            challenge: server.sent_challenge().0.to_le_bytes().to_vec(),
            user_id: Some(record.id.clone()),
            expires_at: unix(server.expiration()),
            state: server.encode().map_err(|_| corrupt("ceremony"))?,
        };
        self.store.insert_passkey_ceremony(&ceremony, self.now()).await?;
        Ok(options)
    }

    /// Finishes a registration with the browser's response
    /// (`PublicKeyCredential.toJSON()`); audited as `passkey.register`.
    pub async fn finish_passkey_registration(
        &self,
        user: &UserPrincipal,
        party: &RelyingParty,
        response: &[u8],
        name: &str,
        context: &AuditContext,
    ) -> Result<PasskeyView, CoreError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(CoreError::InvalidInput(format!("name: 1 to {MAX_NAME_CHARS} characters")));
        }
        let registration = serde_json::from_slice::<RegistrationRelaxed>(response).map(|r| r.0).map_err(|error| {
            tracing::info!(%error, "a passkey registration response does not parse");
            unusable("response")
        })?;
        let challenge = registration.challenge_relaxed().map_err(|_| unusable("response"))?;
        let ceremony = self.store.take_passkey_ceremony(&challenge.0.to_le_bytes()).await?;
        let Some(ceremony) = ceremony.filter(|c| c.user_id.as_deref() == Some(user.user_id.as_str())) else {
            return Err(unusable("challenge"));
        };
        let server =
            RegistrationServerState::<64>::decode(ceremony.state.as_slice()).map_err(|_| corrupt("ceremony"))?;
        let options = RegistrationVerificationOptions::<&str, &str> {
            allowed_origins: &[party.origin.as_str()],
            ..RegistrationVerificationOptions::default()
        };
        let credential = server.verify(&party.rp_id()?, &registration, &options).map_err(|error| {
            tracing::info!(%error, "a passkey registration did not verify");
            unusable("response")
        })?;
        let record = self.user(&user.user_id).await?;
        let passkey = PasskeyRecord {
            credential_id: credential.id().as_ref().to_vec(),
            user_id: record.id.clone(),
            user_handle: credential.user_id().as_ref().to_vec(),
            name: name.to_owned(),
            static_state: credential.static_state().encode().map_err(|_| corrupt("key"))?,
            dynamic_state: credential.dynamic_state().encode().map_err(|_| corrupt("counter"))?.to_vec(),
            created_at: self.now(),
            last_used_at: None,
        };
        let event = self.passkey_event(EventType::PasskeyRegister, &record, &passkey, context);
        self.store.insert_passkey(&passkey, &[self.audit.seal(&event)?]).await?;
        Ok(PasskeyView::from(&passkey))
    }

    /// The user's passkeys, oldest first.
    pub async fn passkeys(&self, user: &UserPrincipal) -> Result<Vec<PasskeyView>, CoreError> {
        Ok(self.store.passkeys_of(&user.user_id).await?.iter().map(PasskeyView::from).collect())
    }

    /// Removes one of the user's passkeys (`id` as listed); audited as `passkey.remove`.
    pub async fn remove_passkey(
        &self,
        user: &UserPrincipal,
        id: &str,
        context: &AuditContext,
    ) -> Result<(), CoreError> {
        let missing = || CoreError::NotFound("no such passkey".into());
        let credential_id = URL_SAFE_NO_PAD.decode(id.trim()).map_err(|_| missing())?;
        let passkey =
            self.store.passkey(&credential_id).await?.filter(|p| p.user_id == user.user_id).ok_or_else(missing)?;
        let record = self.user(&user.user_id).await?;
        let event = self.passkey_event(EventType::PasskeyRemove, &record, &passkey, context);
        if self.store.delete_passkey(&record.id, &credential_id, &[self.audit.seal(&event)?]).await? {
            Ok(())
        } else {
            Err(missing())
        }
    }

    /// Starts a sign-in with a passkey (the browser offers the user's
    /// passkeys for this site): the options for `navigator.credentials.get`.
    pub async fn start_passkey_sign_in(&self, party: &RelyingParty) -> Result<String, CoreError> {
        let rp_id = party.rp_id()?;
        let (server, client) = DiscoverableCredentialRequestOptions::passkey(&rp_id)
            .start_ceremony()
            .map_err(|error| CoreError::InvalidInput(format!("passkey: {error}")))?;
        let options = serde_json::to_string(&client).map_err(|error| CoreError::InvalidInput(error.to_string()))?;
        let ceremony = PasskeyCeremony {
            challenge: server.sent_challenge().0.to_le_bytes().to_vec(),
            user_id: None,
            expires_at: unix(server.expiration()),
            state: server.encode().map_err(|_| corrupt("ceremony"))?,
        };
        self.store.insert_passkey_ceremony(&ceremony, self.now()).await?;
        Ok(options)
    }

    /// Finishes a sign-in with the browser's response: a session whose
    /// second factor is this passkey. A response that does not verify, an
    /// unknown passkey and a locked or disabled user are the same
    /// [`CoreError::LoginFailed`], audited, and counted against the address.
    pub async fn finish_passkey_sign_in(
        &self,
        party: &RelyingParty,
        response: &[u8],
        context: &AuditContext,
    ) -> Result<TokenPair, CoreError> {
        if let Some(ip) = context.ip {
            self.check_throttle(&[self.address_key(ip)?]).await?;
        }
        match self.verify_passkey_sign_in(party, response).await? {
            Ok((user, passkey)) => {
                let as_user = AuditContext { actor: user_actor(&user), ..context.clone() };
                let event = self
                    .user_event(EventType::MfaSuccess, &user, &as_user)
                    .detail("method", "passkey")
                    .detail("passkey", passkey.name.clone());
                self.audit.record(&event).await?;
                self.start_session(&user, Some(self.now()), &as_user).await
            }
            Err(reason) => {
                let event = self
                    .audit
                    .event(EventType::LoginFailure, context)
                    .target(Target::new("passkey", "unknown"))
                    .failed(Outcome::Failure, reason);
                self.audit.record(&event).await?;
                if let Some(ip) = context.ip {
                    self.count_failure(&self.address_key(ip)?, self.settings.lockout_threshold).await?;
                }
                Err(CoreError::LoginFailed)
            }
        }
    }

    /// Step-up with a passkey: the signed-in `user` proves a second factor
    /// again with one of their own passkeys, and the session's MFA time is
    /// set as after a TOTP code (`POST /v1/auth/step-up`). The options are
    /// [`start_passkey_sign_in`](Self::start_passkey_sign_in)'s.
    pub async fn step_up_with_passkey(
        &self,
        user: &UserPrincipal,
        party: &RelyingParty,
        response: &[u8],
        context: &AuditContext,
    ) -> Result<i64, CoreError> {
        let reason = match self.verify_passkey_sign_in(party, response).await? {
            Ok((record, passkey)) if record.id == user.user_id => {
                let event = self
                    .user_event(EventType::MfaSuccess, &record, context)
                    .detail("method", "passkey")
                    .detail("passkey", passkey.name.clone())
                    .detail("stage", "step_up");
                self.audit.record(&event).await?;
                let now = self.now();
                self.store.set_session_mfa(&user.session_id, now).await?;
                return Ok(now);
            }
            Ok(_) => "another_users_passkey",
            Err(reason) => reason,
        };
        let record = self.user(&user.user_id).await?;
        let event = self.user_event(EventType::MfaFailure, &record, context).failed(Outcome::Failure, reason);
        self.audit.record(&event).await?;
        Err(CoreError::InvalidInput("passkey: not one of yours, or it did not verify".into()))
    }

    /// The user and passkey a sign-in response proves, or why not.
    async fn verify_passkey_sign_in(
        &self,
        party: &RelyingParty,
        response: &[u8],
    ) -> Result<Result<(UserRecord, PasskeyRecord), &'static str>, CoreError> {
        let authentication = match serde_json::from_slice::<DiscoverableAuthenticationRelaxed64>(response) {
            Ok(authentication) => authentication.0,
            Err(error) => {
                tracing::info!(%error, "a passkey sign-in response does not parse");
                return Ok(Err("invalid_response"));
            }
        };
        let Ok(challenge) = authentication.challenge_relaxed() else { return Ok(Err("invalid_response")) };
        let Some(ceremony) = self.store.take_passkey_ceremony(&challenge.0.to_le_bytes()).await? else {
            return Ok(Err("unknown_challenge"));
        };
        if ceremony.user_id.is_some() {
            return Ok(Err("unknown_challenge"));
        }
        let server = DiscoverableAuthenticationServerState::decode(ceremony.state.as_slice())
            .map_err(|_| corrupt("ceremony"))?;
        let Some(mut passkey) = self.store.passkey(authentication.raw_id().as_ref()).await? else {
            return Ok(Err("unknown_passkey"));
        };
        let handle = user_handle(&passkey.user_handle)?;
        let key = StoredKey::decode(passkey.static_state.as_slice()).map_err(|_| corrupt("key"))?;
        let counter: [u8; 7] = passkey.dynamic_state.as_slice().try_into().map_err(|_| corrupt("counter"))?;
        let counter = DynamicState::decode(counter).map_err(|_| corrupt("counter"))?;
        let mut credential = AuthenticatedCredential::new(authentication.raw_id(), &handle, key, counter)
            .map_err(|_| corrupt("credential"))?;
        let options = AuthenticationVerificationOptions::<&str, &str> {
            allowed_origins: &[party.origin.as_str()],
            ..AuthenticationVerificationOptions::default()
        };
        if let Err(error) = server.verify(&party.rp_id()?, &authentication, &mut credential, &options) {
            tracing::info!(%error, "a passkey sign-in did not verify");
            return Ok(Err("invalid_signature"));
        }
        let now = self.now();
        passkey.dynamic_state = credential.dynamic_state().encode().map_err(|_| corrupt("counter"))?.to_vec();
        self.store.use_passkey(&passkey.credential_id, &passkey.dynamic_state, now).await?;
        passkey.last_used_at = Some(now);
        let user = self.user(&passkey.user_id).await?;
        if user.disabled || user.locked {
            return Ok(Err(if user.disabled { "disabled" } else { "locked" }));
        }
        Ok(Ok((user, passkey)))
    }

    fn passkey_event(
        &self,
        event_type: EventType,
        user: &UserRecord,
        passkey: &PasskeyRecord,
        context: &AuditContext,
    ) -> crate::audit::AuditEvent {
        self.user_event(event_type, user, context).detail("passkey", passkey.name.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relying_party_is_an_https_domain_or_localhost() {
        let party = RelyingParty::from_origin("https://vault.example.com").unwrap();
        assert_eq!((party.id.as_str(), party.origin.as_str()), ("vault.example.com", "https://vault.example.com"));
        let local = RelyingParty::from_origin("http://localhost:8080/").unwrap();
        assert_eq!((local.id.as_str(), local.origin.as_str()), ("localhost", "http://localhost:8080"));
        for refused in
            ["http://vault.example.com", "https://127.0.0.1:8443", "ftp://x", "https://a/b", "https://", "localhost"]
        {
            assert!(RelyingParty::from_origin(refused).is_err(), "{refused}");
        }
    }
}
