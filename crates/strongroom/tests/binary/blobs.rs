//! Blobs through the real binary: the legal-transcription flow (a matter, a
//! recording, a real WAV file streamed up and back bit-identical, ranges),
//! what is refused (no grant, no justification, wrong type, too large), and
//! that storage, on disk or in S3 (moto), holds no plaintext.

use serde_json::{Value, json};
use strongroom_testkit::{Moto, TestServer};

use super::authz::{admin_and_reader_on, call};
use super::faults::SmallFilesystem;
use super::server;

/// A real WAV file: 16-bit mono PCM at 16 kHz, a 440 Hz tone with a text
/// marker in a `LIST` chunk that must never appear in storage.
pub(crate) fn wav(seconds: usize) -> Vec<u8> {
    let samples: Vec<i16> = (0..16_000 * seconds)
        .map(|i| ((i as f64 * 440.0 * 2.0 * std::f64::consts::PI / 16_000.0).sin() * 12_000.0) as i16)
        .collect();
    let info = b"INFOICMT\x20\x00\x00\x00deposition of witness no. 7 ....";
    let data_len = samples.len() * 2;
    let mut out = Vec::with_capacity(data_len + 100);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&((36 + 8 + info.len() + data_len) as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&16_000u32.to_le_bytes());
    out.extend_from_slice(&32_000u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"LIST");
    out.extend_from_slice(&(info.len() as u32).to_le_bytes());
    out.extend_from_slice(info);
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data_len as u32).to_le_bytes());
    for sample in samples {
        out.extend_from_slice(&sample.to_le_bytes());
    }
    out
}

const MARKER: &[u8] = b"deposition of witness no. 7";
const WHY: &str = "transcription quality check for hearing";

pub(crate) async fn put(
    server: &TestServer,
    token: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let response = reqwest::Client::new()
        .put(server.url(path))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn get(server: &TestServer, token: &str, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(server.url(path)).bearer_auth(token);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

/// Deletes every file under `dir` (the local blob store's objects) and
/// keeps the directories: objects lost behind the server's back.
pub(crate) fn delete_every_object(dir: &std::path::Path) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else {
                std::fs::remove_file(entry.path()).unwrap();
            }
        }
    }
}

/// Everything under `dir`, concatenated.
fn stored_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        for entry in std::fs::read_dir(&path).unwrap().flatten() {
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else {
                all.extend(std::fs::read(entry.path()).unwrap());
            }
        }
    }
    all
}

/// A PUT that declares `declared` bytes, sends `sent` of them, then drops
/// the connection: an upload interrupted half way.
async fn interrupted_put(server: &TestServer, token: &str, path: &str, declared: usize, sent: usize) {
    use tokio::io::AsyncWriteExt;
    let address = server.base_url().trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: audio/wav\r\nContent-Length: {declared}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![0x5au8; 64 * 1024];
    let mut written = 0;
    while written < sent {
        let n = chunk.len().min(sent - written);
        stream.write_all(&chunk[..n]).await.unwrap();
        written += n;
    }
    stream.flush().await.unwrap();
    drop(stream);
}

