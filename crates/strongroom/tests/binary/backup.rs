//! Whole backups through the real binary: `backup create` while the server
//! takes writes, `backup verify`, `backup restore` into a fresh installation
//! on the other engine (SQLite → PostgreSQL and back), and that the restored
//! server serves what was acknowledged before the backup: logins, a
//! decrypted field, a streamed blob, an audit tree that verifies. A flipped
//! byte is named by `verify`; a restore into a non-empty target is refused.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;
use strongroom_testkit::{CliOutput, ServerBuilder, TestDatabase, TestServer};

use super::BIN;
use super::authz::{PASSWORD, access_token, call};
use super::blobs::{get, put, wav};

const BACKUP_PASSPHRASE: &str = "a backup passphrase kept in the safe";
const WHY: &str = "checking the restored installation works";

/// How an installation is configured: its data dir and, for PostgreSQL, its database.
#[derive(Clone)]
struct Install {
    data_dir: PathBuf,
    database: Option<String>,
}

impl Install {
    fn builder(&self) -> ServerBuilder {
        let builder = TestServer::builder(BIN).data_dir(&self.data_dir);
        match &self.database {
            Some(url) => builder.database(url),
            None => builder,
        }
    }

    fn run(&self, args: &[&str]) -> CliOutput {
        self.builder().env("STRONGROOM_BACKUP_PASSPHRASE", BACKUP_PASSPHRASE).run(args)
    }
}

async fn create_record(server: &TestServer, token: &str, n: usize) -> Option<String> {
    let record = json!({"matter": "case-1", "fields": {"title": format!("call {n}"), "transcript": format!("transcript number {n}")}});
    let (status, created) = call(server, "POST", "/v1/collections/recordings/records", token, Some(record)).await;
    (status == 201).then(|| created["id"].as_str().unwrap().to_owned())
}

/// Runs a CLI command on the blocking pool, so the load keeps running meanwhile.
async fn run_beside(install: &Install, args: &[&str]) -> CliOutput {
    let (install, args) = (install.clone(), args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>());
    tokio::task::spawn_blocking(move || install.run(&args.iter().map(String::as_str).collect::<Vec<_>>()))
        .await
        .unwrap()
}

