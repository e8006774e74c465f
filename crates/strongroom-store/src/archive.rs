//! Core's [`ArchiveStore`] port on both engines: every table's rows as
//! engine-neutral [`Cell`]s from one snapshot, and loading them back, in one
//! transaction, into an empty database of either engine.
//!
//! The snapshot is one read transaction: on SQLite a deferred `BEGIN` on a
//! reader connection (WAL gives it a snapshot at its first read, and the
//! writer carries on beside it); on PostgreSQL `REPEATABLE READ READ ONLY`.
//! Tables go parents first ([`ORDER`]), so a load never breaks a foreign key;
//! tables a later migration adds follow by name. Counters that are not
//! data ([`NOT_BACKED_UP`]) are left out.

use async_trait::async_trait;
use sqlx::{Column, Row, TypeInfo, ValueRef};
use strongroom_core::archive::{ArchiveStore, Cell, RowSink, RowSource};
use strongroom_core::{CoreError, StoreError};

use crate::engines::{PostgresStore, SqliteStore};
use crate::error::map;

/// Restore order: every table after the tables it references.
const ORDER: &[&str] = &[
    "settings",
    "keys",
    "key_versions",
    "api_keys",
    "audit_head",
    "audit_checkpoints",
    "audit_entries",
    "audit_hmacs",
    "audit_nodes",
    "audit_alerts",
    "users",
    "sessions",
    "refresh_tokens",
    "login_throttle",
    "one_time_tokens",
    "recovery_codes",
    "passkeys",
    "passkey_ceremonies",
    "matters",
    "matter_grants",
    "access_requests",
    "policy_documents",
    "role_catalogues",
    "redaction_terms",
    "collections",
    "records",
    "record_index",
    "record_blobs",
    "jobs",
    "change_generation",
];

/// Tables a migration fills with one row, which an empty database holds:
/// they count as empty in that state.
const SEEDED_EMPTY: &[(&str, &str)] = &[
    ("audit_head", "SELECT COUNT(*) FROM audit_head WHERE size <> 0"),
    ("change_generation", "SELECT CAST(0 AS BIGINT)"),
];

/// Tables that are not data: PostgreSQL's rate-limit buckets (an unlogged
/// counter that forgets nothing worth keeping, and exists only there).
const NOT_BACKED_UP: &[&str] = &["rate_limits"];

