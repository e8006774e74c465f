//! Key jobs through the real binary: a matter key's rotation rewraps its
//! records' data keys (followed at `GET /v1/jobs/{id}`, counted by the
//! census in `GET /v1/keys/{name}`), the old version is retired, the key's
//! compromise re-encrypts every record and blob under a fresh key from the
//! CLI with a progress bar, the old key is destroyed and nothing is lost; a
//! job interrupted by a crash resumes where it stopped.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use strongroom_testkit::TestServer;

use super::authz::{admin_and_reader_on, call};
use super::{BIN, server};

const WHY: &str = "incident 42: rotate the case keys";

async fn records(server: &TestServer, admin: &str, matter: &str, count: usize) -> Vec<String> {
    let (status, body) = call(server, "POST", "/v1/matters", admin, Some(json!({"id": matter, "name": matter}))).await;
    assert_eq!(status, 201, "{body}");
    let mut ids = Vec::new();
    for i in 0..count {
        let fields = json!({"user_id": format!("cand-{i}"), "transcribed_text": format!("answer {i}"), "tokens": [i]});
        let (status, body) = call(
            server,
            "POST",
            "/v1/collections/interviews/records",
            admin,
            Some(json!({"matter": matter, "fields": fields})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    ids
}

async fn reveal(server: &TestServer, admin: &str, id: &str) -> Value {
    let body = json!({"fields": ["transcribed_text", "tokens"], "reason": WHY, "purpose": "incident_response"});
    let path = format!("/v1/collections/interviews/records/{id}/decrypt");
    let (status, body) = call(server, "POST", &path, admin, Some(body)).await;
    assert_eq!(status, 200, "{body}");
    body["decrypted_fields"].clone()
}

async fn reveal_all(server: &TestServer, admin: &str, ids: &[String]) -> Vec<Value> {
    let mut all = Vec::new();
    for id in ids {
        all.push(reveal(server, admin, id).await);
    }
    all
}

/// Polls the job until it is no longer running (at most 30 s).
async fn finished(server: &TestServer, admin: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, job) = call(server, "GET", &format!("/v1/jobs/{id}"), admin, None).await;
        assert_eq!(status, 200, "{job}");
        if job["state"] != "running" {
            return job;
        }
        assert!(Instant::now() < deadline, "job {id} still running: {job}\n{}", server.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `(data_keys, ciphertexts)` per version, oldest first.
async fn census(server: &TestServer, admin: &str, key: &str) -> Vec<(u64, u64)> {
    let (status, body) = call(server, "GET", &format!("/v1/keys/{key}"), admin, None).await;
    assert_eq!(status, 200, "{body}");
    body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["data_keys"].as_u64().unwrap(), v["ciphertexts"].as_u64().unwrap()))
        .collect()
}

#[tokio::test]
async fn rotation_rewraps_retirement_loses_nothing_and_a_compromised_key_is_reencrypted_then_destroyed() {
    let started = server()
        .env("STRONGROOM_RECORDS_KEY_JOB_BATCH_SIZE", "2")
        .env("STRONGROOM_RECORDS_KEY_JOB_POLL_SECONDS", "1")
        .start();
    let (server, admin, _, _) = admin_and_reader_on(started).await;
    let ids = records(&server, &admin, "case-9", 5).await;
    // A recording with a blob in the same matter.
    let (_, recording) = call(
        &server,
        "POST",
        "/v1/collections/recordings/records",
        &admin,
        Some(json!({"matter": "case-9", "fields": {"title": "hearing"}})),
    )
    .await;
    let blob = format!("/v1/collections/recordings/records/{}/blobs/audio", recording["id"].as_str().unwrap());
    let audio: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let client = reqwest::Client::new();
    let put = client.put(server.url(&blob)).bearer_auth(&admin).header("content-type", "audio/wav");
    assert_eq!(put.body(audio.clone()).send().await.unwrap().status(), 201);
    let download = || async {
        let get = client.get(server.url(&blob)).bearer_auth(&admin);
        let response = get.header("x-justification", WHY).header("x-purpose", "incident_response").send().await;
        response.unwrap().bytes().await.unwrap().to_vec()
    };
    let before = reveal_all(&server, &admin, &ids).await;
    assert_eq!(census(&server, &admin, "matter.case-9").await, [(6, 11)], "5×2 sealed values and one blob");

    // Rotation: the answer names the rewrap job; when it is done, version 1
    // protects nothing and is retired without losing a record.
    let (status, rotated) = call(&server, "POST", "/v1/keys/matter.case-9/rotate", &admin, None).await;
    assert_eq!(status, 200, "{rotated}");
    assert_eq!(rotated["latest_version"], 2);
    assert_eq!(rotated["jobs"][0]["kind"], "rewrap", "{rotated}");
    let job = rotated["jobs"][0]["id"].as_str().expect("a rewrap job").to_owned();
    let done = finished(&server, &admin, &job).await;
    assert_eq!(
        (done["state"].as_str(), done["done"].as_u64(), done["percent"].as_u64()),
        (Some("done"), Some(6), Some(100))
    );
    assert_eq!(census(&server, &admin, "matter.case-9").await, [(0, 0), (6, 11)]);
    let (status, body) =
        call(&server, "POST", "/v1/keys/matter.case-9/config", &admin, Some(json!({"min_decryption_version": 2})))
            .await;
    assert_eq!((status, body["min_decryption_version"].as_u64()), (200, Some(2)), "{body}");
    assert_eq!(reveal_all(&server, &admin, &ids).await, before);
    assert!(download().await == audio);

    // Compromise from the CLI: it follows the re-encryption with a progress bar.
    let args = ["key", "state", "matter.case-9", "compromised", "--justification", WHY];
    let cli = TestServer::builder(BIN)
        .data_dir(server.data_dir())
        .env("STRONGROOM_RECORDS_KEY_JOB_BATCH_SIZE", "2")
        .run(&args);
    assert_eq!(cli.code, Some(0), "{cli:?}");
    assert!(cli.stderr.contains("[####################] 100%  6/6 records  reencrypt job_"), "{}", cli.stderr);
    assert!(cli.stdout.contains("done: 6 record(s) moved off matter.case-9"), "{}", cli.stdout);
    assert_eq!(census(&server, &admin, "matter.case-9").await, [(0, 0), (0, 0)]);
    assert_eq!(census(&server, &admin, "matter.case-9.r2").await, [(6, 11)]);
    let destroy = json!({"state": "destroyed", "justification": WHY});
    let (status, body) = call(&server, "POST", "/v1/keys/matter.case-9/state", &admin, Some(destroy)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["warning"].as_str().unwrap().contains("(0 record data keys, 0 sealed values"), "{body}");
    assert_eq!(reveal_all(&server, &admin, &ids).await, before, "nothing was lost with the destroyed key");
    assert!(download().await == audio, "the blob was re-encrypted under the fresh key");
    let (_, events) = call(&server, "GET", "/v1/audit/events?action=key.reencrypt&limit=10", &admin, None).await;
    assert_eq!(events["events"].as_array().unwrap().len(), 3, "three batches of at most two records");

    // Bad input gets problems with codes.
    let (status, body) = call(&server, "GET", "/v1/jobs/job_nope", &admin, None).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")), "{body}");
    let retire = Some(json!({"min_decryption_version": 9}));
    let (status, body) = call(&server, "POST", "/v1/keys/matter.case-9.r2/config", &admin, retire).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_request")), "{body}");
    let (status, body) =
        call(&server, "POST", "/v1/keys/matter.case-9.r2/config", &admin, Some(json!({"nope": 1}))).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = call(&server, "POST", "/v1/keys/system.audit-signing/rewrap", &admin, None).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("conflict")), "{body}");
    assert!(body["detail"].as_str().unwrap().contains("nothing to rewrap"), "{body}");
}

