//! Dependency faults through the real binary: a database that goes away and
//! comes back under load, a data disk that fills up and is freed, kill -9
//! under load. Each test makes its
//! own PostgreSQL role and database (never the shared service's) or its own
//! small filesystem, so taking them away harms nobody else.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::Connection;
use strongroom_testkit::TestServer;

use super::{BIN, server, transit};

/// A role and a database of this test's own on the shared PostgreSQL, which
/// the test may refuse and let in again; dropped at the end.
struct OwnDatabase {
    admin_url: String,
    name: String,
}

impl OwnDatabase {
    async fn create() -> Option<Self> {
        let admin_url = std::env::var("STRONGROOM_TEST_POSTGRES_URL").ok()?;
        let name = format!("sr_fault_{}", uuid_like());
        let this = Self { admin_url, name };
        this.run(&format!("CREATE ROLE {0} LOGIN", this.name)).await;
        this.run(&format!("CREATE DATABASE {0} OWNER {0}", this.name)).await;
        Some(this)
    }

    /// The URL the server connects with: the role, to its database.
    fn url(&self) -> String {
        let host = self.admin_url.split('@').nth(1).and_then(|rest| rest.split('/').next()).unwrap_or("127.0.0.1:5432");
        format!("postgres://{0}@{host}/{0}", self.name)
    }

    async fn run(&self, statement: &str) {
        let mut connection = sqlx::PgConnection::connect(&self.admin_url).await.expect("the admin connection");
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned())).execute(&mut connection).await.expect(statement);
    }

    /// The database refuses the server: its role may not log in, and its
    /// open connections are ended (as a restarted or failed-over database does).
    async fn go_away(&self) {
        self.run(&format!("ALTER ROLE {} NOLOGIN", self.name)).await;
        self.run(&format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{}'", self.name))
            .await;
    }

    async fn come_back(&self) {
        self.run(&format!("ALTER ROLE {} LOGIN", self.name)).await;
    }

    async fn remove(self) {
        self.go_away().await;
        self.run(&format!("DROP DATABASE IF EXISTS {}", self.name)).await;
        self.run(&format!("DROP ROLE IF EXISTS {}", self.name)).await;
    }
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{}_{nanos}", std::process::id())
}

fn on(url: &str) -> impl Fn(strongroom_testkit::ServerBuilder) -> strongroom_testkit::ServerBuilder + '_ {
    move |builder| {
        builder
            .database(url)
            .env("STRONGROOM_ROOT_KEY_PROVIDER", "passphrase")
            .env("STRONGROOM_ROOT_KEY_PASSPHRASE", "the passphrase of the fault test deployment")
    }
}

/// What one loading client saw: the acknowledged (plaintext, ciphertext)
/// pairs, and how many requests were refused with a 503.
type LoadOutcome = (Vec<(String, String)>, usize);

