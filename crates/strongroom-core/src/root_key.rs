//! The root key: the port every provider implements, and binding a database
//! to its root key.
//!
//! A [`RootKeyProvider`] is where the root key lives (a key file, a
//! passphrase, Vault transit, a KMS, an HSM); the adapters are in
//! `strongroom-integrations`, and core drives each the same way
//! ([`keyring_kek`]). A provider whose key is in this process hands the
//! keyring its own [`Kek`]. Any other is reached at start only: it wraps a
//! random keyring key that the database keeps, and the keyring works with
//! that key in memory, so an outage of the provider never slows requests.
//!
//! On first start the server wraps a random check value with the keyring's
//! root [`Kek`] and stores it with the key's id. On every later start
//! [`unseal`] unwraps the check value: if that fails, the configured root key
//! is not the one the data was written under, and the server refuses to start
//! instead of failing on every request later. Both values are written in one
//! transaction, so two instances starting at once on an empty database
//! converge on one key.
//!
//! Invariant: what is stored and how ids are derived never change with a
//! refactoring: a provider's [`id`](RootKeyProvider::id) names its Kek
//! (`transit:<fingerprint>`), and the settings names below are read by every
//! release since they were written.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use strongroom_crypto::{Kek, LocalKek, SecretKey, random_bytes};
use zeroize::Zeroizing;

use crate::store::settings::{
    INSTALLATION_ID, ROOT_KEY_CHECK, ROOT_KEY_ID, ROOT_KEY_WRAPPED_KEYRING_KEY,
    ROOT_KEY_WRAPPED_KEYRING_KEY_WITH_CONTEXT,
};
use crate::{CoreError, Store, StoreError};

const CHECK_AAD: &[u8] = b"strongroom/root-key-check";

/// Where a root key lives. One implementation per provider; adding one
/// touches `strongroom-integrations`, the configuration and the docs, never
/// core (`docs/keys.md`, "Adding a root-key provider").
///
/// Errors are [`CoreError::RootKeyProvider`], whose text names the provider
/// and the cause (unreachable, refused, another key) and never a secret.
#[async_trait]
pub trait RootKeyProvider: Send + Sync + fmt::Debug {
    /// The provider's stable name (`local`, `transit`, `aws-kms`, …). It
    /// prefixes the root-key id recorded in every database the provider
    /// opens, so it must never change.
    fn id(&self) -> &'static str;

    /// Which key, where, in one line for `strongroom doctor` and the start
    /// log (`transit key "strongroom-root" at https://vault:8200`); never a secret.
    fn description(&self) -> String;

    /// How the key reaches the keyring, which decides what the database keeps.
    fn custody(&self) -> Custody;

    /// Wraps `plaintext` (a keyring key) so that only this root key can
    /// recover it. With `installation`, the wrap is bound to that
    /// installation id (a KMS encryption context, associated data): it
    /// opens only with the same id. Core passes one only to providers whose
    /// custody says they bind.
    async fn wrap(&self, plaintext: &[u8], installation: Option<&str>) -> Result<Vec<u8>, CoreError>;

    /// Recovers what [`wrap`](Self::wrap) produced with the same
    /// `installation`. Fails for another key, another installation or any
    /// alteration, saying so ("initialised with another … key").
    async fn unwrap(&self, wrapped: &[u8], installation: Option<&str>) -> Result<Zeroizing<Vec<u8>>, CoreError>;
}

/// How a provider's key protects the keyring.
#[derive(Debug, Clone)]
pub enum Custody {
    /// The key is in this process (a key file, a passphrase) and wraps the
    /// keyring itself: nothing wrapped by it is stored.
    InProcess(Arc<dyn Kek>),
    /// The key is elsewhere (Vault, a KMS, an HSM) and is called at start
    /// only, to unwrap a random keyring key kept in the database
    /// ([`ROOT_KEY_WRAPPED_KEYRING_KEY`]).
    External {
        /// The provider binds wraps to the installation id: the keyring key
        /// is kept wrapped that way ([`ROOT_KEY_WRAPPED_KEYRING_KEY_WITH_CONTEXT`]),
        /// so a copy moved into another installation's database does not
        /// open there. One wrapped before the provider bound is wrapped
        /// again, bound, on the next start that may write.
        binds_installation: bool,
    },
}

