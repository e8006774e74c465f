//! The SQLite audit append, on an OS thread of its own.
//!
//! Why: sqlx runs every SQLite connection on a worker thread and passes each
//! command and each statement's result between that thread and the async
//! caller through channels; a third of the group-commit append's samples were
//! those hand-offs and the wake-ups behind them (bench/README.md, "Transit,
//! 2026-12-02 (later)"). This writer owns one connection on one thread, keeps
//! its statements prepared, and takes a whole batch per hand-off: one message
//! in, one answer out. Measured with it: 10–17 % less server CPU per 64 B
//! transit request ("Transit, 2026-12-02 (stop 13)"); what remains of the
//! append is SQLite's own page writing.
//!
//! It is also where appends are grouped: callers send their records at once
//! (the audit log sends each event as it is sealed, see
//! `AuditStore::merges_concurrent_appends`), and each transaction takes
//! every append waiting when it starts, up to [`MAX_RECORDS_PER_COMMIT`].
//! The next transaction starts the moment one commits, with what arrived
//! during it: no hand-off back to an async task sits between two commits.
//!
//! What stays as it was:
//! - Durability: WAL with `synchronous = FULL`, so an append is on disk when
//!   its answer is sent.
//! - The sequencer: each transaction is `BEGIN IMMEDIATE` and reads the head
//!   under the write lock, so an append from another process (a CLI
//!   command) or from a domain transaction is never overwritten.
//! - In-process fairness: the thread writes only while it holds this
//!   process's writer turn, the one connection of the sqlx writer pool, so
//!   this process's writes still queue first come, first served and never
//!   meet in SQLite's busy handler. It keeps the turn across back-to-back
//!   transactions (taking it costs a round trip through the pool, about a
//!   tenth of a commit), and gives it back when nothing is waiting or after
//!   [`COMMITS_PER_TURN`], so a domain write waits behind at most that many.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior, params};
use sqlx::pool::PoolConnection;
use sqlx::{Sqlite, SqlitePool};
use strongroom_core::StoreError;
use strongroom_core::audit::{AppendPlan, AppendReceipt, AuditRecord};
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::audit_sql::{
    hmac_rows, hmacs_conflict, index, insert_entries, insert_hmacs, insert_nodes, read_head, signed,
};

/// How long a batch waits for another process's write lock, as the sqlx pools do.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// At most this many records in one transaction (unless one append alone
/// has more); the rest wait for the next.
const MAX_RECORDS_PER_COMMIT: usize = 1024;
/// The writer connection's page cache, in KiB (SQLite's `cache_size`
/// takes a negative number for KiB).
const WRITER_CACHE_KIB: i64 = 64 * 1024;
/// WAL pages after which this thread's commit checkpoints (SQLite's default
/// is 1,000); 8,192 pages of 4 KiB are 32 MiB of WAL.
const WRITER_AUTOCHECKPOINT_PAGES: i64 = 8192;
/// Commits per hold of the writer turn before it is offered to the
/// process's other writers.
const COMMITS_PER_TURN: u32 = 8;

type Answer = Result<AppendReceipt, StoreError>;

enum Message {
    /// Append these records and answer.
    Append { records: Vec<AuditRecord>, done: oneshot::Sender<Answer> },
    /// Close the connection and end the thread (answers once closed).
    Close { done: oneshot::Sender<()> },
}

/// A handle on the writer thread; the thread ends at [`Self::close`] or
/// when the last handle is dropped.
#[derive(Debug)]
pub(crate) struct SqliteAuditWriter {
    messages: mpsc::Sender<Message>,
}

impl SqliteAuditWriter {
    /// Starts the thread for the database file at `path`, taking its turns
    /// from `turns` (the writer pool). Call it inside the Tokio runtime the
    /// pool runs on: the thread takes and gives back turns through it. It
    /// opens its connection at the first append (and again after a failed
    /// one), so a process that never appends never opens it.
    pub(crate) fn start(path: PathBuf, turns: SqlitePool) -> Result<Self, StoreError> {
        let runtime = Handle::try_current().map_err(|error| StoreError::Backend(Box::new(error)))?;
        let (messages, queue) = mpsc::channel::<Message>();
        let writer = Writer { path, turns, runtime, connection: None, turn: None };
        std::thread::Builder::new()
            .name("sqlite-audit-writer".into())
            .spawn(move || writer.run(&queue))
            .map_err(|error| StoreError::Backend(Box::new(error)))?;
        Ok(Self { messages })
    }

