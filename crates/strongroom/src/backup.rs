//! `strongroom backup …`: a whole installation in one encrypted archive
//! (`create`, beside a running server), checked without restoring
//! (`verify`), and restored into an empty installation of either engine
//! (`restore`): the way to move from the embedded SQLite to PostgreSQL.
//! The format and what it checks are core's (`strongroom_core::archive`);
//! this wires the configuration in: database, blob store, anchor file, root key.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use async_trait::async_trait;
use clap::{Args, Subcommand};
use strongroom_config::Config;
use strongroom_core::CoreError;
use strongroom_core::archive::{self, ArchiveSecret, RootKeyOpener};
use strongroom_core::audit::EventType;
use strongroom_core::root_key::{ProviderState, RootKeyProvider};
use strongroom_store::{ConnectOptions, Database};
use zeroize::Zeroizing;

use crate::keys::backup_passphrase;
use crate::server::{blob_storage, cli_context, open_services};

/// Whole-backup commands.
#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Write everything (database rows from one snapshot, blob objects, the
    /// anchor file) to a new encrypted archive (0600). The server may run.
    Create {
        /// The archive to create (never overwritten).
        archive: PathBuf,
        #[command(flatten)]
        secret: SecretArgs,
    },
    /// Check an archive without restoring: every chunk and hash, the keyring
    /// under the root key, the audit tree against its signed checkpoints.
    Verify {
        /// The archive.
        archive: PathBuf,
        #[command(flatten)]
        secret: SecretArgs,
    },
    /// Restore an archive into this configuration's empty database, blob
    /// store and anchor file (SQLite or PostgreSQL, whichever the archive came from).
    Restore {
        /// The archive.
        archive: PathBuf,
        #[command(flatten)]
        secret: SecretArgs,
    },
}

/// Which secret protects the archive key.
#[derive(Debug, Args)]
pub struct SecretArgs {
    /// A file whose first line is the backup passphrase (at least 16
    /// bytes); or STRONGROOM_BACKUP_PASSPHRASE.
    #[arg(long, value_name = "PATH")]
    passphrase_file: Option<PathBuf>,
    /// Protect a new archive with the configured root key instead of a passphrase.
    #[arg(long)]
    root_key: bool,
}

impl SecretArgs {
    /// The passphrase, if one was given (either way).
    fn passphrase(&self) -> anyhow::Result<Option<Zeroizing<String>>> {
        if self.passphrase_file.is_none() && std::env::var_os("STRONGROOM_BACKUP_PASSPHRASE").is_none() {
            return Ok(None);
        }
        backup_passphrase(self.passphrase_file.as_deref()).map(Some)
    }
}

/// Opens the configured root-key provider over whatever state core hands it.
struct ConfiguredRootKey<'a>(&'a Config);

#[async_trait]
impl RootKeyOpener for ConfiguredRootKey<'_> {
    async fn open(&self, state: ProviderState<'_>) -> Result<Box<dyn RootKeyProvider>, CoreError> {
        strongroom_integrations::root_key::provider(&self.0.root_key, &self.0.data_dir, state)
            .await
            .map_err(|e| CoreError::RootKeyProvider(format!("{e:#}")))
    }
}

fn progress(line: String) {
    eprintln!("backup: {line}");
}

/// Runs a backup command.
pub async fn run(config: &Config, command: BackupCommand) -> anyhow::Result<()> {
    match command {
        BackupCommand::Create { archive, secret } => create(config, &archive, &secret).await,
        BackupCommand::Verify { archive, secret } => {
            let passphrase = secret.passphrase()?;
            let file = std::fs::File::open(&archive).with_context(|| format!("cannot open {}", archive.display()))?;
            let report = archive::verify(
                std::io::BufReader::with_capacity(256 * 1024, file),
                passphrase.as_ref().map(|p| p.as_bytes()),
                &ConfiguredRootKey(config),
            )
            .await?;
            println!(
                "{} (taken on {}, schema {}): {} tables, {} rows, {} blobs, {} key versions open, \
                 {} audit entries, {} checkpoints compared (newest covers {})",
                archive.display(),
                report.engine,
                report.schema_version,
                report.tables,
                report.rows,
                report.blobs,
                report.key_versions_opened,
                report.audit_entries,
                report.checkpoints_checked,
                report.newest_checkpoint.map_or("none".to_owned(), |n| format!("{n} entries")),
            );
            if report.verified() {
                println!("verified");
                Ok(())
            } else {
                for problem in &report.problems {
                    println!("problem: {problem}");
                }
                bail!("the archive does not verify ({} problem(s))", report.problems.len())
            }
        }
        BackupCommand::Restore { archive, secret } => restore(config, &archive, &secret).await,
    }
}

