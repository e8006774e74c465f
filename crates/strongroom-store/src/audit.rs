//! The [`AuditStore`] implementation for both engines, and the append that
//! domain writes run inside their own transactions.
//!
//! The sequencer is the head row: every append locks it first (SQLite's
//! `BEGIN IMMEDIATE` takes the database's write lock at `BEGIN`; PostgreSQL
//! locks the row with `FOR UPDATE`), reads size and frontier, has core's
//! [`AppendPlan`] compute the append, writes its leaves and nodes and moves
//! the head, all before commit. Two processes appending at once therefore
//! queue on that row and never fork the tree; and the head moves only from
//! the size the plan extends, so a plan made from a stale head never commits.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::{QueryBuilder, Row};
use strongroom_core::StoreError;
use strongroom_core::audit::{
    AlertGroup, AlertRecord, AppendPlan, AppendReceipt, AuditCounts, AuditFilter, AuditRecord, AuditStore, EventSource,
    HourCount, IndexedColumns, Severity, StoredCheckpoint, StoredEntry, TreeHead,
};
use strongroom_crypto::merkle::{Hash, NodeId};

use crate::audit_sql::{
    hash, hmac_rows, hmacs_conflict, index, insert_entries, insert_hmacs, insert_nodes, last_leaf, node_id, read_head,
    signed,
};
use crate::engines::{PostgresStore, SqliteStore};
use crate::error::map;

/// Rows per multi-row INSERT, well below both engines' bind-parameter limits.
const ROWS_PER_INSERT: usize = 400;
/// Bytes of bound values per INSERT on PostgreSQL. sqlx 0.9.0 leaves Nagle's
/// algorithm on for PostgreSQL over TCP (launchbadge/sqlx#4335, fixed
/// upstream, not yet released), and a statement whose message passes about
/// 16 KiB then waits ~40 ms for a delayed ACK: measured 45 ms for 63 events in
/// one statement, 1.4 ms in statements of under 12 KiB. Keep them well below.
const PG_BYTES_PER_INSERT: usize = 8 * 1024;
/// SQLite runs in process: fewer, larger statements are cheaper.
const SQLITE_BYTES_PER_INSERT: usize = usize::MAX;

/// Splits `items` into runs of at most [`ROWS_PER_INSERT`] rows and (unless a
/// single row is larger) `max_bytes` bytes, as `(offset, run)`.
fn insert_runs<T>(items: &[T], max_bytes: usize, bytes: impl Fn(&T) -> usize) -> Vec<(usize, &[T])> {
    let mut runs = Vec::new();
    let (mut start, mut size) = (0, 0usize);
    for (i, item) in items.iter().enumerate() {
        let item_bytes = bytes(item);
        if i > start && (i - start == ROWS_PER_INSERT || size.saturating_add(item_bytes) > max_bytes) {
            runs.push((start, &items[start..i]));
            (start, size) = (i, 0);
        }
        size = size.saturating_add(item_bytes);
    }
    if start < items.len() {
        runs.push((start, &items[start..]));
    }
    runs
}

/// Turns a failure of the audit part of a write into `AuditRefused`, so the
/// caller answers "audit unavailable" and knows nothing was committed.
fn refused(error: StoreError) -> StoreError {
    match error {
        StoreError::Backend(source) => StoreError::AuditRefused(source),
        other => other,
    }
}

fn group_column(group: AlertGroup) -> &'static str {
    match group {
        AlertGroup::Actor => "actor_id",
        AlertGroup::Target => "target_id",
        AlertGroup::Ip => "ip_key",
        AlertGroup::All => "CAST('*' AS TEXT)",
    }
}