    /// Appends `records` as consecutive leaves in one durable transaction
    /// (which may also carry other callers' appends).
    pub(crate) async fn append(&self, records: Vec<AuditRecord>) -> Answer {
        let (done, answer) = oneshot::channel();
        let stopped = || StoreError::Backend("the SQLite audit writer thread has stopped".into());
        self.messages.send(Message::Append { records, done }).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Commits the appends already sent, gives back the turn, closes the
    /// connection and ends the thread; later appends fail. Closing matters:
    /// the last connection to close checkpoints the WAL into the database
    /// file and removes it, so a file copied after a clean stop is the
    /// whole database.
    pub(crate) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.messages.send(Message::Close { done }).is_ok() {
            let _ = closed.await;
        }
    }
}

/// An append waiting for its commit.
type Pending = (Vec<AuditRecord>, oneshot::Sender<Answer>);

/// The thread's state.
struct Writer {
    path: PathBuf,
    /// The sqlx writer pool: its one connection is the process's writer turn.
    turns: SqlitePool,
    runtime: Handle,
    connection: Option<Connection>,
    /// The turn while held, with the commits made in it.
    turn: Option<(PoolConnection<Sqlite>, u32)>,
}

impl Writer {
    fn run(mut self, queue: &mpsc::Receiver<Message>) {
        let mut waiting = VecDeque::new();
        loop {
            waiting.extend(queue.try_iter());
            if waiting.is_empty() {
                // Nothing to write: let the process's other writers in
                // while this thread sleeps.
                self.give_back_turn();
                match queue.recv() {
                    Ok(message) => waiting.push_back(message),
                    Err(_) => return self.close_connection(),
                }
            }
            let mut batch: Vec<Pending> = Vec::new();
            let mut records = 0;
            while let Some(message) = waiting.pop_front() {
                match message {
                    Message::Append { records: more, done }
                        if batch.is_empty() || records + more.len() <= MAX_RECORDS_PER_COMMIT =>
                    {
                        records += more.len();
                        batch.push((more, done));
                    }
                    other => {
                        waiting.push_front(other);
                        break;
                    }
                }
            }
            if !batch.is_empty() {
                self.commit(batch);
            } else if let Some(Message::Close { done }) = waiting.pop_front() {
                // Every append sent before the close is committed by now.
                self.give_back_turn();
                self.close_connection();
                let _ = done.send(());
                return;
            }
        }
    }

    /// Commits `batch` in one transaction and answers each append with
    /// where its records went, or every one with the failure.
    fn commit(&mut self, batch: Vec<Pending>) {
        let mut lengths = Vec::with_capacity(batch.len());
        let mut waiters = Vec::with_capacity(batch.len());
        let mut records = Vec::new();
        for (mut more, done) in batch {
            lengths.push(more.len());
            waiters.push(done);
            records.append(&mut more);
        }
        match self.take_turn().and_then(|()| self.append(&records)) {
            Ok(receipt) => {
                let mut first_index = receipt.first_index;
                for (done, length) in waiters.into_iter().zip(lengths) {
                    // A caller that gave up has its answer dropped; its records stay committed.
                    let _ = done.send(Ok(AppendReceipt { first_index, head: receipt.head }));
                    first_index += length as u64;
                }
            }
            Err(error) => {
                tracing::warn!(%error, records = records.len(), "the SQLite audit append failed");
                let why = error.to_string();
                for done in waiters {
                    let _ = done.send(Err(StoreError::Backend(why.clone().into())));
                }
            }
        }
        // The records were allocated on the runtime's threads; freeing them
        // there keeps mimalloc's frees thread-local, off this thread, which
        // bounds the log's throughput (bench/README, "Audit ingestion", stop 20).
        self.runtime.spawn(async move { drop(records) });
    }

    /// Makes sure the turn is held for one more commit: the one held, or a
    /// fresh one after giving it back when it has covered its share.
    fn take_turn(&mut self) -> Result<(), StoreError> {
        match &mut self.turn {
            Some((_, commits)) if *commits < COMMITS_PER_TURN => {
                *commits += 1;
                return Ok(());
            }
            Some(_) => self.give_back_turn(),
            None => {}
        }
        let connection = self.runtime.block_on(self.turns.acquire()).map_err(crate::error::map)?;
        self.turn = Some((connection, 1));
        Ok(())
    }

    fn give_back_turn(&mut self) {
        if let Some((connection, _)) = self.turn.take() {
            // sqlx returns a connection to its pool from a task it spawns
            // on drop, so drop it inside the runtime.
            let _inside = self.runtime.enter();
            drop(connection);
        }
    }

