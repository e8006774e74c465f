//! Keyring backup and restore: every key, its metadata and the material of
//! each version, sealed under a key derived with Argon2id from a backup
//! passphrase, so a backup restores into a server with any root key.
//!
//! File format (JSON, docs/formats.md "Key backup"):
//! `{"header": {format, version, created_at, kdf: {algorithm, memory_kib,
//! iterations, parallelism, salt}}, "payload": base64(KEK-v1 wrap)}` where the
//! payload is the keyring as JSON, wrapped with the re-serialised header as
//! associated data: any change to the header or payload fails the restore.
//!
//! Invariant: material exists in clear only inside zeroizing containers, from
//! unwrapping under the source root key to sealing under the backup key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use strongroom_crypto::{Kek, PassphraseKek, PassphraseParams, random_bytes};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::audit::{AuditContext, EventType};
use crate::keyring::wrap_aad;
use crate::{CoreError, Keyring, StoredKey, StoredKeyVersion};

const FORMAT: &str = "strongroom-key-backup";
const VERSION: u32 = 1;
/// Largest Argon2id memory a backup may ask for (so a crafted file cannot exhaust memory).
const MAX_MEMORY_KIB: u32 = 1024 * 1024;

#[derive(Debug, Serialize, Deserialize)]
struct BackupFile {
    header: Header,
    payload: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
    created_at: i64,
    kdf: Kdf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Kdf {
    algorithm: String,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct Payload {
    keys: Vec<BackupKey>,
}

/// A key's metadata as stored (not secret), then its versions, whose
/// material is zeroized when they are dropped.
#[derive(Serialize, Deserialize)]
struct BackupKey {
    #[serde(flatten)]
    key: StoredKey,
    versions: Vec<BackupVersion>,
}

#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct BackupVersion {
    version: u32,
    created_at: i64,
    /// Base64 of the material; `None` for destroyed material.
    material: Option<String>,
}

/// The keys every server makes for itself at first start: its audit log's
/// (which already signed and pseudonymised its events) and its identity
/// service's (token hashing, access-token signing, user secrets).
fn server_own_key(name: &str) -> bool {
    [
        crate::audit::AUDIT_SIGNING_KEY,
        crate::audit::AUDIT_HMAC_KEY,
        crate::identity::JWT_SIGNING_KEY,
        crate::identity::TOKEN_HMAC_KEY,
        crate::identity::USER_SECRETS_KEY,
    ]
    .contains(&name)
}

fn invalid(reason: &str) -> CoreError {
    CoreError::InvalidInput(format!("not a usable key backup: {reason}"))
}

impl Keyring {
    /// Every key of the keyring, sealed under `passphrase` (at least 16 bytes).
    /// The export is audited (`key.backup`) before it is returned: no record, no backup.
    pub async fn export_backup(&self, passphrase: &[u8], context: &AuditContext) -> Result<Vec<u8>, CoreError> {
        let mut keys = Vec::new();
        for info in self.list().await? {
            let stored =
                self.store_ref().key(&info.name).await?.ok_or_else(|| CoreError::KeyNotFound(info.name.clone()))?;
            let mut versions = Vec::new();
            for version in 1..=info.latest_version {
                let Some(record) = self.store_ref().key_version(&info.name, version).await? else { continue };
                let material = if record.wrapped_material.is_empty() {
                    None
                } else {
                    let plain = self.kek_ref().unwrap(&record.wrapped_material, &wrap_aad(&info.name, version))?;
                    Some(STANDARD.encode(plain.expose()))
                };
                versions.push(BackupVersion { version, created_at: record.created_at, material });
            }
            keys.push(BackupKey { key: stored, versions });
        }
        let names: Vec<String> = keys.iter().map(|k| k.key.name.clone()).collect();
        let payload = Zeroizing::new(serde_json::to_vec(&Payload { keys }).map_err(|e| invalid(&e.to_string()))?);
        let params = PassphraseParams::default();
        let salt = random_bytes::<16>()?;
        let header = Header {
            format: FORMAT.into(),
            version: VERSION,
            created_at: self.now_seconds(),
            kdf: Kdf {
                algorithm: "argon2id".into(),
                memory_kib: params.memory_kib,
                iterations: params.iterations,
                parallelism: params.parallelism,
                salt: STANDARD.encode(salt),
            },
        };
        let aad = serde_json::to_vec(&header).map_err(|e| invalid(&e.to_string()))?;
        let passphrase = Zeroizing::new(passphrase.to_vec());
        let kek = tokio::task::spawn_blocking(move || PassphraseKek::derive(&passphrase, &salt, params))
            .await
            .map_err(|e| invalid(&e.to_string()))??;
        let wrapped = kek.wrap(&payload, &aad)?;
        let file = BackupFile { header, payload: STANDARD.encode(wrapped) };
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| invalid(&e.to_string()))?;
        self.audit().record(&self.audit().event(EventType::KeyBackup, context).detail("keys", names)).await?;
        Ok(bytes)
    }