macro_rules! impl_audit_store {
    ($store:ident, $db:ty, $begin:literal, $lock_head:literal, $max_bytes:expr, $one_query:expr, $hmacs_of_entry:literal) => {
        impl $store {
            /// A transaction that may append to the audit tree (see the module doc).
            pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, $db>, StoreError> {
                self.writer.begin_with($begin).await.map_err(map)
            }

            /// Ends a write: when it `changed` something, appends its `audit`
            /// records and commits (`true`); otherwise rolls back (`false`:
            /// nothing written, nothing audited).
            pub(crate) async fn commit_audited(
                mut tx: sqlx::Transaction<'static, $db>,
                changed: bool,
                audit: &[AuditRecord],
            ) -> Result<bool, StoreError> {
                if !changed {
                    tx.rollback().await.map_err(map)?;
                    return Ok(false);
                }
                Self::append_audit_in(&mut tx, audit).await?;
                tx.commit().await.map_err(map).map_err(refused)?;
                Ok(true)
            }

            /// Appends `records` inside `tx`; nothing when there are none.
            pub(crate) async fn append_audit_in(
                tx: &mut sqlx::Transaction<'static, $db>,
                records: &[AuditRecord],
            ) -> Result<Option<AppendReceipt>, StoreError> {
                if records.is_empty() {
                    return Ok(None);
                }
                Self::append_locked(tx, records).await.map(Some).map_err(refused)
            }

            /// Appends `records` (at least one) in a transaction of its own.
            async fn append_in_own_transaction(&self, records: &[AuditRecord]) -> Result<AppendReceipt, StoreError> {
                let mut tx = self.begin_write().await.map_err(refused)?;
                let receipt = Self::append_locked(&mut tx, records).await.map_err(refused)?;
                tx.commit().await.map_err(map).map_err(refused)?;
                Ok(receipt)
            }

            /// Appends inside `tx` after locking the head.
            async fn append_locked(
                tx: &mut sqlx::Transaction<'static, $db>,
                records: &[AuditRecord],
            ) -> Result<AppendReceipt, StoreError> {
                let head = sqlx::query(concat!(read_head!(), $lock_head)).fetch_one(&mut **tx).await.map_err(map)?;
                let size = index(head.try_get("size").map_err(map)?)?;
                let plan = AppendPlan::new(size, &head.try_get::<Vec<u8>, _>("frontier").map_err(map)?, records)?;
                for mut statement in Self::write_statements(&plan, records, $one_query) {
                    statement.build().execute(&mut **tx).await.map_err(map)?;
                }
                Ok(plan.receipt())
            }

            /// The statements that write `plan`: one per INSERT run and the
            /// head update, or all of them in one query when `one_query`
            /// (SQLite runs a multi-statement query in one trip to its thread).
            /// The head moves only from the size the plan extends: another
            /// size makes the update fail (`size` NOT NULL), so a stale plan
            /// never commits.
            fn write_statements(plan: &AppendPlan, records: &[AuditRecord], one_query: bool) -> Vec<QueryBuilder<$db>> {
                let mut out: Vec<QueryBuilder<$db>> = Vec::new();
                // Opens the next statement: `; ` in the one query, or a new query.
                let statement = |out: &mut Vec<QueryBuilder<$db>>| -> usize {
                    match out.last_mut() {
                        Some(last) if one_query => {
                            last.push("; ");
                        }
                        _ => {
                            let fresh = QueryBuilder::new("");
                            out.push(fresh);
                        }
                    }
                    out.len() - 1
                };
                let record_bytes = |r: &AuditRecord| r.entry.len() + r.event_type.len() + r.actor_id.len() + 64;
                for (start, chunk) in insert_runs(records, $max_bytes, record_bytes) {
                    let at = statement(&mut out);
                    out[at].push(insert_entries!());
                    out[at].push_values(chunk.iter().enumerate(), |mut row, (i, record)| {
                        row.push_bind(signed(plan.leaf_index(start + i)))
                            .push_bind(&record.entry)
                            .push_bind(record.time_ms)
                            .push_bind(&record.event_type)
                            .push_bind(&record.outcome)
                            .push_bind(&record.actor_id)
                            .push_bind(&record.target_id)
                            .push_bind(&record.matter)
                            .push_bind(&record.ip_key)
                            .push_bind(record.severity);
                    });
                }
                let hmacs = hmac_rows(plan, records);
                for (_, chunk) in insert_runs(&hmacs, $max_bytes, |(_, mac)| mac.len() + 16) {
                    let at = statement(&mut out);
                    out[at].push(insert_hmacs!());
                    out[at].push_values(chunk, |mut row, (leaf, mac)| {
                        row.push_bind(*mac).push_bind(*leaf);
                    });
                    out[at].push(hmacs_conflict!());
                }
                for (_, chunk) in insert_runs(plan.nodes(), $max_bytes, |_| 64) {
                    let at = statement(&mut out);
                    out[at].push(insert_nodes!());
                    out[at].push_values(chunk, |mut row, (key, node)| {
                        row.push_bind(signed(key.last_leaf)).push_bind(i32::from(key.level)).push_bind(node.to_vec());
                    });
                }
                let head = plan.head();
                let at = statement(&mut out);
                out[at]
                    .push("UPDATE audit_head SET size = CASE WHEN size = ")
                    .push_bind(signed(plan.extends()))
                    .push(" THEN ")
                    .push_bind(signed(head.size))
                    .push(" ELSE NULL END, root = ")
                    .push_bind(head.root.to_vec())
                    .push(", frontier = ")
                    .push_bind(plan.frontier_bytes())
                    .push(" WHERE id = 1");
                out
            }

            /// Entries from rows; `with_columns`: the rows also carry the search
            /// columns and the entry's HMACs (`hmacs`, comma-separated hex).
            fn entries_from_rows(
                rows: Vec<<$db as sqlx::Database>::Row>,
                with_columns: bool,
            ) -> Result<Vec<StoredEntry>, StoreError> {
                rows.into_iter()
                    .map(|row| {
                        let leaf: Option<Vec<u8>> = row.try_get("hash").map_err(map)?;
                        Ok(StoredEntry {
                            index: index(row.try_get("leaf_index").map_err(map)?)?,
                            entry: row.try_get("entry").map_err(map)?,
                            leaf_hash: leaf.map(hash).transpose()?,
                            columns: if with_columns {
                                let hmacs: Option<String> = row.try_get("hmacs").map_err(map)?;
                                let mut hmacs: Vec<String> = hmacs
                                    .unwrap_or_default()
                                    .split(',')
                                    .filter(|h| !h.is_empty())
                                    .map(str::to_lowercase)
                                    .collect();
                                hmacs.sort();
                                Some(IndexedColumns {
                                    time_ms: row.try_get("time_ms").map_err(map)?,
                                    event_type: row.try_get("event_type").map_err(map)?,
                                    outcome: row.try_get("outcome").map_err(map)?,
                                    actor_id: row.try_get("actor_id").map_err(map)?,
                                    target_id: row.try_get("target_id").map_err(map)?,
                                    matter: row.try_get("matter").map_err(map)?,
                                    ip_key: row.try_get("ip_key").map_err(map)?,
                                    hmacs,
                                    severity: Severity::from_rank(i64::from(
                                        row.try_get::<i16, _>("severity").map_err(map)?,
                                    )),
                                })
                            } else {
                                None
                            },
                        })
                    })
                    .collect()
            }

            fn checkpoint_from_row(row: &<$db as sqlx::Database>::Row) -> Result<StoredCheckpoint, StoreError> {
                Ok(StoredCheckpoint {
                    size: index(row.try_get("tree_size").map_err(map)?)?,
                    root: hash(row.try_get("root").map_err(map)?)?,
                    note: row.try_get("note").map_err(map)?,
                    created_ms: row.try_get("created_ms").map_err(map)?,
                })
            }
        }

        #[async_trait]
        impl AuditStore for $store {
            async fn append_audit(&self, records: &[AuditRecord]) -> Result<AppendReceipt, StoreError> {
                if records.is_empty() {
                    return Err(StoreError::Backend("nothing to append".into()));
                }
                self.append_standalone(records).await
            }

            fn merges_concurrent_appends(&self) -> bool {
                self.merges_appends()
            }

            async fn audit_head(&self) -> Result<TreeHead, StoreError> {
                let row = sqlx::query("SELECT size, root FROM audit_head WHERE id = 1")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(map)?;
                Ok(TreeHead {
                    size: index(row.try_get("size").map_err(map)?)?,
                    root: hash(row.try_get("root").map_err(map)?)?,
                })
            }

            async fn audit_nodes(&self, ids: &[NodeId]) -> Result<HashMap<NodeId, Hash>, StoreError> {
                let mut found = HashMap::with_capacity(ids.len());
                for chunk in ids.chunks(200) {
                    let mut query = QueryBuilder::<$db>::new("SELECT last_leaf, level, hash FROM audit_nodes WHERE ");
                    let mut terms = query.separated(" OR ");
                    for id in chunk {
                        terms.push("(last_leaf = ");
                        terms.push_bind_unseparated(last_leaf(*id));
                        terms.push_unseparated(" AND level = ");
                        terms.push_bind_unseparated(i32::from(id.level));
                        terms.push_unseparated(")");
                    }
                    for row in query.build().fetch_all(&self.pool).await.map_err(map)? {
                        let id = node_id(row.try_get("level").map_err(map)?, row.try_get("last_leaf").map_err(map)?)?;
                        found.insert(id, hash(row.try_get("hash").map_err(map)?)?);
                    }
                }
                Ok(found)
            }

            async fn audit_entries(&self, from: u64, limit: u32) -> Result<Vec<StoredEntry>, StoreError> {
                let rows = sqlx::query(concat!(
                    "SELECT e.leaf_index, e.entry, n.hash, e.time_ms, e.event_type, e.outcome, e.actor_id, e.target_id, \
                     e.matter, e.ip_key, e.severity, ",
                    $hmacs_of_entry,
                    " AS hmacs FROM audit_entries e \
                     LEFT JOIN audit_nodes n ON n.last_leaf = e.leaf_index AND n.level = 0 \
                     WHERE e.leaf_index >= $1 ORDER BY e.leaf_index LIMIT $2",
                ))
                .bind(signed(from))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(map)?;
                Self::entries_from_rows(rows, true)
            }

            async fn search_audit(&self, filter: &AuditFilter) -> Result<Vec<StoredEntry>, StoreError> {
                let mut query = QueryBuilder::<$db>::new(
                    "SELECT e.leaf_index, e.entry, n.hash, e.time_ms, e.event_type, e.outcome, e.actor_id, e.target_id, \
                     e.matter, e.ip_key FROM audit_entries e \
                     LEFT JOIN audit_nodes n ON n.last_leaf = e.leaf_index AND n.level = 0 WHERE 1 = 1",
                );
                for (column, value) in [
                    ("actor_id", &filter.actor),
                    ("target_id", &filter.target),
                    ("matter", &filter.matter),
                    ("outcome", &filter.outcome),
                ] {
                    if let Some(value) = value {
                        query.push(format_args!(" AND e.{column} = ")).push_bind(value.clone());
                    }
                }
                if let Some(severity) = filter.severity {
                    query.push(" AND e.severity = ").push_bind(severity.rank());
                }
                if let Some(severity) = filter.min_severity {
                    query.push(" AND e.severity >= ").push_bind(severity.rank());
                }
                // Applications' types are `app.…`: every type from "app." up to
                // (not including) "app/", as for a family below.
                match filter.source {
                    Some(EventSource::App) => {
                        query.push(" AND e.event_type >= 'app.' AND e.event_type < 'app/'");
                    }
                    Some(EventSource::Strongroom) => {
                        query.push(" AND (e.event_type < 'app.' OR e.event_type >= 'app/')");
                    }
                    None => {}
                }
                match filter.event_type.as_deref() {
                    Some(family) if family.ends_with(".*") => {
                        // `key.*` is every type from "key." up to (not including) "key/".
                        let prefix = &family[..family.len() - 1];
                        let end = format!("{}/", &prefix[..prefix.len() - 1]);
                        query.push(" AND e.event_type >= ").push_bind(prefix.to_owned());
                        query.push(" AND e.event_type < ").push_bind(end);
                    }
                    Some(exact) => {
                        query.push(" AND e.event_type = ").push_bind(exact.to_owned());
                    }
                    None => {}
                }
                if let Some(from) = filter.from_ms {
                    query.push(" AND e.time_ms >= ").push_bind(from);
                }
                if let Some(to) = filter.to_ms {
                    query.push(" AND e.time_ms < ").push_bind(to);
                }
                if let Some(before) = filter.before_index {
                    query.push(" AND e.leaf_index < ").push_bind(signed(before));
                }
                if !filter.hmacs.is_empty() {
                    query.push(" AND e.leaf_index IN (SELECT leaf_index FROM audit_hmacs WHERE hmac IN (");
                    let mut macs = query.separated(", ");
                    for mac in &filter.hmacs {
                        macs.push_bind(mac.clone());
                    }
                    query.push("))");
                }
                query.push(" ORDER BY e.leaf_index DESC LIMIT ").push_bind(i64::from(filter.limit));
                let rows = query.build().fetch_all(&self.pool).await.map_err(map)?;
                Self::entries_from_rows(rows, false)
            }

            async fn audit_counts(&self, since_ms: i64) -> Result<AuditCounts, StoreError> {
                let rows = sqlx::query(
                    "SELECT event_type, COUNT(*) AS n FROM audit_entries GROUP BY event_type ORDER BY event_type",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(map)?;
                let per_type = rows
                    .iter()
                    .map(|row| {
                        let n: i64 = row.try_get("n").map_err(map)?;
                        Ok((row.try_get("event_type").map_err(map)?, index(n)?))
                    })
                    .collect::<Result<_, StoreError>>()?;
                let failures: i64 =
                    sqlx::query("SELECT COUNT(*) AS n FROM audit_entries WHERE time_ms >= $1 AND outcome <> 'success'")
                        .bind(since_ms)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(map)?
                        .try_get("n")
                        .map_err(map)?;
                // Integer division by an hour's milliseconds, the same on both databases.
                let hours = sqlx::query(
                    "SELECT time_ms / 3600000 AS hour, COUNT(*) AS n, \
                     SUM(CASE WHEN outcome <> 'success' THEN 1 ELSE 0 END) AS failed \
                     FROM audit_entries WHERE time_ms >= $1 GROUP BY time_ms / 3600000 ORDER BY hour",
                )
                .bind(since_ms)
                .fetch_all(&self.pool)
                .await
                .map_err(map)?;
                let per_hour = hours
                    .iter()
                    .map(|row| {
                        let hour: i64 = row.try_get("hour").map_err(map)?;
                        let events: i64 = row.try_get("n").map_err(map)?;
                        let failed: i64 = row.try_get("failed").map_err(map)?;
                        Ok(HourCount { hour_ms: hour * 3_600_000, events: index(events)?, failures: index(failed)? })
                    })
                    .collect::<Result<_, StoreError>>()?;
                Ok(AuditCounts { per_type, failures_since: index(failures)?, per_hour })
            }

            async fn count_audit_groups(
                &self,
                event_types: &[&str],
                since_ms: i64,
                group: AlertGroup,
                threshold: u64,
            ) -> Result<Vec<(String, u64)>, StoreError> {
                if event_types.is_empty() {
                    return Ok(Vec::new());
                }
                let column = group_column(group);
                let mut query = QueryBuilder::<$db>::new(format!(
                    "SELECT {column} AS g, COUNT(*) AS n FROM audit_entries WHERE time_ms >= "
                ));
                query.push_bind(since_ms).push(" AND event_type IN (");
                let mut types = query.separated(", ");
                for event_type in event_types {
                    types.push_bind(event_type.to_string());
                }
                query.push(")");
                if group == AlertGroup::All {
                    // One group of everything. PostgreSQL refuses a constant in GROUP BY,
                    // and HAVING alone makes the whole selection one group on both engines.
                    query.push(" HAVING COUNT(*) >= ").push_bind(signed(threshold));
                } else {
                    query.push(format_args!(" AND {column} IS NOT NULL AND {column} <> ''"));
                    query.push(format_args!(" GROUP BY {column} HAVING COUNT(*) >= ")).push_bind(signed(threshold));
                }
                let rows = query.build().fetch_all(&self.pool).await.map_err(map)?;
                rows.iter()
                    .map(|row| {
                        let n: i64 = row.try_get("n").map_err(map)?;
                        Ok((row.try_get("g").map_err(map)?, index(n)?))
                    })
                    .collect()
            }

            async fn insert_checkpoint(&self, checkpoint: &StoredCheckpoint) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO audit_checkpoints (tree_size, root, note, created_ms) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (tree_size) DO NOTHING",
                )
                .bind(signed(checkpoint.size))
                .bind(checkpoint.root.to_vec())
                .bind(&checkpoint.note)
                .bind(checkpoint.created_ms)
                .execute(&self.writer)
                .await
                .map_err(map)?;
                Ok(())
            }

            async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
                let row = sqlx::query(
                    "SELECT tree_size, root, note, created_ms FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1",
                )
                .fetch_optional(&self.pool)
                .await
                .map_err(map)?;
                row.as_ref().map(Self::checkpoint_from_row).transpose()
            }

            async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
                let rows =
                    sqlx::query("SELECT tree_size, root, note, created_ms FROM audit_checkpoints ORDER BY tree_size")
                        .fetch_all(&self.pool)
                        .await
                        .map_err(map)?;
                rows.iter().map(Self::checkpoint_from_row).collect()
            }

            async fn insert_alert(&self, alert: &AlertRecord, audit: &[AuditRecord]) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let inserted = sqlx::query(
                    "INSERT INTO audit_alerts (id, rule, group_key, count, window_start_ms, created_ms, message) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
                )
                .bind(&alert.id)
                .bind(&alert.rule)
                .bind(&alert.group_key)
                .bind(signed(alert.count))
                .bind(alert.window_start_ms)
                .bind(alert.created_ms)
                .bind(&alert.message)
                .execute(&mut *tx)
                .await
                .map_err(map)?;
                Self::commit_audited(tx, inserted.rows_affected() == 1, audit).await
            }

            async fn alerts(&self, limit: u32) -> Result<Vec<AlertRecord>, StoreError> {
                let rows = sqlx::query(
                    "SELECT id, rule, group_key, count, window_start_ms, created_ms, message FROM audit_alerts \
                     ORDER BY created_ms DESC, id LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(map)?;
                rows.iter()
                    .map(|row| {
                        let count: i64 = row.try_get("count").map_err(map)?;
                        Ok(AlertRecord {
                            id: row.try_get("id").map_err(map)?,
                            rule: row.try_get("rule").map_err(map)?,
                            group_key: row.try_get("group_key").map_err(map)?,
                            count: index(count)?,
                            window_start_ms: row.try_get("window_start_ms").map_err(map)?,
                            created_ms: row.try_get("created_ms").map_err(map)?,
                            message: row.try_get("message").map_err(map)?,
                        })
                    })
                    .collect()
            }
        }
    };
}

