//! Opening a database by URL and running its migrations.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, PgPool};
use strongroom_core::archive::ArchiveStore;
use strongroom_core::audit::AuditStore;
use strongroom_core::authz::AuthzStore;
use strongroom_core::housekeeping::HousekeepingStore;
use strongroom_core::identity::IdentityStore;
use strongroom_core::rate_limits::RateLimitStore;
use strongroom_core::records::RecordsStore;
use strongroom_core::{ApiKeyStore, Backend, JobStore, KeyStore, Store, StoreError};

use crate::engines::{PostgresStore, SqlitePools, SqliteStore};
use crate::migrations::{self, MigrationReport};
use crate::rate_limits::PostgresRateLimits;
use crate::sqlite_audit_writer::SqliteAuditWriter;

/// How to open the pool.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Connections in the pool.
    pub max_connections: u32,
    /// How long to wait for a connection before failing (keeps `/readyz` from hanging).
    pub acquire_timeout: Duration,
    /// TLS to PostgreSQL, replacing the URL's `sslmode` and `sslrootcert`;
    /// `None` leaves them to the URL. Ignored for SQLite.
    pub postgres_tls: Option<PostgresTls>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self { max_connections: 10, acquire_timeout: Duration::from_secs(5), postgres_tls: None }
    }
}

/// How the connection to PostgreSQL is protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresTls {
    /// libpq's `sslmode`.
    pub mode: PostgresTlsMode,
    /// The CA(s) the server's certificate must chain to (besides the
    /// public web CAs the driver knows), for `VerifyCa` and `VerifyFull`.
    pub ca_file: Option<std::path::PathBuf>,
}

/// libpq's `sslmode` values (without `allow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostgresTlsMode {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it, certificate unchecked.
    Prefer,
    /// TLS, certificate unchecked.
    Require,
    /// TLS, certificate from a trusted CA.
    VerifyCa,
    /// TLS, certificate from a trusted CA for the host connected to.
    VerifyFull,
}

/// One connection pool's use at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    /// Which pool: `readers` or `writer` (SQLite), `main` (PostgreSQL).
    pub pool: &'static str,
    /// Connections open.
    pub open: u32,
    /// Open connections waiting for work.
    pub idle: u32,
    /// Open connections lent out.
    pub in_use: u32,
    /// The most the pool opens.
    pub max: u32,
}

/// An open database of either engine.
///
/// Every pool closes a connection that still counts a transaction open
/// when it is about to be lent (`before_acquire`; by then the pool's
/// release has flushed any rollback queued by a dropped transaction).
/// Why: when a commit fails on a full disk, SQLite rolls the transaction
/// back itself, sqlx's own `ROLLBACK` then fails, and sqlx goes on counting
/// the transaction open; lent again, the connection refused every later
/// `BEGIN` ("non-zero transaction depth") until a restart, the one writer
/// connection included.
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
                .before_acquire(|connection, _| Box::pin(async move { Ok(!connection.is_in_transaction()) }))
                .connect_with(connect.clone())
                .await
                .map_err(crate::error::map)?;
            let readers = SqlitePoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .before_acquire(|connection, _| Box::pin(async move { Ok(!connection.is_in_transaction()) }))
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
            let mut connect = PgConnectOptions::from_str(url).map_err(crate::error::map)?;
            if let Some(tls) = &options.postgres_tls {
                connect = connect.ssl_mode(match tls.mode {
                    PostgresTlsMode::Disable => PgSslMode::Disable,
                    PostgresTlsMode::Prefer => PgSslMode::Prefer,
                    PostgresTlsMode::Require => PgSslMode::Require,
                    PostgresTlsMode::VerifyCa => PgSslMode::VerifyCa,
                    PostgresTlsMode::VerifyFull => PgSslMode::VerifyFull,
                });
                if let Some(ca_file) = &tls.ca_file {
                    connect = connect.ssl_root_cert(ca_file);
                }
            }
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .before_acquire(|connection, _| Box::pin(async move { Ok(!connection.is_in_transaction()) }))
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

    /// The housekeeping purge's storage port over this database.
    pub fn housekeeping_store(&self) -> Arc<dyn HousekeepingStore> {
        match self {
            Self::Sqlite(pools) => Arc::new(SqliteStore::new(pools)),
            Self::Postgres(pool) => Arc::new(PostgresStore::new(pool.clone())),
        }
    }

    /// Where every instance counts rate limits: PostgreSQL's shared table;
    /// `None` on SQLite, whose one instance counts in memory.
    pub fn rate_limit_store(&self) -> Option<Arc<dyn RateLimitStore>> {
        match self {
            Self::Sqlite(_) => None,
            Self::Postgres(pool) => Some(Arc::new(PostgresRateLimits::new(pool.clone()))),
        }
    }

    /// How the connection pools are used now, for the metrics: one entry
    /// per pool (`readers` and `writer` on SQLite, `main` on PostgreSQL).
    pub fn pool_usage(&self) -> Vec<PoolUsage> {
        fn usage<D: sqlx::Database>(name: &'static str, pool: &sqlx::Pool<D>) -> PoolUsage {
            let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
            PoolUsage {
                pool: name,
                open: pool.size(),
                idle,
                in_use: pool.size().saturating_sub(idle),
                max: pool.options().get_max_connections(),
            }
        }
        match self {
            Self::Sqlite(pools) => vec![usage("readers", &pools.readers), usage("writer", &pools.writer)],
            Self::Postgres(pool) => vec![usage("main", pool)],
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