/// What a provider may keep in the database: values made on the first start
/// and only read after it. Without `create` (`doctor`, operator commands)
/// nothing is written, and a missing value means the database was set up
/// with another provider.
#[derive(Debug, Clone, Copy)]
pub struct ProviderState<'a> {
    source: StateSource<'a>,
    create: bool,
}

/// Where a provider's values are read: a database, or the settings table
/// of a backup archive (read only; `backup verify` needs no database).
#[derive(Debug, Clone, Copy)]
enum StateSource<'a> {
    Store(&'a dyn Store),
    Settings(&'a BTreeMap<String, Vec<u8>>),
}

impl<'a> ProviderState<'a> {
    /// State in `store`; `create` on the server's first start (and `init`).
    pub fn new(store: &'a dyn Store, create: bool) -> Self {
        Self { source: StateSource::Store(store), create }
    }

    /// Read-only state from settings kept elsewhere (a backup archive's
    /// `settings` table; an empty map where none is known yet).
    pub fn from_settings(settings: &'a BTreeMap<String, Vec<u8>>) -> Self {
        Self { source: StateSource::Settings(settings), create: false }
    }

    async fn setting(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.source {
            StateSource::Store(store) => store.setting(name).await,
            StateSource::Settings(settings) => Ok(settings.get(name).cloned()),
        }
    }

    /// Whether missing values (and files) may be made now.
    pub fn may_create(&self) -> bool {
        self.create
    }

    /// The setting `name`; on a first start a missing one is made by
    /// `fresh` and stored. If another instance stored one first, that one
    /// is returned, so all instances share it. `what` names the value in the
    /// error when it is missing and may not be made.
    pub async fn value<F, Fut>(&self, name: &str, what: &str, fresh: F) -> Result<Vec<u8>, CoreError>
    where
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = Result<Vec<u8>, CoreError>> + Send,
    {
        match self.setting(name).await? {
            Some(value) => Ok(value),
            None if self.create => match self.source {
                StateSource::Store(store) => Ok(store.setting_or_insert(name, &fresh().await?).await?),
                StateSource::Settings(_) => Err(CoreError::RootKeyProvider(format!("no {what} to read"))),
            },
            None => Err(CoreError::RootKeyProvider(format!(
                "the database has no {what}: it was initialised with another root-key provider"
            ))),
        }
    }
}

/// The [`Kek`] that wraps the keyring, from `provider`: its own for a key in
/// this process, else the keyring key it unwraps (made, wrapped and stored
/// on a first start). Follow with [`unseal`].
pub async fn keyring_kek(provider: &dyn RootKeyProvider, state: ProviderState<'_>) -> Result<Arc<dyn Kek>, CoreError> {
    let keyring_key = match provider.custody() {
        Custody::InProcess(kek) => return Ok(kek),
        Custody::External { binds_installation: false } => {
            let what = format!("keyring key wrapped by {}", provider.id());
            let wrapped = state
                .value(ROOT_KEY_WRAPPED_KEYRING_KEY, &what, || async {
                    let keyring_key = Zeroizing::new(random_bytes::<32>()?);
                    provider.wrap(keyring_key.as_ref(), None).await
                })
                .await?;
            provider.unwrap(&wrapped, None).await?
        }
        Custody::External { binds_installation: true } => bound_keyring_key(provider, state).await?,
    };
    Ok(Arc::new(LocalKek::named(provider.id(), SecretKey::from_slice(&keyring_key)?)))
}

/// The keyring key wrapped under the installation id (`docs/keys.md`). A key
/// wrapped before the provider bound is unwrapped unbound and, on a start
/// that may write, wrapped again bound and stored beside the old one, which
/// is read no more once the new one exists.
async fn bound_keyring_key(
    provider: &dyn RootKeyProvider,
    state: ProviderState<'_>,
) -> Result<Zeroizing<Vec<u8>>, CoreError> {
    let installation = match state.source {
        StateSource::Store(store) if state.create => {
            let fresh = strongroom_crypto::to_hex(&random_bytes::<8>()?);
            Some(store.setting_or_insert(INSTALLATION_ID, fresh.as_bytes()).await?)
        }
        _ => state.setting(INSTALLATION_ID).await?,
    };
    let installation = installation
        .map(|id| {
            String::from_utf8(id)
                .map_err(|_| CoreError::RootKeyProvider("the stored installation id is not text".into()))
        })
        .transpose()?;
    if let Some(wrapped) = state.setting(ROOT_KEY_WRAPPED_KEYRING_KEY_WITH_CONTEXT).await? {
        let installation = installation.ok_or_else(|| {
            CoreError::RootKeyProvider(
                "the database has a keyring key bound to its installation but no installation id".into(),
            )
        })?;
        return provider.unwrap(&wrapped, Some(&installation)).await;
    }
    let unbound = state.setting(ROOT_KEY_WRAPPED_KEYRING_KEY).await?;
    let (keyring_key, installation) = match (unbound, installation) {
        (Some(unbound), installation) => {
            let keyring_key = provider.unwrap(&unbound, None).await?;
            let Some(installation) = installation.filter(|_| state.create) else { return Ok(keyring_key) };
            tracing::info!(
                provider = provider.id(),
                "wrapping the keyring key again under this installation's encryption context"
            );
            (keyring_key, installation)
        }
        (None, Some(installation)) if state.create => {
            let fresh = Zeroizing::new(random_bytes::<32>()?);
            (Zeroizing::new(fresh.to_vec()), installation)
        }
        (None, _) => {
            return Err(CoreError::RootKeyProvider(format!(
                "the database has no keyring key wrapped by {}: it was initialised with another root-key provider",
                provider.id()
            )));
        }
    };
    let StateSource::Store(store) = state.source else { return Ok(keyring_key) };
    let wrapped = provider.wrap(&keyring_key, Some(&installation)).await?;
    // Another instance may have stored its own first: that one wins.
    let stored = store.setting_or_insert(ROOT_KEY_WRAPPED_KEYRING_KEY_WITH_CONTEXT, &wrapped).await?;
    if stored == wrapped { Ok(keyring_key) } else { provider.unwrap(&stored, Some(&installation)).await }
}

/// What [`unseal`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootKeyStatus {
    /// The database was empty; the root key is now recorded.
    Initialised,
    /// The root key matches the one recorded.
    Verified,
}

