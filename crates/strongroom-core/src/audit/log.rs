//! The audit log service: sealing events, appending them with group commit,
//! reading them back with proofs.
//!
//! Invariants a reader must not break:
//! - [`AuditLog::record`] returns only once the event is a committed leaf,
//!   and returns an error (which callers turn into a refusal) otherwise:
//!   fail closed. Events of actions that change state are not recorded here
//!   but inside the action's own transaction (`crate::KeyStore` methods take
//!   their [`AuditRecord`]s), so the action and its event commit together or
//!   not at all.
//! - Events waiting together are appended in one transaction (group
//!   commit): a burst costs one commit, not one each. One writer task per
//!   process does the grouping, unless the store groups concurrent appends
//!   itself ([`AuditStore::merges_concurrent_appends`]); then each event
//!   goes straight to the store.
//! - Nothing secret reaches an entry: [`AuditLog::seal`] replaces the client
//!   address by its HMAC when configured, and callers put only HMACs of
//!   personal values into events ([`AuditLog::pseudonym`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use strongroom_crypto::merkle::{self, Hash};
use strongroom_crypto::{SecretKey, from_hex as unhex, hmac_sha256, to_hex as hex};
use tokio::sync::{mpsc, oneshot, watch};

use super::event::{AuditContext, AuditEvent, EventType};
use super::store::{AppendReceipt, AuditFilter, AuditRecord, AuditStore, StoredEntry, TreeHead};
use crate::{Clock, CoreError};

/// How many waiting events one transaction takes at most.
const MAX_BATCH: usize = 1024;
/// How long an action waits for its event to commit before it is refused.
const RECORD_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings of the audit log taken from the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditSettings {
    /// Store client addresses only as HMACs (searchable, not readable).
    pub hash_ip: bool,
}

/// HMAC-SHA256 under the audit HMAC key's versions, newest first, loaded
/// once at start so recording an event never waits on the keyring.
pub struct Pseudonymizer {
    keys: Vec<(u32, SecretKey)>,
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pseudonymizer")
            .field("versions", &self.keys.iter().map(|(v, _)| v).collect::<Vec<_>>())
            .finish()
    }
}

impl Pseudonymizer {
    /// Keys as `(version, key)`; the first is used for new events.
    pub fn new(mut keys: Vec<(u32, SecretKey)>) -> Result<Self, CoreError> {
        keys.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
        if keys.is_empty() {
            return Err(CoreError::AuditUnavailable("the audit HMAC key has no usable version".into()));
        }
        Ok(Self { keys })
    }

    /// The HMAC of `value` under the newest version.
    pub fn hmac(&self, value: &[u8]) -> [u8; 32] {
        hmac_sha256(self.keys[0].1.expose(), value)
    }

    /// The HMACs of `value` under every version (a search must find old events too).
    pub fn all_hmacs(&self, value: &[u8]) -> Vec<[u8; 32]> {
        self.keys.iter().map(|(_, key)| hmac_sha256(key.expose(), value)).collect()
    }
}

/// Where a recorded event landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// Its leaf index.
    pub index: u64,
}

/// Why the server should not be called ready, as far as the audit log knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditHealth {
    /// The stored tree does not extend the last anchored checkpoint.
    pub rollback: Option<String>,
    /// Free space for the audit store is below the configured minimum.
    pub storage_low: Option<String>,
    /// The last append failed (cleared by the next success).
    pub append_failing: Option<String>,
    /// When `append_failing` was last set.
    pub append_failed_at: Option<std::time::Instant>,
    /// The stored tree does not verify: an entry, a node or a search column
    /// was changed or lost (cleared by a full verification that passes).
    pub damaged: Option<String>,
}

impl AuditHealth {
    /// Every problem, for `/readyz`.
    pub fn problems(&self) -> Vec<String> {
        [&self.rollback, &self.damaged, &self.storage_low, &self.append_failing]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }
}