/// Waits (up to 10 s) for `done` to hold: the server notices a dropped
/// connection at its next read.
async fn eventually(mut done: impl AsyncFnMut() -> bool, what: &str) {
    for _ in 0..100 {
        if done().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{what}");
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A new matter and a recording in it: the path of its `audio` blob.
pub(crate) async fn recording_in(server: &TestServer, admin: &str, matter: &str) -> String {
    let (status, _) = call(server, "POST", "/v1/matters", admin, Some(json!({"id": matter, "name": matter}))).await;
    assert_eq!(status, 201);
    let record = json!({"matter": matter, "fields": {"title": "Deposition, witness 7", "status": "recorded"}});
    let (status, created) = call(server, "POST", "/v1/collections/recordings/records", admin, Some(record)).await;
    assert_eq!(status, 201, "{created}");
    format!("/v1/collections/recordings/records/{}/blobs/audio", created["id"].as_str().unwrap())
}

async fn round_trip(server: &TestServer, admin: &str, reader: &str, audio: &[u8]) -> String {
    let path = recording_in(server, admin, "case-17").await;
    let (status, stored) = put(server, admin, &path, "audio/wav", audio.to_vec()).await;
    assert_eq!(status, 201, "{stored}\n{}", server.logs());
    assert_eq!(stored["size"], audio.len());
    let why = [("x-justification", WHY), ("x-purpose", "case_work")];

    let whole = get(server, admin, &path, &why).await;
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    assert_eq!(whole.headers()["content-type"], "audio/wav");
    let etag = whole.headers()["etag"].to_str().unwrap().to_owned();
    let body = whole.bytes().await.unwrap();
    assert!(body == audio, "bit-identical round trip");
    assert_eq!(etag, format!("\"{}\"", stored["sha256"].as_str().unwrap()));

    // Ranges: inside one segment, across segments, open-ended, suffix; then unsatisfiable.
    let n = audio.len();
    for (range, start, end) in [
        ("bytes=0-43".to_owned(), 0, 44),
        (format!("bytes={}-{}", 65_530, 150_000), 65_530, 150_001),
        (format!("bytes={}-", n - 10), n - 10, n),
        ("bytes=-1000".to_owned(), n - 1000, n),
    ] {
        let headers = [why[0], why[1], ("range", range.as_str())];
        let partial = get(server, admin, &path, &headers).await;
        assert_eq!(partial.status(), 206, "{range}");
        assert_eq!(partial.headers()["content-range"].to_str().unwrap(), format!("bytes {start}-{}/{n}", end - 1));
        assert!(partial.bytes().await.unwrap() == audio[start..end], "{range}");
    }
    let beyond = format!("bytes={}-", n + 5);
    let refused = get(server, admin, &path, &[why[0], why[1], ("range", beyond.as_str())]).await;
    assert_eq!(refused.status(), 416);
    assert_eq!(refused.headers()["content-range"].to_str().unwrap(), format!("bytes */{n}"));

    // The audio is secret: a download is a reveal, with a justification.
    assert_eq!(get(server, admin, &path, &[]).await.status(), 400, "no justification");
    assert_eq!(get(server, reader, &path, &why).await.status(), 404, "no grant on the matter");
    path
}

#[tokio::test]
async fn a_recording_streams_up_and_back_bit_identical_with_ranges_and_no_plaintext_on_disk() {
    let (server, admin, reader, _) = admin_and_reader_on(server().start()).await;
    let audio = wav(5);
    let path = round_trip(&server, &admin, &reader, &audio).await;
    let blobs = server.data_dir().join("blobs");
    let on_disk = stored_bytes(&blobs);
    assert!(on_disk.len() > audio.len(), "the ciphertext is on disk");
    assert!(!contains(&on_disk, MARKER) && !contains(&on_disk, &audio[44..1044]), "no plaintext on disk");

    // Refused: a type the field does not take, an interrupted upload leaves nothing.
    let (status, body) = put(&server, &admin, &path, "text/html", b"<p>hi</p>".to_vec()).await;
    assert_eq!((status, body["code"].as_str()), (415, Some("unsupported_media_type")), "{body}");
    let files_before = stored_bytes(&blobs).len();
    let (status, _) = put(&server, &admin, &path.replace("/audio", "/title"), "audio/wav", vec![1, 2, 3]).await;
    assert_eq!(status, 404, "title is not a blob field");
    assert_eq!(stored_bytes(&blobs).len(), files_before);
    let long = "x".repeat(300);
    for trick in ["..%2F..%2Fetc%2Fpasswd", "audio%00", long.as_str(), "AUDIO"] {
        let (status, body) =
            put(&server, &admin, &path.replace("/audio", &format!("/{trick}")), "audio/wav", vec![1]).await;
        assert_eq!((status, body["code"].as_str()), (400, Some("invalid_request")), "{trick}: {body}");
    }
    assert_eq!(stored_bytes(&blobs).len(), files_before);

    // An upload broken off half way leaves no part file and keeps the old blob.
    interrupted_put(&server, &admin, &path, 4 << 20, 1 << 20).await;
    eventually(async || stored_bytes(&blobs).len() == files_before, "the interrupted upload left a file").await;
    let why = [("x-justification", WHY), ("x-purpose", "case_work")];
    assert!(get(&server, &admin, &path, &why).await.bytes().await.unwrap() == audio, "the old blob is intact");

    // A replacement deletes the old object; deleting the record deletes the blob.
    let (status, _) = put(&server, &admin, &path, "audio/wav", wav(1)).await;
    assert_eq!(status, 201);
    assert!(stored_bytes(&blobs).len() < files_before, "the replaced object is gone");
    let record = path.trim_end_matches("/blobs/audio");
    let (status, _) = call(&server, "DELETE", record, &admin, None).await;
    assert_eq!(status, 204);
    assert!(stored_bytes(&blobs).is_empty(), "the record's blob went with it");
}

#[tokio::test]
async fn an_upload_over_the_fields_limit_is_refused_and_leaves_nothing() {
    let (server, admin, _, _) = admin_and_reader_on(server().start()).await;
    let schema = json!({"name": "notes", "fields": [
        {"name": "title", "type": "string", "sensitivity": "public"},
        {"name": "scan", "type": "blob", "sensitivity": "secret", "max_bytes": 100000, "content_types": ["application/pdf"]},
    ]});
    let (status, body) = call(&server, "POST", "/v1/collections", &admin, Some(schema)).await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = call(&server, "POST", "/v1/matters", &admin, Some(json!({"id": "m1", "name": "M"}))).await;
    assert_eq!(status, 201);
    let (_, created) = call(
        &server,
        "POST",
        "/v1/collections/notes/records",
        &admin,
        Some(json!({"matter": "m1", "fields": {"title": "x"}})),
    )
    .await;
    let path = format!("/v1/collections/notes/records/{}/blobs/scan", created["id"].as_str().unwrap());
    let (status, body) = put(&server, &admin, &path, "application/pdf", vec![7u8; 300_000]).await;
    assert_eq!((status, body["code"].as_str()), (413, Some("payload_too_large")), "{body}");
    assert!(stored_bytes(&server.data_dir().join("blobs")).is_empty(), "nothing left behind");
    let (status, _) = put(&server, &admin, &path, "application/pdf", vec![7u8; 99_000]).await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn blobs_go_to_s3_in_parts_and_come_back_identical_with_no_plaintext_in_the_bucket() {
    let Some(moto) = Moto::start().await else { return };
    // moto does not check signatures: a plain PUT makes the bucket.
    let bucket = format!("{}/recordings-bucket", moto.endpoint());
    assert!(reqwest::Client::new().put(&bucket).send().await.unwrap().status().is_success());
    let started = server()
        .env("STRONGROOM_BLOBS_BACKEND", "s3")
        .env("STRONGROOM_BLOBS_S3_ENDPOINT", moto.endpoint())
        .env("STRONGROOM_BLOBS_S3_BUCKET", "recordings-bucket")
        .env("STRONGROOM_BLOBS_S3_PREFIX", "strongroom/")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .start();
    let (server, admin, reader, _) = admin_and_reader_on(started).await;
    // 20 s of audio: 640 KB… make it larger than two 8 MiB parts.
    let audio = wav(600);
    assert!(audio.len() > 17 * 1024 * 1024);
    round_trip(&server, &admin, &reader, &audio).await;
    let listing = reqwest::get(format!("{bucket}?list-type=2")).await.unwrap().text().await.unwrap();
    let key = listing.split("<Key>").nth(1).and_then(|rest| rest.split("</Key>").next()).unwrap().to_owned();
    assert!(key.starts_with("strongroom/recordings/"), "{listing}");
    let object = reqwest::get(format!("{bucket}/{key}")).await.unwrap().bytes().await.unwrap();
    assert!(object.len() > audio.len());
    assert!(!contains(&object, MARKER) && !contains(&object, &audio[44..1044]), "no plaintext in the bucket");
    // An upload broken off after two parts leaves no object and no pending upload.
    let path = recording_in(&server, &admin, "case-18").await;
    interrupted_put(&server, &admin, &path, 40 << 20, 20 << 20).await;
    let uploads = format!("{bucket}?uploads");
    eventually(
        async || {
            let pending = reqwest::get(&uploads).await.unwrap().text().await.unwrap();
            let keys = reqwest::get(format!("{bucket}?list-type=2")).await.unwrap().text().await.unwrap();
            !pending.contains("<Upload>") && keys.matches("<Key>").count() == 1
        },
        "the interrupted upload left a part or an object in the bucket",
    )
    .await;
    let local = server.data_dir().join("blobs");
    assert!(!local.exists() || stored_bytes(&local).is_empty(), "nothing on local disk either");

    // Readiness follows the store: ready while it answers, not once it is gone.
    let ready = reqwest::get(server.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    drop(moto);
    let ready = reqwest::get(server.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 503);
    assert!(ready.text().await.unwrap().contains("blobs:"), "the failing check is named");
}

/// Every file under `dir` whose name holds `.part-`.
fn part_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        for entry in std::fs::read_dir(&path).into_iter().flatten().flatten() {
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else if entry.file_name().to_string_lossy().contains(".part-") {
                found.push(entry.path());
            }
        }
    }
    found
}

fn set_age(path: &std::path::Path, seconds: u64) {
    let file = std::fs::File::open(path).unwrap();
    file.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(seconds)).unwrap();
}

#[tokio::test]
async fn a_part_file_left_by_a_killed_upload_is_swept_at_the_next_start_and_a_fresh_one_is_kept() {
    use tokio::io::AsyncWriteExt;
    let (mut first, admin, _, _) = admin_and_reader_on(server().start()).await;
    let path = recording_in(&first, &admin, "case-19").await;
    let blobs = first.data_dir().join("blobs");
    // An upload in flight when the process is killed: its part file stays.
    let address = first.base_url().trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {admin}\r\n\
         Content-Type: audio/wav\r\nContent-Length: {}\r\n\r\n",
        8 << 20
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![0x5au8; 2 << 20]).await.unwrap();
    eventually(async || !part_files(&blobs).is_empty(), "the upload made no part file").await;
    first.kill();
    drop(stream);
    let left = part_files(&blobs);
    assert_eq!(left.len(), 1, "kill -9 leaves the part file: {left:?}");
    let stale = left[0].clone();
    let record_dir = stale.parent().unwrap().parent().unwrap().to_owned();
    // Older than blobs.stale_upload_seconds (a day), as after a long outage;
    // its directories too, which the killed upload made.
    set_age(&stale, 2 * 86_400);
    for dir in [stale.parent().unwrap(), record_dir.as_path()] {
        set_age(dir, 2 * 86_400);
    }
    // Another upload's part file, just begun (by a second instance sharing the directory).
    let fresh_dir = blobs.join("recordings/r_other/audio");
    std::fs::create_dir_all(&fresh_dir).unwrap();
    let fresh = fresh_dir.join("0a1b2c.part-0123456789abcdef");
    std::fs::write(&fresh, b"in progress").unwrap();

    let second = server().data_dir(first.data_dir()).start();
    eventually(async || !stale.exists(), "the stale part file is still there after a start").await;
    eventually(async || !record_dir.exists(), "the directories the killed upload made are still there").await;
    assert!(fresh.exists(), "a fresh part file is kept");
    // The sweep logs once it is done, just after the files are gone.
    eventually(async || second.logs().contains("swept what interrupted blob uploads left"), "the sweep logged nothing")
        .await;
}