    fn close_connection(&mut self) {
        if let Some(Err((_, error))) = self.connection.take().map(Connection::close) {
            tracing::warn!(%error, "closing the SQLite audit writer's connection failed");
        }
    }

    fn append(&mut self, records: &[AuditRecord]) -> Answer {
        let mut connection = match self.connection.take() {
            Some(connection) => connection,
            None => open(&self.path)?,
        };
        let answer = append(&mut connection, records);
        // After a failure the next append opens a fresh connection: whatever
        // broke this one (a replaced file, a lost lock) is not carried over.
        if answer.is_ok() {
            self.connection = Some(connection);
        }
        answer
    }
}

fn backend(error: rusqlite::Error) -> StoreError {
    StoreError::Backend(Box::new(error))
}

fn open(path: &std::path::Path) -> Result<Connection, StoreError> {
    // The file exists: the pools created and migrated it before anything appends.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(path, flags).map_err(backend)?;
    connection.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
    connection.pragma_update(None, "journal_mode", "WAL").map_err(backend)?;
    connection.pragma_update(None, "synchronous", "FULL").map_err(backend)?;
    connection.pragma_update(None, "foreign_keys", "ON").map_err(backend)?;
    // As the pools' connections (database.rs): freed space is zeroed.
    connection.pragma_update(None, "secure_delete", "ON").map_err(backend)?;
    // Every append inserts into the entries' indexes and the HMAC index at
    // places all over their trees; with SQLite's default 2 MiB cache each
    // such page is read back from the file again. 64 MiB keeps the trees'
    // upper levels and recent pages in this connection's memory.
    connection.pragma_update(None, "cache_size", WRITER_CACHE_KIB.wrapping_neg()).map_err(backend)?;
    // SQLite copies the WAL back into the database file (a checkpoint, with
    // its fsync) in the committing thread once the WAL holds 1,000 pages:
    // under load every few commits of this thread, each copying the same hot
    // pages (the indexes' right edges and upper levels) again. A longer WAL
    // copies each of them once per checkpoint instead.
    connection.pragma_update(None, "wal_autocheckpoint", WRITER_AUTOCHECKPOINT_PAGES).map_err(backend)?;
    Ok(connection)
}

/// One batch, one transaction; any error rolls it back whole (the
/// transaction is dropped uncommitted). The head moves only from the size
/// the plan extends (read under the write lock, so always: the check is the
/// port's promise, not a path expected to run).
fn append(connection: &mut Connection, records: &[AuditRecord]) -> Answer {
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
    let (size, frontier): (i64, Vec<u8>) = tx
        .prepare_cached(read_head!())
        .and_then(|mut head| head.query_row([], |row| Ok((row.get(0)?, row.get(1)?))))
        .map_err(backend)?;
    let plan = AppendPlan::new(index(size)?, &frontier, records)?;
    {
        let mut insert = tx
            .prepare_cached(concat!(insert_entries!(), "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"))
            .map_err(backend)?;
        for (offset, record) in records.iter().enumerate() {
            insert
                .execute(params![
                    signed(plan.leaf_index(offset)),
                    record.entry,
                    record.time_ms,
                    record.event_type,
                    record.outcome,
                    record.actor_id,
                    record.target_id,
                    record.matter,
                    record.ip_key,
                    record.severity,
                ])
                .map_err(backend)?;
        }
        let mut insert =
            tx.prepare_cached(concat!(insert_hmacs!(), "VALUES (?1, ?2)", hmacs_conflict!())).map_err(backend)?;
        for (leaf, mac) in hmac_rows(&plan, records) {
            insert.execute(params![mac, leaf]).map_err(backend)?;
        }
        let mut insert = tx.prepare_cached(concat!(insert_nodes!(), "VALUES (?1, ?2, ?3)")).map_err(backend)?;
        for (key, hash) in plan.nodes() {
            insert.execute(params![signed(key.last_leaf), i32::from(key.level), hash.as_slice()]).map_err(backend)?;
        }
        let head = plan.head();
        let moved = tx
            .prepare_cached("UPDATE audit_head SET size = ?1, root = ?2, frontier = ?3 WHERE id = 1 AND size = ?4")
            .and_then(|mut update| {
                update.execute(params![
                    signed(head.size),
                    head.root.as_slice(),
                    plan.frontier_bytes(),
                    signed(plan.extends()),
                ])
            })
            .map_err(backend)?
            != 1;
        if moved {
            return Err(StoreError::Backend("the audit tree head moved during the append".into()));
        }
    }
    tx.commit().map_err(backend)?;
    Ok(plan.receipt())
}
