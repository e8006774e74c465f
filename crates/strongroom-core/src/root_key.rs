//! Binding a database to its root key.
//!
//! On first start the server wraps a random check value with the root key and
//! stores it with the key's id. On every later start [`unseal`] unwraps the
//! check value: if that fails, the configured root key is not the one the data
//! was written under, and the server refuses to start instead of failing on
//! every request later. Both values are written in one transaction, so two
//! instances starting at once on an empty database converge on one key.

use strongroom_crypto::{Kek, random_bytes};

use crate::store::settings::{ROOT_KEY_CHECK, ROOT_KEY_ID};
use crate::{CoreError, Store, StoreError};

const CHECK_AAD: &[u8] = b"strongroom/root-key-check";

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
}
