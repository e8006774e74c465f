//! Whole backups: one encrypted archive of everything an installation needs
//! (every table's rows, taken in one consistent snapshot while the server
//! serves; the blob objects the rows name; the checkpoint anchor file),
//! checked without restoring and restored into an empty installation on
//! either engine.
//!
//! Format (docs/formats.md, "Whole backup"): `SRARCHV1`, a length-prefixed
//! JSON header in clear (format, engine, schema version, how the archive key
//! is wrapped, the STREAM nonce prefix), then chunks of at most 64 KiB of
//! plaintext, each `part(u32) flags(u8) length(u32) AES-256-GCM(chunk)` under
//! the STREAM construction ([`StreamCipher`]), with the header's SHA-256, the
//! part number and the flags as associated data. The plaintext is a sequence
//! of parts, each opening with a JSON line that names it: the anchors, one
//! part per table (a JSON line per row, columns by name, so the format is
//! the same on SQLite and PostgreSQL), one per blob object, and last the
//! manifest (each part's name, size and SHA-256).
//!
//! Why this shape: a chunk opens on its own, so `verify` names the part a
//! flipped byte is in and carries on; the last-chunk flag and the counter
//! make truncation, reordering and splicing fail; rows are logical values,
//! not an engine's file, so an archive moves between engines.
//!
//! Invariant: plaintext exists in memory only, chunk by chunk; nothing is
//! written to disk but ciphertext. The keyring stays wrapped under the root
//! key inside the archive: restoring needs the same root key, whatever
//! protects the archive itself.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use strongroom_crypto::merkle::Hash;
use strongroom_crypto::note::NoteVerifier;
use strongroom_crypto::{
    Kek, PassphraseKek, PassphraseParams, STREAM_PREFIX_LEN, STREAM_TAG_LEN, SecretKey, Sha256Stream, StreamCipher,
    random_bytes, sha256, to_hex,
};
use tokio::io::AsyncReadExt;
use zeroize::Zeroizing;

use crate::audit::{AUDIT_SIGNING_KEY, LogVerifier, TreeHead};
use crate::keyring::wrap_aad;
use crate::records::BlobStorage;
use crate::root_key::{ProviderState, RootKeyProvider, keyring_kek, opens_check_value};
use crate::store::settings::ROOT_KEY_CHECK;
use crate::{CoreError, StoreError};

const FORMAT: &str = "strongroom-archive";
const VERSION: u32 = 1;
const MAGIC: &[u8; 8] = b"SRARCHV1";
/// Plaintext bytes per chunk.
const CHUNK: usize = 64 * 1024;
const MAX_HEADER: usize = 64 * 1024;
const LAST: u8 = 1;
const KEY_AAD: &[u8] = b"strongroom/archive-key/v1";
/// Shortest backup passphrase accepted (as for `strongroom key backup`).
pub const MIN_PASSPHRASE_LEN: usize = 16;
/// Largest Argon2id memory an archive may ask for (a crafted header cannot exhaust memory).
const MAX_MEMORY_KIB: u32 = 1024 * 1024;

/// One value of a row, engine-neutral.
#[derive(Clone, PartialEq, Eq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// Any integer column.
    Int(i64),
    /// A boolean (PostgreSQL `BOOLEAN`; SQLite keeps these as integers).
    Bool(bool),
    /// Text.
    Text(String),
    /// Bytes (`BLOB`, `BYTEA`).
    Bytes(Vec<u8>),
}

impl std::fmt::Debug for Cell {
    /// Values may be secret-adjacent (hashes, sealed data): shown by kind only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Null => "Null",
            Self::Int(_) => "Int",
            Self::Bool(_) => "Bool",
            Self::Text(_) => "Text",
            Self::Bytes(_) => "Bytes",
        })
    }
}

impl Cell {
    fn to_json(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Int(n) => json!(n),
            Self::Bool(b) => json!(b),
            Self::Text(s) => json!(s),
            Self::Bytes(b) => json!({ "b64": STANDARD.encode(b) }),
        }
    }

    fn from_json(value: &Value) -> Option<Self> {
        Some(match value {
            Value::Null => Self::Null,
            Value::Bool(b) => Self::Bool(*b),
            Value::Number(n) => Self::Int(n.as_i64()?),
            Value::String(s) => Self::Text(s.clone()),
            Value::Object(o) => Self::Bytes(STANDARD.decode(o.get("b64")?.as_str()?).ok()?),
            Value::Array(_) => return None,
        })
    }

    fn as_int(&self) -> Option<i64> {
        match self {
            Self::Int(n) => Some(*n),
            _ => None,
        }
    }

    fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(s) => Some(s),
            _ => None,
        }
    }

    fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Self::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

/// Receives a snapshot's tables, in restore order.
#[async_trait]
pub trait RowSink: Send {
    /// A table starts; its rows follow with cells in `columns` order.
    async fn table(&mut self, name: &str, columns: &[String]) -> Result<(), CoreError>;
    /// One row.
    async fn row(&mut self, cells: Vec<Cell>) -> Result<(), CoreError>;
}

/// Hands a restore its tables, in the order they were dumped.
#[async_trait]
pub trait RowSource: Send {
    /// The next table and its columns, or `None` when the tables are done.
    async fn next_table(&mut self) -> Result<Option<(String, Vec<String>)>, CoreError>;
    /// The current table's next row, or `None` at its end.
    async fn next_row(&mut self) -> Result<Option<Vec<Cell>>, CoreError>;
}

/// The database side of a backup (implemented in `strongroom-store` for both engines).
#[async_trait]
pub trait ArchiveStore: Send + Sync {
    /// `sqlite` or `postgres`.
    fn engine(&self) -> &'static str;
    /// Every table's rows from one consistent snapshot (one read transaction),
    /// parents before children.
    async fn dump(&self, sink: &mut dyn RowSink) -> Result<(), CoreError>;
    /// Tables that hold data (a freshly migrated database has none).
    async fn occupied_tables(&self) -> Result<Vec<String>, StoreError>;
    /// Loads every table `source` hands over, in one transaction, replacing
    /// the rows a migration seeded. Answers the rows written.
    async fn load(&self, source: &mut dyn RowSource) -> Result<u64, CoreError>;
}