#[tokio::test]
async fn a_reencryption_interrupted_by_a_crash_resumes_where_it_stopped() {
    let slow = |builder: strongroom_testkit::ServerBuilder| {
        builder
            .env("STRONGROOM_RECORDS_KEY_JOB_BATCH_SIZE", "1")
            .env("STRONGROOM_RECORDS_KEY_JOB_PAUSE_MS", "200")
            .env("STRONGROOM_RECORDS_KEY_JOB_POLL_SECONDS", "1")
            .env("STRONGROOM_RECORDS_KEY_JOB_LEASE_SECONDS", "2")
    };
    let (mut first, admin, _, _) = admin_and_reader_on(slow(server()).start()).await;
    let ids = records(&first, &admin, "case-11", 12).await;
    let before = reveal_all(&first, &admin, &ids).await;
    let compromise = json!({"state": "compromised", "justification": WHY});
    let (status, body) = call(&first, "POST", "/v1/keys/matter.case-11/state", &admin, Some(compromise)).await;
    assert_eq!(status, 200, "{body}");
    let job = body["job"]["id"].as_str().expect("a re-encryption job").to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    let progress = loop {
        let (_, state) = call(&first, "GET", &format!("/v1/jobs/{job}"), &admin, None).await;
        if state["done"].as_u64().unwrap() >= 2 {
            break state;
        }
        assert!(Instant::now() < deadline, "no progress: {state}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    first.kill();
    assert_eq!(progress["state"], "running");
    assert!(progress["done"].as_u64().unwrap() < 12, "{progress}");

    let second = slow(server().data_dir(first.data_dir())).start();
    let done = finished(&second, &admin, &job).await;
    assert_eq!((done["state"].as_str(), done["done"].as_u64()), (Some("done"), Some(12)), "{done}");
    assert_eq!(census(&second, &admin, "matter.case-11").await, [(0, 0)]);
    assert_eq!(census(&second, &admin, "matter.case-11.r2").await, [(12, 24)]);
    assert_eq!(reveal_all(&second, &admin, &ids).await, before, "every record made it across the crash");
}

#[tokio::test]
async fn a_reencryption_that_meets_a_missing_blob_fails_naming_it_with_blob_missing_on_record() {
    let started = server().env("STRONGROOM_RECORDS_KEY_JOB_POLL_SECONDS", "1").start();
    let (server, admin, _, _) = admin_and_reader_on(started).await;
    records(&server, &admin, "case-12", 1).await;
    let body = json!({"matter": "case-12", "fields": {"title": "hearing"}});
    let (_, recording) = call(&server, "POST", "/v1/collections/recordings/records", &admin, Some(body)).await;
    let id = recording["id"].as_str().unwrap().to_owned();
    let put = reqwest::Client::new()
        .put(server.url(&format!("/v1/collections/recordings/records/{id}/blobs/audio")))
        .bearer_auth(&admin)
        .header("content-type", "audio/wav")
        .body(vec![7u8; 70_000]);
    assert_eq!(put.send().await.unwrap().status(), 201);
    // The object is deleted behind the server's back: data loss.
    super::blobs::delete_every_object(&server.data_dir().join("blobs"));

    let compromise = json!({"state": "compromised", "justification": WHY});
    let (status, body) = call(&server, "POST", "/v1/keys/matter.case-12/state", &admin, Some(compromise)).await;
    assert_eq!(status, 200, "{body}");
    let job = body["job"]["id"].as_str().expect("a re-encryption job").to_owned();
    // Retrying cannot bring the object back: the job stops, naming it,
    // rather than retrying forever.
    let failed = finished(&server, &admin, &job).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    let error = failed["error"].as_str().unwrap_or_default();
    assert!(error.contains(&id) && error.contains("missing"), "{failed}");
    let missing = super::authz::audited(&server, &admin, "blob.missing").await;
    assert!(missing.iter().any(|event| event["target"]["id"] == id.as_str()), "{missing:?}");
}