/// The last address and user agent a batch's sealing saw, each with its
/// HMAC (hex).
#[derive(Default)]
struct RequestMacs {
    ip: Option<(String, String)>,
    user_agent: Option<(String, String)>,
}

/// Records to append together, and where to answer with the first one's index.
type Pending = (Vec<AuditRecord>, oneshot::Sender<Result<u64, String>>);

/// The audit log.
#[derive(Debug)]
pub struct AuditLog {
    store: Arc<dyn AuditStore>,
    clock: Arc<dyn Clock>,
    settings: AuditSettings,
    /// The writer task's queue, or `None` when the store groups appends itself.
    writer: Option<mpsc::Sender<Pending>>,
    pseudonymizer: OnceLock<Pseudonymizer>,
    appended: watch::Sender<u64>,
    health: Arc<Mutex<AuditHealth>>,
    /// Whether a rollback or fork was found: then nothing is sealed (so no
    /// audited action can happen) until it is resolved. Kept apart from
    /// `health` so the check on every event is one atomic load.
    halted: AtomicBool,
}

impl AuditLog {
    /// The log over `store`. Starts the writer task (unless the store groups
    /// appends itself), so call it inside a Tokio runtime.
    pub fn new(store: Arc<dyn AuditStore>, clock: Arc<dyn Clock>, settings: AuditSettings) -> Arc<Self> {
        let (appended, _) = watch::channel(0);
        let health = Arc::new(Mutex::new(AuditHealth::default()));
        let writer = (!store.merges_concurrent_appends()).then(|| {
            let (writer, queue) = mpsc::channel(8 * MAX_BATCH);
            tokio::spawn(write_batches(Arc::clone(&store), queue, appended.clone(), Arc::clone(&health)));
            writer
        });
        Arc::new(Self {
            store,
            clock,
            settings,
            writer,
            pseudonymizer: OnceLock::new(),
            appended,
            health,
            halted: AtomicBool::new(false),
        })
    }

    /// Installs the HMAC keys (once, at start, after the keyring is up).
    pub fn set_pseudonymizer(&self, pseudonymizer: Pseudonymizer) {
        // A second call keeps the first keys: they were loaded at start and
        // every later event must stay searchable the same way.
        let _ = self.pseudonymizer.set(pseudonymizer);
    }

    fn pseudonymizer(&self) -> Result<&Pseudonymizer, CoreError> {
        self.pseudonymizer.get().ok_or_else(|| CoreError::AuditUnavailable("the audit HMAC key is not loaded".into()))
    }

    /// The store, for the checkpoint signer and the alert evaluator.
    pub(crate) fn store(&self) -> &Arc<dyn AuditStore> {
        &self.store
    }