/// Transit encrypts from six clients at once until `stop`: every answer is
/// a success or a 503 naming the dependency with `Retry-After`, never a
/// 500.
fn encrypt_under_load(
    server: &TestServer,
    key: &str,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<tokio::task::JoinHandle<LoadOutcome>> {
    use base64::Engine;
    (0..6)
        .map(|client_number| {
            let (base, key, stop) = (server.base_url().to_owned(), key.to_owned(), stop.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let (mut acknowledged, mut refused) = (Vec::new(), 0);
                for n in 0.. {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let plaintext =
                        base64::engine::general_purpose::STANDARD.encode(format!("client {client_number} write {n}"));
                    let response = client
                        .post(format!("{base}/v1/transit/encrypt/k"))
                        .header("X-Vault-Token", &key)
                        .json(&json!({"plaintext": plaintext}))
                        .send()
                        .await
                        .unwrap();
                    let status = response.status().as_u16();
                    let retry_after = response.headers().get("retry-after").cloned();
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    match status {
                        200 => acknowledged.push((plaintext, body["data"]["ciphertext"].as_str().unwrap().to_owned())),
                        503 => {
                            let code = body["code"].as_str().unwrap_or_default();
                            assert!(["database_unavailable", "audit_unavailable"].contains(&code), "{body}");
                            assert!(retry_after.is_some(), "a transient fault says when to retry: {body}");
                            refused += 1;
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        other => panic!("a dependency fault is a 503, never {other}: {body}"),
                    }
                }
                (acknowledged, refused)
            })
        })
        .collect()
}

#[tokio::test]
async fn a_database_that_goes_away_under_load_answers_503_loses_no_acknowledged_write_and_recovers_by_itself() {
    let Some(database) = OwnDatabase::create().await else { return };
    let url = database.url();
    let server = on(&url)(server()).start();
    let key = on(&url)(TestServer::builder(BIN).data_dir(server.data_dir())).run(&[
        "apikey",
        "create",
        "--name",
        "app",
        "--scope",
        "transit:use",
        "--scope",
        "transit:manage",
        "--scope",
        "audit:read",
    ]);
    assert_eq!(key.code, Some(0), "{key:?}");
    let token = key.stdout.trim().to_owned();
    let client = reqwest::Client::new();
    let (status, _) = transit(&client, &server, &token, "keys/k", json!({})).await;
    assert_eq!(status, 200);
    let encrypt = || transit(&client, &server, &token, "encrypt/k", json!({"plaintext": "aGk="}));
    assert_eq!(encrypt().await.0, 200);

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let loaders = encrypt_under_load(&server, &token, stop.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;
    database.go_away().await;
    // /readyz says so within seconds.
    let deadline = Instant::now() + Duration::from_secs(10);
    while reqwest::get(server.url("/readyz")).await.unwrap().status() != 503 {
        assert!(Instant::now() < deadline, "/readyz still 200 with the database away");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;

    database.come_back().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, _) = encrypt().await;
        let ready = reqwest::get(server.url("/readyz")).await.unwrap().status().as_u16();
        if (status, ready) == (200, 200) {
            break;
        }
        assert!(Instant::now() < deadline, "not recovered without a restart: encrypt {status}, readyz {ready}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut acknowledged, mut refused) = (Vec::new(), 0);
    for loader in loaders {
        let (more, more_refused) = loader.await.unwrap();
        acknowledged.extend(more);
        refused += more_refused;
    }
    assert!(refused > 0, "the outage was noticed under load");
    assert!(acknowledged.len() > 10, "too little load to mean anything: {}", acknowledged.len());

    // Every acknowledged ciphertext decrypts, each has its audit event, and the log verifies.
    for chunk in acknowledged.chunks(200) {
        let batch: Vec<Value> = chunk.iter().map(|(_, ciphertext)| json!({"ciphertext": ciphertext})).collect();
        let (status, answer) = transit(&client, &server, &token, "decrypt/k", json!({"batch_input": batch})).await;
        assert_eq!(status, 200, "{answer}");
        for ((plaintext, _), result) in chunk.iter().zip(answer["data"]["batch_results"].as_array().unwrap()) {
            assert_eq!(result["plaintext"].as_str(), Some(plaintext.as_str()), "{result}");
        }
    }
    let mut encrypted = 0;
    let mut cursor = String::new();
    loop {
        let path = format!("/v1/audit/events?action=transit.encrypt&result=success&limit=1000{cursor}");
        let (status, page) = super::authz::call(&server, "GET", &path, &token, None).await;
        assert_eq!(status, 200, "{page}");
        encrypted += page["events"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert!(
        encrypted >= acknowledged.len(),
        "{encrypted} transit.encrypt events for {} acknowledged",
        acknowledged.len()
    );
    let (status, stats) = super::authz::call(&server, "GET", "/v1/audit/stats", &token, None).await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["integrity"]["verified"], true, "{stats}");
    drop(server);
    database.remove().await;
}

/// A tmpfs of `size` (`mount -o size=`), unmounted on drop; `None` where
/// mounting is not allowed (not root), so the test skips instead of failing.
pub(crate) struct SmallFilesystem(std::path::PathBuf);

impl SmallFilesystem {
    pub(crate) fn mount(at: &std::path::Path, size: &str) -> Option<Self> {
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(at)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then(|| Self(at.to_owned()))
    }

    /// Writes a file of zeros until the filesystem refuses more: the disk is full.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let filler = self.0.join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while file.write_all(&chunk).and_then(|()| file.sync_data()).is_ok() {}
        filler
    }
}

impl Drop for SmallFilesystem {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// One request's status and problem code, asserting it is not a bug (500).
async fn not_a_bug(what: &str, server: &TestServer, response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_ne!(status, 500, "{what}: a full disk is not a bug: {body}\n{}", server.logs());
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn a_full_data_disk_refuses_writes_with_507_and_every_write_works_again_once_space_is_freed() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let Some(disk) = SmallFilesystem::mount(&data, "48m") else {
        eprintln!("skipped: mounting a tmpfs needs root, so the full-disk test did not run");
        return;
    };
    // Readiness counts free space below `audit.min_free_bytes` as not
    // ready: 4 MiB on this 48 MiB disk, so it is ready before and after.
    let started = server().data_dir(&data).env("STRONGROOM_AUDIT_MIN_FREE_BYTES", "4194304").start();
    let (server, admin, _, _) = super::authz::admin_and_reader_on(started).await;
    let client = reqwest::Client::new();
    let (status, body) =
        super::authz::call(&server, "POST", "/v1/matters", &admin, Some(json!({"id": "case-1", "name": "Case 1"})))
            .await;
    assert_eq!(status, 201, "{body}");
    let note = "x".repeat(4000);
    let create = |token: &str| {
        client
            .post(server.url("/v1/collections/recordings/records"))
            .bearer_auth(token)
            .json(&json!({"matter": "case-1", "fields": {"title": "Deposition", "status": "recorded", "transcript": note}}))
            .send()
    };
    let login = || {
        client
            .post(server.url("/v1/auth/login"))
            .json(&json!({"username": "admin", "password": super::authz::PASSWORD}))
            .send()
    };
    assert_eq!(create(&admin).await.unwrap().status(), 201);
    assert_eq!(reqwest::get(server.url("/readyz")).await.unwrap().status(), 200);

    let filler = disk.fill();
    // Writes go on until SQLite's own files cannot grow; from then every
    // write is refused as storage full (or unavailable), never a 500, and
    // nothing is half-written.
    let mut full = 0;
    for n in 0..400 {
        let (status, code) = not_a_bug("record create", &server, create(&admin).await.unwrap()).await;
        match status {
            201 => {}
            507 => {
                assert_eq!(code, "storage_full");
                full += 1;
            }
            503 => assert!(["database_unavailable", "audit_unavailable"].contains(&code.as_str()), "{code}"),
            other => panic!("record create {n}: {other} {code}"),
        }
        if full >= 3 {
            break;
        }
    }
    assert!(full >= 3, "the full disk was never noticed");
    let (status, _) = not_a_bug("login", &server, login().await.unwrap()).await;
    assert!([200, 503, 507].contains(&status), "login on a full disk: {status}");
    // Within seconds, a server that cannot write stops saying it is ready.
    let deadline = Instant::now() + Duration::from_secs(6);
    while reqwest::get(server.url("/readyz")).await.unwrap().status() != 503 {
        assert!(Instant::now() < deadline, "/readyz still ready on a full disk");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    std::fs::remove_file(filler).unwrap();
    // Once space is back, every kind of write works again without a
    // restart, and readiness says so.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut admin = admin;
    loop {
        // A fresh login each time, whose token is used from then on: the
        // oldest of a user's sessions ends when it has too many.
        let logged_in = login().await.unwrap();
        let (logged_in, fresh) = (logged_in.status().as_u16(), logged_in.json::<Value>().await.unwrap_or_default());
        if let Some(token) = fresh["access_token"].as_str() {
            admin = token.to_owned();
        }
        let created = create(&admin).await.unwrap().status().as_u16();
        let ready = reqwest::get(server.url("/readyz")).await.unwrap().status().as_u16();
        if (created, logged_in, ready) == (201, 200, 200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not recovered without a restart: create {created}, login {logged_in}, readyz {ready}\n{}",
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, stats) = super::authz::call(&server, "GET", "/v1/audit/stats", &admin, None).await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["integrity"]["verified"], true, "the audit log verifies after the fault: {stats}");
}

/// What a client was told was done before the server was killed: record ids
/// and (plaintext, ciphertext) pairs.
#[derive(Default)]
struct Acknowledged {
    records: Vec<String>,
    encryptions: Vec<(String, String)>,
}

/// Record creates and transit encrypts from eight clients at once until the
/// server is killed with SIGKILL after `for_how_long`; answers what was
/// acknowledged.
async fn load_then_kill_9(
    server: &mut TestServer,
    admin: &str,
    key: &str,
    round: usize,
    for_how_long: Duration,
) -> Acknowledged {
    use base64::Engine;
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Acknowledged::default()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for client_number in 0..8 {
        let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
        let (base, admin, key) = (server.base_url().to_owned(), admin.to_owned(), key.to_owned());
        clients.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for n in 0.. {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let label = format!("round {round} client {client_number} write {n}");
                if client_number % 2 == 0 {
                    let body = json!({"matter": "case-1", "fields": {"title": label, "transcript": label}});
                    let sent = client
                        .post(format!("{base}/v1/collections/recordings/records"))
                        .bearer_auth(&admin)
                        .json(&body);
                    let Ok(response) = sent.send().await else { continue };
                    let status = response.status().as_u16();
                    if let Ok(created) = response.json::<Value>().await {
                        assert_ne!(status, 500, "{created}");
                        if status == 201 {
                            let id = created["id"].as_str().unwrap().to_owned();
                            acknowledged.lock().unwrap().records.push(id);
                        }
                    }
                } else {
                    let plaintext = base64::engine::general_purpose::STANDARD.encode(&label);
                    let sent = client
                        .post(format!("{base}/v1/transit/encrypt/k"))
                        .header("X-Vault-Token", &key)
                        .json(&json!({"plaintext": plaintext}));
                    let Ok(response) = sent.send().await else { continue };
                    let status = response.status().as_u16();
                    if let Ok(answer) = response.json::<Value>().await {
                        assert_ne!(status, 500, "{answer}");
                        if status == 200 {
                            let ciphertext = answer["data"]["ciphertext"].as_str().unwrap().to_owned();
                            acknowledged.lock().unwrap().encryptions.push((plaintext, ciphertext));
                        }
                    }
                }
            }
        }));
    }
    tokio::time::sleep(for_how_long).await;
    server.kill();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    std::mem::take(&mut *acknowledged.lock().unwrap())
}

/// Three times: eight clients write while the server is killed with
/// SIGKILL, and it is started again on the same data. Every acknowledged
/// record reads back, every acknowledged ciphertext decrypts, each has its
/// audit event, and the audit log verifies.
async fn kill_9_under_mixed_load_loses_no_acknowledged_write(
    configure: impl Fn(strongroom_testkit::ServerBuilder) -> strongroom_testkit::ServerBuilder,
) {
    let mut first = configure(server()).start();
    let data_dir = first.data_dir().to_owned();
    let cli = |args: &[&str], input: Option<&str>| {
        let builder = configure(TestServer::builder(BIN).data_dir(&data_dir));
        match input {
            Some(input) => builder.run_with_input(args, input),
            None => builder.run(args),
        }
    };
    let init = cli(&["init", "--password-stdin"], Some(&format!("{}\n", super::authz::PASSWORD)));
    assert_eq!(init.code, Some(0), "{init:?}");
    let key = cli(&["apikey", "create", "--name", "app", "--scope", "transit:use", "--scope", "transit:manage"], None);
    assert_eq!(key.code, Some(0), "{key:?}");
    let key = key.stdout.trim().to_owned();
    let client = reqwest::Client::new();
    let login = async |server: &TestServer| {
        let body = json!({"username": "admin", "password": super::authz::PASSWORD});
        let answer: Value =
            client.post(server.url("/v1/auth/login")).json(&body).send().await.unwrap().json().await.unwrap();
        answer["access_token"].as_str().unwrap_or_else(|| panic!("{answer}")).to_owned()
    };
    let admin = login(&first).await;
    let matter = json!({"id": "case-1", "name": "Case 1"});
    assert_eq!(super::authz::call(&first, "POST", "/v1/matters", &admin, Some(matter)).await.0, 201);
    assert_eq!(transit(&client, &first, &key, "keys/k", json!({})).await.0, 200);

    let mut acknowledged = load_then_kill_9(&mut first, &admin, &key, 0, Duration::from_secs(3)).await;
    let mut servers = vec![first];
    for round in 1..3 {
        let mut again = configure(server().data_dir(&data_dir)).start();
        let admin = login(&again).await;
        let more = load_then_kill_9(&mut again, &admin, &key, round, Duration::from_secs(3)).await;
        acknowledged.records.extend(more.records);
        acknowledged.encryptions.extend(more.encryptions);
        servers.push(again);
    }
    let last = configure(server().data_dir(&data_dir)).start();
    let admin = login(&last).await;
    let (records, encryptions) = (acknowledged.records.len(), acknowledged.encryptions.len());
    assert!(
        records > 10 && encryptions > 10,
        "too little load to mean anything: {records} records, {encryptions} encryptions"
    );

    for id in &acknowledged.records {
        let (status, record) =
            super::authz::call(&last, "GET", &format!("/v1/collections/recordings/records/{id}"), &admin, None).await;
        assert_eq!(status, 200, "acknowledged record {id} lost: {record}");
    }
    for chunk in acknowledged.encryptions.chunks(200) {
        let batch: Vec<Value> = chunk.iter().map(|(_, ciphertext)| json!({"ciphertext": ciphertext})).collect();
        let (status, answer) = transit(&client, &last, &key, "decrypt/k", json!({"batch_input": batch})).await;
        assert_eq!(status, 200, "{answer}");
        for ((plaintext, _), result) in chunk.iter().zip(answer["data"]["batch_results"].as_array().unwrap()) {
            assert_eq!(result["plaintext"].as_str(), Some(plaintext.as_str()), "{result}");
        }
    }

    // Every acknowledged action has its audit event.
    let audited = async |action: &str| {
        let mut events = Vec::new();
        let mut cursor = String::new();
        loop {
            let path = format!("/v1/audit/events?action={action}&result=success&limit=1000{cursor}");
            let (status, page) = super::authz::call(&last, "GET", &path, &admin, None).await;
            assert_eq!(status, 200, "{page}");
            events.extend(page["events"].as_array().unwrap().iter().map(|e| e["event"].clone()));
            match page["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => return events,
            }
        }
    };
    let created: std::collections::HashSet<String> = audited("record.create")
        .await
        .iter()
        .filter_map(|event| event["target"]["id"].as_str().map(str::to_owned))
        .collect();
    for id in &acknowledged.records {
        assert!(created.contains(id), "acknowledged record {id} has no record.create event");
    }
    let encrypted = audited("transit.encrypt").await.len();
    assert!(encrypted >= acknowledged.encryptions.len(), "{encrypted} transit.encrypt events");
    let (status, stats) = super::authz::call(&last, "GET", "/v1/audit/stats", &admin, None).await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["integrity"]["verified"], true, "{stats}");
}

#[tokio::test]
async fn kill_9_under_mixed_load_loses_no_acknowledged_write_on_sqlite() {
    kill_9_under_mixed_load_loses_no_acknowledged_write(|builder| builder).await;
}

#[tokio::test]
async fn kill_9_under_mixed_load_loses_no_acknowledged_write_on_postgres() {
    let Some(database) = strongroom_testkit::TestDatabase::postgres().await else { return };
    kill_9_under_mixed_load_loses_no_acknowledged_write(on(database.url())).await;
}