impl_audit_store!(
    SqliteStore,
    sqlx::Sqlite,
    "BEGIN IMMEDIATE",
    "",
    SQLITE_BYTES_PER_INSERT,
    true,
    "(SELECT group_concat(lower(hex(h.hmac)), ',') FROM audit_hmacs h WHERE h.leaf_index = e.leaf_index)"
);
impl_audit_store!(
    PostgresStore,
    sqlx::Postgres,
    "BEGIN",
    " FOR UPDATE",
    PG_BYTES_PER_INSERT,
    false,
    "(SELECT string_agg(encode(h.hmac, 'hex'), ',') FROM audit_hmacs h WHERE h.leaf_index = e.leaf_index)"
);

impl SqliteStore {
    /// The audit log's append: one hand-off to the audit writer thread
    /// (`sqlite_audit_writer.rs`), which groups it with whatever else is
    /// waiting and takes the process's writer turn for the commit. Without a
    /// database file (an in-memory database) it runs on the writer
    /// connection instead.
    async fn append_standalone(&self, records: &[AuditRecord]) -> Result<AppendReceipt, StoreError> {
        let Some(thread) = &self.audit_writer else {
            return self.append_in_own_transaction(records).await;
        };
        thread.append(records.to_vec()).await.map_err(refused)
    }