    /// Now, in Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        i64::try_from(self.clock.now().as_millis()).unwrap_or(i64::MAX)
    }

    /// A new successful event of `event_type` by `context`, stamped now.
    pub fn event(&self, event_type: EventType, context: &AuditContext) -> AuditEvent {
        AuditEvent::new(event_type, context, self.now_ms())
    }

    /// The hex HMAC of a personal value (a subject id, a field value, an
    /// attempted username), to put in an event instead of the value.
    pub fn pseudonym(&self, value: &str) -> Result<String, CoreError> {
        Ok(hex(&self.pseudonymizer()?.hmac(value.as_bytes())))
    }

    /// Seals `event` into the record that becomes a leaf. Refused while the
    /// log is halted by a rollback or fork: appending would extend the
    /// rolled-back tree, so the action that needs the event must not happen.
    pub fn seal(&self, event: &AuditEvent) -> Result<AuditRecord, CoreError> {
        self.refuse_while_halted()?;
        self.seal_despite_halt(event.clone())
    }

    /// The HMAC of a request fact (address, user agent), from `memo` when
    /// the event before it in the batch had the same one.
    fn fact_mac(&self, memo: &mut Option<(String, String)>, fact: &str) -> Result<String, CoreError> {
        if let Some((seen, mac)) = memo.as_ref()
            && seen == fact
        {
            return Ok(mac.clone());
        }
        let mac = hex(&self.pseudonymizer()?.hmac(fact.as_bytes()));
        *memo = Some((fact.to_owned(), mac.clone()));
        Ok(mac)
    }

    fn refuse_while_halted(&self) -> Result<(), CoreError> {
        if self.halted.load(Ordering::Acquire) {
            let found = self.health().rollback.unwrap_or_default();
            return Err(CoreError::AuditRolledBack(format!(
                "{found}; audited actions are refused until an operator restores the newer database or accepts \
                 this state with `strongroom audit accept-rollback`"
            )));
        }
        Ok(())
    }

    /// [`seal`](Self::seal) even while halted: only for the event that
    /// records an operator accepting the rollback.
    fn seal_despite_halt(&self, event: AuditEvent) -> Result<AuditRecord, CoreError> {
        self.seal_with(event, &mut RequestMacs::default())
    }

    /// Seals `event`, taking the HMACs of its request's address and user
    /// agent from `macs` when the batch's previous event had the same: the
    /// events of one ingestion request share them, and computing two HMACs
    /// per event was a tenth of the workers' share of an ingested event.
    fn seal_with(&self, mut event: AuditEvent, macs: &mut RequestMacs) -> Result<AuditRecord, CoreError> {
        // Every audited action passes here, so this one counter gives transit
        // operations, reveals, login failures, lockouts and denials by type.
        // (An action whose transaction then fails was counted too.)
        metrics::counter!(
            "strongroom_audit_events_total",
            "type" => event.event_type.as_str(),
            "outcome" => event.outcome.as_str()
        )
        .increment(1);
        // The user agent is personal data (it identifies a person's device): the
        // log keeps its HMAC, searchable with `hmac_of`, never the text.
        if let Some(agent) = event.context.user_agent.take() {
            event.hmacs.insert("user_agent".into(), self.fact_mac(&mut macs.user_agent, &agent)?);
        }
        let ip_key = match event.context.ip {
            Some(ip) if self.settings.hash_ip => {
                let mac = self.fact_mac(&mut macs.ip, &ip.to_string())?;
                event.hmacs.insert("ip".into(), mac.clone());
                Some(format!("hmac:{mac}"))
            }
            Some(ip) => Some(ip.to_string()),
            None => None,
        };
        let hmacs = event.hmacs.values().filter_map(|text| unhex(text)).collect();
        let target = event.target.as_ref();
        Ok(AuditRecord {
            entry: event.canonical(!self.settings.hash_ip),
            time_ms: event.time_ms,
            event_type: event.type_name().to_owned(),
            outcome: event.outcome.as_str().to_owned(),
            actor_id: event.context.actor.id.clone(),
            target_id: target.and_then(|t| t.id.clone()),
            matter: target.and_then(|t| t.matter.clone()),
            ip_key,
            hmacs,
            severity: event.severity.rank(),
        })
    }

    /// Records `event` and waits until it is a committed leaf. An error
    /// means it is not recorded, and the caller must refuse its action.
    pub async fn record(&self, event: &AuditEvent) -> Result<Recorded, CoreError> {
        let record = self.seal(event)?;
        self.append_record(record).await
    }

    /// Records `events` as consecutive leaves, all or none, in one commit
    /// (shared with other waiting events), and waits until they are
    /// durable; returns the first one's index. An error means none is
    /// recorded. Sealing happens before anything is sent, so an event that
    /// cannot be sealed appends nothing.
    pub async fn record_all(&self, events: Vec<AuditEvent>) -> Result<Recorded, CoreError> {
        if events.is_empty() {
            return Err(CoreError::InvalidInput("no events to record".into()));
        }
        self.refuse_while_halted()?;
        let mut macs = RequestMacs::default();
        let records =
            events.into_iter().map(|event| self.seal_with(event, &mut macs)).collect::<Result<Vec<_>, _>>()?;
        self.append_records(records).await
    }

    /// Records the operator's acceptance of a rollback, which the halt
    /// would otherwise refuse (see `Checkpointer::accept_rollback`).
    pub(crate) async fn record_despite_halt(&self, event: &AuditEvent) -> Result<Recorded, CoreError> {
        let record = self.seal_despite_halt(event.clone())?;
        self.append_record(record).await
    }

    async fn append_record(&self, record: AuditRecord) -> Result<Recorded, CoreError> {
        self.append_records(vec![record]).await
    }

    async fn append_records(&self, records: Vec<AuditRecord>) -> Result<Recorded, CoreError> {
        let started = std::time::Instant::now();
        let outcome = self.append_records_untimed(records).await;
        metrics::histogram!("strongroom_audit_append_seconds").record(started.elapsed().as_secs_f64());
        if outcome.is_err() {
            metrics::counter!("strongroom_audit_append_failures_total").increment(1);
        }
        outcome
    }

    async fn append_records_untimed(&self, records: Vec<AuditRecord>) -> Result<Recorded, CoreError> {
        let unavailable = |why: &str| CoreError::AuditUnavailable(why.to_owned());
        let Some(writer) = &self.writer else {
            let count = records.len();
            let appending = self.store.append_audit(&records);
            let outcome = match tokio::time::timeout(RECORD_TIMEOUT, appending).await {
                Ok(outcome) => outcome.map_err(|error| refused(&error, count)),
                Err(_) => return Err(unavailable("the audit store did not answer in time")),
            };
            note_append(&outcome, &self.appended, &self.health);
            return outcome.map(|receipt| Recorded { index: receipt.first_index }).map_err(CoreError::AuditUnavailable);
        };
        let (done, result) = oneshot::channel();
        writer.send((records, done)).await.map_err(|_| unavailable("the audit writer has stopped"))?;
        match tokio::time::timeout(RECORD_TIMEOUT, result).await {
            Ok(Ok(Ok(index))) => Ok(Recorded { index }),
            Ok(Ok(Err(why))) => Err(CoreError::AuditUnavailable(why)),
            Ok(Err(_)) => Err(unavailable("the audit writer has stopped")),
            Err(_) => Err(unavailable("the audit store did not answer in time")),
        }
    }

    /// Records a failure event, for an action that is refused anyway: if
    /// this fails too, the refusal stands and the failure is logged.
    pub async fn record_refusal(&self, event: &AuditEvent) {
        if let Err(error) = self.record(event).await {
            tracing::error!(%error, event = event.event_type.as_str(), "could not record a refused action");
        }
    }

    /// Tells the log (sinks, waiters) that a domain transaction appended leaves.
    pub fn appended_elsewhere(&self, head: TreeHead) {
        self.appended.send_if_modified(|size| {
            let grew = head.size > *size;
            *size = (*size).max(head.size);
            grew
        });
    }

    /// A receiver that changes whenever this process appends.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.appended.subscribe()
    }

    /// The current tree head.
    pub async fn head(&self) -> Result<TreeHead, CoreError> {
        Ok(self.store.audit_head().await?)
    }

    /// One leaf with its bytes.
    pub async fn entry(&self, index: u64) -> Result<Option<StoredEntry>, CoreError> {
        Ok(self.store.audit_entries(index, 1).await?.into_iter().find(|e| e.index == index))
    }

    /// Leaves from `from` on, ascending (export, sinks, verification).
    pub async fn entries(&self, from: u64, limit: u32) -> Result<Vec<StoredEntry>, CoreError> {
        Ok(self.store.audit_entries(from, limit).await?)
    }

    /// Leaves matching `filter`, newest first; `hmac_of` adds "carries the
    /// HMAC of this value" under any version of the audit HMAC key.
    pub async fn search(&self, mut filter: AuditFilter, hmac_of: Option<&str>) -> Result<Vec<StoredEntry>, CoreError> {
        if let Some(value) = hmac_of {
            filter.hmacs.extend(self.pseudonymizer()?.all_hmacs(value.as_bytes()).iter().map(|h| h.to_vec()));
        }
        Ok(self.store.search_audit(&filter).await?)
    }

    /// The newest signed checkpoint.
    pub async fn latest_checkpoint(&self) -> Result<Option<super::store::StoredCheckpoint>, CoreError> {
        Ok(self.store.latest_checkpoint().await?)
    }

    /// Counts for the statistics page.
    pub async fn counts(&self, since_ms: i64) -> Result<super::store::AuditCounts, CoreError> {
        Ok(self.store.audit_counts(since_ms).await?)
    }

    /// The current head, if the tree has had `size` leaves. A size it has
    /// not reached yet names no tree: `NotFound`, as a leaf index past the
    /// end does (`GET /v1/audit/events/{index}`); the request is well formed.
    async fn checked_size(&self, size: u64, what: &str) -> Result<TreeHead, CoreError> {
        let head = self.head().await?;
        if size > head.size {
            return Err(CoreError::NotFound(format!("{what}: {size} is larger than the tree ({})", head.size)));
        }
        Ok(head)
    }

    /// The root of the tree of the first `size` leaves.
    pub async fn root_at(&self, size: u64) -> Result<Hash, CoreError> {
        self.checked_size(size, "tree_size").await?;
        let nodes = self.store.audit_nodes(&merkle::nodes_needed_for_root(size)).await?;
        merkle::root_at(&nodes, size).map_err(|error| self.proof_failed(error))
    }

    /// The inclusion proof of leaf `index` in the tree of `size` leaves.
    pub async fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, CoreError> {
        self.checked_size(size, "tree_size").await?;
        if index >= size {
            return Err(CoreError::NotFound(format!("index: {index} is not below tree_size {size}")));
        }
        let nodes = self.store.audit_nodes(&merkle::nodes_needed_for_inclusion(index, size)).await?;
        merkle::inclusion_proof(&nodes, index, size).map_err(|error| self.proof_failed(error))
    }

    /// The consistency proof from the tree of `from` leaves to that of `to`.
    pub async fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<Hash>, CoreError> {
        self.checked_size(to, "to").await?;
        if from == 0 {
            return Err(CoreError::InvalidInput(format!("from: must be between 1 and to ({to})")));
        }
        if from > to {
            // No tree of `from` leaves precedes the one of `to`: there is no such proof.
            return Err(CoreError::NotFound(format!("from: must be between 1 and to ({to})")));
        }
        let nodes = self.store.audit_nodes(&merkle::nodes_needed_for_consistency(from, to)).await?;
        merkle::consistency_proof(&nodes, from, to).map_err(|error| self.proof_failed(error))
    }

    /// What `/readyz` should know.
    pub fn health(&self) -> AuditHealth {
        self.health.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Forgets a failed append older than `after` once the database answers
    /// again (the caller checked): a failure is cleared only by a later
    /// successful append, and while `/readyz` fails no traffic may come to
    /// make one, so the instance would stay out until restarted. If appends
    /// still fail, the next audited request sets it again at once.
    pub fn forget_failed_append_older_than(&self, after: Duration) {
        self.update_health(|health| {
            if health.append_failed_at.is_some_and(|at| at.elapsed() >= after) {
                health.append_failing = None;
                health.append_failed_at = None;
            }
        });
    }

    /// What is wrong, if anything, with the stored nodes on the way to the
    /// tree head's root: they must give that root, since proofs and
    /// checkpoints are computed from them. Reads a few nodes (one per level),
    /// so `/readyz` can ask every time. Damage found is kept in the health
    /// until a full verification passes; a pass clears nothing. A store
    /// failure is an error, not damage.
    pub async fn head_damage(&self) -> Result<Option<String>, CoreError> {
        let head = self.head().await?;
        let message = match self.root_at(head.size).await {
            Ok(root) if root == head.root => return Ok(None),
            Ok(_) => "the stored tree nodes do not give the tree head's root: a node was edited".to_owned(),
            Err(CoreError::AuditDamaged(why)) => {
                format!("the stored tree nodes cannot give the tree head's root: {why}")
            }
            Err(other) => return Err(other),
        };
        self.update_health(|health| health.damaged = Some(message.clone()));
        Ok(Some(message))
    }

    /// A proof or root that could not be computed: a range error is the
    /// caller's; anything else means stored nodes are missing or wrong, which
    /// the health reports (so `/readyz` fails) until a full verification passes.
    fn proof_failed(&self, error: merkle::ProofError) -> CoreError {
        match error {
            merkle::ProofError::OutOfRange(text) => CoreError::InvalidInput(text),
            other => {
                let message = format!("the stored tree cannot be read: {other}");
                self.update_health(|health| health.damaged = Some(message.clone()));
                CoreError::AuditDamaged(other.to_string())
            }
        }
    }

    /// Updates the health with `change`. A rollback found halts the log
    /// (see [`seal`](Self::seal)); clearing it resumes.
    pub fn update_health(&self, change: impl FnOnce(&mut AuditHealth)) {
        let mut health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        change(&mut health);
        self.halted.store(health.rollback.is_some(), Ordering::Release);
    }
}

