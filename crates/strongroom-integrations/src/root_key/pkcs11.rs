//! The `pkcs11` root-key provider: an AES-256 key inside an HSM, reached
//! through its PKCS#11 module, wraps the keyring key with AES-GCM computed on
//! the token; the key never leaves the HSM. As with `transit` and `aws-kms`,
//! the wrapped keyring key is stored in the database and unwrapped once at
//! start. Wrapped form: `"SRP1" || IV (12) || ciphertext || tag (16)`, with
//! associated data naming the format, so a blob from elsewhere never unwraps.
//!
//! PKCS#11 is a blocking C API: the provider's async `wrap` and `unwrap` run
//! these functions on a blocking thread (`spawn_blocking`).

use anyhow::{Context, bail};
use async_trait::async_trait;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use strongroom_config::Pkcs11RootKey;
use strongroom_core::CoreError;
use strongroom_core::root_key::{Custody, RootKeyProvider};
use strongroom_crypto::random_bytes;
use zeroize::Zeroizing;

use super::provider_error;

const MAGIC: &[u8; 4] = b"SRP1";
const AAD: &[u8] = b"strongroom/pkcs11-root/v1";

/// Where the key is and how to log in.
#[derive(Clone)]
pub struct Pkcs11Root {
    module: std::path::PathBuf,
    token_label: String,
    key_label: String,
    pin: Zeroizing<String>,
}

impl std::fmt::Debug for Pkcs11Root {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Root")
            .field("module", &self.module)
            .field("token_label", &self.token_label)
            .field("key_label", &self.key_label)
            .finish_non_exhaustive()
    }
}

impl Pkcs11Root {
    /// From `[root_key] pkcs11_*`.
    pub fn from_config(root: &Pkcs11RootKey) -> anyhow::Result<Self> {
        Ok(Self {
            module: root.pkcs11_module.clone().context("root_key.pkcs11_module is not set")?,
            token_label: root.pkcs11_token_label.clone().context("root_key.pkcs11_token_label is not set")?,
            key_label: root.pkcs11_key_label.clone().context("root_key.pkcs11_key_label is not set")?,
            pin: Zeroizing::new(
                root.pkcs11_pin.as_ref().context("STRONGROOM_ROOT_KEY_PKCS11_PIN is not set")?.expose().to_owned(),
            ),
        })
    }

    /// Opens a logged-in session and finds the key.
    fn session(&self) -> anyhow::Result<(Pkcs11, Session, ObjectHandle)> {
        let context = Pkcs11::new(&self.module)
            .with_context(|| format!("pkcs11 root key: cannot load module {}", self.module.display()))?;
        context
            .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .context("pkcs11 root key: C_Initialize")?;
        let slot = context
            .get_slots_with_token()?
            .into_iter()
            .find(|slot| context.get_token_info(*slot).is_ok_and(|info| info.label().trim() == self.token_label))
            .with_context(|| format!("pkcs11 root key: no token labelled {:?}", self.token_label))?;
        let session = context.open_ro_session(slot).context("pkcs11 root key: cannot open a session")?;
        let pin = AuthPin::from(self.pin.as_str());
        session.login(UserType::User, Some(&pin)).context("pkcs11 root key: login refused (check the PIN)")?;
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Label(self.key_label.as_bytes().to_vec()),
        ];
        let key = match session.find_objects(&template)?.as_slice() {
            [key] => *key,
            [] => bail!("pkcs11 root key: no AES key labelled {:?} on token {:?}", self.key_label, self.token_label),
            _ => bail!("pkcs11 root key: several AES keys are labelled {:?}; labels must be unique", self.key_label),
        };
        Ok((context, session, key))
    }

    /// Wraps `plaintext` with AES-GCM inside the HSM.
    pub fn wrap(&self, plaintext: &[u8]) -> anyhow::Result<Vec<u8>> {
        let (_context, session, key) = self.session()?;
        let mut iv = random_bytes::<12>()?;
        let sealed = session
            .encrypt(&Mechanism::AesGcm(GcmParams::new(&mut iv, AAD, 128.into())?), key, plaintext)
            .context("pkcs11 root key: encrypt")?;
        let mut out = Vec::with_capacity(MAGIC.len() + iv.len() + sealed.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&iv);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Unwraps what [`wrap`](Self::wrap) produced; another key or any change fails.
    pub fn unwrap(&self, wrapped: &[u8]) -> anyhow::Result<Zeroizing<Vec<u8>>> {
        let rest = wrapped.strip_prefix(MAGIC).context("pkcs11 root key: stored keyring key is not SRP1")?;
        if rest.len() < 12 + 16 {
            bail!("pkcs11 root key: stored keyring key is truncated");
        }
        let (iv, sealed) = rest.split_at(12);
        let mut iv = iv.to_vec();
        let (_context, session, key) = self.session()?;
        let plain = session
            .decrypt(&Mechanism::AesGcm(GcmParams::new(&mut iv, AAD, 128.into())?), key, sealed)
            .context("pkcs11 root key: decrypt failed: this database was initialised with another HSM key")?;
        Ok(Zeroizing::new(plain))
    }
}

#[async_trait]
impl RootKeyProvider for Pkcs11Root {
    fn id(&self) -> &'static str {
        "pkcs11"
    }

    fn description(&self) -> String {
        format!("HSM key {:?} on token {:?} through {}", self.key_label, self.token_label, self.module.display())
    }

    fn custody(&self) -> Custody {
        Custody::External { binds_installation: false }
    }

    async fn wrap(&self, plaintext: &[u8], _installation: Option<&str>) -> Result<Vec<u8>, CoreError> {
        let (hsm, plaintext) = (self.clone(), Zeroizing::new(plaintext.to_vec()));
        blocking(move || Pkcs11Root::wrap(&hsm, &plaintext)).await
    }

    async fn unwrap(&self, wrapped: &[u8], _installation: Option<&str>) -> Result<Zeroizing<Vec<u8>>, CoreError> {
        let (hsm, wrapped) = (self.clone(), wrapped.to_vec());
        blocking(move || Pkcs11Root::unwrap(&hsm, &wrapped)).await
    }
}

/// Runs a PKCS#11 call on a blocking thread.
async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> Result<T, CoreError> {
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|error| CoreError::RootKeyProvider(format!("pkcs11 root key: {error}")))?
        .map_err(provider_error)
}
