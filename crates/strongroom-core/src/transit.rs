//! Encryption as a service: the use cases behind the transit API.
//!
//! Each operation acts for a caller: it asks the one decision point first
//! (a denial is audited there, as `permission.denied`), looks the key up once
//! for the whole request however large its batch, runs every item, and
//! records one audit event with how many items there were and how many
//! failed, before the answer leaves (fail closed: without a record a
//! decrypt's plaintext is never handed out). A request refused after the
//! decision (an unknown key, a retired version) is recorded as a failed
//! attempt with its reason.
//!
//! The wire (Vault's JSON envelope, base64, `vault:v<N>:` text) stays in the
//! server; here an item is bytes and a key version.

use std::sync::Arc;

use strongroom_crypto::{AssociatedData, CryptoError, SealedHeader, SecretBytes};
use zeroize::Zeroizing;

use crate::audit::{AuditContext, AuditLog, EventType, Outcome, Target};
use crate::authz::{Action, Ask, Authz, Resource, Subject};
use crate::{CoreError, KeyAlgorithm, KeyInfo, KeyPurpose, KeySpec, KeyUse, Keyring};

/// The most items one request may carry.
pub const MAX_BATCH: usize = 1000;

/// The label under which a caller's `context` binds a ciphertext, so a
/// transit context can never stand in for associated data of another kind.
const CONTEXT_LABEL: &str = "transit.context";

/// Answers `$body` for the single item (its failure, or the edge's, fails
/// the request) or for every batch item (each failing alone). A macro, not a
/// function taking a closure: the body awaits with borrowed keys, and async
/// closures over borrows make futures the compiler cannot prove `Send`.
macro_rules! each {
    ($items:expr, |$item:ident| $body:expr) => {
        match $items {
            Items::One(Ok($item)) => $body.map(Answers::One),
            Items::One(Err(unreadable)) => Err(unreadable),
            Items::Batch(batch) => {
                let mut results = Vec::with_capacity(batch.len());
                for item in batch {
                    results.push(match item {
                        Ok($item) => $body,
                        Err(unreadable) => Err(unreadable),
                    });
                }
                Ok(Answers::Batch(results))
            }
        }
    };
}

/// What one request asks for: a single item, whose failure fails the
/// request, or a batch of 1 to [`MAX_BATCH`] items, each failing alone. An
/// item the edge could not read (bad base64, a ciphertext that is not
/// `vault:v<N>:…`) arrives as its error: it fails as it would have here, is
/// counted among the failures and audited with the rest.
#[derive(Debug)]
pub enum Items<T> {
    /// One item.
    One(Result<T, CoreError>),
    /// Several, answered in the same order.
    Batch(Vec<Result<T, CoreError>>),
}

/// The answer, in the shape of the request.
#[derive(Debug)]
pub enum Answers<T> {
    /// The single item's result.
    One(T),
    /// Every batch item's result or failure, in order.
    Batch(Vec<Result<T, CoreError>>),
}

/// Data to seal, with the caller's optional context.
#[derive(Debug)]
pub struct PlaintextItem {
    /// The data; wiped when dropped.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The context the ciphertext is bound to (Vault's `context`).
    pub context: Option<Vec<u8>>,
}

/// A ciphertext to open or rewrap, with the version its text claims and the
/// caller's context.
#[derive(Debug)]
pub struct CiphertextItem {
    /// The version the ciphertext's text names; it must agree with the
    /// authenticated header, or the ciphertext is refused as altered.
    pub claimed_version: u32,
    /// The sealed value.
    pub sealed: Vec<u8>,
    /// The context it was bound to.
    pub context: Option<Vec<u8>>,
}

/// A sealed value and the key version that sealed it.
#[derive(Debug, Clone)]
pub struct Sealed {
    /// The version (the key's latest when sealed).
    pub key_version: u32,
    /// The sealed bytes (they carry the key name and version themselves).
    pub sealed: Vec<u8>,
}

/// A MAC or signature, and the version that made it.
#[derive(Debug, Clone)]
pub struct Tag<const N: usize> {
    /// The version.
    pub key_version: u32,
    /// The MAC or signature.
    pub bytes: [u8; N],
}

