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
//! What stays as it was:
//! - Durability: WAL with `synchronous = FULL`, so a batch is on disk when
//!   its answer is sent.
//! - The sequencer: each batch is one `BEGIN IMMEDIATE` transaction that
//!   reads the head under the write lock, so an append from another process
//!   (a CLI command) or from a domain transaction is never overwritten.
//! - In-process fairness: the caller holds the sqlx writer connection while
//!   its batch is written here (`SqliteStore::append_standalone`), so this
//!   process's writes still queue first come, first served and never meet
//!   in SQLite's busy handler.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior, params};
use strongroom_core::StoreError;
use strongroom_core::audit::{AppendReceipt, AuditRecord};
use tokio::sync::oneshot;

use crate::audit::{AppendPlan, hmacs_conflict, index, insert_entries, insert_hmacs, insert_nodes, read_head, signed};

/// How long a batch waits for another process's write lock, as the sqlx pools do.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// Starts the thread for the database file at `path`. It opens its
    /// connection at the first batch (and again after a failed open), so a
    /// process that never appends never opens it.
    pub(crate) fn start(path: PathBuf) -> Result<Self, StoreError> {
        let (messages, queue) = mpsc::channel::<Message>();
        std::thread::Builder::new()
            .name("sqlite-audit-writer".into())
            .spawn(move || write_batches(&path, &queue))
            .map_err(|error| StoreError::Backend(Box::new(error)))?;
        Ok(Self { messages })
    }

    /// Appends `records` as the next leaves in one durable transaction.
    pub(crate) async fn append(&self, records: Vec<AuditRecord>) -> Answer {
        let (done, answer) = oneshot::channel();
        let stopped = || StoreError::Backend("the SQLite audit writer thread has stopped".into());
        self.messages.send(Message::Append { records, done }).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Closes the connection after the batches already sent, and ends the
    /// thread; later appends fail. Closing matters: the last connection to
    /// close checkpoints the WAL into the database file and removes it, so
    /// a file copied after a clean stop is the whole database.
    pub(crate) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.messages.send(Message::Close { done }).is_ok() {
            let _ = closed.await;
        }
    }
}

fn write_batches(path: &std::path::Path, queue: &mpsc::Receiver<Message>) {
    let mut connection = None;
    for message in queue.iter() {
        let (records, done) = match message {
            Message::Append { records, done } => (records, done),
            Message::Close { done } => {
                if let Some(Err((_, error))) = connection.take().map(Connection::close) {
                    tracing::warn!(%error, "closing the SQLite audit writer's connection failed");
                }
                let _ = done.send(());
                return;
            }
        };
        let answer = match &mut connection {
            Some(open) => append(open, &records),
            None => match open(path) {
                Ok(opened) => append(connection.insert(opened), &records),
                Err(error) => Err(error),
            },
        };
        if answer.is_err() {
            // Start the next batch on a fresh connection: whatever broke
            // this one (a replaced file, a lost lock) is not carried over.
            connection = None;
        }
        // A caller that gave up has its answer dropped; the batch stays committed or not, as it was.
        let _ = done.send(answer);
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
    Ok(connection)
}

/// One batch, one transaction; any error rolls it back whole (the
/// transaction is dropped uncommitted).
fn append(connection: &mut Connection, records: &[AuditRecord]) -> Answer {
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
    let (size, frontier): (i64, Vec<u8>) = tx
        .prepare_cached(read_head!())
        .and_then(|mut head| head.query_row([], |row| Ok((row.get(0)?, row.get(1)?))))
        .map_err(backend)?;
    let plan = AppendPlan::new(index(size)?, &frontier, records)?;
    {
        let mut insert = tx
            .prepare_cached(concat!(insert_entries!(), "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"))
            .map_err(backend)?;
        for (offset, record) in records.iter().enumerate() {
            insert
                .execute(params![
                    signed(plan.first + offset as u64),
                    record.entry,
                    record.time_ms,
                    record.event_type,
                    record.outcome,
                    record.actor_id,
                    record.target_id,
                    record.matter,
                    record.ip_key,
                ])
                .map_err(backend)?;
        }
        let mut insert =
            tx.prepare_cached(concat!(insert_hmacs!(), "VALUES (?1, ?2)", hmacs_conflict!())).map_err(backend)?;
        for (leaf, mac) in &plan.hmacs {
            insert.execute(params![mac, leaf]).map_err(backend)?;
        }
        let mut insert = tx.prepare_cached(concat!(insert_nodes!(), "VALUES (?1, ?2, ?3)")).map_err(backend)?;
        for (id, hash) in &plan.nodes {
            insert.execute(params![i32::from(id.level), signed(id.index), hash.as_slice()]).map_err(backend)?;
        }
        tx.prepare_cached("UPDATE audit_head SET size = ?1, root = ?2, frontier = ?3 WHERE id = 1")
            .and_then(|mut head| {
                head.execute(params![
                    signed(plan.frontier.size()),
                    plan.frontier.root().as_slice(),
                    plan.frontier.hashes().concat(),
                ])
            })
            .map_err(backend)?;
    }
    tx.commit().map_err(backend)?;
    Ok(plan.receipt())
}
