//! The root-key providers: one module per provider, each implementing core's
//! [`RootKeyProvider`] port, and [`provider`], the one place that turns the
//! configured `[root_key]` into one of them.
//!
//! Adding a provider (`docs/keys.md`, "Adding a root-key provider"): a
//! module here, its arm in [`provider`], its variant in
//! `strongroom_config::RootKeyConfig`, docs and tests. Core's bootstrap
//! ([`strongroom_core::root_key::keyring_kek`]) does the rest the same way
//! for every provider.

mod aws_kms;
mod local;
mod passphrase;
mod pkcs11;
mod transit;

use std::path::Path;

pub use aws_kms::{AwsKmsRoot, EncryptionContext};
pub use local::LocalRoot;
pub use passphrase::PassphraseRoot;
pub use pkcs11::Pkcs11Root;
use strongroom_config::RootKeyConfig;
use strongroom_core::CoreError;
use strongroom_core::root_key::{ProviderState, RootKeyProvider};
use strongroom_crypto::Kek;
pub use transit::TransitRoot;
use zeroize::Zeroizing;

/// The configured provider. Reading a local key file or a passphrase salt
/// happens here, from `state` (made on a first start, see
/// [`ProviderState`]); an external provider is not called yet.
/// `data_dir` is where a local key file lives unless configured elsewhere.
pub async fn provider(
    config: &RootKeyConfig,
    data_dir: &Path,
    state: ProviderState<'_>,
) -> anyhow::Result<Box<dyn RootKeyProvider>> {
    Ok(match config {
        RootKeyConfig::Local(local) => Box::new(LocalRoot::open(&local.key_file(data_dir), state.may_create())?),
        RootKeyConfig::Passphrase(passphrase) => Box::new(PassphraseRoot::open(passphrase, state).await?),
        RootKeyConfig::Transit(transit) => Box::new(TransitRoot::from_config(transit)?),
        RootKeyConfig::AwsKms(kms) => Box::new(AwsKmsRoot::from_config(kms)?),
        RootKeyConfig::Pkcs11(hsm) => Box::new(Pkcs11Root::from_config(hsm)?),
    })
}

/// An adapter's error, as the port reports it: the whole chain of causes
/// (which never holds a secret: adapters put none in their errors).
pub(crate) fn provider_error(error: anyhow::Error) -> CoreError {
    CoreError::RootKeyProvider(format!("{error:#}"))
}

/// Separates a wrap by a key in this process from the keyring's wraps by
/// the same key, before the installation id that binds it.
const IN_PROCESS_AAD: &[u8] = b"strongroom/root-key-provider\0";

fn in_process_aad(installation: Option<&str>) -> Vec<u8> {
    [IN_PROCESS_AAD, installation.unwrap_or_default().as_bytes()].concat()
}

/// The port's `wrap` for a key in this process (local, passphrase).
pub(crate) fn in_process_wrap(
    kek: &dyn Kek,
    plaintext: &[u8],
    installation: Option<&str>,
) -> Result<Vec<u8>, CoreError> {
    Ok(kek.wrap(plaintext, &in_process_aad(installation))?)
}

/// The port's `unwrap` for a key in this process.
pub(crate) fn in_process_unwrap(
    kek: &dyn Kek,
    wrapped: &[u8],
    installation: Option<&str>,
) -> Result<Zeroizing<Vec<u8>>, CoreError> {
    Ok(Zeroizing::new(kek.unwrap(wrapped, &in_process_aad(installation))?.expose().to_vec()))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use strongroom_config::{LocalRootKey, TransitRootKey};
    use strongroom_core::Store;
    use strongroom_store::{ConnectOptions, Database};

    use super::*;

    /// A real SQLite database in a temporary folder, for what the providers
    /// keep in the database (the passphrase salt, wrapped keyring keys).
    pub(crate) async fn sqlite_store() -> (tempfile::TempDir, Arc<dyn Store>) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("settings.db").display());
        let database = Database::connect(&url, &ConnectOptions::default()).await.unwrap();
        database.migrate().await.unwrap();
        (dir, database.store())
    }

    #[tokio::test]
    async fn the_configured_provider_is_built_and_describes_itself_without_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let (_db, store) = sqlite_store().await;
        let local = RootKeyConfig::Local(LocalRootKey::default());
        let built = provider(&local, dir.path(), ProviderState::new(&*store, true)).await.unwrap();
        assert_eq!(built.id(), "local");
        assert!(built.description().contains(&dir.path().join("root.key").display().to_string()));

        let transit = RootKeyConfig::Transit(TransitRootKey {
            transit_address: Some("https://vault:8200".into()),
            transit_token: Some(strongroom_config::SecretString::new("s.secret-token".into())),
            transit_key: Some("strongroom-root".into()),
            ..TransitRootKey::default()
        });
        let built = provider(&transit, dir.path(), ProviderState::new(&*store, false)).await.unwrap();
        assert_eq!(built.id(), "transit");
        let described = format!("{} {built:?}", built.description());
        assert!(described.contains("strongroom-root") && !described.contains("s.secret-token"), "{described}");
    }

    #[tokio::test]
    async fn fail_a_missing_local_key_file_when_nothing_may_be_written() {
        let dir = tempfile::tempdir().unwrap();
        let (_db, store) = sqlite_store().await;
        let local = RootKeyConfig::Local(LocalRootKey::default());
        assert!(provider(&local, dir.path(), ProviderState::new(&*store, false)).await.is_err());
        assert!(!dir.path().join("root.key").exists());
    }
}
