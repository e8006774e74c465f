//! Key jobs: the work a key change starts over the record data the key
//! protects, run in the background, resumable, with progress to show.
//!
//! - Rotating a matter key starts a `rewrap` job: every data key the key
//!   wraps below the new version is sealed again under the latest version;
//!   the data itself is not touched. When it is done the key's census shows
//!   nothing under the old versions, and `min_decryption_version` can
//!   retire them without losing a record.
//! - Marking a matter key `compromised` starts a `reencrypt` job: every
//!   record under it gets a new data key wrapped by the matter's next key
//!   generation (`matter.<id>.r2`, …), its sealed values sealed again and its
//!   blobs re-encrypted. When it is done the compromised key protects
//!   nothing and can be destroyed.
//!
//! Which API should I use? [`Jobs::rotate_key`] and [`Jobs::set_key_state`]
//! instead of the keyring's own, so the job starts with the change (the
//! server's routes and the CLI do); [`Jobs::run_next`] in a loop runs them.
//!
//! Invariants: progress lives in the data (a record still under the old key
//! or version is not done), so a job resumes after a crash wherever it
//! stopped; the stored `done` count is only what to show. A lease keeps one
//! process on a job at a time; a process that dies lets its lease lapse and
//! another takes over. Each batch commits with its own audit event; a job's
//! start and end are audited too. Keys that wrap no stored data (transit,
//! signing and HMAC keys) start no job.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::audit::{AuditContext, AuditLog, AuditRecord, EventType, Outcome, Target};
use crate::ids::random_id;
use crate::records::{Batch, Records, VersionCensus, successor_key};
use crate::{Clock, CoreError, KeyInfo, KeyPurpose, KeyState, Keyring, StoreError};

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Reseals data keys under the key's latest version.
    Rewrap,
    /// Moves records to new data keys under a fresh key.
    Reencrypt,
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Work is left (or being done).
    Running,
    /// Everything moved.
    Done,
    /// Stopped on an error that retrying will not cure; `error` says which.
    Failed,
}

impl JobKind {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rewrap => "rewrap",
            Self::Reencrypt => "reencrypt",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s form.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Rewrap, Self::Reencrypt].into_iter().find(|k| k.as_str() == text)
    }
}

impl JobState {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s form.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Running, Self::Done, Self::Failed].into_iter().find(|s| s.as_str() == text)
    }
}

/// A job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// `job_<hex>`.
    pub id: String,
    /// What it does.
    pub kind: JobKind,
    /// The key whose data it moves.
    pub key_name: String,
    /// Rewrap: the version every data key must reach (as text).
    /// Re-encryption: the key the records move to.
    pub target: String,
    /// Where it is.
    pub state: JobState,
    /// Records to move, counted at the start.
    pub total: u64,
    /// Records moved so far.
    pub done: u64,
    /// Why it failed.
    pub error: Option<String>,
    /// Who started it (`user:<id>`, `api_key:<id>`, `service:<name>`).
    pub created_by: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last progress.
    pub updated_at: i64,
}

impl Job {
    /// Percent done, 0-100 (100 for a job with nothing to move).
    pub fn percent(&self) -> u8 {
        let done = self.done.min(self.total);
        done.saturating_mul(100).checked_div(self.total).map_or(100, |p| u8::try_from(p).unwrap_or(100))
    }
}

/// Storage for jobs.
#[async_trait]
pub trait JobStore: Send + Sync + std::fmt::Debug {
    /// Inserts a job with the event of its start.
    async fn insert_job(&self, job: &Job, audit: &[AuditRecord]) -> Result<(), StoreError>;
    /// One job.
    async fn job(&self, id: &str) -> Result<Option<Job>, StoreError>;
    /// The jobs of a key, newest first.
    async fn jobs_of_key(&self, key_name: &str) -> Result<Vec<Job>, StoreError>;
    /// Every running job, oldest first.
    async fn running_jobs(&self) -> Result<Vec<Job>, StoreError>;
    /// Leases to `owner` until `lease_until` the oldest running job (job
    /// `only`, when given) whose lease lapsed before `now` or that `owner`
    /// holds already.
    async fn claim_job(
        &self,
        owner: &str,
        only: Option<&str>,
        now: i64,
        lease_until: i64,
    ) -> Result<Option<Job>, StoreError>;
    /// Saves a job's progress and state, and renews the lease, if `owner`
    /// still holds it (with `audit`); `false` if another process took it over.
    async fn save_job(
        &self,
        job: &Job,
        owner: &str,
        lease_until: i64,
        audit: &[AuditRecord],
    ) -> Result<bool, StoreError>;
}

