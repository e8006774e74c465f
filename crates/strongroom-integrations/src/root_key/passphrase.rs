//! The `passphrase` root-key provider: Argon2id over the passphrase and a
//! random salt kept in the database (shared by every instance, not secret).
//! The derived key wraps the keyring itself; the passphrase is dropped once
//! it is derived.

use std::sync::Arc;

use anyhow::{Context, bail};
use async_trait::async_trait;
use strongroom_config::PassphraseRootKey;
use strongroom_core::CoreError;
use strongroom_core::root_key::{Custody, ProviderState, RootKeyProvider};
use strongroom_core::settings::ROOT_KEY_PASSPHRASE_SALT;
use strongroom_crypto::{Kek, PassphraseKek, PassphraseParams, random_bytes};
use zeroize::Zeroizing;

use super::{in_process_unwrap, in_process_wrap};

/// The key derived from the configured passphrase and the database's salt.
#[derive(Debug)]
pub struct PassphraseRoot {
    source: String,
    kek: Arc<PassphraseKek>,
}

impl PassphraseRoot {
    /// Reads the passphrase, then the salt from `state` (made on a first
    /// start), and derives the key on a blocking thread (Argon2id takes a while).
    pub async fn open(config: &PassphraseRootKey, state: ProviderState<'_>) -> anyhow::Result<Self> {
        Self::open_with(config, state, PassphraseParams::default()).await
    }

    async fn open_with(
        config: &PassphraseRootKey,
        state: ProviderState<'_>,
        params: PassphraseParams,
    ) -> anyhow::Result<Self> {
        let (passphrase, source) = passphrase(config)?;
        let salt = state
            .value(ROOT_KEY_PASSPHRASE_SALT, "passphrase salt", || async {
                Ok::<_, CoreError>(random_bytes::<16>()?.to_vec())
            })
            .await?;
        let kek =
            tokio::task::spawn_blocking(move || PassphraseKek::derive(passphrase.as_bytes(), &salt, params)).await??;
        Ok(Self { source, kek: Arc::new(kek) })
    }
}

#[async_trait]
impl RootKeyProvider for PassphraseRoot {
    fn id(&self) -> &'static str {
        "passphrase"
    }

    fn description(&self) -> String {
        format!("a key derived with Argon2id from the passphrase in {}", self.source)
    }

    fn custody(&self) -> Custody {
        Custody::InProcess(Arc::clone(&self.kek) as Arc<dyn Kek>)
    }

    async fn wrap(&self, plaintext: &[u8], installation: Option<&str>) -> Result<Vec<u8>, CoreError> {
        in_process_wrap(self.kek.as_ref(), plaintext, installation)
    }

    async fn unwrap(&self, wrapped: &[u8], installation: Option<&str>) -> Result<Zeroizing<Vec<u8>>, CoreError> {
        in_process_unwrap(self.kek.as_ref(), wrapped, installation)
    }
}

/// The passphrase and where it came from (for `doctor`).
fn passphrase(root: &PassphraseRootKey) -> anyhow::Result<(Zeroizing<String>, String)> {
    if let Some(passphrase) = &root.passphrase {
        return Ok((Zeroizing::new(passphrase.expose().to_owned()), "root_key.passphrase".into()));
    }
    if let Some(file) = &root.passphrase_file {
        let text = Zeroizing::new(
            std::fs::read_to_string(file)
                .with_context(|| format!("cannot read root_key.passphrase_file {}", file.display()))?,
        );
        let first_line = text.lines().next().unwrap_or_default();
        return Ok((Zeroizing::new(first_line.to_owned()), format!("the file {}", file.display())));
    }
    bail!("root_key.provider = \"passphrase\" needs STRONGROOM_ROOT_KEY_PASSPHRASE or root_key.passphrase_file")
}

#[cfg(test)]
mod tests {
    use strongroom_config::SecretString;

    use super::*;
    use crate::root_key::tests::sqlite_store;

    const CHEAP: PassphraseParams = PassphraseParams { memory_kib: 64, iterations: 1, parallelism: 1 };

    fn config(passphrase: &str) -> PassphraseRootKey {
        PassphraseRootKey { passphrase: Some(SecretString::new(passphrase.into())), passphrase_file: None }
    }

    #[tokio::test]
    async fn the_salt_is_made_once_and_the_same_passphrase_derives_the_same_key() {
        let (_db, store) = sqlite_store().await;
        let first =
            PassphraseRoot::open_with(&config("a long enough passphrase"), ProviderState::new(&*store, true), CHEAP)
                .await
                .unwrap();
        let again =
            PassphraseRoot::open_with(&config("a long enough passphrase"), ProviderState::new(&*store, false), CHEAP)
                .await
                .unwrap();
        assert_eq!(first.kek.id(), again.kek.id());
        assert!(first.kek.id().as_str().starts_with("passphrase:"));
        let other = PassphraseRoot::open_with(
            &config("another passphrase, also long"),
            ProviderState::new(&*store, false),
            CHEAP,
        )
        .await
        .unwrap();
        assert_ne!(first.kek.id(), other.kek.id());
        assert!(!first.description().contains("long enough"), "{}", first.description());
    }

    #[tokio::test]
    async fn fail_without_a_salt_when_nothing_may_be_written() {
        let (_db, store) = sqlite_store().await;
        let error =
            PassphraseRoot::open_with(&config("a long enough passphrase"), ProviderState::new(&*store, false), CHEAP)
                .await
                .unwrap_err();
        assert!(error.to_string().contains("no passphrase salt"), "{error:#}");
    }
}
