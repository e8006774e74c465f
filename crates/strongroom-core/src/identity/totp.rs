//! TOTP: enrolment (by the user or an enrolment token's holder), confirmation, turning it off, step-up.

use strongroom_crypto::random_bytes;

use super::model::{Grantor, OneTimeKind, UserRecord};
use crate::audit::{AuditContext, EventType, Outcome};
use crate::{CoreError, KeyPurpose};

use super::service::*;

impl Identity {
    /// The user an MFA enrolment token was issued for (used up).
    pub async fn redeem_enrollment_token(&self, token: &str) -> Result<UserRecord, CoreError> {
        let hash = self.token_hash(OneTimeKind::MfaEnrollment.as_str(), token.trim()).await?;
        let user_id = self
            .store
            .consume_one_time(OneTimeKind::MfaEnrollment, &hash, self.now())
            .await?
            .ok_or(CoreError::Unauthenticated)?;
        self.user(&user_id).await
    }

    /// Starts TOTP enrolment for the holder of an enrolment token (a user
    /// whose role requires a second factor and has none yet, or one an admin
    /// is helping in): the token is the credential and is used up. Answers
    /// the `otpauth://` URI and a fresh token for [`confirm_totp_by_token`](Self::confirm_totp_by_token).
    pub async fn enroll_totp_by_token(
        &self,
        token: &str,
        context: &AuditContext,
    ) -> Result<(OneTimeSecret, OneTimeSecret), CoreError> {
        let user = self.redeem_enrollment_token(token).await?;
        let context = AuditContext { actor: user_actor(&user), ..context.clone() };
        let uri = self.enroll_totp(&user.id, &context).await?;
        let next = self.issue_enrollment_token(&user.id, &context).await?;
        Ok((uri, next))
    }

    /// Activates TOTP for the holder of an enrolment token with a first valid
    /// code; returns ten one-time recovery codes.
    pub async fn confirm_totp_by_token(
        &self,
        token: &str,
        code: &str,
        context: &AuditContext,
    ) -> Result<Vec<OneTimeSecret>, CoreError> {
        let user = self.redeem_enrollment_token(token).await?;
        let context = AuditContext { actor: user_actor(&user), ..context.clone() };
        self.confirm_totp(&user.id, code, &context).await
    }

    /// An enrolment token for user `id`, issued by `grantor` for someone else
    /// (an admin helping someone in).
    pub async fn issue_enrollment_token_for(
        &self,
        id: &str,
        grantor: &Grantor,
        context: &AuditContext,
    ) -> Result<OneTimeSecret, CoreError> {
        self.user_to_manage(id, grantor, EventType::MfaEnroll, context).await?;
        self.issue_enrollment_token(id, context).await
    }

    /// An enrolment token for user `id` (the user's own enrolment flow).
    pub async fn issue_enrollment_token(&self, id: &str, context: &AuditContext) -> Result<OneTimeSecret, CoreError> {
        let user = self.user(id).await?;
        let token = random_token("sr_enrol_")?;
        let hash = self.token_hash(OneTimeKind::MfaEnrollment.as_str(), token.expose()).await?;
        let expires_at = self.now() + self.settings.reset_token_seconds;
        let event = self.user_event(EventType::MfaEnroll, &user, context).detail("stage", "enrollment token issued");
        self.store
            .insert_one_time(OneTimeKind::MfaEnrollment, &hash, &user.id, expires_at, &[self.audit.seal(&event)?])
            .await?;
        Ok(token)
    }