/// What [`Transit::verify`] checks an input against.
#[derive(Debug, Clone)]
pub enum Check {
    /// An HMAC made with `version`.
    Hmac {
        /// The key version named by the MAC.
        version: u32,
        /// The MAC.
        mac: Vec<u8>,
    },
    /// An Ed25519 signature made with `version`.
    Signature {
        /// The key version named by the signature.
        version: u32,
        /// The signature.
        signature: Vec<u8>,
    },
}

/// An input and what to check it against.
#[derive(Debug, Clone)]
pub struct VerifyItem {
    /// The signed or MACed input.
    pub input: Vec<u8>,
    /// The MAC or signature.
    pub check: Check,
}

/// A fresh data key: wrapped by the transit key, and in clear for the
/// caller that asked for it.
#[derive(Debug)]
pub struct DataKey {
    /// The key itself; wiped when dropped.
    pub plaintext: Zeroizing<[u8; 32]>,
    /// The key sealed under the transit key.
    pub wrapped: Sealed,
}

/// A transit key and when each of its versions was made.
#[derive(Debug, Clone)]
pub struct TransitKey {
    /// The key's metadata.
    pub info: KeyInfo,
    /// `(version, unix seconds created)`, oldest first.
    pub versions: Vec<(u32, i64)>,
}

/// A change to a transit key's configuration; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default)]
pub struct TransitKeyChange {
    /// Whether the key may be deleted.
    pub deletion_allowed: Option<bool>,
    /// The automatic rotation period: `Some(None)` turns it off.
    pub rotation_period_seconds: Option<Option<i64>>,
    /// Versions below this one stop decrypting.
    pub min_decryption_version: Option<u32>,
}

/// The transit use cases. Only keys of purpose `transit` exist here: the
/// server's own keys answer `key_not_found`.
#[derive(Debug)]
pub struct Transit {
    keyring: Arc<Keyring>,
    authz: Arc<Authz>,
    audit: Arc<AuditLog>,
}

impl Transit {
    /// Transit over `keyring`, deciding with `authz` and recording in `audit`.
    pub fn new(keyring: Arc<Keyring>, authz: Arc<Authz>, audit: Arc<AuditLog>) -> Self {
        Self { keyring, authz, audit }
    }

    async fn authorize(
        &self,
        subject: &Subject,
        action: Action,
        resource: &Resource,
        context: &AuditContext,
    ) -> Result<(), CoreError> {
        self.authz.authorize(subject, action, resource, &Ask::default(), context).await.map(|_| ())
    }

    // ---- Keys --------------------------------------------------------------

    /// Creates a transit key of `algorithm` (AES-256-GCM or Ed25519).
    pub async fn create_key(
        &self,
        subject: &Subject,
        name: &str,
        algorithm: KeyAlgorithm,
        rotation_period_seconds: Option<i64>,
        context: &AuditContext,
    ) -> Result<TransitKey, CoreError> {
        self.authorize(subject, Action::TransitManage, &Resource::Key(name.to_owned()), context).await?;
        let spec = KeySpec {
            purpose: KeyPurpose::Transit,
            algorithm: Some(algorithm),
            rotation_period_seconds,
            deletion_allowed: false,
        };
        let info = self.keyring.create(name, spec, context).await?;
        self.described(info).await
    }

    /// A transit key with its versions.
    pub async fn key(&self, subject: &Subject, name: &str, context: &AuditContext) -> Result<TransitKey, CoreError> {
        self.authorize(subject, Action::TransitRead, &Resource::Key(name.to_owned()), context).await?;
        let info = self.keyring.info_for(KeyPurpose::Transit, name).await?;
        self.described(info).await
    }

    /// The names of every transit key.
    pub async fn key_names(&self, subject: &Subject, context: &AuditContext) -> Result<Vec<String>, CoreError> {
        self.authorize(subject, Action::TransitRead, &Resource::Service, context).await?;
        Ok(self
            .keyring
            .list()
            .await?
            .into_iter()
            .filter(|key| key.purpose == KeyPurpose::Transit)
            .map(|key| key.name)
            .collect())
    }

