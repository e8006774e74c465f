//! Loading the root key from the configured provider.
//!
//! `local`: 32 random bytes, hex-encoded in a file created with mode 0600 on
//! first start (never overwritten: `create_new` makes a racing second process
//! read the first one's key instead). A key file that group or others can
//! read is refused: the key would already be exposed.
//!
//! `passphrase`: Argon2id over the passphrase and a random salt kept in the
//! database (shared by every instance, not secret).
//!
//! `transit`: a Vault/OpenBao transit key wraps a random keyring key kept in
//! the database (see `transit_root.rs`).
//!
//! `aws-kms`: the same with an AWS KMS key, bound to the installation by a
//! KMS encryption context (see `aws_kms_root.rs`).

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use strongroom_config::{Config, RootKeyProvider};
use strongroom_core::{Store, settings};
use strongroom_crypto::{Kek, LocalKek, PassphraseKek, PassphraseParams, SecretKey, random_bytes};
use zeroize::Zeroizing;

use crate::aws_kms_root::{AwsKmsRoot, EncryptionContext};
use crate::pkcs11_root::Pkcs11Root;
use crate::transit_root::TransitRoot;

/// Loads the configured root key. With `create` (the server's first start), a
/// missing local key file or passphrase salt is made; without it (`doctor`)
/// nothing is written and a missing one is an error.
pub async fn load(config: &Config, store: &dyn Store, create: bool) -> anyhow::Result<Arc<dyn Kek>> {
    match config.root_key.provider {
        RootKeyProvider::Local => Ok(Arc::new(local(&config.root_key_file(), create)?)),
        RootKeyProvider::Passphrase => {
            let passphrase = passphrase(config)?;
            let salt = if create {
                store.setting_or_insert(settings::ROOT_KEY_PASSPHRASE_SALT, &random_bytes::<16>()?).await?
            } else {
                store
                    .setting(settings::ROOT_KEY_PASSPHRASE_SALT)
                    .await?
                    .context("the database has no passphrase salt: it was initialised with another root-key provider")?
            };
            let kek = tokio::task::spawn_blocking(move || {
                PassphraseKek::derive(passphrase.as_bytes(), &salt, PassphraseParams::default())
            })
            .await??;
            Ok(Arc::new(kek))
        }
        RootKeyProvider::Transit => {
            let transit = TransitRoot::from_config(config)?;
            let wrapped = wrapped_keyring_key(store, create, "transit", || async {
                let keyring_key = Zeroizing::new(random_bytes::<32>()?);
                Ok(transit.wrap(keyring_key.as_ref()).await?.into_bytes())
            })
            .await?;
            let wrapped = String::from_utf8(wrapped).context("stored transit ciphertext is not text")?;
            let keyring_key = transit.unwrap(&wrapped).await?;
            Ok(Arc::new(LocalKek::named("transit", SecretKey::from_slice(&keyring_key)?)))
        }
        RootKeyProvider::AwsKms => {
            let kms = AwsKmsRoot::from_config(config)?;
            let keyring_key = aws_kms_keyring_key(&kms, store, create).await?;
            Ok(Arc::new(LocalKek::named("aws-kms", SecretKey::from_slice(&keyring_key)?)))
        }
        RootKeyProvider::Pkcs11 => {
            let hsm = Pkcs11Root::from_config(config)?;
            let wrapper = hsm.clone();
            let wrapped = wrapped_keyring_key(store, create, "pkcs11", || async move {
                let keyring_key = Zeroizing::new(random_bytes::<32>()?);
                tokio::task::spawn_blocking(move || wrapper.wrap(keyring_key.as_ref())).await?
            })
            .await?;
            let keyring_key = tokio::task::spawn_blocking(move || hsm.unwrap(&wrapped)).await??;
            Ok(Arc::new(LocalKek::named("pkcs11", SecretKey::from_slice(&keyring_key)?)))
        }
    }
}

/// The keyring key wrapped by an external provider, from the database; on the
/// first start (`create`) a fresh one is wrapped by `wrap_new` and stored. If
/// another instance stored one first, that one is returned, so all share it.
async fn wrapped_keyring_key<F, Fut>(
    store: &dyn Store,
    create: bool,
    provider: &str,
    wrap_new: F,
) -> anyhow::Result<Vec<u8>>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Vec<u8>>>,
{
    match store.setting(settings::ROOT_KEY_WRAPPED_KEYRING_KEY).await? {
        Some(wrapped) => Ok(wrapped),
        None if create => {
            Ok(store.setting_or_insert(settings::ROOT_KEY_WRAPPED_KEYRING_KEY, &wrap_new().await?).await?)
        }
        None => bail!(
            "the database has no keyring key wrapped by {provider}: it was initialised with another root-key provider"
        ),
    }
}

