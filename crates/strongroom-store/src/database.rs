//! Opening a database by URL and running its migrations.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use strongroom_core::archive::ArchiveStore;
use strongroom_core::audit::AuditStore;
use strongroom_core::authz::AuthzStore;
use strongroom_core::identity::IdentityStore;
use strongroom_core::records::RecordsStore;
use strongroom_core::{ApiKeyStore, Backend, JobStore, KeyStore, Store, StoreError};

use crate::engines::{PostgresStore, SqlitePools, SqliteStore};
use crate::migrations::{self, MigrationReport};
use crate::sqlite_audit_writer::SqliteAuditWriter;

/// How to open the pool.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Connections in the pool.
    pub max_connections: u32,
    /// How long to wait for a connection before failing (keeps `/readyz` from hanging).
    pub acquire_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self { max_connections: 10, acquire_timeout: Duration::from_secs(5) }
    }
}

/// An open database of either engine.
#[derive(Debug, Clone)]
pub enum Database {
    /// SQLite: WAL, `synchronous = FULL` (a committed write survives power
    /// loss, which the audit log relies on), foreign keys on,
    /// `secure_delete` on (freed space is zeroed).
    Sqlite(SqlitePools),
    /// PostgreSQL.
    Postgres(PgPool),
}

impl Database {
    /// Opens the database named by `url` (`sqlite://PATH` or `postgres://…`);
    /// a missing SQLite file is created. Fails fast if the server is unreachable.
    pub async fn connect(url: &str, options: &ConnectOptions) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(url)
                .map_err(crate::error::map)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                // Freed space is zeroed as it is freed: a value emptied or
                // deleted (personal data sealed in place, a shredded record)
                // does not linger in free pages of the file.
                .pragma("secure_delete", "ON")
                .busy_timeout(Duration::from_secs(5));
            if !url.contains(":memory:") && !url.contains("mode=memory") {
                make_private_file(connect.get_filename());
            }
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                // Writers queue here under load: a burst waits its turn
                // rather than failing.
                .acquire_timeout(options.acquire_timeout.max(Duration::from_secs(30)))
                // No ping before each use: the audit writer thread takes
                // this connection only to hold the writer's turn,
                // and the ping was a round trip to sqlx's worker thread
                // each time (a fifth of the append's CPU, measured with
                // perf). A connection to a local file does not go stale;
                // a failing one fails the write itself, which is refused.
                .test_before_acquire(false)
                .connect_with(connect.clone())
                .await
                .map_err(crate::error::map)?;
            let readers = SqlitePoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect.clone())
                .await
                .map_err(crate::error::map)?;
            // A file database is on disk once the pools are open; an
            // in-memory one has no file another connection could open.
            // The path is made absolute now: the thread opens it later.
            let audit_writer = match std::fs::canonicalize(connect.get_filename()) {
                Ok(file) if file.is_file() => Some(Arc::new(SqliteAuditWriter::start(file, writer.clone())?)),
                _ => None,
            };
            Ok(Self::Sqlite(SqlitePools { readers, writer, audit_writer }))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let connect = PgConnectOptions::from_str(url).map_err(crate::error::map)?;
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect)
                .await
                .map_err(crate::error::map)?;
            Ok(Self::Postgres(pool))
        } else {
            Err(StoreError::Backend("database URL must start with sqlite:// or postgres://".into()))
        }
    }

    /// Which engine this is.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies every migration not yet applied. Safe to run from several
    /// processes at once on PostgreSQL (sqlx holds an advisory lock).
    pub async fn migrate(&self) -> Result<MigrationReport, StoreError> {
        let from_version = self.store().schema_version().await?;
        match self {
            Self::Sqlite(pools) => migrations::migrator(migrations::SQLITE).run(&pools.writer).await,
            Self::Postgres(pool) => migrations::migrator(migrations::POSTGRES).run(pool).await,
        }
        .map_err(crate::error::migrate)?;
        // Records from before migration 10 get their derived key columns.
        match self {
            Self::Sqlite(pools) => SqliteStore::new(pools).label_records().await?,
            Self::Postgres(pool) => PostgresStore::new(pool.clone()).label_records().await?,
        };
        let to_version = self.store().schema_version().await?;
        Ok(MigrationReport { from_version, to_version })
    }

    /// The storage port over this database.
    pub fn store(&self) -> Arc<dyn Store> {
        match self {
            Self::Sqlite(pools) => Arc::new(SqliteStore::new(pools)),
            Self::Postgres(pool) => Arc::new(PostgresStore::new(pool.clone())),
        }
    }

    /// The keyring's storage port over this database.
    pub fn key_store(&self) -> Arc<dyn KeyStore> {
        match self {
            Self::Sqlite(pools) => Arc::new(SqliteStore::new(pools)),
            Self::Postgres(pool) => Arc::new(PostgresStore::new(pool.clone())),
        }
    }

    /// The API-key storage port over this database.
    pub fn api_key_store(&self) -> Arc<dyn ApiKeyStore> {
        match self {
            Self::Sqlite(pools) => Arc::new(SqliteStore::new(pools)),
            Self::Postgres(pool) => Arc::new(PostgresStore::new(pool.clone())),
        }
    }

    /// The audit log's storage port over this database.
    pub fn audit_store(&self) -> Arc<dyn AuditStore> {
        match self {
            Self::Sqlite(pools) => Arc::new(SqliteStore::new(pools)),
            Self::Postgres(pool) => Arc::new(PostgresStore::new(pool.clone())),
        }
    }

    /// The identity storage port over this database.
    pub fn identity_store(&self) -> Arc<dyn IdentityStore> {
        match self {
            Self::Sqlite(pools) => Arc::new(SqliteStore::new(pools)),
            Self::Postgres(pool) => Arc::new(PostgresStore::new(pool.clone())),
        }
    }

    /// The authorization storage port over this database.
    pub fn authz_store(&self) -> Arc<dyn AuthzStore> {
        match self {
            Self::Sqlite(pools) => Arc::new(SqliteStore::new(pools)),
            Self::Postgres(pool) => Arc::new(PostgresStore::new(pool.clone())),
        }
    }

    /// The records storage port over this database.
    pub fn records_store(&self) -> Arc<dyn RecordsStore> {
        match self {
            Self::Sqlite(pools) => Arc::new(SqliteStore::new(pools)),
            Self::Postgres(pool) => Arc::new(PostgresStore::new(pool.clone())),
        }
    }

    /// The whole-backup port over this database (`strongroom backup`).
    pub fn archive_store(&self) -> Arc<dyn ArchiveStore> {
        match self {
            Self::Sqlite(pools) => Arc::new(SqliteStore::new(pools)),
            Self::Postgres(pool) => Arc::new(PostgresStore::new(pool.clone())),
        }
    }

    /// The key jobs' storage port over this database.
    pub fn job_store(&self) -> Arc<dyn JobStore> {
        match self {
            Self::Sqlite(pools) => Arc::new(SqliteStore::new(pools)),
            Self::Postgres(pool) => Arc::new(PostgresStore::new(pool.clone())),
        }
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        match self {
            Self::Sqlite(pools) => {
                if let Some(audit_writer) = &pools.audit_writer {
                    audit_writer.close().await;
                }
                pools.readers.close().await;
                pools.writer.close().await;
            }
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

/// Makes the SQLite database file readable by its owner only, before
/// SQLite opens it: the file holds the wrapped keyring and the audit log,
/// and SQLite would create it with the umask's mode (0644 here) and give
/// its `-wal` and `-shm` files the database file's mode. A missing file is
/// created 0600; an existing one that group or others can read (made by an
/// earlier version, or by hand) is tightened, with its WAL files, and the
/// change logged. A failure is left for SQLite to report when it opens
/// the path (a missing directory), or leaves the mode as it was (a file of
/// another user).
fn make_private_file(path: &std::path::Path) {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).is_ok() {
        return;
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let file = std::path::PathBuf::from(file);
        let Ok(metadata) = std::fs::metadata(&file) else { continue };
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 == 0 {
            continue;
        }
        match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
            Ok(()) => {
                tracing::warn!(file = %file.display(), "database file had mode {mode:04o}: tightened to 0600")
            }
            Err(error) => {
                tracing::warn!(file = %file.display(), %error, "database file has mode {mode:04o} and could not be tightened")
            }
        }
    }
}