/// The writer task: takes whatever is waiting (up to [`MAX_BATCH`] records,
/// unless one append alone has more: an append is never split) and appends
/// it in one transaction, then answers every waiter.
async fn write_batches(
    store: Arc<dyn AuditStore>,
    mut queue: mpsc::Receiver<Pending>,
    appended: watch::Sender<u64>,
    health: Arc<Mutex<AuditHealth>>,
) {
    let mut records = Vec::with_capacity(MAX_BATCH);
    let mut waiters: Vec<(usize, oneshot::Sender<Result<u64, String>>)> = Vec::with_capacity(MAX_BATCH);
    // An append taken from the queue that did not fit the last transaction.
    let mut held: Option<Pending> = None;
    loop {
        let (mut first, waiter) = match held.take() {
            Some(pending) => pending,
            None => match queue.recv().await {
                Some(pending) => pending,
                None => break,
            },
        };
        waiters.push((records.len(), waiter));
        records.append(&mut first);
        while records.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok((mut more, waiter)) if records.len() + more.len() <= MAX_BATCH => {
                    waiters.push((records.len(), waiter));
                    records.append(&mut more);
                }
                Ok(pending) => {
                    held = Some(pending);
                    break;
                }
                Err(_) => break,
            }
        }
        metrics::histogram!("strongroom_audit_batch_size").record(records.len() as f64);
        metrics::gauge!("strongroom_audit_queue_depth").set(queue.len() as f64);
        let outcome = store.append_audit(&records).await.map_err(|error| refused(&error, records.len()));
        note_append(&outcome, &appended, &health);
        for (offset, waiter) in waiters.drain(..) {
            let answer = outcome.as_ref().map(|receipt| receipt.first_index + offset as u64).map_err(Clone::clone);
            // A waiter that gave up (timeout) is gone; its event stays recorded.
            let _ = waiter.send(answer);
        }
        records.clear();
    }
}

/// Logs a failed append of `events` and says what to tell the refused
/// callers (not the store's error: it may name paths or hosts).
fn refused(error: &crate::StoreError, events: usize) -> String {
    tracing::error!(%error, events, "audit append failed: refusing the actions waiting on it");
    "the audit store refused the write".to_owned()
}

/// After an append: the health follows its outcome, and subscribers
/// (sinks, waiters) learn that the tree grew.
fn note_append(outcome: &Result<AppendReceipt, String>, appended: &watch::Sender<u64>, health: &Mutex<AuditHealth>) {
    {
        let mut health = health.lock().unwrap_or_else(|p| p.into_inner());
        health.append_failing = outcome.as_ref().err().cloned();
        health.append_failed_at = outcome.is_err().then(std::time::Instant::now);
    }
    if let Ok(receipt) = outcome {
        appended.send_if_modified(|size| {
            let grew = receipt.head.size > *size;
            *size = (*size).max(receipt.head.size);
            grew
        });
    }
}
