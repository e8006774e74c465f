//! Key jobs on both backends: a matter key's rotation reseals every data key
//! under the new version (census before and after, old version retired,
//! everything still readable), its compromise moves every record and blob
//! to the matter's next key, the old key can then be destroyed without
//! losing anything; a batch over a record that changed stores nothing; a
//! lease keeps a job on one process until it lapses.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use strongroom_core::authz::Ask;
use strongroom_core::records::{BlobRef, ByteSource, NewRecord, Records, RekeyedRecord, VersionCensus};
use strongroom_core::{FixedClock, JobSettings, JobState, Jobs, KeyState};
use strongroom_testkit::TestDatabase;

use super::records::records_with_admin;
use super::{ctx, open};

const WHY: &str = "conformance test of key jobs";

struct Bytes(Option<Vec<u8>>);

#[async_trait::async_trait]
impl ByteSource for Bytes {
    async fn next_chunk(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        Ok(self.0.take())
    }
}

fn census(data_keys: u64, ciphertexts: u64, version: u32) -> VersionCensus {
    VersionCensus { version, data_keys, ciphertexts }
}

async fn download(records: &Records, admin: &strongroom_core::authz::Subject, id: &str) -> Vec<u8> {
    let ask = Ask { justification: Some(WHY), purpose: None };
    let target = BlobRef { collection: "recordings", record: id, field: "audio" };
    let mut download = records.download_blob(admin, target, None, &ask, &ctx()).await.unwrap();
    let mut bytes = Vec::new();
    while let Some(chunk) = download.chunks.recv().await {
        bytes.extend(chunk.unwrap());
    }
    bytes
}

async fn reveal(records: &Records, admin: &strongroom_core::authz::Subject, id: &str) -> Value {
    let ask = Ask { justification: Some(WHY), purpose: None };
    let fields = ["transcribed_text".to_owned(), "tokens".to_owned()];
    Value::Object(records.decrypt(admin, "interviews", id, &fields, &ask, &ctx()).await.unwrap())
}