    /// Adds a version to a transit key.
    pub async fn rotate_key(
        &self,
        subject: &Subject,
        name: &str,
        context: &AuditContext,
    ) -> Result<TransitKey, CoreError> {
        self.authorize(subject, Action::TransitManage, &Resource::Key(name.to_owned()), context).await?;
        self.keyring.info_for(KeyPurpose::Transit, name).await?;
        let info = self.keyring.rotate(name, context).await?;
        self.described(info).await
    }

    /// Changes deletion protection, the rotation period and the minimum
    /// decryption version of a transit key.
    pub async fn configure_key(
        &self,
        subject: &Subject,
        name: &str,
        change: TransitKeyChange,
        context: &AuditContext,
    ) -> Result<TransitKey, CoreError> {
        self.authorize(subject, Action::TransitManage, &Resource::Key(name.to_owned()), context).await?;
        self.keyring.info_for(KeyPurpose::Transit, name).await?;
        let mut info =
            self.keyring.configure(name, change.deletion_allowed, change.rotation_period_seconds, context).await?;
        if let Some(version) = change.min_decryption_version
            && version != info.min_decryption_version
        {
            info = self.keyring.set_min_decryption_version(name, version, context).await?;
        }
        self.described(info).await
    }

    /// Deletes a transit key whose deletion is allowed: what it protected
    /// becomes unreadable.
    pub async fn delete_key(&self, subject: &Subject, name: &str, context: &AuditContext) -> Result<(), CoreError> {
        self.authorize(subject, Action::TransitManage, &Resource::Key(name.to_owned()), context).await?;
        self.keyring.info_for(KeyPurpose::Transit, name).await?;
        self.keyring.delete(name, context).await
    }

    async fn described(&self, info: KeyInfo) -> Result<TransitKey, CoreError> {
        let versions = self.keyring.version_times(&info.name).await?;
        Ok(TransitKey { info, versions })
    }

    // ---- Operations --------------------------------------------------------

    /// Seals every item under the key's latest version. `key_version`, when
    /// given and not 0, must name that latest version: encryption never uses
    /// an older one.
    pub async fn encrypt(
        &self,
        subject: &Subject,
        name: &str,
        key_version: Option<u32>,
        items: Items<PlaintextItem>,
        context: &AuditContext,
    ) -> Result<Answers<Sealed>, CoreError> {
        self.authorize(subject, Action::TransitUse, &Resource::Key(name.to_owned()), context).await?;
        let answered = async {
            let key = self.key_for(name, &items).await?;
            if key_version.is_some_and(|v| v != 0 && v != key.info().latest_version) {
                return Err(CoreError::InvalidInput("key_version: encryption always uses the latest version".into()));
            }
            each!(items, |item| seal(&key, &item.plaintext, item.context.as_deref()).await)
        }
        .await;
        self.audited(EventType::TransitEncrypt, name, context, answered).await
    }

    /// Opens every item.
    pub async fn decrypt(
        &self,
        subject: &Subject,
        name: &str,
        items: Items<CiphertextItem>,
        context: &AuditContext,
    ) -> Result<Answers<SecretBytes>, CoreError> {
        self.authorize(subject, Action::TransitUse, &Resource::Key(name.to_owned()), context).await?;
        let answered = async {
            let key = self.key_for(name, &items).await?;
            each!(items, |item| open(&key, &item).await)
        }
        .await;
        self.audited(EventType::TransitDecrypt, name, context, answered).await
    }

    /// Re-seals every item under the latest version with the same context;
    /// the plaintext never leaves the server.
    pub async fn rewrap(
        &self,
        subject: &Subject,
        name: &str,
        items: Items<CiphertextItem>,
        context: &AuditContext,
    ) -> Result<Answers<Sealed>, CoreError> {
        self.authorize(subject, Action::TransitUse, &Resource::Key(name.to_owned()), context).await?;
        let answered = async {
            let key = self.key_for(name, &items).await?;
            each!(items, |item| match open(&key, &item).await {
                Ok(plaintext) => seal(&key, plaintext.expose(), item.context.as_deref()).await,
                Err(error) => Err(error),
            })
        }
        .await;
        self.audited(EventType::TransitRewrap, name, context, answered).await
    }