    /// Starts TOTP enrolment: a fresh seed, stored sealed and not yet active.
    /// Returns the `otpauth://` URI (which carries the seed: show it once).
    pub async fn enroll_totp(&self, user_id: &str, context: &AuditContext) -> Result<OneTimeSecret, CoreError> {
        let mut user = self.user(user_id).await?;
        if user.totp_enabled {
            return Err(CoreError::Conflict("TOTP is already active; disable it first to enrol again".into()));
        }
        let secret = strongroom_crypto::generate_totp_secret()?;
        let sealed = self
            .keyring
            .encrypt(KeyPurpose::UserSecret, USER_SECRETS_KEY, secret.expose(), &totp_context(&user.id))
            .await?;
        user.totp_sealed_secret = Some(sealed);
        user.totp_last_step = None;
        let event = self.user_event(EventType::MfaEnroll, &user, context).detail("stage", "started");
        self.save_user(&mut user, &event).await?;
        let issuer = urlencode(&self.settings.issuer);
        let uri = format!(
            "otpauth://totp/{issuer}:{}?secret={}&issuer={issuer}&algorithm=SHA1&digits=6&period=30",
            urlencode(&user.username),
            strongroom_crypto::base32(secret.expose())
        );
        Ok(OneTimeSecret::new(uri))
    }

    /// Activates TOTP with a first valid code; returns ten one-time recovery codes.
    pub async fn confirm_totp(
        &self,
        user_id: &str,
        code: &str,
        context: &AuditContext,
    ) -> Result<Vec<OneTimeSecret>, CoreError> {
        let mut user = self.user(user_id).await?;
        if user.totp_enabled {
            return Err(CoreError::Conflict("TOTP is already active".into()));
        }
        let secret = self
            .totp_secret(&user)
            .await
            .map_err(|_| CoreError::InvalidInput("no TOTP enrolment in progress: start one first".into()))?;
        let now = u64::try_from(self.now()).unwrap_or(0);
        let Some(step) = strongroom_crypto::verify_totp(secret.expose(), code, now, None) else {
            let event = self.user_event(EventType::MfaFailure, &user, context).failed(Outcome::Failure, "invalid_code");
            self.audit.record(&event).await?;
            return Err(CoreError::InvalidInput("code: not the current code of this enrolment".into()));
        };
        let mut codes = Vec::with_capacity(RECOVERY_CODES);
        let mut hashes = Vec::with_capacity(RECOVERY_CODES);
        for _ in 0..RECOVERY_CODES {
            let raw = strongroom_crypto::base32(&random_bytes::<8>()?).to_lowercase();
            let code = format!("{}-{}-{}", &raw[0..4], &raw[4..8], &raw[8..12]);
            hashes.push(self.token_hash("recovery", &format!("{}/{}", user.id, raw[..12].to_owned())).await?);
            codes.push(OneTimeSecret::new(code));
        }
        self.store.replace_recovery_codes(&user.id, &hashes).await?;
        user.totp_enabled = true;
        user.totp_last_step = Some(i64::try_from(step).unwrap_or(i64::MAX));
        let event = self.user_event(EventType::MfaEnroll, &user, context).detail("stage", "confirmed");
        self.save_user(&mut user, &event).await?;
        Ok(codes)
    }

    /// Turns TOTP off (the recovery codes go with it).
    pub async fn disable_totp(&self, user_id: &str, context: &AuditContext) -> Result<(), CoreError> {
        let mut user = self.user(user_id).await?;
        user.totp_enabled = false;
        user.totp_sealed_secret = None;
        user.totp_last_step = None;
        let event = self.user_event(EventType::MfaDisable, &user, context);
        self.save_user(&mut user, &event).await?;
        self.store.replace_recovery_codes(&user.id, &[]).await?;
        Ok(())
    }

    /// Records a step-up: a fresh TOTP code on an existing session.
    pub async fn step_up(
        &self,
        user_id: &str,
        session_id: &str,
        code: &str,
        context: &AuditContext,
    ) -> Result<i64, CoreError> {
        let mut user = self.user(user_id).await?;
        if !user.totp_enabled || !self.second_factor(&mut user, code, context).await? {
            let event = self.user_event(EventType::MfaFailure, &user, context).failed(Outcome::Failure, "invalid_code");
            self.audit.record(&event).await?;
            return Err(CoreError::InvalidInput("code: not a valid current code".into()));
        }
        let now = self.now();
        self.store.set_session_mfa(session_id, now).await?;
        Ok(now)
    }
}