/// How jobs run.
#[derive(Debug, Clone, Copy)]
pub struct JobSettings {
    /// Records per batch (one transaction, one audit event).
    pub batch_size: u32,
    /// Rest between batches, to spare a busy database.
    pub pause: Duration,
    /// How long a claim lasts without progress before another process may
    /// take the job over.
    pub lease: Duration,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self { batch_size: 100, pause: Duration::ZERO, lease: Duration::from_secs(60) }
    }
}

/// One version of a key and what it still protects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionReport {
    /// The version.
    pub version: u32,
    /// Unix seconds.
    pub created_at: i64,
    /// What it protects among the stored records; `None` for keys that
    /// wrap no record data (see [`KeyReport::census`]).
    pub census: Option<VersionCensus>,
}

/// A key, what each of its versions still protects, and its recent jobs:
/// what an operator reads before retiring or destroying a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyReport {
    /// The key.
    pub info: KeyInfo,
    /// Oldest first.
    pub versions: Vec<VersionReport>,
    /// What the counts cover, or why there are none.
    pub census: &'static str,
    /// Newest first.
    pub jobs: Vec<Job>,
}

/// What a state change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChange {
    /// The key after it.
    pub info: KeyInfo,
    /// For a compromised matter key: the re-encryption job.
    pub job: Option<Job>,
    /// For a destroyed key: what it protected (data keys, ciphertexts), now unreadable.
    pub shredded: Option<(u64, u64)>,
}

/// What the census of a key of `purpose` covers.
fn census_scope(purpose: KeyPurpose) -> &'static str {
    match purpose {
        KeyPurpose::MatterData => {
            "per version: the records' data keys it wraps, and the sealed values and blobs under them"
        }
        KeyPurpose::Transit => {
            "not counted: transit ciphertexts are kept by the applications that asked for them; rewrap them with \
             transit's rewrap before raising min_decryption_version"
        }
        _ => "not counted: this key protects no stored record data (it signs, MACs or seals the server's own secrets)",
    }
}

/// The key-change operations that start jobs, and the runner.
#[derive(Debug)]
pub struct Jobs {
    store: Arc<dyn JobStore>,
    records: Arc<Records>,
    keyring: Arc<Keyring>,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    owner: String,
    settings: JobSettings,
}

/// The version a rewrap job's data keys must reach, from its `target`.
fn rewrap_version(target: &str) -> u32 {
    target.parse().unwrap_or(u32::MAX)
}

/// Errors worth trying again later (the database, the audit log or the
/// blob storage is unavailable, or the storage is full) rather than failing
/// the job for. A missing blob is not one: it fails the job, named.
fn transient(error: &CoreError) -> bool {
    matches!(
        error,
        CoreError::Store(_)
            | CoreError::AuditUnavailable(_)
            | CoreError::Blob(crate::error::BlobError::Unavailable(_) | crate::error::BlobError::Full(_))
    )
}

impl Jobs {
    /// The jobs service; `owner` names this process in leases.
    pub fn new(
        store: Arc<dyn JobStore>,
        records: Arc<Records>,
        keyring: Arc<Keyring>,
        clock: Arc<dyn Clock>,
        settings: JobSettings,
    ) -> Result<Self, CoreError> {
        let audit = Arc::clone(keyring.audit());
        Ok(Self { store, records, keyring, audit, clock, owner: random_id("process-")?, settings })
    }

    fn now(&self) -> i64 {
        i64::try_from(self.clock.now().as_secs()).unwrap_or(i64::MAX)
    }

    fn lease_until(&self) -> i64 {
        self.now().saturating_add(i64::try_from(self.settings.lease.as_secs()).unwrap_or(60))
    }

    /// Rotates a key; for a matter key, starts the job that moves its data
    /// keys to the new version.
    pub async fn rotate_key(&self, name: &str, context: &AuditContext) -> Result<(KeyInfo, Option<Job>), CoreError> {
        let info = self.keyring.rotate(name, context).await?;
        let job = self.after_rotation(&info, context).await?;
        Ok((info, job))
    }