pub async fn key_jobs_rewrap_after_rotation_and_reencrypt_after_compromise(database: TestDatabase) {
    let db = open(&database).await;
    let dir = tempfile::tempdir().unwrap();
    let blobs: Arc<dyn strongroom_core::records::BlobStorage> =
        Arc::new(strongroom_blobs::DiskBlobs::new(dir.path()).unwrap());
    let clock = Arc::new(FixedClock::at(Duration::from_secs(1_800_000_000)));
    let (records, admin, ring) = records_with_admin(&db, Arc::clone(&clock), Some(blobs)).await;
    let records = Arc::new(records);
    let settings = JobSettings { batch_size: 3, ..JobSettings::default() };
    let jobs =
        Jobs::new(db.job_store(), Arc::clone(&records), Arc::clone(&ring), Arc::clone(&clock) as _, settings).unwrap();

    // Seven interviews (two sealed values each) and a recording with a blob.
    let mut interviews = Vec::new();
    for i in 0..7 {
        let fields = json!({"user_id": format!("u{i}"), "transcribed_text": format!("answer {i}"), "tokens": [i, i]});
        let new = NewRecord {
            matter_id: "m-a".into(),
            fields: fields.as_object().unwrap().clone(),
            subject: None,
            expires_at: None,
            ttl_seconds: None,
        };
        interviews.push(records.create(&admin, "interviews", new, &ctx()).await.unwrap().id);
    }
    let new = NewRecord {
        matter_id: "m-a".into(),
        fields: json!({"title": "hearing"}).as_object().unwrap().clone(),
        subject: None,
        expires_at: None,
        ttl_seconds: None,
    };
    let recording = records.create(&admin, "recordings", new, &ctx()).await.unwrap().id;
    let audio: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let target = BlobRef { collection: "recordings", record: &recording, field: "audio" };
    records.upload_blob(&admin, target, "audio/wav", &mut Bytes(Some(audio.clone())), &ctx()).await.unwrap();
    let before: Vec<Value> = futures_reveal(&records, &admin, &interviews).await;
    assert_eq!(records.census("matter.m-a").await.unwrap(), [census(8, 15, 1)], "7×2 sealed values and a blob");

    // Rotation: a rewrap job moves every data key to version 2; then
    // version 1 can be retired without losing a record.
    let (info, job) = jobs.rotate_key("matter.m-a", &ctx()).await.unwrap();
    assert_eq!(info.latest_version, 2);
    let job = job.expect("a matter key's rotation starts a rewrap");
    assert_eq!((job.total, job.done, job.state), (8, 0, JobState::Running));
    let finished = jobs.run_next(None).await.unwrap().expect("the job runs");
    assert_eq!((finished.id.as_str(), finished.state, finished.done), (job.id.as_str(), JobState::Done, 8));
    assert!(jobs.run_next(None).await.unwrap().is_none(), "nothing left to run");
    assert_eq!(records.census("matter.m-a").await.unwrap(), [census(8, 15, 2)]);
    ring.set_min_decryption_version("matter.m-a", 2, &ctx()).await.unwrap();
    assert_eq!(futures_reveal(&records, &admin, &interviews).await, before, "every record reads after retirement");
    assert!(download(&records, &admin, &recording).await == audio);

    // A batch over a record that changed after it was read stores nothing.
    let stale = db.records_store().record("interviews", &interviews[0]).await.unwrap().unwrap();
    let edit = json!({"score": 5}).as_object().unwrap().clone();
    records.update(&admin, "interviews", &interviews[0], edit, &ctx()).await.unwrap();
    let mut moved = stale.clone();
    moved.revision += 1;
    moved.sealed.clear();
    let applied = db.records_store().rekey_records(&[RekeyedRecord { record: moved, blobs: vec![] }], &[]).await;
    assert!(!applied.unwrap(), "a stale revision is refused");
    assert_eq!(futures_reveal(&records, &admin, &interviews).await, before, "and nothing was stored");

    // Compromise: every record and the blob move to matter.m-a.r2 under new
    // data keys; the compromised key can then be destroyed.
    let change =
        jobs.set_key_state("matter.m-a", KeyState::Compromised, "the key file was seen on a laptop", &ctx()).await;
    let job = change.unwrap().job.expect("a matter key's compromise starts a re-encryption");
    assert_eq!((job.target.as_str(), job.total), ("matter.m-a.r2", 8));
    // A second process cannot take the job while the first holds its lease.
    let store = db.job_store();
    assert!(store.claim_job("process-a", Some(&job.id), 1_800_000_000, 1_800_000_060).await.unwrap().is_some());
    assert!(store.claim_job("process-b", Some(&job.id), 1_800_000_001, 1_800_000_061).await.unwrap().is_none());
    assert!(jobs.run_next(None).await.unwrap().is_none(), "held by process-a");
    clock.advance(Duration::from_secs(61));
    let finished = jobs.run_next(None).await.unwrap().expect("the lapsed lease is taken over");
    assert_eq!((finished.state, finished.done), (JobState::Done, 8));
    assert!(records.census("matter.m-a").await.unwrap().is_empty(), "the compromised key protects nothing");
    assert_eq!(records.census("matter.m-a.r2").await.unwrap(), [census(8, 15, 1)]);
    let destroyed =
        jobs.set_key_state("matter.m-a", KeyState::Destroyed, "destroyed after re-encryption", &ctx()).await.unwrap();
    assert_eq!(destroyed.shredded, Some((0, 0)), "nothing was left under it");
    assert_eq!(futures_reveal(&records, &admin, &interviews).await, before);
    assert!(download(&records, &admin, &recording).await == audio, "the blob was re-encrypted, not lost");
    let objects = std::fs::read_dir(dir.path().join("recordings").join(&recording).join("audio")).unwrap().count();
    assert_eq!(objects, 1, "the old object was deleted after the commit");
    // New records of the matter go to the fresh key.
    let new = NewRecord {
        matter_id: "m-a".into(),
        fields: json!({"user_id": "late"}).as_object().unwrap().clone(),
        subject: None,
        expires_at: None,
        ttl_seconds: None,
    };
    records.create(&admin, "interviews", new, &ctx()).await.unwrap();
    assert_eq!(records.census("matter.m-a.r2").await.unwrap(), [census(9, 15, 1)]);
    let report = jobs.key_report("matter.m-a.r2").await.unwrap();
    assert_eq!(report.info.state, KeyState::Active);
    assert_eq!(jobs.jobs_of_key("matter.m-a").await.unwrap().len(), 2, "the rewrap and the re-encryption");

    // A record whose data key does not open stops the job, which names it.
    let store = db.records_store();
    let mut broken = store.record("interviews", &interviews[1]).await.unwrap().unwrap();
    broken.wrapped_key = store.record("interviews", &interviews[2]).await.unwrap().unwrap().wrapped_key;
    broken.revision += 1;
    assert!(store.rekey_records(&[RekeyedRecord { record: broken, blobs: vec![] }], &[]).await.unwrap());
    let change =
        jobs.set_key_state("matter.m-a.r2", KeyState::Compromised, "second incident for the test", &ctx()).await;
    let job = change.unwrap().job.unwrap();
    let failed = jobs.run_next(Some(&job.id)).await.unwrap().unwrap();
    assert_eq!(failed.state, JobState::Failed);
    assert!(failed.error.as_deref().unwrap_or_default().contains(&interviews[1]), "{failed:?}");
}

async fn futures_reveal(records: &Records, admin: &strongroom_core::authz::Subject, ids: &[String]) -> Vec<Value> {
    let mut all = Vec::new();
    for id in ids {
        all.push(reveal(records, admin, id).await);
    }
    all
}
