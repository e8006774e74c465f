//! Logins: throttling and lockout per account and address, the password and second-factor checks.

use strongroom_crypto::PasswordCheck;

use super::model::{OneTimeKind, UserRecord};
use crate::audit::{AuditContext, EventType, Outcome, Target};
use crate::{CoreError, KeyPurpose};

use super::service::*;

impl Identity {
    pub(super) async fn check_throttle(&self, keys: &[String]) -> Result<(), CoreError> {
        let now = self.now();
        for key in keys {
            if let Some(until) = self.store.locked_until(key).await?
                && until > now
            {
                return Err(CoreError::TooManyAttempts { retry_after_seconds: until - now });
            }
        }
        Ok(())
    }

    /// Counts a failure against `key`; past `threshold` locks it for a
    /// doubling time, and returns the lock's length in seconds.
    pub(super) async fn count_failure(&self, key: &str, threshold: u64) -> Result<Option<i64>, CoreError> {
        let now = self.now();
        let failures = self.store.count_failure(key, now, self.settings.lockout_window_seconds).await?;
        if failures < threshold {
            return Ok(None);
        }
        let doublings = u32::try_from(failures - threshold).unwrap_or(u32::MAX).min(20);
        let lock =
            self.settings.lockout_base_seconds.saturating_mul(1 << doublings).min(self.settings.lockout_max_seconds);
        self.store.lock_key(key, now + lock).await?;
        Ok(Some(lock))
    }

    /// The throttling key of an account, for all addresses: by normalised
    /// name, whether or not it exists (locking tells nothing about
    /// existence), as an HMAC so the store holds no usernames.
    pub(super) fn account_key(&self, username: &str) -> Result<String, CoreError> {
        Ok(format!("account:{}", self.audit.pseudonym(&username.trim().to_lowercase())?))
    }

    /// The throttling key of an account tried from one client address. It
    /// starts with the account's key and `|`, so clearing the account's
    /// failures clears every address's too.
    pub(super) fn pair_key(&self, username: &str, ip: Option<std::net::IpAddr>) -> Result<String, CoreError> {
        let address = ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
        Ok(format!("{}|ip:{}", self.account_key(username)?, self.audit.pseudonym(&address)?))
    }

    /// The throttling key of a client address, for all accounts.
    pub(super) fn address_key(&self, ip: std::net::IpAddr) -> Result<String, CoreError> {
        Ok(format!("ip:{}", self.audit.pseudonym(&ip.to_string())?))
    }

    /// Counts a failed login or second factor of `username` from the
    /// request's address. Past `lockout_threshold` the account is locked for
    /// that address only; past the much higher `account_lockout_threshold`
    /// for everyone. No session ends: the failures may come from anyone, and
    /// ending the owner's sessions would hand an outsider a way to log them
    /// out. Each lock is an audit event (`user.lock`, reason `brute_force`),
    /// which the failed-login alerts also count.
    pub(super) async fn count_login_failure(
        &self,
        username: &str,
        user: Option<&UserRecord>,
        context: &AuditContext,
    ) -> Result<(), CoreError> {
        let defence = AuditContext::service("brute-force-defence");
        let target = match user {
            Some(user) => Target::new("user", user.id.clone()),
            None => Target::new("account", self.audit.pseudonym(username)?),
        };
        let pair = self.pair_key(username, context.ip)?;
        let account = self.account_key(username)?;
        for (key, threshold, scope) in [
            (pair, self.settings.lockout_threshold, "address"),
            (account, self.settings.account_lockout_threshold, "account"),
        ] {
            if let Some(seconds) = self.count_failure(&key, threshold).await? {
                let event = self
                    .audit
                    .event(EventType::UserLock, &defence)
                    .target(target.clone())
                    .detail("reason", "brute_force")
                    .detail("scope", scope)
                    .detail("seconds", seconds);
                self.audit.record(&event).await?;
            }
        }
        if let Some(ip) = context.ip
            && let Some(seconds) =
                self.count_failure(&self.address_key(ip)?, self.settings.ip_lockout_threshold).await?
        {
            let event = self
                .audit
                .event(EventType::AttackSuspected, context)
                .detail("reason", "failed logins from one address")
                .detail("locked_seconds", seconds);
            self.audit.record(&event).await?;
        }
        Ok(())
    }

