//! The two engine types every port is implemented on, and the pools they
//! are made from. A leaf of the crate's module graph: the port
//! implementations (`settings.rs`, `audit.rs`, `keys.rs`, …) and the opening
//! of a database (`database.rs`) import it, it imports none of them.

use std::sync::Arc;

use sqlx::{PgPool, SqlitePool};

use crate::sqlite_audit_writer::SqliteAuditWriter;

/// The two pools of a SQLite database: readers (WAL lets them run beside
/// the writer) and the one writer connection.
#[derive(Debug, Clone)]
pub struct SqlitePools {
    pub(crate) readers: SqlitePool,
    pub(crate) writer: SqlitePool,
    /// The audit append's own thread and connection (`None` without a file).
    pub(crate) audit_writer: Option<Arc<SqliteAuditWriter>>,
}

/// The storage ports over SQLite.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    /// One connection that every write goes through. SQLite has one writer
    /// at a time anyway; queueing for this connection is first come, first
    /// served, where waiting in SQLite's busy handler is not (it sleeps in
    /// growing steps, and a writer could wait half a second under load).
    pub(crate) writer: SqlitePool,
    /// The thread that appends the audit log's events, grouping them;
    /// `None` for a database without a file.
    pub(crate) audit_writer: Option<Arc<SqliteAuditWriter>>,
}

impl SqliteStore {
    pub(crate) fn new(pools: &SqlitePools) -> Self {
        Self { pool: pools.readers.clone(), writer: pools.writer.clone(), audit_writer: pools.audit_writer.clone() }
    }
}

/// The storage ports over PostgreSQL.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pub(crate) pool: PgPool,
    /// Writes go through the same pool: PostgreSQL takes its row locks itself.
    pub(crate) writer: PgPool,
}

impl PostgresStore {
    pub(crate) fn new(pool: PgPool) -> Self {
        Self { writer: pool.clone(), pool }
    }
}