    /// Automatic rotation (see [`Keyring::rotate_due`]), with the rewrap jobs
    /// of the matter keys it rotated.
    pub async fn rotate_due(&self) -> Result<Vec<String>, CoreError> {
        let rotated = self.keyring.rotate_due().await?;
        let context = AuditContext::service("key-rotation-scheduler");
        for name in &rotated {
            self.after_rotation(&self.keyring.info(name).await?, &context).await?;
        }
        Ok(rotated)
    }

    async fn after_rotation(&self, info: &KeyInfo, context: &AuditContext) -> Result<Option<Job>, CoreError> {
        if info.purpose != KeyPurpose::MatterData {
            return Ok(None);
        }
        self.start(JobKind::Rewrap, &info.name, &info.latest_version.to_string(), context).await.map(Some)
    }

    /// Starts a rewrap of a matter key's data keys to its latest version
    /// (after a rotation whose job failed, say).
    pub async fn rewrap_key(&self, name: &str, context: &AuditContext) -> Result<Job, CoreError> {
        let info = self.keyring.info_for(KeyPurpose::MatterData, name).await.map_err(|_| {
            CoreError::Conflict(format!("key {name:?} wraps no record data keys: there is nothing to rewrap"))
        })?;
        if info.state != KeyState::Active {
            return Err(CoreError::KeyUnusable {
                name: name.to_owned(),
                state: info.state.as_str(),
                operation: "rewrap",
            });
        }
        self.start(JobKind::Rewrap, name, &info.latest_version.to_string(), context).await
    }

    /// Changes a key's state (see [`Keyring::set_state`]); marking a matter
    /// key compromised starts the job that re-encrypts its records under the
    /// matter's next key, and destroying a key reports what it protected.
    pub async fn set_key_state(
        &self,
        name: &str,
        state: KeyState,
        justification: &str,
        context: &AuditContext,
    ) -> Result<KeyChange, CoreError> {
        // What a destruction takes with it, counted while it is still there.
        let shredded = match state {
            KeyState::Destroyed => Some(
                self.records
                    .census(name)
                    .await?
                    .iter()
                    .fold((0, 0), |(keys, values), c| (keys + c.data_keys, values + c.ciphertexts)),
            ),
            _ => None,
        };
        let info = self.keyring.set_state(name, state, justification, context).await?;
        let job = if state == KeyState::Compromised && info.purpose == KeyPurpose::MatterData {
            let successor = successor_key(name)
                .ok_or_else(|| CoreError::InvalidKeyChange(format!("key {name:?} is not a matter key")))?;
            Some(self.start(JobKind::Reencrypt, name, &successor, context).await?)
        } else {
            None
        };
        Ok(KeyChange { info, job, shredded })
    }

    /// A key with what each version still protects and its recent jobs.
    pub async fn key_report(&self, name: &str) -> Result<KeyReport, CoreError> {
        let info = self.keyring.info(name).await?;
        let counted = info.purpose == KeyPurpose::MatterData;
        let census = if counted { self.records.census(name).await? } else { Vec::new() };
        let versions = self
            .keyring
            .version_times(name)
            .await?
            .into_iter()
            .map(|(version, created_at)| VersionReport {
                version,
                created_at,
                census: counted.then(|| {
                    census
                        .iter()
                        .find(|c| c.version == version)
                        .copied()
                        .unwrap_or(VersionCensus { version, ..VersionCensus::default() })
                }),
            })
            .collect();
        let jobs = self.store.jobs_of_key(name).await?;
        Ok(KeyReport { census: census_scope(info.purpose), info, versions, jobs })
    }

    async fn remaining(&self, kind: JobKind, key_name: &str, target: &str) -> Result<u64, CoreError> {
        let below = match kind {
            JobKind::Rewrap => rewrap_version(target),
            JobKind::Reencrypt => u32::MAX,
        };
        let census = self.records.census(key_name).await?;
        Ok(census.iter().filter(|c| c.version < below).map(|c| c.data_keys).sum())
    }