/// Checks that `kek` is the root key of `store`, recording it on first use.
pub async fn unseal(store: &dyn Store, kek: &dyn Kek) -> Result<RootKeyStatus, CoreError> {
    let recorded = load(store).await?;
    let status = match recorded {
        Some(_) => RootKeyStatus::Verified,
        None => {
            let check = kek.wrap(&random_bytes::<32>()?, CHECK_AAD)?;
            let id = kek.id().as_str().as_bytes();
            if store.insert_settings_if_absent(&[(ROOT_KEY_ID, id), (ROOT_KEY_CHECK, &check)]).await? {
                return Ok(RootKeyStatus::Initialised);
            }
            // Another instance initialised the database between our read and
            // our write: verify against what it recorded.
            RootKeyStatus::Verified
        }
    };
    let (recorded_id, check) = load(store)
        .await?
        .ok_or_else(|| StoreError::Backend("root-key settings vanished after initialisation".into()))?;
    match kek.unwrap(&check, CHECK_AAD) {
        Ok(_) => Ok(status),
        Err(_) => Err(CoreError::RootKeyMismatch { configured: kek.id().to_string(), recorded: recorded_id }),
    }
}

/// Whether `kek` opens the root-key check value `check` (a setting of the
/// database it was written in, or of a backup of it).
pub fn opens_check_value(kek: &dyn Kek, check: &[u8]) -> bool {
    kek.unwrap(check, CHECK_AAD).is_ok()
}

