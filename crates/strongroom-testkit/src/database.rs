//! Throwaway databases.
//!
//! PostgreSQL tests get a schema of their own (`sr_test_<uuid>`), selected
//! through the connection URL's `options=-c search_path=…`, so parallel tests
//! and parallel CI runs never see each other's tables.

use std::path::PathBuf;

use sqlx::Connection;
use tempfile::TempDir;

/// The variable naming the PostgreSQL server tests may use (trust auth is fine).
pub const POSTGRES_URL_VARIABLE: &str = "STRONGROOM_TEST_POSTGRES_URL";

/// An empty database that disappears with this value.
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Sqlite { dir: TempDir },
    Postgres { admin_url: String, schema: String },
}

impl TestDatabase {
    /// A new SQLite database file in a temporary directory.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        Self { url, kind: Kind::Sqlite { dir } }
    }

    /// A new schema in the test PostgreSQL, or `None` (with the reason
    /// printed) when `STRONGROOM_TEST_POSTGRES_URL` is unset. Under CI
    /// (`CI` set) an unset variable is a failure, so PostgreSQL tests are
    /// never skipped there silently.
    pub async fn postgres() -> Option<Self> {
        let Ok(admin_url) = std::env::var(POSTGRES_URL_VARIABLE) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must set {POSTGRES_URL_VARIABLE}: PostgreSQL tests may not be skipped in CI"
            );
            eprintln!("skipped: {POSTGRES_URL_VARIABLE} is not set, so this PostgreSQL test did not run");
            return None;
        };
        let schema = format!("sr_test_{}", uuid::Uuid::new_v4().simple());
        let mut connection = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {POSTGRES_URL_VARIABLE}: {e}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut connection)
            .await
            .expect("create test schema");
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{separator}options=-c%20search_path%3D{schema}");
        Some(Self { url, kind: Kind::Postgres { admin_url, schema } })
    }

    /// The URL to give `strongroom` (`database.url`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match self.kind {
            Kind::Sqlite { .. } => "sqlite",
            Kind::Postgres { .. } => "postgres",
        }
    }

    /// For SQLite, the database file.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        match &self.kind {
            Kind::Sqlite { dir } => Some(dir.path().join("test.db")),
            Kind::Postgres { .. } => None,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Kind::Postgres { admin_url, schema } = &self.kind else {
            return;
        };
        let (admin_url, schema) = (admin_url.clone(), schema.clone());
        // Drop may run inside a Tokio runtime, which cannot block on another:
        // clean up from a plain thread with a runtime of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let mut connection = sqlx::PgConnection::connect(&admin_url).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE")))
                    .execute(&mut connection)
                    .await?;
                Ok::<_, sqlx::Error>(())
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        });
        if let Ok(Err(error)) = cleanup.join() {
            eprintln!("warning: could not drop test schema: {error}");
        }
    }
}