fn ordered(mut tables: Vec<String>) -> Vec<String> {
    tables.retain(|t| t != "_sqlx_migrations" && !t.starts_with("sqlite_") && !NOT_BACKED_UP.contains(&t.as_str()));
    tables.sort_by_key(|t| (ORDER.iter().position(|o| o == t).unwrap_or(ORDER.len()), t.clone()));
    tables
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn store_error(error: sqlx::Error) -> CoreError {
    CoreError::Store(map(error))
}

fn unknown_type(table: &str, column: &str, kind: &str) -> CoreError {
    CoreError::Store(StoreError::Backend(format!("{table}.{column} has type {kind}, which backups do not know").into()))
}

fn count_query(table: &str) -> String {
    SEEDED_EMPTY
        .iter()
        .find(|(name, _)| *name == table)
        .map(|(_, query)| (*query).to_owned())
        .unwrap_or_else(|| format!("SELECT COUNT(*) FROM (SELECT 1 FROM {} LIMIT 1) AS t", quoted(table)))
}

#[async_trait]
impl ArchiveStore for SqliteStore {
    fn engine(&self) -> &'static str {
        "sqlite"
    }

    async fn dump(&self, sink: &mut dyn RowSink) -> Result<(), CoreError> {
        use futures_util::TryStreamExt;
        let mut connection = self.pool.acquire().await.map_err(store_error)?;
        sqlx::query("BEGIN").execute(&mut *connection).await.map_err(store_error)?;
        let result = async {
            // The first read fixes the snapshot every later read sees.
            let tables: Vec<String> =
                sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                    .fetch_all(&mut *connection)
                    .await
                    .map_err(store_error)?;
            for table in ordered(tables) {
                let columns: Vec<String> =
                    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT name FROM pragma_table_info('{table}')")))
                        .fetch_all(&mut *connection)
                        .await
                        .map_err(store_error)?;
                sink.table(&table, &columns).await?;
                let select = format!(
                    "SELECT {} FROM {} ORDER BY 1",
                    columns.iter().map(|c| quoted(c)).collect::<Vec<_>>().join(", "),
                    quoted(&table)
                );
                let mut rows = sqlx::query(sqlx::AssertSqlSafe(select)).fetch(&mut *connection);
                while let Some(row) = rows.try_next().await.map_err(store_error)? {
                    let mut cells = Vec::with_capacity(columns.len());
                    for (i, column) in columns.iter().enumerate() {
                        let raw = row.try_get_raw(i).map_err(store_error)?;
                        if raw.is_null() {
                            cells.push(Cell::Null);
                            continue;
                        }
                        let kind = raw.type_info().name().to_owned();
                        cells.push(match kind.as_str() {
                            "INTEGER" | "BIGINT" | "INT" | "BOOLEAN" => {
                                Cell::Int(row.try_get_unchecked::<i64, _>(i).map_err(store_error)?)
                            }
                            "TEXT" => Cell::Text(row.try_get_unchecked::<String, _>(i).map_err(store_error)?),
                            "BLOB" => Cell::Bytes(row.try_get_unchecked::<Vec<u8>, _>(i).map_err(store_error)?),
                            other => return Err(unknown_type(&table, column, other)),
                        });
                    }
                    sink.row(cells).await?;
                }
            }
            Ok::<(), CoreError>(())
        }
        .await;
        let _ = sqlx::query("ROLLBACK").execute(&mut *connection).await;
        result
    }

    async fn occupied_tables(&self) -> Result<Vec<String>, StoreError> {
        let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(&self.pool)
            .await
            .map_err(map)?;
        let mut occupied = Vec::new();
        for table in ordered(tables) {
            let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count_query(&table)))
                .fetch_one(&self.pool)
                .await
                .map_err(map)?;
            if count > 0 {
                occupied.push(table);
            }
        }
        Ok(occupied)
    }

    async fn load(&self, source: &mut dyn RowSource) -> Result<u64, CoreError> {
        let mut tx = self.writer.begin().await.map_err(store_error)?;
        // Checked at commit: the rows are whole by then.
        sqlx::query("PRAGMA defer_foreign_keys = ON").execute(&mut *tx).await.map_err(store_error)?;
        let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(&mut *tx)
            .await
            .map_err(store_error)?;
        let tables = ordered(tables);
        for table in tables.iter().rev() {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {}", quoted(table))))
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
        }
        let mut written = 0;
        while let Some((table, columns)) = source.next_table().await? {
            if !tables.contains(&table) {
                return Err(CoreError::InvalidInput(format!(
                    "the archive has a table {table} this release does not know"
                )));
            }
            let insert = format!(
                "INSERT INTO {} ({}) VALUES ({})",
                quoted(&table),
                columns.iter().map(|c| quoted(c)).collect::<Vec<_>>().join(", "),
                vec!["?"; columns.len()].join(", ")
            );
            while let Some(cells) = source.next_row().await? {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(insert.clone()));
                for cell in cells {
                    query = match cell {
                        Cell::Null => query.bind(None::<i64>),
                        Cell::Int(n) => query.bind(n),
                        Cell::Bool(b) => query.bind(i64::from(b)),
                        Cell::Text(s) => query.bind(s),
                        Cell::Bytes(b) => query.bind(b),
                    };
                }
                query.execute(&mut *tx).await.map_err(store_error)?;
                written += 1;
            }
        }
        tx.commit().await.map_err(store_error)?;
        Ok(written)
    }
}

/// `(table, column) → data_type` of the current schema.
async fn postgres_columns(executor: impl sqlx::PgExecutor<'_>) -> Result<Vec<(String, String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
    )
    .fetch_all(executor)
    .await
}

async fn postgres_tables(executor: impl sqlx::PgExecutor<'_>) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name",
    )
    .fetch_all(executor)
    .await
}