/// The keyring key wrapped by AWS KMS under the installation's encryption
/// context (`docs/keys.md`). A key wrapped before contexts were sent is
/// unwrapped without one and, when `create`, wrapped again with it and
/// stored beside the old one, which is read no more once the new one exists.
async fn aws_kms_keyring_key(kms: &AwsKmsRoot, store: &dyn Store, create: bool) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let installation = if create {
        let fresh: String = random_bytes::<8>()?.iter().map(|b| format!("{b:02x}")).collect();
        Some(store.setting_or_insert(settings::INSTALLATION_ID, fresh.as_bytes()).await?)
    } else {
        store.setting(settings::INSTALLATION_ID).await?
    };
    let context = installation
        .map(|id| String::from_utf8(id).context("the stored installation id is not text"))
        .transpose()?
        .map(|id| EncryptionContext::root_key(&id));
    if let Some(wrapped) = store.setting(settings::ROOT_KEY_WRAPPED_KEYRING_KEY_WITH_CONTEXT).await? {
        let context = context.context("the database has a context-bound KMS key but no installation id")?;
        return kms.unwrap(&wrapped, Some(&context)).await;
    }
    let legacy = store.setting(settings::ROOT_KEY_WRAPPED_KEYRING_KEY).await?;
    let (keyring_key, context) = match (legacy, context) {
        (Some(legacy), context) => {
            let keyring_key = kms.unwrap(&legacy, None).await?;
            let Some(context) = context.filter(|_| create) else { return Ok(keyring_key) };
            tracing::info!("wrapping the keyring key again under this installation's KMS encryption context");
            (keyring_key, context)
        }
        (None, Some(context)) if create => {
            let fresh = Zeroizing::new(random_bytes::<32>()?);
            (Zeroizing::new(fresh.to_vec()), context)
        }
        (None, _) => bail!(
            "the database has no keyring key wrapped by aws-kms: it was initialised with another root-key provider"
        ),
    };
    let wrapped = kms.wrap(&keyring_key, &context).await?;
    // Another instance may have stored its own first: that one wins, as in `wrapped_keyring_key`.
    let stored = store.setting_or_insert(settings::ROOT_KEY_WRAPPED_KEYRING_KEY_WITH_CONTEXT, &wrapped).await?;
    if stored == wrapped { Ok(keyring_key) } else { kms.unwrap(&stored, Some(&context)).await }
}

/// Reads the local key file, creating it if `create` and it is missing.
pub fn local(path: &Path, create: bool) -> anyhow::Result<LocalKek> {
    match std::fs::metadata(path) {
        Ok(meta) => {
            if meta.permissions().mode() & 0o077 != 0 {
                bail!(
                    "root key file {} is readable by group or others (mode {:04o}); chmod 600 it, and treat the key as exposed",
                    path.display(),
                    meta.permissions().mode() & 0o7777
                );
            }
        }
        Err(error) if error.kind() == ErrorKind::NotFound && create => generate(path)?,
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read root key file {}", path.display()));
        }
    }
    let text = Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("cannot read root key file {}", path.display()))?,
    );
    let bytes = Zeroizing::new(
        decode_hex(text.trim())
            .with_context(|| format!("root key file {} must hold 64 hex digits (a 256-bit key)", path.display()))?,
    );
    Ok(LocalKek::new(SecretKey::from_slice(&bytes)?))
}

fn generate(path: &Path) -> anyhow::Result<()> {
    let key = Zeroizing::new(random_bytes::<32>()?);
    let mut text = Zeroizing::new(String::with_capacity(65));
    for byte in key.iter() {
        text.push_str(&format!("{byte:02x}"));
    }
    text.push('\n');
    match OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(mut file) => {
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            tracing::info!(path = %path.display(), "generated a local root key (development only)");
            Ok(())
        }
        // Another process created it between our check and our create: use theirs.
        Err(error) if error.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error).with_context(|| format!("cannot create root key file {}", path.display())),
    }
}

fn decode_hex(text: &str) -> anyhow::Result<Vec<u8>> {
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("not 64 hex digits");
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).context("not hex")).collect()
}

fn passphrase(config: &Config) -> anyhow::Result<Zeroizing<String>> {
    let root = &config.root_key;
    if let Some(passphrase) = &root.passphrase {
        return Ok(Zeroizing::new(passphrase.expose().to_owned()));
    }
    if let Some(file) = &root.passphrase_file {
        let text = Zeroizing::new(
            std::fs::read_to_string(file)
                .with_context(|| format!("cannot read root_key.passphrase_file {}", file.display()))?,
        );
        let first_line = text.lines().next().unwrap_or_default();
        return Ok(Zeroizing::new(first_line.to_owned()));
    }
    bail!("root_key.provider = \"passphrase\" needs STRONGROOM_ROOT_KEY_PASSPHRASE or root_key.passphrase_file")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_key_is_generated_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        let first = local(&path, true).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let again = local(&path, false).unwrap();
        assert_eq!(first.id(), again.id());
    }

    #[test]
    fn fail_exposed_or_malformed_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        local(&path, true).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(local(&path, false).unwrap_err().to_string().contains("readable by group or others"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, "zz").unwrap();
        assert!(local(&path, false).unwrap_err().to_string().contains("64 hex digits"));
        assert!(local(&dir.path().join("missing.key"), false).is_err());
    }
}
