//! Password hashing on a bounded pool, and the keyed hashes of one-time tokens.

use std::sync::Arc;

use strongroom_crypto::PasswordCheck;
use zeroize::Zeroizing;

use crate::CoreError;

use super::service::*;

impl Identity {
    /// Runs `work` on the blocking pool, at most `hashing_concurrency` at once.
    pub(super) async fn hashing<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, CoreError> {
        let _permit = Arc::clone(&self.hashing)
            .acquire_owned()
            .await
            .map_err(|_| CoreError::InvalidInput("the server is shutting down".into()))?;
        tokio::task::spawn_blocking(work).await.map_err(|e| CoreError::Store(crate::StoreError::Backend(Box::new(e))))
    }

    pub(super) async fn hash_password(&self, password: &str) -> Result<String, CoreError> {
        let password = Zeroizing::new(password.to_owned());
        let params = self.settings.password_params;
        Ok(self.hashing(move || strongroom_crypto::hash_password(password.as_bytes(), &params)).await??)
    }

    pub(super) async fn check_password(
        &self,
        password: &str,
        stored: Option<String>,
    ) -> Result<PasswordCheck, CoreError> {
        let password = Zeroizing::new(password.to_owned());
        let params = self.settings.password_params;
        self.hashing(move || match stored {
            Some(stored) => strongroom_crypto::verify_password(password.as_bytes(), &stored, &params)
                .unwrap_or(PasswordCheck::Invalid),
            None => {
                strongroom_crypto::spend_password_check(password.as_bytes(), &params);
                PasswordCheck::Invalid
            }
        })
        .await
    }

    pub(super) async fn token_hash(&self, kind: &str, token: &str) -> Result<Vec<u8>, CoreError> {
        Ok(self.keyring.mac(TOKEN_HMAC_KEY, format!("strongroom/{kind}/{token}").as_bytes()).await?.1.to_vec())
    }
}