#[tokio::test]
async fn a_blob_object_deleted_behind_the_servers_back_answers_blob_missing_with_an_audit_event_and_an_alert() {
    let started = server().env("STRONGROOM_AUDIT_ALERT_INTERVAL_SECONDS", "1").start();
    let (server, admin, _, _) = admin_and_reader_on(started).await;
    let path = recording_in(&server, &admin, "case-20").await;
    let (status, _) = put(&server, &admin, &path, "audio/wav", wav(1)).await;
    assert_eq!(status, 201);
    delete_every_object(&server.data_dir().join("blobs"));

    let why = [("x-justification", WHY), ("x-purpose", "case_work")];
    let response = get(&server, &admin, &path, &why).await;
    assert_eq!(response.status(), 410);
    assert_eq!(response.headers()["cache-control"], "no-store", "a restored object is served at once");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "blob_missing", "{problem}");
    assert!(!problem["detail"].as_str().unwrap().contains("recordings/"), "no object name: {problem}");

    let (status, events) = call(&server, "GET", "/v1/audit/events?action=blob.missing", &admin, None).await;
    assert_eq!(status, 200, "{events}");
    let events = events["events"].as_array().unwrap().clone();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["event"]["severity"], "critical", "{:?}", events[0]);
    assert_eq!(events[0]["event"]["fields"], json!(["audio"]), "{:?}", events[0]);
    let mut alerts = Value::Null;
    eventually(
        async || {
            alerts = call(&server, "GET", "/v1/alerts", &admin, None).await.1;
            alerts.to_string().contains("blob_missing")
        },
        "no blob_missing alert",
    )
    .await;
    // The alert is stored first and its `alert` event recorded right after: wait for both.
    eventually(
        async || {
            let (_, raised) = call(&server, "GET", "/v1/audit/events?action=alert", &admin, None).await;
            raised.to_string().contains("blob_missing")
        },
        "no alert event for blob_missing",
    )
    .await;
}

