//! A browser's hold on a session (the console's cookie) and the CSRF
//! token of its forms.
//!
//! Why not a token of its own: the cookie names the session and its user
//! with their HMAC under `system.token-hmac`, so the server keeps no more
//! state than the session itself, and everything that ends a session
//! (logout, revocation, the idle and absolute ends, a locked or disabled
//! user) ends the browser's hold at once, on every instance. Refresh tokens
//! would not do (they are single use: two tabs refreshing at once would
//! look like theft), nor access tokens (they expire within minutes, and
//! the console checks the session at every request anyway).

use serde_json::{Map, Value};

use super::service::*;
use crate::CoreError;
use crate::audit::AuditContext;

/// The MAC domains of the cookie and of the form token.
const COOKIE: &str = "browser_session";
const FORM: &str = "browser_form";

impl Identity {
    /// The cookie value that holds `session_id` of `user_id`:
    /// `<session>.<user>.<hex HMAC>`. A rotation of `system.token-hmac`
    /// signs browsers out (they sign in again).
    pub async fn browser_cookie(&self, session_id: &str, user_id: &str) -> Result<String, CoreError> {
        let mac = self.token_hash(COOKIE, &format!("{session_id}|{user_id}")).await?;
        Ok(format!("{session_id}.{user_id}.{}", strongroom_crypto::to_hex(&mac)))
    }

    /// The signed-in user of a cookie from [`Identity::browser_cookie`]:
    /// its MAC (compared in constant time), then its session and user as
    /// stored now, as for an access token. Anything else is unauthenticated.
    pub async fn authenticate_browser(&self, cookie: &str, context: &AuditContext) -> Result<UserPrincipal, CoreError> {
        let mut parts = cookie.split('.');
        let (Some(session_id), Some(user_id), Some(mac), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(CoreError::Unauthenticated);
        };
        let expected = self.token_hash(COOKIE, &format!("{session_id}|{user_id}")).await?;
        let given = strongroom_crypto::from_hex(mac).ok_or(CoreError::Unauthenticated)?;
        if !strongroom_crypto::ct_eq(&expected, &given) {
            return Err(CoreError::Unauthenticated);
        }
        let mut claims = Map::new();
        claims.insert("sid".into(), Value::String(session_id.to_owned()));
        claims.insert("sub".into(), Value::String(user_id.to_owned()));
        self.authenticate_claims(&claims, context).await
    }

    /// The token every form of `session_id`'s pages carries: a cross-site
    /// request cannot know it, and it dies with the session.
    pub async fn form_token(&self, session_id: &str) -> Result<String, CoreError> {
        Ok(strongroom_crypto::to_hex(&self.token_hash(FORM, session_id).await?))
    }

    /// Whether `token` is `session_id`'s form token (constant time).
    pub async fn check_form_token(&self, session_id: &str, token: &str) -> Result<bool, CoreError> {
        let expected = self.token_hash(FORM, session_id).await?;
        Ok(strongroom_crypto::from_hex(token).is_some_and(|given| strongroom_crypto::ct_eq(&expected, &given)))
    }
}