    /// Loads a backup into this keyring, which must be empty but for this
    /// server's own system keys (kept; the backup's copies are skipped); every key is
    /// re-wrapped under this server's root key, all in one transaction.
    /// Returns the names restored.
    pub async fn restore_backup(
        &self,
        backup: &[u8],
        passphrase: &[u8],
        context: &AuditContext,
    ) -> Result<Vec<String>, CoreError> {
        let existing: Vec<String> =
            self.list().await?.into_iter().map(|k| k.name).filter(|name| !server_own_key(name)).collect();
        if !existing.is_empty() {
            return Err(CoreError::InvalidInput(format!(
                "restore needs an empty keyring; this one has {} key(s): {}",
                existing.len(),
                existing.join(", ")
            )));
        }
        let file: BackupFile = serde_json::from_slice(backup).map_err(|e| invalid(&e.to_string()))?;
        let header = file.header;
        if header.format != FORMAT || header.version != VERSION || header.kdf.algorithm != "argon2id" {
            return Err(invalid("unknown format or version"));
        }
        if header.kdf.memory_kib > MAX_MEMORY_KIB || header.kdf.iterations > 64 || header.kdf.parallelism > 16 {
            return Err(invalid("key-derivation parameters out of range"));
        }
        let salt = STANDARD.decode(&header.kdf.salt).map_err(|_| invalid("salt is not base64"))?;
        let wrapped = STANDARD.decode(&file.payload).map_err(|_| invalid("payload is not base64"))?;
        let aad = serde_json::to_vec(&header).map_err(|e| invalid(&e.to_string()))?;
        let params = PassphraseParams {
            memory_kib: header.kdf.memory_kib,
            iterations: header.kdf.iterations,
            parallelism: header.kdf.parallelism,
        };
        let passphrase = Zeroizing::new(passphrase.to_vec());
        let kek = tokio::task::spawn_blocking(move || PassphraseKek::derive(&passphrase, &salt, params))
            .await
            .map_err(|e| invalid(&e.to_string()))??;
        let payload = kek.unwrap(&wrapped, &aad).map_err(|_| invalid("wrong passphrase, or the file was altered"))?;
        let payload: Payload = serde_json::from_slice(payload.expose()).map_err(|e| invalid(&e.to_string()))?;
        let mut restored = Vec::with_capacity(payload.keys.len());
        // This server keeps the keys it made at its first start: its audit log
        // is already signed and pseudonymised with its own audit keys.
        for BackupKey { key, versions: backed_up } in payload.keys.iter().filter(|k| !server_own_key(&k.key.name)) {
            let mut versions = Vec::with_capacity(backed_up.len());
            for version in backed_up {
                let wrapped_material = match &version.material {
                    Some(encoded) => {
                        let material =
                            Zeroizing::new(STANDARD.decode(encoded).map_err(|_| invalid("material is not base64"))?);
                        self.kek_ref().wrap(&material, &wrap_aad(&key.name, version.version))?
                    }
                    None => Vec::new(),
                };
                versions.push(StoredKeyVersion {
                    version: version.version,
                    wrapped_material,
                    created_at: version.created_at,
                });
            }
            restored.push((key.clone(), versions));
        }
        let names: Vec<String> = restored.iter().map(|(key, _)| key.name.clone()).collect();
        let event = self.audit().event(EventType::KeyRestore, context).detail("keys", names);
        let record = self.audit().seal(&event)?;
        self.freshness().after_change(self.store_ref().insert_keys(&restored, &[record])).await?;
        Ok(restored.into_iter().map(|(key, _)| key.name).collect())
    }
}