    async fn start(
        &self,
        kind: JobKind,
        key_name: &str,
        target: &str,
        context: &AuditContext,
    ) -> Result<Job, CoreError> {
        let now = self.now();
        let total = self.remaining(kind, key_name, target).await?;
        let state = if total == 0 { JobState::Done } else { JobState::Running };
        let job = Job {
            id: random_id("job_")?,
            kind,
            key_name: key_name.to_owned(),
            target: target.to_owned(),
            state,
            total,
            done: 0,
            error: None,
            created_by: format!("{}:{}", context.actor.kind.as_str(), context.actor.id),
            created_at: now,
            updated_at: now,
        };
        let event = self
            .audit
            .event(EventType::JobStart, context)
            .target(Target::new("key", key_name))
            .detail("job", job.id.as_str())
            .detail("kind", kind.as_str())
            .detail("target", target)
            .detail("records", i64::try_from(total).unwrap_or(i64::MAX));
        self.store.insert_job(&job, &[self.audit.seal(&event)?]).await?;
        Ok(job)
    }

    /// One job.
    pub async fn job(&self, id: &str) -> Result<Job, CoreError> {
        self.store.job(id).await?.ok_or_else(|| CoreError::NotFound(format!("no job {id:?}")))
    }

    /// The jobs of a key, newest first.
    pub async fn jobs_of_key(&self, key_name: &str) -> Result<Vec<Job>, CoreError> {
        Ok(self.store.jobs_of_key(key_name).await?)
    }

    /// Every running job, oldest first (for monitoring their progress).
    pub async fn running(&self) -> Result<Vec<Job>, CoreError> {
        Ok(self.store.running_jobs().await?)
    }

    /// Claims the oldest job that needs a process (or job `only`) and runs
    /// it until it is done, fails, or this process loses its lease; answers
    /// the job as it was left, `None` when there was nothing to claim.
    pub async fn run_next(&self, only: Option<&str>) -> Result<Option<Job>, CoreError> {
        let Some(mut job) = self.store.claim_job(&self.owner, only, self.now(), self.lease_until()).await? else {
            return Ok(None);
        };
        // Resumed: what is left is in the data, whatever the count says.
        let left = self.remaining(job.kind, &job.key_name, &job.target).await?;
        job.done = job.done.max(job.total.saturating_sub(left));
        let context = AuditContext::service("key-jobs");
        loop {
            let batch = match job.kind {
                JobKind::Rewrap => {
                    let below = rewrap_version(&job.target);
                    self.records.rewrap_batch(&job.id, &job.key_name, below, self.settings.batch_size, &context).await
                }
                JobKind::Reencrypt => {
                    self.records
                        .reencrypt_batch(&job.id, &job.key_name, &job.target, self.settings.batch_size, &context)
                        .await
                }
            };
            match batch {
                // A record changed under the batch: read it again, after a
                // moment so a record updated in a loop cannot spin this one.
                Ok(Batch::Conflict) => tokio::time::sleep(Duration::from_millis(20)).await,
                Ok(Batch::Moved(count)) => {
                    job.done = job.done.saturating_add(count as u64).min(job.total.max(job.done));
                    job.updated_at = self.now();
                    if !self.store.save_job(&job, &self.owner, self.lease_until(), &[]).await? {
                        return Ok(Some(job));
                    }
                    if !self.settings.pause.is_zero() {
                        tokio::time::sleep(self.settings.pause).await;
                    }
                }
                Ok(Batch::Empty) => {
                    job.state = JobState::Done;
                    job.done = job.total;
                    return self.finish(job, Outcome::Success, &context).await;
                }
                Err(error) if transient(&error) => {
                    tracing::warn!(%error, job = %job.id, "a key job paused on an error; it resumes when its lease lapses");
                    return Err(error);
                }
                Err(error) => {
                    job.state = JobState::Failed;
                    job.error = Some(error.to_string());
                    return self.finish(job, Outcome::Failure, &context).await;
                }
            }
        }
    }

    async fn finish(&self, mut job: Job, outcome: Outcome, context: &AuditContext) -> Result<Option<Job>, CoreError> {
        job.updated_at = self.now();
        let mut event = self
            .audit
            .event(EventType::JobFinish, context)
            .target(Target::new("key", &job.key_name))
            .detail("job", job.id.as_str())
            .detail("kind", job.kind.as_str())
            .detail("state", job.state.as_str())
            .detail("records", i64::try_from(job.done).unwrap_or(i64::MAX));
        if outcome != Outcome::Success {
            event = event.failed(outcome, "job_failed");
        }
        self.store.save_job(&job, &self.owner, self.now(), &[self.audit.seal(&event)?]).await?;
        Ok(Some(job))
    }
}
