//! The `local` root-key provider: 32 random bytes, hex-encoded in a file
//! created with mode 0600 on first start (never overwritten: `create_new`
//! makes a racing second process read the first one's key instead). A key
//! file that group or others can read is refused: the key would already be
//! exposed. The key wraps the keyring itself. Development only: anyone who
//! can read the file can read everything.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use async_trait::async_trait;
use strongroom_core::CoreError;
use strongroom_core::root_key::{Custody, RootKeyProvider};
use strongroom_crypto::{Kek, LocalKek, SecretKey, random_bytes};
use zeroize::Zeroizing;

use super::{in_process_unwrap, in_process_wrap};

/// The key of a local key file.
#[derive(Debug)]
pub struct LocalRoot {
    path: PathBuf,
    kek: Arc<LocalKek>,
}

impl LocalRoot {
    /// Reads the key file at `path`, creating it if `create` and it is missing.
    pub fn open(path: &Path, create: bool) -> anyhow::Result<Self> {
        Ok(Self { path: path.to_owned(), kek: Arc::new(local(path, create)?) })
    }
}

#[async_trait]
impl RootKeyProvider for LocalRoot {
    fn id(&self) -> &'static str {
        "local"
    }

    fn description(&self) -> String {
        format!("the key file {}", self.path.display())
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

/// Reads the local key file, creating it if `create` and it is missing.
fn local(path: &Path, create: bool) -> anyhow::Result<LocalKek> {
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
    let text = Zeroizing::new(strongroom_crypto::to_hex(key.as_ref()));
    match OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(mut file) => {
            file.write_all(text.as_bytes())?;
            file.write_all(b"\n")?;
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
    strongroom_crypto::from_hex(text).context("not hex")
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

    #[tokio::test]
    async fn the_key_file_is_the_keyring_kek_and_wraps_bound_to_the_installation() {
        let dir = tempfile::tempdir().unwrap();
        let root = LocalRoot::open(&dir.path().join("root.key"), true).unwrap();
        let Custody::InProcess(kek) = root.custody() else { panic!("a key file is in this process") };
        assert!(kek.id().as_str().starts_with("local:"));
        let wrapped = root.wrap(b"keyring key", Some("installation-a")).await.unwrap();
        assert_eq!(root.unwrap(&wrapped, Some("installation-a")).await.unwrap().as_slice(), b"keyring key");
        assert!(root.unwrap(&wrapped, Some("installation-b")).await.is_err());
        assert!(root.unwrap(&wrapped, None).await.is_err());
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