    /// HMAC-SHA256 of every input under the latest version.
    pub async fn hmac(
        &self,
        subject: &Subject,
        name: &str,
        items: Items<Vec<u8>>,
        context: &AuditContext,
    ) -> Result<Answers<Tag<32>>, CoreError> {
        self.authorize(subject, Action::TransitUse, &Resource::Key(name.to_owned()), context).await?;
        let answered = async {
            let key = self.key_for(name, &items).await?;
            each!(items, |input| key.hmac(&input).await.map(|(key_version, bytes)| Tag { key_version, bytes }))
        }
        .await;
        self.audited(EventType::TransitHmac, name, context, answered).await
    }

    /// Ed25519 signature of every input with the latest version.
    pub async fn sign(
        &self,
        subject: &Subject,
        name: &str,
        items: Items<Vec<u8>>,
        context: &AuditContext,
    ) -> Result<Answers<Tag<64>>, CoreError> {
        self.authorize(subject, Action::TransitUse, &Resource::Key(name.to_owned()), context).await?;
        let answered = async {
            let key = self.key_for(name, &items).await?;
            each!(items, |input| key.sign(&input).await.map(|(key_version, bytes)| Tag { key_version, bytes }))
        }
        .await;
        self.audited(EventType::TransitSign, name, context, answered).await
    }

    /// Whether each MAC or signature is valid for its input.
    pub async fn verify(
        &self,
        subject: &Subject,
        name: &str,
        items: Items<VerifyItem>,
        context: &AuditContext,
    ) -> Result<Answers<bool>, CoreError> {
        self.authorize(subject, Action::TransitUse, &Resource::Key(name.to_owned()), context).await?;
        let answered = async {
            let key = self.key_for(name, &items).await?;
            each!(items, |item| match &item.check {
                Check::Hmac { version, mac } => key.verify_hmac(*version, &item.input, mac).await,
                Check::Signature { version, signature } => {
                    key.verify_signature(*version, &item.input, signature).await
                }
            })
        }
        .await;
        self.audited(EventType::TransitVerify, name, context, answered).await
    }

    /// A fresh 256-bit data key, sealed under the key's latest version for
    /// envelope encryption in the application.
    pub async fn data_key(
        &self,
        subject: &Subject,
        name: &str,
        key_context: Option<Vec<u8>>,
        context: &AuditContext,
    ) -> Result<DataKey, CoreError> {
        self.authorize(subject, Action::TransitUse, &Resource::Key(name.to_owned()), context).await?;
        let answered = async {
            let key = self.keyring.use_key(KeyPurpose::Transit, name).await?;
            let plaintext = Zeroizing::new(strongroom_crypto::random_bytes::<32>()?);
            let wrapped = seal(&key, plaintext.as_ref(), key_context.as_deref()).await?;
            Ok(Answers::One(DataKey { plaintext, wrapped }))
        }
        .await;
        match self.audited(EventType::TransitDatakey, name, context, answered).await? {
            Answers::One(data_key) => Ok(data_key),
            Answers::Batch(_) => unreachable!("one data key asked, one answered"),
        }
    }