#[tokio::test]
async fn an_unreachable_object_store_answers_503_with_retry_after_and_uploads_work_again_once_it_is_back() {
    let Some(mut moto) = Moto::start().await else { return };
    let bucket = format!("{}/outage-bucket", moto.endpoint());
    assert!(reqwest::Client::new().put(&bucket).send().await.unwrap().status().is_success());
    let started = server()
        .env("STRONGROOM_BLOBS_BACKEND", "s3")
        .env("STRONGROOM_BLOBS_S3_ENDPOINT", moto.endpoint())
        .env("STRONGROOM_BLOBS_S3_BUCKET", "outage-bucket")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .start();
    let (server, admin, _, _) = admin_and_reader_on(started).await;
    let path = recording_in(&server, &admin, "case-21").await;
    let (status, body) = put(&server, &admin, &path, "audio/wav", wav(1)).await;
    assert_eq!(status, 201, "{body}");

    moto.stop();
    let why = [("x-justification", WHY), ("x-purpose", "case_work")];
    let download = get(&server, &admin, &path, &why).await;
    assert_eq!(download.status(), 503);
    assert_eq!(download.headers()["retry-after"], "10");
    let problem: Value = download.json().await.unwrap();
    assert_eq!(problem["code"], "blob_storage_unavailable", "an outage is not data loss: {problem}");
    let upload = reqwest::Client::new()
        .put(server.url(&path))
        .bearer_auth(&admin)
        .header("content-type", "audio/wav")
        .body(wav(1))
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 503);
    assert_eq!(upload.headers()["retry-after"], "10");
    let problem: Value = upload.json().await.unwrap();
    assert_eq!(problem["code"], "blob_storage_unavailable", "{problem}");

    // Back, but empty (moto keeps nothing): the object is lost, which is
    // data loss and not an outage; and the same server stores again.
    moto.start_again().await;
    assert!(reqwest::Client::new().put(&bucket).send().await.unwrap().status().is_success());
    let lost = get(&server, &admin, &path, &why).await;
    assert_eq!(lost.status(), 410);
    let problem: Value = lost.json().await.unwrap();
    assert_eq!(problem["code"], "blob_missing", "{problem}");
    let (status, body) = put(&server, &admin, &path, "audio/wav", wav(1)).await;
    assert_eq!(status, 201, "{body}\n{}", server.logs());
    let back = get(&server, &admin, &path, &why).await;
    assert_eq!(back.status(), 200);
    assert!(back.bytes().await.unwrap() == wav(1));
}

#[tokio::test]
async fn a_full_disk_answers_507_and_leaves_no_part_file_or_directory() {
    let home = tempfile::tempdir().unwrap();
    let small = home.path().join("small");
    std::fs::create_dir(&small).unwrap();
    let Some(_mounted) = SmallFilesystem::mount(&small, "1m") else {
        eprintln!("skipped: mounting a tmpfs needs root, so the full-disk test did not run");
        return;
    };
    let started = server().env("STRONGROOM_BLOBS_DIR", small.to_str().unwrap()).start();
    let (server, admin, _, _) = admin_and_reader_on(started).await;
    let path = recording_in(&server, &admin, "case-22").await;

    let (status, body) = put(&server, &admin, &path, "audio/wav", wav(60)).await;
    assert_eq!((status, body["code"].as_str()), (507, Some("blob_storage_full")), "{body}");
    let left: Vec<_> = std::fs::read_dir(&small).unwrap().flatten().map(|e| e.path()).collect();
    assert!(left.is_empty(), "no part file, no directory: {left:?}");

    let (status, body) = put(&server, &admin, &path, "audio/wav", wav(1)).await;
    assert_eq!(status, 201, "what fits is stored: {body}");
}