    pub(super) async fn login_failed(
        &self,
        username: &str,
        user: Option<&UserRecord>,
        reason: &str,
        context: &AuditContext,
    ) -> Result<CoreError, CoreError> {
        let mut event = self
            .audit
            .event(EventType::LoginFailure, context)
            .target(Target::new("account", self.audit.pseudonym(username)?))
            .failed(Outcome::Failure, reason);
        if let Some(user) = user {
            event = event.detail("user_id", user.id.clone());
        }
        self.audit.record(&event).await?;
        self.count_login_failure(username, user, context).await?;
        Ok(CoreError::LoginFailed)
    }

    /// A password login. Unknown users, wrong passwords and locked or
    /// disabled accounts are the same [`CoreError::LoginFailed`].
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        context: &AuditContext,
    ) -> Result<LoginOutcome, CoreError> {
        let name = username.trim().to_lowercase();
        let mut throttle_keys = vec![self.pair_key(&name, context.ip)?, self.account_key(&name)?];
        if let Some(ip) = context.ip {
            throttle_keys.push(self.address_key(ip)?);
        }
        if let Err(error) = self.check_throttle(&throttle_keys).await {
            let event = self
                .audit
                .event(EventType::LoginFailure, context)
                .target(Target::new("account", self.audit.pseudonym(&name)?))
                .failed(Outcome::Denied, "rate_limited");
            self.audit.record(&event).await?;
            return Err(error);
        }
        let user = match normalize_username(&name) {
            Ok(valid) => self.store.user_by_username(&valid).await?,
            Err(_) => None,
        };
        let check = self.check_password(password, user.as_ref().and_then(|u| u.password_hash.clone())).await?;
        let Some(mut user) = user else {
            return Err(self.login_failed(&name, None, "invalid_credentials", context).await?);
        };
        let rehash = match check {
            PasswordCheck::Invalid => {
                return Err(self.login_failed(&name, Some(&user), "invalid_credentials", context).await?);
            }
            PasswordCheck::Valid { rehash } => rehash,
        };
        if user.disabled || user.locked {
            let reason = if user.disabled { "disabled" } else { "locked" };
            return Err(self.login_failed(&name, Some(&user), reason, context).await?);
        }
        // Only this address's failures are forgiven: failures from elsewhere
        // still count towards the lock for everyone.
        self.store.clear_failures(&self.pair_key(&name, context.ip)?).await?;
        let as_user = AuditContext { actor: user_actor(&user), ..context.clone() };
        if rehash {
            // An old-parameter or imported bcrypt hash becomes Argon2id with today's parameters.
            user.password_hash = Some(self.hash_password(password).await?);
            let event = self.user_event(EventType::PasswordChange, &user, &as_user).detail("reason", "rehash");
            match self.save_user(&mut user, &event).await {
                Ok(()) => {}
                // Someone changed the user meanwhile (an admin's lock, say):
                // the login goes on from the user as stored now, and the
                // rehash waits for the next login.
                Err(CoreError::Conflict(_)) => {
                    user = self.user(&user.id).await?;
                    if user.disabled || user.locked {
                        return Err(self.login_failed(&name, Some(&user), "locked", context).await?);
                    }
                }
                Err(other) => return Err(other),
            }
        }
        if user.totp_enabled {
            let token = random_token("sr_mfa_")?;
            self.issue_one_time(OneTimeKind::MfaChallenge, &token, &user, &as_user, "mfa_required").await?;
            return Ok(LoginOutcome::MfaRequired { mfa_token: token });
        }
        if self.requires_mfa(&user) {
            let token = random_token("sr_enrol_")?;
            self.issue_one_time(OneTimeKind::MfaEnrollment, &token, &user, &as_user, "mfa_enrollment_required").await?;
            return Ok(LoginOutcome::MfaEnrollmentRequired { enrollment_token: token });
        }
        Ok(LoginOutcome::Tokens(self.start_session(&user, None, &as_user).await?))
    }

    /// Whether `user`'s roles require a second factor.
    pub fn requires_mfa(&self, user: &UserRecord) -> bool {
        user.roles.iter().any(|role| self.settings.mfa_required_roles.contains(role))
    }

    pub(super) async fn issue_one_time(
        &self,
        kind: OneTimeKind,
        token: &OneTimeSecret,
        user: &UserRecord,
        context: &AuditContext,
        stage: &str,
    ) -> Result<(), CoreError> {
        let hash = self.token_hash(kind.as_str(), token.expose()).await?;
        let expires_at = self.now() + self.settings.mfa_token_seconds;
        let event = self.user_event(EventType::LoginSuccess, user, context).detail("stage", stage);
        self.store.insert_one_time(kind, &hash, &user.id, expires_at, &[self.audit.seal(&event)?]).await?;
        Ok(())
    }

    /// Completes a login with a TOTP code or a recovery code.
    pub async fn complete_mfa(
        &self,
        mfa_token: &str,
        code: &str,
        context: &AuditContext,
    ) -> Result<TokenPair, CoreError> {
        let hash = self.token_hash(OneTimeKind::MfaChallenge.as_str(), mfa_token.trim()).await?;
        let Some(user_id) = self.store.consume_one_time(OneTimeKind::MfaChallenge, &hash, self.now()).await? else {
            let event = self.audit.event(EventType::MfaFailure, context).failed(Outcome::Failure, "invalid_mfa_token");
            self.audit.record(&event).await?;
            return Err(CoreError::LoginFailed);
        };
        let mut user = self.user(&user_id).await?;
        let as_user = AuditContext { actor: user_actor(&user), ..context.clone() };
        if user.disabled || user.locked || !self.second_factor(&mut user, code, &as_user).await? {
            let event =
                self.user_event(EventType::MfaFailure, &user, &as_user).failed(Outcome::Failure, "invalid_code");
            self.audit.record(&event).await?;
            self.count_login_failure(&user.username, Some(&user), context).await?;
            return Err(CoreError::LoginFailed);
        }
        self.start_session(&user, Some(self.now()), &as_user).await
    }

    /// Checks a TOTP code (refusing replays) or uses up a recovery code.
    pub(super) async fn second_factor(
        &self,
        user: &mut UserRecord,
        code: &str,
        context: &AuditContext,
    ) -> Result<bool, CoreError> {
        let code = code.trim();
        if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
            let secret = self.totp_secret(user).await?;
            let last = user.totp_last_step.and_then(|s| u64::try_from(s).ok());
            let now = u64::try_from(self.now()).unwrap_or(0);
            let Some(step) = strongroom_crypto::verify_totp(secret.expose(), code, now, last) else { return Ok(false) };
            let step = i64::try_from(step).unwrap_or(i64::MAX);
            let event = self.user_event(EventType::MfaSuccess, user, context).detail("method", "totp");
            // Compare-and-set on the step alone: of two logins racing with one
            // code only one advances it, and no other column is rewritten.
            if !self.store.advance_totp_step(&user.id, step, &[self.audit.seal(&event)?]).await? {
                return Ok(false);
            }
            user.totp_last_step = Some(step);
            user.row_version += 1;
            return Ok(true);
        }
        let normalized: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_lowercase();
        let hash = self.token_hash("recovery", &format!("{}/{normalized}", user.id)).await?;
        if self.store.use_recovery_code(&user.id, &hash, self.now()).await? {
            let left = self.store.recovery_codes_left(&user.id).await?;
            let event =
                self.user_event(EventType::MfaRecoveryCodeUsed, user, context).detail("codes_left", left as i64);
            self.audit.record(&event).await?;
            return Ok(true);
        }
        Ok(false)
    }

    pub(super) async fn totp_secret(&self, user: &UserRecord) -> Result<strongroom_crypto::SecretBytes, CoreError> {
        let sealed =
            user.totp_sealed_secret.as_ref().ok_or_else(|| CoreError::InvalidInput("no TOTP enrolled".into()))?;
        self.keyring.decrypt(KeyPurpose::UserSecret, USER_SECRETS_KEY, sealed, &totp_context(&user.id)).await
    }
}