async fn create(config: &Config, path: &Path, secret: &SecretArgs) -> anyhow::Result<()> {
    if config.uses_sqlite() && config.database.url.is_none() && !config.sqlite_path().exists() {
        bail!("no database in {}: nothing to back up", config.data_dir.display());
    }
    // No data-dir lock and no migration: the server may be running, and the
    // snapshot is a read transaction beside it.
    let options = ConnectOptions { max_connections: 2, ..ConnectOptions::default() };
    let database = Database::connect(&config.database_url(), &options).await.context("cannot open the database")?;
    let result = async {
        let store = database.store();
        let schema_version = store.schema_version().await?;
        let blobs = blob_storage(config)?;
        // Read before the snapshot: every anchored checkpoint is then of a
        // tree the snapshot holds in full.
        let anchors = match config.audit_anchor_file() {
            Some(file) => match std::fs::read(&file) {
                Ok(bytes) => Some(bytes),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
                Err(error) => return Err(error).with_context(|| format!("cannot read {}", file.display())),
            },
            None => None,
        };
        let passphrase = secret.passphrase()?;
        let provider;
        let archive_secret = match (&passphrase, secret.root_key) {
            (Some(_), true) => bail!("give either --root-key or a backup passphrase, not both"),
            (Some(passphrase), false) => ArchiveSecret::Passphrase(passphrase.as_bytes()),
            (None, true) => {
                provider = ConfiguredRootKey(config).open(ProviderState::new(store.as_ref(), false)).await?;
                ArchiveSecret::RootKey(provider.as_ref())
            }
            (None, false) => {
                bail!("give a backup passphrase (STRONGROOM_BACKUP_PASSPHRASE or --passphrase-file) or --root-key")
            }
        };
        // No record, no backup: the export of everything is audited first
        // (so the archive holds its own creation event).
        audit(config, EventType::BackupCreate, path, if secret.root_key { "root_key" } else { "passphrase" }).await?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("cannot create {} (an existing file is never overwritten)", path.display()))?;
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, file);
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or_default();
        let started = std::time::Instant::now();
        let written = archive::create(
            database.archive_store().as_ref(),
            schema_version,
            blobs.as_ref(),
            anchors.as_deref(),
            &archive_secret,
            now_ms,
            &mut out,
            &progress,
        )
        .await;
        let summary = match written {
            Ok(summary) => summary,
            Err(error) => {
                drop(out);
                let _ = std::fs::remove_file(path);
                return Err(error.into());
            }
        };
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        println!(
            "wrote {} ({} bytes in {:.1} s): {} tables, {} rows, {} blobs, {} audit entries",
            path.display(),
            summary.bytes,
            started.elapsed().as_secs_f64(),
            summary.tables,
            summary.rows,
            summary.blobs,
            summary.audit_size
        );
        if !summary.missing_blobs.is_empty() {
            println!("{} blob(s) were deleted while the backup ran and are not in it", summary.missing_blobs.len());
        }
        anyhow::Ok(())
    }
    .await;
    database.close().await;
    result
}

/// Records `event` through the services of `config`'s installation (which
/// also checks its root key against the database).
async fn audit(config: &Config, event: EventType, archive: &Path, detail: &str) -> anyhow::Result<()> {
    let (database, services) = open_services(config).await?;
    let name = archive.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let detail_name = if event == EventType::BackupCreate { "protected_by" } else { "taken_on" };
    let recorded = services
        .audit
        .record(&services.audit.event(event, &cli_context()).detail("archive", name).detail(detail_name, detail))
        .await;
    database.close().await;
    recorded.context("cannot audit the backup")?;
    Ok(())
}

fn nonempty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).map(|mut entries| entries.next().is_some()).unwrap_or(false)
}

async fn restore(config: &Config, path: &Path, secret: &SecretArgs) -> anyhow::Result<()> {
    let passphrase = secret.passphrase()?;
    if config.blobs.backend == "disk" {
        let dir = config.blobs.dir.clone().unwrap_or_else(|| config.data_dir.join("blobs"));
        if nonempty_dir(&dir) {
            bail!("refusing to restore: the blob directory {} is not empty", dir.display());
        }
    }
    let anchor_file = config.audit_anchor_file();
    if let Some(file) = &anchor_file
        && std::fs::metadata(file).is_ok_and(|m| m.len() > 0)
    {
        bail!("refusing to restore: the anchor file {} already holds checkpoints", file.display());
    }
    crate::data_dir::ensure(&config.data_dir)?;
    let _lock = if config.uses_sqlite() { Some(crate::data_dir::lock(&config.data_dir)?) } else { None };
    let options = ConnectOptions { max_connections: 2, ..ConnectOptions::default() };
    let database = Database::connect(&config.database_url(), &options).await.context("cannot open the database")?;
    let result = async {
        database.migrate().await.context("cannot migrate the database")?;
        let target = database.archive_store();
        let occupied = target.occupied_tables().await?;
        if !occupied.is_empty() {
            bail!(
                "refusing to restore: the database is not empty (rows in {}); restore only into an empty one",
                occupied.join(", ")
            );
        }
        let schema_version = database.store().schema_version().await?;
        let blobs = blob_storage(config)?;
        let open = || std::fs::File::open(path).map(|f| std::io::BufReader::with_capacity(256 * 1024, f));
        let summary = archive::restore(
            &open,
            passphrase.as_ref().map(|p| p.as_bytes()),
            &ConfiguredRootKey(config),
            target.as_ref(),
            schema_version,
            blobs.as_ref(),
            &progress,
        )
        .await?;
        if let Some(file) = &anchor_file
            && !summary.anchors.is_empty()
        {
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(file)
                .with_context(|| format!("cannot write the anchor file {}", file.display()))?;
            out.write_all(&summary.anchors)?;
            out.sync_all()?;
        }
        audit(config, EventType::BackupRestore, path, &summary.verified.engine).await?;
        println!(
            "restored {} rows in {} tables and {} blobs (taken on {}); {} audit entries verified",
            summary.rows,
            summary.verified.tables,
            summary.blobs,
            summary.verified.engine,
            summary.verified.audit_entries
        );
        anyhow::Ok(())
    }
    .await;
    database.close().await;
    result
}