async fn backup_restores_on_the_other_engine(source: Install, target: Install, work: &Path) {
    let server = source.builder().start();
    let init = source.builder().run_with_input(&["init", "--password-stdin"], &format!("{PASSWORD}\n"));
    assert_eq!(init.code, Some(0), "{init:?}");
    let admin = access_token(&server, "admin").await;
    let (status, body) =
        call(&server, "POST", "/v1/matters", &admin, Some(json!({"id": "case-1", "name": "case-1"}))).await;
    assert_eq!(status, 201, "{body}");

    // Acknowledged before the backup starts: records, one with a recording.
    let mut before = Vec::new();
    for n in 0..20 {
        before.push(create_record(&server, &admin, n).await.expect("created"));
    }
    let audio = wav(2);
    let blob_path = format!("/v1/collections/recordings/records/{}/blobs/audio", before[0]);
    let (status, stored) = put(&server, &admin, &blob_path, "audio/wav", audio.clone()).await;
    assert_eq!(status, 201, "{stored}");
    // A signed checkpoint, anchored in the anchor file.
    let checkpoint = reqwest::get(server.url("/v1/audit/checkpoint")).await.unwrap();
    assert_eq!(checkpoint.status(), 200);

    // Writers keep going while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let server = Arc::new(server);
    let mut writers = Vec::new();
    for w in 0..4 {
        let (server, admin, stop) = (Arc::clone(&server), admin.clone(), Arc::clone(&stop));
        writers.push(tokio::spawn(async move {
            let mut written = 0;
            let mut n = 1000 * (w + 1);
            while !stop.load(Ordering::Relaxed) {
                if create_record(&server, &admin, n).await.is_some() {
                    written += 1;
                }
                n += 1;
            }
            written
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let archive = work.join("whole.srarchive");
    let archive_arg = archive.to_str().unwrap();
    let started = std::time::Instant::now();
    let created = run_beside(&source, &["backup", "create", archive_arg]).await;
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut during = 0;
    for writer in writers {
        during += writer.await.unwrap();
    }
    assert_eq!(created.code, Some(0), "{created:?}");
    assert!(created.stderr.contains("backup: table records:"), "progress on stderr: {}", created.stderr);
    eprintln!("backup create took {took:?} with {during} records written meanwhile: {}", created.stdout.trim());
    assert!(during > 0, "the load ran during the backup");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&archive).unwrap().permissions()) & 0o777;
    assert_eq!(mode, 0o600);
    let bytes = std::fs::read(&archive).unwrap();
    assert!(!bytes.windows(b"transcript number".len()).any(|w| w == b"transcript number"), "no plaintext");

    let verified = source.run(&["backup", "verify", archive_arg]);
    assert_eq!(verified.code, Some(0), "{verified:?}");
    assert!(verified.stdout.contains("verified"), "{}", verified.stdout);
    let wrong = source.builder().env("STRONGROOM_BACKUP_PASSPHRASE", "not the passphrase at all").run(&[
        "backup",
        "verify",
        archive_arg,
    ]);
    assert_eq!(wrong.code, Some(1), "{wrong:?}");
    assert!(wrong.stderr.contains("wrong backup passphrase"), "{}", wrong.stderr);

    // Restore into a fresh installation on the other engine, with the same root key.
    std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700).create(&target.data_dir).unwrap();
    std::fs::copy(source.data_dir.join("root.key"), target.data_dir.join("root.key")).unwrap();
    let restored = target.run(&["backup", "restore", archive_arg]);
    assert_eq!(restored.code, Some(0), "{restored:?}");
    drop(server);

    let server = target.builder().start();
    let admin = access_token(&server, "admin").await;
    for id in &before {
        let (status, body) =
            call(&server, "GET", &format!("/v1/collections/recordings/records/{id}"), &admin, None).await;
        assert_eq!(status, 200, "record {id} acknowledged before the backup: {body}");
    }
    let ask = json!({"fields": ["transcript"], "reason": WHY, "purpose": "case_work"});
    let path = format!("/v1/collections/recordings/records/{}/decrypt", before[3]);
    let (status, revealed) = call(&server, "POST", &path, &admin, Some(ask)).await;
    assert_eq!(status, 200, "{revealed}");
    assert_eq!(revealed["decrypted_fields"]["transcript"], "transcript number 3");
    let streamed = get(&server, &admin, &blob_path, &[("x-justification", WHY), ("x-purpose", "case_work")]).await;
    assert_eq!(streamed.status(), 200);
    assert!(streamed.bytes().await.unwrap() == audio, "the blob streams back bit-identical");
    let (status, stats) = call(&server, "GET", "/v1/audit/stats", &admin, None).await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["integrity"]["verified"], true, "{stats}");
    let checkpoint = reqwest::get(server.url("/v1/audit/checkpoint")).await.unwrap();
    assert_eq!(checkpoint.status(), 200, "the restored log signs on: {}", checkpoint.text().await.unwrap());
    drop(server);

    // Restoring again into the now non-empty target is refused.
    let again = target.run(&["backup", "restore", archive_arg]);
    assert_eq!(again.code, Some(1), "{again:?}");
    assert!(again.stderr.contains("not empty"), "{}", again.stderr);

    // A flipped byte anywhere is found, naming its part.
    let mut flipped = bytes.clone();
    let at = bytes.len() / 2;
    flipped[at] ^= 0x20;
    let damaged = work.join("damaged.srarchive");
    std::fs::write(&damaged, &flipped).unwrap();
    let checked = source.run(&["backup", "verify", damaged.to_str().unwrap()]);
    assert_eq!(checked.code, Some(1), "{checked:?}");
    assert!(checked.stdout.contains("problem: part "), "{}", checked.stdout);
}

#[tokio::test]
async fn a_backup_taken_on_sqlite_under_load_restores_onto_postgres() {
    let Some(database) = TestDatabase::postgres().await else { return };
    let work = tempfile::tempdir().unwrap();
    let source = Install { data_dir: work.path().join("source"), database: None };
    let target = Install { data_dir: work.path().join("target"), database: Some(database.url().to_owned()) };
    backup_restores_on_the_other_engine(source, target, work.path()).await;
}

#[tokio::test]
async fn a_backup_taken_on_postgres_under_load_restores_onto_sqlite() {
    let Some(database) = TestDatabase::postgres().await else { return };
    let work = tempfile::tempdir().unwrap();
    let source = Install { data_dir: work.path().join("source"), database: Some(database.url().to_owned()) };
    let target = Install { data_dir: work.path().join("target"), database: None };
    backup_restores_on_the_other_engine(source, target, work.path()).await;
}