#[async_trait]
impl ArchiveStore for PostgresStore {
    fn engine(&self) -> &'static str {
        "postgres"
    }

    async fn dump(&self, sink: &mut dyn RowSink) -> Result<(), CoreError> {
        use futures_util::TryStreamExt;
        let mut connection = self.pool.acquire().await.map_err(store_error)?;
        sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *connection)
            .await
            .map_err(store_error)?;
        let result = async {
            let tables = postgres_tables(&mut *connection).await.map_err(store_error)?;
            let all_columns = postgres_columns(&mut *connection).await.map_err(store_error)?;
            for table in ordered(tables) {
                let columns: Vec<String> =
                    all_columns.iter().filter(|(t, _, _)| *t == table).map(|(_, c, _)| c.clone()).collect();
                sink.table(&table, &columns).await?;
                let select = format!(
                    "SELECT {} FROM {} ORDER BY 1",
                    columns.iter().map(|c| quoted(c)).collect::<Vec<_>>().join(", "),
                    quoted(&table)
                );
                let mut rows = sqlx::query(sqlx::AssertSqlSafe(select)).fetch(&mut *connection);
                while let Some(row) = rows.try_next().await.map_err(store_error)? {
                    let mut cells = Vec::with_capacity(columns.len());
                    for (i, column) in row.columns().iter().enumerate() {
                        let raw = row.try_get_raw(i).map_err(store_error)?;
                        if raw.is_null() {
                            cells.push(Cell::Null);
                            continue;
                        }
                        let kind = column.type_info().name().to_owned();
                        cells.push(match kind.as_str() {
                            "BOOL" => Cell::Bool(row.try_get::<bool, _>(i).map_err(store_error)?),
                            "INT2" => Cell::Int(i64::from(row.try_get::<i16, _>(i).map_err(store_error)?)),
                            "INT4" => Cell::Int(i64::from(row.try_get::<i32, _>(i).map_err(store_error)?)),
                            "INT8" => Cell::Int(row.try_get::<i64, _>(i).map_err(store_error)?),
                            "TEXT" | "VARCHAR" | "NAME" => {
                                Cell::Text(row.try_get::<String, _>(i).map_err(store_error)?)
                            }
                            "BYTEA" => Cell::Bytes(row.try_get::<Vec<u8>, _>(i).map_err(store_error)?),
                            other => return Err(unknown_type(&table, column.name(), other)),
                        });
                    }
                    sink.row(cells).await?;
                }
            }
            Ok::<(), CoreError>(())
        }
        .await;
        let _ = sqlx::query("ROLLBACK").execute(&mut *connection).await;
        result
    }

    async fn occupied_tables(&self) -> Result<Vec<String>, StoreError> {
        let tables = postgres_tables(&self.pool).await.map_err(map)?;
        let mut occupied = Vec::new();
        for table in ordered(tables) {
            let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count_query(&table)))
                .fetch_one(&self.pool)
                .await
                .map_err(map)?;
            if count > 0 {
                occupied.push(table);
            }
        }
        Ok(occupied)
    }

    async fn load(&self, source: &mut dyn RowSource) -> Result<u64, CoreError> {
        let mut tx = self.writer.begin().await.map_err(store_error)?;
        let tables = ordered(postgres_tables(&mut *tx).await.map_err(store_error)?);
        let types = postgres_columns(&mut *tx).await.map_err(store_error)?;
        for table in tables.iter().rev() {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {}", quoted(table))))
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
        }
        let mut written = 0;
        while let Some((table, columns)) = source.next_table().await? {
            if !tables.contains(&table) {
                return Err(CoreError::InvalidInput(format!(
                    "the archive has a table {table} this release does not know"
                )));
            }
            let kinds: Vec<String> = columns
                .iter()
                .map(|c| {
                    types
                        .iter()
                        .find(|(t, name, _)| *t == table && name == c)
                        .map(|(_, _, kind)| kind.clone())
                        .ok_or_else(|| {
                            CoreError::InvalidInput(format!(
                                "the archive has a column {table}.{c} this release does not know"
                            ))
                        })
                })
                .collect::<Result<_, _>>()?;
            let insert = format!(
                "INSERT INTO {} ({}) VALUES ({})",
                quoted(&table),
                columns.iter().map(|c| quoted(c)).collect::<Vec<_>>().join(", "),
                (1..=columns.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
            );
            while let Some(cells) = source.next_row().await? {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(insert.clone()));
                for (cell, kind) in cells.into_iter().zip(&kinds) {
                    query = match (cell, kind.as_str()) {
                        (Cell::Null, "boolean") => query.bind(None::<bool>),
                        (Cell::Null, "bytea") => query.bind(None::<Vec<u8>>),
                        (Cell::Null, "text" | "character varying") => query.bind(None::<String>),
                        (Cell::Null, "smallint") => query.bind(None::<i16>),
                        (Cell::Null, "integer") => query.bind(None::<i32>),
                        (Cell::Null, _) => query.bind(None::<i64>),
                        (Cell::Int(n), "boolean") => query.bind(n != 0),
                        (Cell::Int(n), "smallint") => query.bind(i16::try_from(n).map_err(|_| out_of_range(&table))?),
                        (Cell::Int(n), "integer") => query.bind(i32::try_from(n).map_err(|_| out_of_range(&table))?),
                        (Cell::Int(n), _) => query.bind(n),
                        (Cell::Bool(b), _) => query.bind(b),
                        // SQLite keeps what it was given: a text value in a
                        // BLOB column is bytes here.
                        (Cell::Text(s), "bytea") => query.bind(s.into_bytes()),
                        (Cell::Text(s), _) => query.bind(s),
                        (Cell::Bytes(b), _) => query.bind(b),
                    };
                }
                query.execute(&mut *tx).await.map_err(store_error)?;
                written += 1;
            }
        }
        tx.commit().await.map_err(store_error)?;
        Ok(written)
    }
}

fn out_of_range(table: &str) -> CoreError {
    CoreError::InvalidInput(format!("a value of table {table} is out of range for this engine"))
}