    /// The writer thread groups concurrent appends into one commit itself.
    fn merges_appends(&self) -> bool {
        self.audit_writer.is_some()
    }
}

impl PostgresStore {
    /// The group-commit writer's append: a transaction holding the head row.
    async fn append_standalone(&self, records: &[AuditRecord]) -> Result<AppendReceipt, StoreError> {
        self.append_in_own_transaction(records).await
    }

    /// Each append is a transaction of its own: the audit log groups them.
    fn merges_appends(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_runs_respect_rows_and_bytes_and_cover_everything() {
        let items: Vec<usize> = vec![3000, 3000, 3000, 9000, 10, 10];
        let runs = insert_runs(&items, 8192, |size| *size);
        let shapes: Vec<(usize, usize)> = runs.iter().map(|(start, run)| (*start, run.len())).collect();
        assert_eq!(shapes, vec![(0, 2), (2, 1), (3, 1), (4, 2)], "an oversized row stands alone");
        let many = vec![1usize; 1000];
        let runs = insert_runs(&many, usize::MAX, |_| 1);
        assert_eq!(runs.iter().map(|(_, r)| r.len()).collect::<Vec<_>>(), vec![400, 400, 200]);
        assert!(insert_runs::<usize>(&[], 1, |_| 1).is_empty());
    }
}