async fn load(store: &dyn Store) -> Result<Option<(String, Vec<u8>)>, StoreError> {
    let check = store.setting(ROOT_KEY_CHECK).await?;
    let id = store.setting(ROOT_KEY_ID).await?;
    Ok(match (id, check) {
        (Some(id), Some(check)) => Some((String::from_utf8_lossy(&id).into_owned(), check)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use async_trait::async_trait;
    use strongroom_crypto::{LocalKek, SecretKey};

    use super::*;
    use crate::Backend;

    /// An in-memory store, only for the domain's unit tests; the real
    /// backends run the conformance suite in strongroom-store.
    #[derive(Debug, Default)]
    struct MemoryStore(Mutex<BTreeMap<String, Vec<u8>>>);

    #[async_trait]
    impl Store for MemoryStore {
        fn backend(&self) -> Backend {
            Backend::Sqlite
        }
        async fn ping(&self) -> Result<(), StoreError> {
            Ok(())
        }
        async fn schema_version(&self) -> Result<i64, StoreError> {
            Ok(1)
        }
        async fn change_generation(&self) -> Result<u64, StoreError> {
            Ok(0)
        }
        async fn setting(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
            Ok(self.0.lock().unwrap().get(name).cloned())
        }
        async fn setting_or_insert(&self, name: &str, value: &[u8]) -> Result<Vec<u8>, StoreError> {
            Ok(self.0.lock().unwrap().entry(name.into()).or_insert_with(|| value.to_vec()).clone())
        }
        async fn insert_settings_if_absent(&self, entries: &[(&str, &[u8])]) -> Result<bool, StoreError> {
            let mut map = self.0.lock().unwrap();
            if entries.iter().any(|(name, _)| map.contains_key(*name)) {
                return Ok(false);
            }
            for (name, value) in entries {
                map.insert((*name).into(), value.to_vec());
            }
            Ok(true)
        }
    }

    #[tokio::test]
    async fn first_unseal_records_the_key_and_later_ones_verify_it() {
        let store = MemoryStore::default();
        let kek = LocalKek::new(SecretKey::from_bytes([3; 32]));
        assert_eq!(unseal(&store, &kek).await.unwrap(), RootKeyStatus::Initialised);
        assert_eq!(unseal(&store, &kek).await.unwrap(), RootKeyStatus::Verified);
    }

    #[tokio::test]
    async fn unseal_fails_with_another_root_key_naming_both_ids() {
        let store = MemoryStore::default();
        let original = LocalKek::new(SecretKey::from_bytes([3; 32]));
        let other = LocalKek::new(SecretKey::from_bytes([4; 32]));
        unseal(&store, &original).await.unwrap();
        let error = unseal(&store, &other).await.unwrap_err();
        let message = error.to_string();
        assert!(message.contains(original.id().as_str()), "{message}");
        assert!(message.contains(other.id().as_str()), "{message}");
    }

    /// A provider "elsewhere", played by a key in memory: `installation`
    /// goes into the associated data, so a bound wrap opens only with it.
    #[derive(Debug)]
    struct Remote {
        key: LocalKek,
        binds: bool,
        calls: Mutex<Vec<&'static str>>,
    }

    impl Remote {
        fn new(seed: u8, binds: bool) -> Self {
            Self { key: LocalKek::new(SecretKey::from_bytes([seed; 32])), binds, calls: Mutex::default() }
        }
    }

    #[async_trait]
    impl RootKeyProvider for Remote {
        fn id(&self) -> &'static str {
            "remote"
        }
        fn description(&self) -> String {
            "a key in a test".into()
        }
        fn custody(&self) -> Custody {
            Custody::External { binds_installation: self.binds }
        }
        async fn wrap(&self, plaintext: &[u8], installation: Option<&str>) -> Result<Vec<u8>, CoreError> {
            self.calls.lock().unwrap().push("wrap");
            Ok(self.key.wrap(plaintext, installation.unwrap_or_default().as_bytes())?)
        }
        async fn unwrap(&self, wrapped: &[u8], installation: Option<&str>) -> Result<Zeroizing<Vec<u8>>, CoreError> {
            self.calls.lock().unwrap().push("unwrap");
            let plain = self
                .key
                .unwrap(wrapped, installation.unwrap_or_default().as_bytes())
                .map_err(|_| CoreError::RootKeyProvider("remote: initialised with another key".into()))?;
            Ok(Zeroizing::new(plain.expose().to_vec()))
        }
    }

    #[tokio::test]
    async fn an_external_provider_wraps_one_keyring_key_on_first_start_and_unwraps_it_after() {
        let store = MemoryStore::default();
        let remote = Remote::new(5, false);
        let first = keyring_kek(&remote, ProviderState::new(&store, true)).await.unwrap();
        assert!(first.id().as_str().starts_with("remote:"), "{}", first.id());
        assert!(store.setting(ROOT_KEY_WRAPPED_KEYRING_KEY).await.unwrap().is_some());
        let again = keyring_kek(&remote, ProviderState::new(&store, false)).await.unwrap();
        assert_eq!(first.id(), again.id());
        assert_eq!(*remote.calls.lock().unwrap(), ["wrap", "unwrap", "unwrap"]);
        let other = keyring_kek(&Remote::new(6, false), ProviderState::new(&store, false)).await.unwrap_err();
        assert!(other.to_string().contains("another key"), "{other}");
    }

    #[tokio::test]
    async fn fail_without_a_stored_keyring_key_when_nothing_may_be_written() {
        let store = MemoryStore::default();
        for binds in [false, true] {
            let error = keyring_kek(&Remote::new(5, binds), ProviderState::new(&store, false)).await.unwrap_err();
            assert!(error.to_string().contains("no keyring key wrapped by remote"), "{error}");
        }
        assert!(store.0.lock().unwrap().is_empty(), "nothing written");
    }

    #[tokio::test]
    async fn a_binding_provider_binds_an_unbound_keyring_key_on_the_next_start_that_may_write() {
        let store = MemoryStore::default();
        let unbound = keyring_kek(&Remote::new(5, false), ProviderState::new(&store, true)).await.unwrap();
        let binding = Remote::new(5, true);
        let read_only = keyring_kek(&binding, ProviderState::new(&store, false)).await.unwrap();
        assert_eq!(read_only.id(), unbound.id());
        assert!(store.setting(ROOT_KEY_WRAPPED_KEYRING_KEY_WITH_CONTEXT).await.unwrap().is_none());

        let bound = keyring_kek(&binding, ProviderState::new(&store, true)).await.unwrap();
        assert_eq!(bound.id(), unbound.id(), "the same keyring key, wrapped again");
        let installation = store.setting(INSTALLATION_ID).await.unwrap().unwrap();
        let wrapped = store.setting(ROOT_KEY_WRAPPED_KEYRING_KEY_WITH_CONTEXT).await.unwrap().unwrap();
        assert!(binding.unwrap(&wrapped, None).await.is_err(), "bound: does not open without the installation");
        let installation = String::from_utf8(installation).unwrap();
        assert!(binding.unwrap(&wrapped, Some(&installation)).await.is_ok());
        // The unbound copy is read no more.
        store.0.lock().unwrap().remove(ROOT_KEY_WRAPPED_KEYRING_KEY);
        let after = keyring_kek(&binding, ProviderState::new(&store, false)).await.unwrap();
        assert_eq!(after.id(), unbound.id());
    }

    #[tokio::test]
    async fn a_key_in_this_process_is_the_keyring_kek_and_nothing_is_stored() {
        #[derive(Debug)]
        struct InProcess(Arc<dyn Kek>);
        #[async_trait]
        impl RootKeyProvider for InProcess {
            fn id(&self) -> &'static str {
                "local"
            }
            fn description(&self) -> String {
                "a key in memory".into()
            }
            fn custody(&self) -> Custody {
                Custody::InProcess(Arc::clone(&self.0))
            }
            async fn wrap(&self, _: &[u8], _: Option<&str>) -> Result<Vec<u8>, CoreError> {
                unreachable!("core never wraps a keyring key with a key in this process")
            }
            async fn unwrap(&self, _: &[u8], _: Option<&str>) -> Result<Zeroizing<Vec<u8>>, CoreError> {
                unreachable!("core never wraps a keyring key with a key in this process")
            }
        }
        let store = MemoryStore::default();
        let kek: Arc<dyn Kek> = Arc::new(LocalKek::new(SecretKey::from_bytes([3; 32])));
        let opened = keyring_kek(&InProcess(Arc::clone(&kek)), ProviderState::new(&store, true)).await.unwrap();
        assert_eq!(opened.id(), kek.id());
        assert!(store.0.lock().unwrap().is_empty());
    }
}