    /// The key for a request, looked up once however large its batch; a
    /// batch must hold 1 to [`MAX_BATCH`] items.
    async fn key_for<T>(&self, name: &str, items: &Items<T>) -> Result<KeyUse<'_>, CoreError> {
        if let Items::Batch(batch) = items
            && (batch.is_empty() || batch.len() > MAX_BATCH)
        {
            return Err(CoreError::InvalidInput(format!("batch_input: between 1 and {MAX_BATCH} items")));
        }
        self.keyring.use_key(KeyPurpose::Transit, name).await
    }

    /// Records the event of an operation on key `name` (how many items,
    /// how many failed) before its answer leaves, or its refusal.
    async fn audited<Out>(
        &self,
        event_type: EventType,
        name: &str,
        context: &AuditContext,
        answered: Result<Answers<Out>, CoreError>,
    ) -> Result<Answers<Out>, CoreError> {
        let event = self.audit.event(event_type, context).target(Target::new("transit_key", name));
        match answered {
            Ok(answers) => {
                let (items, failed) = match &answers {
                    Answers::One(_) => (1, 0),
                    Answers::Batch(results) => (results.len(), results.iter().filter(|r| r.is_err()).count()),
                };
                self.audit.record(&event.detail("items", items).detail("failed_items", failed)).await?;
                Ok(answers)
            }
            Err(error) => {
                self.audit.record_refusal(&event.failed(Outcome::Failure, error.kind())).await;
                Err(error)
            }
        }
    }
}

fn associated_data(context: Option<&[u8]>) -> AssociatedData {
    match context {
        Some(bytes) => AssociatedData::new().with(CONTEXT_LABEL, bytes),
        None => AssociatedData::new(),
    }
}

async fn seal(key: &KeyUse<'_>, plaintext: &[u8], context: Option<&[u8]>) -> Result<Sealed, CoreError> {
    let sealed = key.encrypt(plaintext, &associated_data(context)).await?;
    Ok(Sealed { key_version: key.info().latest_version, sealed })
}

/// Opens `item`, refusing it as altered when the version its text claims is
/// not the one its authenticated header carries.
async fn open(key: &KeyUse<'_>, item: &CiphertextItem) -> Result<SecretBytes, CoreError> {
    check_claimed_version(item)?;
    key.decrypt(&item.sealed, &associated_data(item.context.as_deref())).await
}

/// The version in a ciphertext's text is informational; it must agree with
/// the authenticated header, or the text was altered.
fn check_claimed_version(item: &CiphertextItem) -> Result<(), CoreError> {
    match SealedHeader::parse(&item.sealed) {
        Ok((header, _)) if header.key_version == item.claimed_version => Ok(()),
        _ => Err(CryptoError::Decrypt.into()),
    }
}

#[cfg(test)]
mod tests {
    use strongroom_crypto::SecretKey;

    use super::*;

    fn sealed_by_version(version: u32) -> Vec<u8> {
        let header = SealedHeader { key_name: "k".into(), key_version: version };
        strongroom_crypto::seal(&SecretKey::from_bytes([1; 32]), &header, b"x", &AssociatedData::new()).unwrap()
    }

    #[test]
    fn a_ciphertext_must_claim_the_version_its_header_carries() {
        let item = |claimed_version, sealed| CiphertextItem { claimed_version, sealed, context: None };
        assert!(check_claimed_version(&item(2, sealed_by_version(2))).is_ok());
        let lying = check_claimed_version(&item(1, sealed_by_version(2))).unwrap_err();
        assert!(matches!(lying, CoreError::Crypto(CryptoError::Decrypt)), "{lying}");
        assert!(check_claimed_version(&item(1, b"not sealed".to_vec())).is_err());
    }

    #[tokio::test]
    async fn each_fails_a_single_item_with_the_request_and_a_batch_item_alone() {
        async fn double(n: u32) -> Result<u32, CoreError> {
            if n == 0 { Err(CoreError::InvalidInput("zero".into())) } else { Ok(n * 2) }
        }
        let one = |items: Items<u32>| async move { each!(items, |n| double(n).await) };
        assert!(one(Items::One(Ok(0))).await.is_err());
        assert!(one(Items::One(Err(CoreError::InvalidInput("unreadable".into())))).await.is_err());
        let Answers::Batch(results) =
            one(Items::Batch(vec![Ok(1), Ok(0), Err(CoreError::InvalidInput("unreadable".into()))])).await.unwrap()
        else {
            panic!("a batch answers a batch");
        };
        assert_eq!(results.len(), 3);
        assert_eq!(results[0].as_ref().unwrap(), &2);
        assert!(results[1].is_err() && results[2].is_err());
    }
}