/// Opens the configured root-key provider over the given state (the CLI
/// builds providers; core does not know the adapters).
#[async_trait]
pub trait RootKeyOpener: Send + Sync {
    /// The provider, reading what it keeps from `state`.
    async fn open(&self, state: ProviderState<'_>) -> Result<Box<dyn RootKeyProvider>, CoreError>;
}

/// What protects an archive's key.
pub enum ArchiveSecret<'a> {
    /// The root-key provider wraps a random archive key.
    RootKey(&'a dyn RootKeyProvider),
    /// Argon2id over a passphrase derives the key that wraps it.
    Passphrase(&'a [u8]),
}

impl std::fmt::Debug for ArchiveSecret<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RootKey(provider) => write!(f, "RootKey({})", provider.id()),
            Self::Passphrase(_) => f.write_str("Passphrase(<hidden>)"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
    created_at_ms: i64,
    engine: String,
    schema_version: i64,
    nonce_prefix: String,
    key: KeyHeader,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum KeyHeader {
    RootKey { provider: String, wrapped: String },
    Passphrase { kdf: Kdf, wrapped: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Kdf {
    algorithm: String,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    salt: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ManifestPart {
    name: String,
    bytes: u64,
    sha256: String,
    #[serde(default)]
    rows: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Manifest {
    parts: Vec<ManifestPart>,
    /// Objects named by the snapshot's rows but gone by the time they were
    /// read (their record was deleted meanwhile).
    missing_blobs: Vec<String>,
    audit_size: u64,
}

fn invalid(reason: impl std::fmt::Display) -> CoreError {
    CoreError::InvalidInput(format!("not a usable backup archive: {reason}"))
}

fn io(error: std::io::Error) -> CoreError {
    CoreError::InvalidInput(format!("cannot read or write the archive: {error}"))
}

async fn derive_passphrase_kek(
    passphrase: &[u8],
    salt: Vec<u8>,
    params: PassphraseParams,
) -> Result<PassphraseKek, CoreError> {
    let passphrase = Zeroizing::new(passphrase.to_vec());
    tokio::task::spawn_blocking(move || PassphraseKek::derive(&passphrase, &salt, params))
        .await
        .map_err(|e| invalid(e.to_string()))?
        .map_err(CoreError::from)
}

/// A fresh archive key, and how the header records its wrap.
async fn new_archive_key(secret: &ArchiveSecret<'_>) -> Result<(SecretKey, KeyHeader), CoreError> {
    let key = SecretKey::generate()?;
    let header = match secret {
        ArchiveSecret::RootKey(provider) => KeyHeader::RootKey {
            provider: provider.id().to_owned(),
            wrapped: STANDARD.encode(provider.wrap(key.expose(), None).await?),
        },
        ArchiveSecret::Passphrase(passphrase) => {
            if passphrase.len() < MIN_PASSPHRASE_LEN {
                return Err(CoreError::InvalidInput(format!(
                    "the backup passphrase must be at least {MIN_PASSPHRASE_LEN} bytes"
                )));
            }
            let params = PassphraseParams::default();
            let salt = random_bytes::<16>()?;
            let kek = derive_passphrase_kek(passphrase, salt.to_vec(), params).await?;
            KeyHeader::Passphrase {
                kdf: Kdf {
                    algorithm: "argon2id".into(),
                    memory_kib: params.memory_kib,
                    iterations: params.iterations,
                    parallelism: params.parallelism,
                    salt: STANDARD.encode(salt),
                },
                wrapped: STANDARD.encode(kek.wrap(key.expose(), KEY_AAD)?),
            }
        }
    };
    Ok((key, header))
}

/// The archive key, opened with the secret the header asks for.
async fn open_archive_key(
    header: &KeyHeader,
    passphrase: Option<&[u8]>,
    opener: &dyn RootKeyOpener,
) -> Result<SecretKey, CoreError> {
    match header {
        KeyHeader::RootKey { provider: expected, wrapped } => {
            let wrapped = STANDARD.decode(wrapped).map_err(|_| invalid("the wrapped key is not base64"))?;
            let empty = BTreeMap::new();
            let provider = opener.open(ProviderState::from_settings(&empty)).await.map_err(|e| {
                CoreError::InvalidInput(format!(
                    "the archive key is wrapped by the root key, which cannot be opened: {e}"
                ))
            })?;
            if provider.id() != expected {
                return Err(CoreError::InvalidInput(format!(
                    "the archive key is wrapped by a {expected} root key; this configuration has a {} one",
                    provider.id()
                )));
            }
            let key = provider.unwrap(&wrapped, None).await.map_err(|_| {
                CoreError::InvalidInput(
                    "the archive key does not open under this root key (another key, or the header was altered)".into(),
                )
            })?;
            Ok(SecretKey::from_slice(&key)?)
        }
        KeyHeader::Passphrase { kdf, wrapped } => {
            let Some(passphrase) = passphrase else {
                return Err(CoreError::InvalidInput(
                    "the archive is protected by a backup passphrase: give it (--passphrase-file or STRONGROOM_BACKUP_PASSPHRASE)".into(),
                ));
            };
            if kdf.algorithm != "argon2id"
                || kdf.memory_kib > MAX_MEMORY_KIB
                || kdf.iterations > 64
                || kdf.parallelism > 16
            {
                return Err(invalid("key-derivation parameters out of range"));
            }
            let salt = STANDARD.decode(&kdf.salt).map_err(|_| invalid("the salt is not base64"))?;
            let wrapped = STANDARD.decode(wrapped).map_err(|_| invalid("the wrapped key is not base64"))?;
            let params = PassphraseParams {
                memory_kib: kdf.memory_kib,
                iterations: kdf.iterations,
                parallelism: kdf.parallelism,
            };
            let kek = derive_passphrase_kek(passphrase, salt, params).await?;
            let key = kek.unwrap(&wrapped, KEY_AAD).map_err(|_| {
                CoreError::InvalidInput("wrong backup passphrase, or the archive header was altered".into())
            })?;
            Ok(SecretKey::from_slice(key.expose())?)
        }
    }
}

fn chunk_aad(header_hash: &[u8; 32], part: u32, flags: u8) -> [u8; 37] {
    let mut aad = [0u8; 37];
    aad[..32].copy_from_slice(header_hash);
    aad[32..36].copy_from_slice(&part.to_be_bytes());
    aad[36] = flags;
    aad
}

/// Writes parts as sealed chunks.
struct ArchiveWriter<'w> {
    out: &'w mut (dyn Write + Send),
    cipher: StreamCipher,
    header_hash: [u8; 32],
    counter: u32,
    part: u32,
    part_chunks: u32,
    buffer: Zeroizing<Vec<u8>>,
    hasher: Sha256Stream,
    bytes: u64,
    rows: u64,
    name: String,
    parts: Vec<ManifestPart>,
    written: u64,
}

impl<'w> ArchiveWriter<'w> {
    fn begin_part(&mut self, head: &Value) -> Result<(), CoreError> {
        self.name = head["name"].as_str().unwrap_or_default().to_owned();
        self.part_chunks = 0;
        self.bytes = 0;
        self.rows = 0;
        self.hasher = Sha256Stream::default();
        let mut line = serde_json::to_vec(head).map_err(|e| invalid(e.to_string()))?;
        line.push(b'\n');
        self.write(&line)
    }

    fn write(&mut self, data: &[u8]) -> Result<(), CoreError> {
        self.hasher.update(data);
        self.bytes += data.len() as u64;
        self.buffer.extend_from_slice(data);
        while self.buffer.len() >= CHUNK {
            let rest = Zeroizing::new(self.buffer.split_off(CHUNK));
            let full = std::mem::replace(&mut self.buffer, rest);
            self.emit(&full, false)?;
        }
        Ok(())
    }

    fn row(&mut self, cells: &[Cell]) -> Result<(), CoreError> {
        let values: Vec<Value> = cells.iter().map(Cell::to_json).collect();
        let mut line = Zeroizing::new(serde_json::to_vec(&values).map_err(|e| invalid(e.to_string()))?);
        line.push(b'\n');
        self.rows += 1;
        self.write(&line)
    }

    fn emit(&mut self, plaintext: &[u8], last: bool) -> Result<(), CoreError> {
        let flags = if last { LAST } else { 0 };
        let sealed =
            self.cipher.seal_chunk(self.counter, last, &chunk_aad(&self.header_hash, self.part, flags), plaintext)?;
        self.counter = self.counter.checked_add(1).ok_or_else(|| invalid("too many chunks"))?;
        self.part_chunks += 1;
        let mut frame = Vec::with_capacity(9);
        frame.extend_from_slice(&self.part.to_be_bytes());
        frame.push(flags);
        frame.extend_from_slice(&(sealed.len() as u32).to_be_bytes());
        self.out.write_all(&frame).map_err(io)?;
        self.out.write_all(&sealed).map_err(io)?;
        self.written += (frame.len() + sealed.len()) as u64;
        Ok(())
    }

    fn end_part(&mut self, last: bool) -> Result<(), CoreError> {
        if !self.buffer.is_empty() || self.part_chunks == 0 || last {
            let rest = std::mem::take(&mut *self.buffer);
            let rest = Zeroizing::new(rest);
            self.emit(&rest, last)?;
        }
        let hasher = std::mem::take(&mut self.hasher);
        self.parts.push(ManifestPart {
            name: std::mem::take(&mut self.name),
            bytes: self.bytes,
            sha256: to_hex(&hasher.finish()),
            rows: self.rows,
        });
        self.part += 1;
        Ok(())
    }
}

/// Collects the table parts of a dump into the archive.
struct DumpSink<'a, 'w> {
    writer: &'a mut ArchiveWriter<'w>,
    table: Option<String>,
    columns: Vec<String>,
    blobs: Vec<(String, u64)>,
    audit_size: u64,
    progress: &'a (dyn Fn(String) + Send + Sync),
}

impl DumpSink<'_, '_> {
    fn close_table(&mut self) -> Result<(), CoreError> {
        if let Some(table) = self.table.take() {
            (self.progress)(format!("table {table}: {} rows", self.writer.rows));
            self.writer.end_part(false)?;
        }
        Ok(())
    }
}

#[async_trait]
impl RowSink for DumpSink<'_, '_> {
    async fn table(&mut self, name: &str, columns: &[String]) -> Result<(), CoreError> {
        self.close_table()?;
        self.writer.begin_part(&json!({"name": format!("table/{name}"), "table": name, "columns": columns}))?;
        self.table = Some(name.to_owned());
        self.columns = columns.to_vec();
        Ok(())
    }

    async fn row(&mut self, cells: Vec<Cell>) -> Result<(), CoreError> {
        let column = |name: &str| self.columns.iter().position(|c| c == name).and_then(|i| cells.get(i));
        match self.table.as_deref() {
            Some("record_blobs") => {
                if let (Some(Cell::Text(object)), Some(Cell::Int(size))) = (column("object"), column("stored_size")) {
                    self.blobs.push((object.clone(), u64::try_from(*size).unwrap_or(0)));
                }
            }
            Some("audit_head") => {
                if let Some(Cell::Int(size)) = column("size") {
                    self.audit_size = u64::try_from(*size).unwrap_or(0);
                }
            }
            _ => {}
        }
        self.writer.row(&cells)
    }
}

/// What `create` wrote.
#[derive(Debug, Clone)]
pub struct CreateSummary {
    /// Tables written.
    pub tables: usize,
    /// Rows written.
    pub rows: u64,
    /// Blob objects written.
    pub blobs: usize,
    /// Objects the snapshot named that were gone when read.
    pub missing_blobs: Vec<String>,
    /// Audit entries in the snapshot.
    pub audit_size: u64,
    /// Archive bytes.
    pub bytes: u64,
}

/// Writes a whole backup to `out`: the anchor file's checkpoints (read
/// before the snapshot, so each is of a tree the snapshot contains), every
/// table from one snapshot, then every blob object its rows name.
#[allow(clippy::too_many_arguments)]
pub async fn create(
    store: &dyn ArchiveStore,
    schema_version: i64,
    blobs: &dyn BlobStorage,
    anchors: Option<&[u8]>,
    secret: &ArchiveSecret<'_>,
    created_at_ms: i64,
    out: &mut (dyn Write + Send),
    progress: &(dyn Fn(String) + Send + Sync),
) -> Result<CreateSummary, CoreError> {
    let (key, key_header) = new_archive_key(secret).await?;
    let prefix = random_bytes::<STREAM_PREFIX_LEN>()?;
    let header = Header {
        format: FORMAT.into(),
        version: VERSION,
        created_at_ms,
        engine: store.engine().into(),
        schema_version,
        nonce_prefix: STANDARD.encode(prefix),
        key: key_header,
    };
    let header_bytes = serde_json::to_vec(&header).map_err(|e| invalid(e.to_string()))?;
    out.write_all(MAGIC).map_err(io)?;
    out.write_all(&(header_bytes.len() as u32).to_be_bytes()).map_err(io)?;
    out.write_all(&header_bytes).map_err(io)?;
    let mut writer = ArchiveWriter {
        out,
        cipher: StreamCipher::new(&key, prefix),
        header_hash: header_hash(&header_bytes),
        counter: 0,
        part: 0,
        part_chunks: 0,
        buffer: Zeroizing::new(Vec::with_capacity(CHUNK)),
        hasher: Sha256Stream::default(),
        bytes: 0,
        rows: 0,
        name: String::new(),
        parts: Vec::new(),
        written: (MAGIC.len() + 4 + header_bytes.len()) as u64,
    };

    writer.begin_part(&json!({"name": "anchors"}))?;
    let mut anchored = 0;
    for line in anchors.unwrap_or_default().split(|b| *b == b'\n').filter(|l| !l.trim_ascii().is_empty()) {
        let parsed: Value = serde_json::from_slice(line).map_err(|e| invalid(format!("anchor file line: {e}")))?;
        if parsed["note"].is_string() {
            writer.write(line)?;
            writer.write(b"\n")?;
            anchored += 1;
        }
    }
    writer.rows = anchored;
    writer.end_part(false)?;

    let mut sink =
        DumpSink { writer: &mut writer, table: None, columns: Vec::new(), blobs: Vec::new(), audit_size: 0, progress };
    store.dump(&mut sink).await?;
    sink.close_table()?;
    let (objects, audit_size) = (std::mem::take(&mut sink.blobs), sink.audit_size);
    let tables = writer.parts.len() - 1;
    let rows = writer.parts.iter().skip(1).map(|p| p.rows).sum();

    let mut missing = Vec::new();
    let total = objects.len();
    for (done, (object, stored_size)) in objects.into_iter().enumerate() {
        let mut reader = match blobs.read_range(&object, 0, stored_size).await {
            Ok(reader) => reader,
            Err(crate::records::BlobError::Missing(_)) => {
                (progress)(format!("blob {object}: gone since the snapshot (its record was deleted), skipped"));
                missing.push(object);
                continue;
            }
            Err(error) => return Err(error.into()),
        };
        writer.begin_part(&json!({"name": format!("blob/{object}"), "object": object, "size": stored_size}))?;
        let mut buffer = vec![0u8; CHUNK];
        loop {
            let n = reader
                .read(&mut buffer)
                .await
                .map_err(|e| CoreError::Blob(crate::records::BlobError::Failed(Box::new(e))))?;
            if n == 0 {
                break;
            }
            writer.write(&buffer[..n])?;
        }
        writer.end_part(false)?;
        if (done + 1) % 100 == 0 || done + 1 == total {
            (progress)(format!("blobs: {}/{total}", done + 1));
        }
    }
    let blobs_written = writer.parts.len() - 1 - tables;

    let manifest = Manifest { parts: writer.parts.clone(), missing_blobs: missing.clone(), audit_size };
    writer.begin_part(&json!({"name": "manifest"}))?;
    let mut manifest_line = serde_json::to_vec(&manifest).map_err(|e| invalid(e.to_string()))?;
    manifest_line.push(b'\n');
    writer.write(&manifest_line)?;
    writer.end_part(true)?;
    writer.out.flush().map_err(io)?;
    Ok(CreateSummary { tables, rows, blobs: blobs_written, missing_blobs: missing, audit_size, bytes: writer.written })
}

fn header_hash(header_bytes: &[u8]) -> [u8; 32] {
    let mut input = MAGIC.to_vec();
    input.extend_from_slice(header_bytes);
    sha256(&input)
}

/// One step of reading an archive's parts.
enum Event {
    /// A part begins: its number and its opening line (`None` when its first chunk is damaged).
    Start(u32, Option<Value>),
    /// A line of a line-based part (anchors, table, manifest).
    Line(Zeroizing<Vec<u8>>),
    /// Bytes of a blob part.
    Data(Zeroizing<Vec<u8>>),
    /// The part ended: its SHA-256 and size, unless it was damaged.
    End(u32, Option<([u8; 32], u64)>),
    /// The archive ended properly (its last chunk was seen).
    Finished,
}

/// Reads chunks, opens them and splits parts into events. In tolerant mode
/// (`verify`) a chunk that fails authentication is recorded and its part
/// marked damaged; otherwise it is an error.
struct PartReader<R: Read> {
    input: R,
    cipher: StreamCipher,
    header_hash: [u8; 32],
    counter: u32,
    tolerant: bool,
    part: Option<u32>,
    raw: bool,
    header_seen: bool,
    damaged: bool,
    pending: Zeroizing<Vec<u8>>,
    hasher: Sha256Stream,
    bytes: u64,
    queued: std::collections::VecDeque<Event>,
    finished: bool,
    /// Chunks that failed: (part, chunk counter).
    failures: Vec<(u32, u32)>,
}

fn read_exact_or_eof<R: Read>(input: &mut R, buffer: &mut [u8]) -> Result<bool, CoreError> {
    let mut filled = 0;
    while filled < buffer.len() {
        match input.read(&mut buffer[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => return Err(invalid("the archive ends inside a chunk (truncated)")),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io(e)),
        }
    }
    Ok(true)
}

impl<R: Read> PartReader<R> {
    fn next(&mut self) -> Result<Event, CoreError> {
        loop {
            if let Some(event) = self.queued.pop_front() {
                return Ok(event);
            }
            if let Some(event) = self.split_pending()? {
                return Ok(event);
            }
            if self.finished {
                return Ok(Event::Finished);
            }
            self.read_chunk()?;
        }
    }

    /// The next line or blob bytes from what is opened already.
    fn split_pending(&mut self) -> Result<Option<Event>, CoreError> {
        if self.pending.is_empty() {
            return Ok(None);
        }
        if self.raw && self.header_seen {
            let data = std::mem::take(&mut *self.pending);
            return Ok(Some(Event::Data(Zeroizing::new(data))));
        }
        let Some(end) = self.pending.iter().position(|b| *b == b'\n') else { return Ok(None) };
        let rest = Zeroizing::new(self.pending.split_off(end + 1));
        let mut line = std::mem::replace(&mut self.pending, rest);
        line.truncate(end);
        if !self.header_seen {
            self.header_seen = true;
            let head: Value =
                serde_json::from_slice(&line).map_err(|_| invalid("a part's opening line is not JSON"))?;
            self.raw = head["name"].as_str().is_some_and(|n| n.starts_with("blob/"));
            return Ok(Some(Event::Start(self.part.unwrap_or_default(), Some(head))));
        }
        Ok(Some(Event::Line(line)))
    }

    fn end_current(&mut self) {
        if let Some(part) = self.part.take() {
            let hasher = std::mem::take(&mut self.hasher);
            let outcome = if self.damaged || !self.pending.is_empty() && !self.raw {
                None
            } else {
                Some((hasher.finish(), self.bytes))
            };
            if !self.damaged && !self.pending.is_empty() && !self.raw {
                // A line-based part must end with a newline.
                self.failures.push((part, self.counter));
            }
            self.pending.clear();
            self.queued.push_back(Event::End(part, outcome));
        }
    }

    fn read_chunk(&mut self) -> Result<(), CoreError> {
        let mut frame = [0u8; 9];
        if !read_exact_or_eof(&mut self.input, &mut frame)? {
            return Err(invalid("the archive ends before its last chunk (truncated)"));
        }
        let part = u32::from_be_bytes(frame[..4].try_into().expect("4 bytes"));
        let flags = frame[4];
        let len = u32::from_be_bytes(frame[5..9].try_into().expect("4 bytes")) as usize;
        if len > CHUNK + STREAM_TAG_LEN || flags & !LAST != 0 {
            return Err(invalid(format!(
                "the framing of chunk {} (part {part}) is damaged: nothing after it can be read",
                self.counter
            )));
        }
        let mut sealed = vec![0u8; len];
        if !read_exact_or_eof(&mut self.input, &mut sealed)? {
            return Err(invalid("the archive ends inside a chunk (truncated)"));
        }
        let last = flags & LAST != 0;
        let opened = self.cipher.open_chunk(self.counter, last, &chunk_aad(&self.header_hash, part, flags), &sealed);
        let counter = self.counter;
        self.counter = self.counter.checked_add(1).ok_or_else(|| invalid("too many chunks"))?;
        if self.part != Some(part) {
            self.end_current();
            self.part = Some(part);
            self.header_seen = false;
            self.raw = false;
            self.damaged = false;
            self.bytes = 0;
        }
        match opened {
            Ok(plain) => {
                if !self.damaged {
                    self.hasher.update(plain.expose());
                    self.bytes += plain.expose().len() as u64;
                    self.pending.extend_from_slice(plain.expose());
                }
            }
            Err(_) if self.tolerant => {
                self.failures.push((part, counter));
                if !self.header_seen {
                    self.header_seen = true;
                    self.queued.push_back(Event::Start(part, None));
                }
                self.damaged = true;
                self.pending.clear();
            }
            Err(_) => return Err(invalid(format!("chunk {counter} (part {part}) fails authentication"))),
        }
        if last {
            let mut probe = [0u8; 1];
            if read_exact_or_eof(&mut self.input, &mut probe)? {
                return Err(invalid("bytes follow the archive's last chunk"));
            }
            // Drain what is opened before ending the part.
            while let Some(event) = self.split_pending()? {
                self.queued.push_back(event);
            }
            self.end_current();
            self.finished = true;
        }
        Ok(())
    }
}

/// Reads the header and opens the archive key.
async fn open_archive<R: Read>(
    mut input: R,
    passphrase: Option<&[u8]>,
    opener: &dyn RootKeyOpener,
    tolerant: bool,
) -> Result<(Header, PartReader<R>), CoreError> {
    let mut magic = [0u8; 8];
    if !read_exact_or_eof(&mut input, &mut magic)? || &magic != MAGIC {
        return Err(invalid("it does not start with SRARCHV1"));
    }
    let mut len = [0u8; 4];
    read_exact_or_eof(&mut input, &mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_HEADER {
        return Err(invalid("the header is too long"));
    }
    let mut header_bytes = vec![0u8; len];
    if !read_exact_or_eof(&mut input, &mut header_bytes)? {
        return Err(invalid("the archive ends inside its header"));
    }
    let header: Header =
        serde_json::from_slice(&header_bytes).map_err(|e| invalid(format!("the header is damaged: {e}")))?;
    if header.format != FORMAT || header.version != VERSION {
        return Err(invalid("unknown format or version"));
    }
    let prefix: [u8; STREAM_PREFIX_LEN] = STANDARD
        .decode(&header.nonce_prefix)
        .ok()
        .and_then(|p| p.try_into().ok())
        .ok_or_else(|| invalid("the header's nonce prefix is damaged"))?;
    let key = open_archive_key(&header.key, passphrase, opener).await?;
    let reader = PartReader {
        input,
        cipher: StreamCipher::new(&key, prefix),
        header_hash: header_hash(&header_bytes),
        counter: 0,
        tolerant,
        part: None,
        raw: false,
        header_seen: false,
        damaged: false,
        pending: Zeroizing::new(Vec::new()),
        hasher: Sha256Stream::default(),
        bytes: 0,
        queued: Default::default(),
        finished: false,
        failures: Vec::new(),
    };
    Ok((header, reader))
}

fn parse_row(line: &[u8]) -> Result<Vec<Cell>, CoreError> {
    let values: Zeroizing<Vec<u8>> = Zeroizing::new(line.to_vec());
    let values: Vec<Value> = serde_json::from_slice(&values).map_err(|_| invalid("a row is not a JSON array"))?;
    values.iter().map(|v| Cell::from_json(v).ok_or_else(|| invalid("a row holds an unknown value"))).collect()
}

/// What `verify` found.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// The engine the archive was taken on.
    pub engine: String,
    /// Its schema version.
    pub schema_version: i64,
    /// Parts read (tables, blobs, anchors, manifest).
    pub parts: usize,
    /// Tables and rows.
    pub tables: usize,
    /// Rows in all tables.
    pub rows: u64,
    /// Blob objects.
    pub blobs: usize,
    /// Key versions whose material opened under the root key.
    pub key_versions_opened: usize,
    /// Audit entries checked against the tree.
    pub audit_entries: u64,
    /// Signed checkpoints (stored and anchored) compared.
    pub checkpoints_checked: usize,
    /// The newest signed checkpoint's size.
    pub newest_checkpoint: Option<u64>,
    /// Everything wrong, each naming the part; empty when the archive verifies.
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// Whether nothing is wrong.
    pub fn verified(&self) -> bool {
        self.problems.is_empty()
    }
}

/// State of a verification as parts go by.
struct Checker<'a> {
    opener: &'a dyn RootKeyOpener,
    report: VerifyReport,
    names: BTreeMap<u32, String>,
    sums: BTreeMap<u32, Option<([u8; 32], u64)>>,
    rows: BTreeMap<u32, u64>,
    manifest: Option<Manifest>,
    manifest_bytes: Vec<u8>,
    table: Option<(String, Vec<String>)>,
    settings: BTreeMap<String, Vec<u8>>,
    key_versions: Vec<(String, u32, Vec<u8>)>,
    notes: Vec<String>,
    head: Option<TreeHead>,
    log: Option<LogVerifier>,
    blob_objects: BTreeSet<String>,
    referenced: BTreeSet<String>,
    current: Option<u32>,
}

impl Checker<'_> {
    fn problem(&mut self, message: String) {
        if self.report.problems.len() < 100 {
            self.report.problems.push(message);
        }
    }

    /// Opens the keyring under the configured root key, and the audit log's
    /// checkpoint keys from it: run when the audit entries start (the
    /// tables before them hold the settings and the keyring).
    async fn open_keyring(&mut self) -> Vec<NoteVerifier> {
        let provider = match self.opener.open(ProviderState::from_settings(&self.settings)).await {
            Ok(provider) => provider,
            Err(error) => {
                self.problem(format!("keyring: the root key cannot be opened to check it: {error}"));
                return Vec::new();
            }
        };
        let kek = match keyring_kek(provider.as_ref(), ProviderState::from_settings(&self.settings)).await {
            Ok(kek) => kek,
            Err(error) => {
                self.problem(format!("keyring: the keyring key does not open under the root key: {error}"));
                return Vec::new();
            }
        };
        match self.settings.get(ROOT_KEY_CHECK) {
            Some(check) if opens_check_value(kek.as_ref(), check) => {}
            Some(_) => self.problem(format!(
                "keyring: the archive was written under another root key than {} (its check value does not open)",
                kek.id()
            )),
            None => self.problem("keyring: the archive holds no root-key check value".into()),
        }
        let origin = self.notes.first().and_then(|note| note.lines().next()).unwrap_or_default().to_owned();
        let mut verifiers = Vec::new();
        let mut failed = Vec::new();
        for (name, version, wrapped) in &self.key_versions {
            if wrapped.is_empty() {
                continue;
            }
            match kek.unwrap(wrapped, &wrap_aad(name, *version)) {
                Ok(material) => {
                    self.report.key_versions_opened += 1;
                    if name == AUDIT_SIGNING_KEY
                        && let Ok(public) = strongroom_crypto::ed25519_public_key(material.expose())
                        && let Ok(verifier) = NoteVerifier::new(&origin, public)
                    {
                        verifiers.push(verifier);
                    }
                }
                Err(_) => failed.push(format!("{name} v{version}")),
            }
        }
        if !failed.is_empty() {
            self.problem(format!(
                "keyring: {} key version(s) do not open under the root key {}: {}",
                failed.len(),
                kek.id(),
                failed.join(", ")
            ));
        }
        verifiers
    }

    async fn line(&mut self, part: u32, line: &[u8]) -> Result<(), CoreError> {
        let name = self.names.get(&part).cloned().unwrap_or_default();
        if name == "manifest" {
            self.manifest_bytes.extend_from_slice(line);
            return Ok(());
        }
        if name == "anchors" {
            if let Ok(value) = serde_json::from_slice::<Value>(line)
                && let Some(note) = value["note"].as_str()
            {
                self.notes.push(note.to_owned());
            }
            return Ok(());
        }
        let Some((table, columns)) = self.table.clone() else { return Ok(()) };
        let cells = match parse_row(line) {
            Ok(cells) if cells.len() == columns.len() => cells,
            _ => {
                self.problem(format!("part {name}: a row does not match the table's columns"));
                return Ok(());
            }
        };
        *self.rows.entry(part).or_default() += 1;
        let get = |column: &str| columns.iter().position(|c| c == column).map(|i| &cells[i]);
        match table.as_str() {
            "settings" => {
                if let (Some(Cell::Text(n)), Some(Cell::Bytes(v))) = (get("name"), get("value")) {
                    self.settings.insert(n.clone(), v.clone());
                }
            }
            "key_versions" => {
                if let (Some(Cell::Text(n)), Some(v), Some(Cell::Bytes(w))) =
                    (get("key_name"), get("version").and_then(Cell::as_int), get("wrapped_material"))
                {
                    self.key_versions.push((n.clone(), u32::try_from(v).unwrap_or(0), w.clone()));
                }
            }
            "audit_head" => {
                let size = get("size").and_then(Cell::as_int).and_then(|s| u64::try_from(s).ok());
                let root = get("root").and_then(Cell::as_bytes).and_then(|r| Hash::try_from(r).ok());
                if let (Some(size), Some(root)) = (size, root) {
                    self.head = Some(TreeHead { size, root });
                }
            }
            "audit_checkpoints" => {
                if let Some(note) = get("note").and_then(Cell::as_text) {
                    self.notes.push(note.to_owned());
                }
            }
            "audit_entries" => {
                if self.log.is_none() {
                    let verifiers = self.open_keyring().await;
                    let origin = verifiers.first().map(|v| v.name().to_owned()).unwrap_or_default();
                    let mut log = LogVerifier::new();
                    for note in &self.notes {
                        log.add_signed_checkpoint(note, &verifiers, &origin);
                    }
                    self.log = Some(log);
                }
                let index = get("leaf_index").and_then(Cell::as_int).and_then(|i| u64::try_from(i).ok());
                let entry = get("entry").and_then(Cell::as_bytes);
                if let (Some(index), Some(entry), Some(log)) = (index, entry, self.log.as_mut()) {
                    log.feed_unhashed(index, entry);
                }
            }
            "record_blobs" => {
                if let Some(object) = get("object").and_then(Cell::as_text) {
                    self.referenced.insert(object.to_owned());
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn start(&mut self, part: u32, head: Option<Value>) {
        self.current = Some(part);
        self.table = None;
        let Some(head) = head else { return };
        let name = head["name"].as_str().unwrap_or_default().to_owned();
        if let Some(table) = head["table"].as_str() {
            let columns = head["columns"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect();
            self.table = Some((table.to_owned(), columns));
        }
        if let Some(object) = head["object"].as_str() {
            self.blob_objects.insert(object.to_owned());
        }
        self.names.insert(part, name);
    }

    async fn finish(mut self, failures: Vec<(u32, u32)>) -> VerifyReport {
        // The manifest names every part, including one whose opening chunk is damaged.
        match serde_json::from_slice::<Manifest>(&self.manifest_bytes) {
            Ok(manifest) => self.manifest = Some(manifest),
            Err(_) => self.problem("the manifest (the archive's last part) cannot be read".into()),
        }
        let name_of = |checker: &Self, part: u32| -> String {
            checker
                .manifest
                .as_ref()
                .and_then(|m| m.parts.get(part as usize))
                .map(|p| p.name.clone())
                .or_else(|| checker.names.get(&part).cloned())
                .unwrap_or_else(|| format!("#{part}"))
        };
        for (part, counter) in failures {
            let name = name_of(&self, part);
            self.problem(format!("part {name}: chunk {counter} fails authentication (altered or damaged)"));
        }
        if let Some(manifest) = self.manifest.clone() {
            let listed = manifest.parts.len() as u32;
            for (index, expected) in manifest.parts.iter().enumerate() {
                match self.sums.get(&(index as u32)) {
                    Some(Some((sum, bytes))) => {
                        if to_hex(sum) != expected.sha256 || *bytes != expected.bytes {
                            self.problem(format!("part {}: its SHA-256 differs from the manifest's", expected.name));
                        }
                    }
                    Some(None) => {}
                    None => self.problem(format!("part {}: missing from the archive", expected.name)),
                }
                if let Some(rows) = self.rows.get(&(index as u32))
                    && expected.name.starts_with("table/")
                    && *rows != expected.rows
                {
                    self.problem(format!("part {}: {rows} rows, the manifest says {}", expected.name, expected.rows));
                }
            }
            // The manifest itself is the part after those it lists.
            if self.sums.keys().any(|p| *p > listed) {
                self.problem("the archive holds parts the manifest does not list".into());
            }
            let missing: BTreeSet<String> = manifest.missing_blobs.iter().cloned().collect();
            let unheld: Vec<String> = self
                .referenced
                .difference(&self.blob_objects)
                .filter(|object| !missing.contains(*object))
                .cloned()
                .collect();
            for object in unheld {
                self.problem(format!("part blob/{object}: a record names it but the archive does not hold it"));
            }
        }
        self.report.tables = self.names.values().filter(|n| n.starts_with("table/")).count();
        self.report.blobs = self.blob_objects.len();
        self.report.rows = self
            .rows
            .iter()
            .filter(|(p, _)| self.names.get(p).is_some_and(|n| n.starts_with("table/")))
            .map(|(_, r)| r)
            .sum();
        self.report.parts = self.names.len();
        let log = match self.log.take() {
            Some(log) => log,
            None => {
                // An archive with no audit entries still has its keyring checked.
                let verifiers = self.open_keyring().await;
                let origin = verifiers.first().map(|v| v.name().to_owned()).unwrap_or_default();
                let mut log = LogVerifier::new();
                for note in &self.notes {
                    log.add_signed_checkpoint(note, &verifiers, &origin);
                }
                log
            }
        };
        let audit = log.finish(self.head.take());
        self.report.audit_entries = audit.entries_checked;
        self.report.checkpoints_checked = audit.checkpoints_checked;
        self.report.newest_checkpoint =
            self.notes.iter().filter_map(|n| n.lines().nth(1).and_then(|s| s.parse::<u64>().ok())).max();
        for problem in audit.problems {
            self.problem(format!("audit log: {}", problem.message));
        }
        if self.report.newest_checkpoint.is_some() && audit.checkpoints_checked == 0 {
            self.problem("audit log: no signed checkpoint could be compared with the entries".into());
        }
        self.report
    }
}

/// Checks an archive without restoring it: every chunk authenticates, every
/// part's SHA-256 matches the manifest, the keyring opens under the
/// configured root key, and the audit entries rebuild the tree every signed
/// checkpoint (stored and anchored) commits to, up to the newest.
pub async fn verify<R: Read>(
    input: R,
    passphrase: Option<&[u8]>,
    opener: &dyn RootKeyOpener,
) -> Result<VerifyReport, CoreError> {
    let (header, mut reader) = open_archive(input, passphrase, opener, true).await?;
    let mut checker = Checker {
        opener,
        report: VerifyReport { engine: header.engine, schema_version: header.schema_version, ..Default::default() },
        names: BTreeMap::new(),
        sums: BTreeMap::new(),
        rows: BTreeMap::new(),
        manifest: None,
        manifest_bytes: Vec::new(),
        table: None,
        settings: BTreeMap::new(),
        key_versions: Vec::new(),
        notes: Vec::new(),
        head: None,
        log: None,
        blob_objects: BTreeSet::new(),
        referenced: BTreeSet::new(),
        current: None,
    };
    loop {
        let event = match reader.next() {
            Ok(event) => event,
            Err(error) => {
                let part = checker.current.map(|p| checker.names.get(&p).cloned().unwrap_or(format!("#{p}")));
                let mut report = checker.finish(std::mem::take(&mut reader.failures)).await;
                report.problems.insert(
                    0,
                    match part {
                        Some(part) => format!("part {part}: {error}"),
                        None => error.to_string(),
                    },
                );
                return Ok(report);
            }
        };
        match event {
            Event::Start(part, head) => checker.start(part, head),
            Event::Line(line) => {
                if let Some(part) = checker.current {
                    checker.line(part, &line).await?;
                }
            }
            Event::Data(_) => {}
            Event::End(part, sum) => {
                checker.sums.insert(part, sum);
            }
            Event::Finished => break,
        }
    }
    let failures = std::mem::take(&mut reader.failures);
    Ok(checker.finish(failures).await)
}

/// Hands the archive's table parts to the store, then stops at the first
/// other part, which it keeps for the caller.
struct ArchiveRows<'r, R: Read> {
    reader: &'r mut PartReader<R>,
    next: Option<(u32, Value)>,
    rows: u64,
    progress: &'r (dyn Fn(String) + Send + Sync),
}

impl<R: Read> ArchiveRows<'_, R> {
    fn next_start(&mut self) -> Result<Option<(u32, Value)>, CoreError> {
        loop {
            match self.reader.next()? {
                Event::Start(part, Some(head)) => return Ok(Some((part, head))),
                Event::Finished => return Ok(None),
                Event::Start(_, None) => return Err(invalid("a part is damaged")),
                _ => {}
            }
        }
    }
}

#[async_trait]
impl<R: Read + Send> RowSource for ArchiveRows<'_, R> {
    async fn next_table(&mut self) -> Result<Option<(String, Vec<String>)>, CoreError> {
        if self.next.is_none() {
            self.next = self.next_start()?;
        }
        let Some((_, head)) = &self.next else { return Ok(None) };
        let Some(table) = head["table"].as_str() else { return Ok(None) };
        let columns =
            head["columns"].as_array().into_iter().flatten().filter_map(|c| c.as_str().map(str::to_owned)).collect();
        let table = table.to_owned();
        self.next = None;
        (self.progress)(format!("restoring table {table}"));
        Ok(Some((table, columns)))
    }

    async fn next_row(&mut self) -> Result<Option<Vec<Cell>>, CoreError> {
        match self.reader.next()? {
            Event::Line(line) => {
                self.rows += 1;
                Ok(Some(parse_row(&line)?))
            }
            Event::End(..) => Ok(None),
            _ => Err(invalid("a table part is malformed")),
        }
    }
}

/// What `restore` did.
#[derive(Debug, Clone)]
pub struct RestoreSummary {
    /// The check made first.
    pub verified: VerifyReport,
    /// Rows written.
    pub rows: u64,
    /// Objects written.
    pub blobs: usize,
    /// The anchor file's lines, for the caller to write where the target
    /// configuration keeps its anchors.
    pub anchors: Vec<u8>,
}

/// Restores an archive into an empty database and blob store: first a
/// whole `verify` (nothing is written from an archive that does not verify),
/// then the rows in one transaction, then the blob objects. `open` is
/// called once per pass.
pub async fn restore<R: Read + Send>(
    open: &(dyn Fn() -> std::io::Result<R> + Send + Sync),
    passphrase: Option<&[u8]>,
    opener: &dyn RootKeyOpener,
    target: &dyn ArchiveStore,
    target_schema_version: i64,
    blobs: &dyn BlobStorage,
    progress: &(dyn Fn(String) + Send + Sync),
) -> Result<RestoreSummary, CoreError> {
    let report = verify(open().map_err(io)?, passphrase, opener).await?;
    if !report.verified() {
        return Err(CoreError::InvalidInput(format!(
            "the archive does not verify, nothing was restored: {}",
            report.problems.join("; ")
        )));
    }
    if report.schema_version != target_schema_version {
        return Err(CoreError::InvalidInput(format!(
            "the archive is of schema version {}, this release's is {}: restore with the release that wrote it",
            report.schema_version, target_schema_version
        )));
    }
    let occupied = target.occupied_tables().await?;
    if !occupied.is_empty() {
        return Err(CoreError::Conflict(format!(
            "the target database is not empty (rows in {}): restore only into an empty database",
            occupied.join(", ")
        )));
    }
    (progress)(format!(
        "verified: {} tables, {} rows, {} blobs, {} audit entries; restoring",
        report.tables, report.rows, report.blobs, report.audit_entries
    ));
    let (_, mut reader) = open_archive(open().map_err(io)?, passphrase, opener, false).await?;
    let mut anchors = Vec::new();
    match reader.next()? {
        Event::Start(_, Some(head)) if head["name"] == "anchors" => {}
        _ => return Err(invalid("the archive does not start with its anchors")),
    }
    loop {
        match reader.next()? {
            Event::Line(line) => {
                anchors.extend_from_slice(&line);
                anchors.push(b'\n');
            }
            Event::End(..) => break,
            _ => return Err(invalid("the anchors part is malformed")),
        }
    }
    let mut rows = ArchiveRows { reader: &mut reader, next: None, rows: 0, progress };
    target.load(&mut rows).await?;
    let (written, mut pending) = (rows.rows, rows.next.take());
    let mut restored_blobs = 0;
    loop {
        let head = match pending.take() {
            Some((_, head)) => head,
            None => match reader.next()? {
                Event::Start(_, Some(head)) => head,
                Event::Finished => break,
                Event::End(..) | Event::Data(_) | Event::Line(_) => continue,
                Event::Start(_, None) => return Err(invalid("a part is damaged")),
            },
        };
        let Some(object) = head["object"].as_str() else { continue };
        let mut upload = blobs.begin(object).await?;
        loop {
            match reader.next() {
                Ok(Event::Data(data)) => {
                    if let Err(error) = upload.write(&data).await {
                        upload.abort().await;
                        return Err(error.into());
                    }
                }
                Ok(Event::End(..)) => break,
                Ok(_) => {
                    upload.abort().await;
                    return Err(invalid("a blob part is malformed"));
                }
                Err(error) => {
                    upload.abort().await;
                    return Err(error);
                }
            }
        }
        upload.finish().await?;
        restored_blobs += 1;
        if restored_blobs % 100 == 0 {
            (progress)(format!("blobs: {restored_blobs}/{}", report.blobs));
        }
    }
    Ok(RestoreSummary { verified: report, rows: written, blobs: restored_blobs, anchors })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_round_trip_through_json() {
        for cell in [Cell::Null, Cell::Int(-5), Cell::Bool(true), Cell::Text("a\nb".into()), Cell::Bytes(vec![0, 255])]
        {
            assert_eq!(Cell::from_json(&cell.to_json()), Some(cell));
        }
    }
}
