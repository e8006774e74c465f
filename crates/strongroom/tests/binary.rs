//! Flows through the real `strongroom` binary, started as a child process on
//! a free port. Each test makes its own data dir (and database), so they run
//! in parallel and in any order.

use std::os::unix::fs::PermissionsExt;

use serde_json::Value;
use strongroom_testkit::{TestDatabase, TestServer};

const BIN: &str = env!("CARGO_BIN_EXE_strongroom");

fn server() -> strongroom_testkit::ServerBuilder {
    TestServer::builder(BIN)
}

async fn get_json(url: &str) -> (reqwest::StatusCode, reqwest::header::HeaderMap, Value) {
    let response = reqwest::get(url).await.expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

fn assert_problem(status: reqwest::StatusCode, headers: &reqwest::header::HeaderMap, body: &Value, code: &str) {
    assert_eq!(headers["content-type"], "application/problem+json", "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16());
    assert_eq!(body["request_id"], headers["x-request-id"].to_str().unwrap());
}

#[tokio::test]
async fn server_on_embedded_defaults_answers_health_readiness_and_openapi() {
    let server = server().start();
    let (status, _, body) = get_json(&server.url("/healthz")).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    let (status, _, body) = get_json(&server.url("/readyz")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    let (status, _, doc) = get_json(&server.url("/openapi.json")).await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/readyz"]["get"].is_object());
    let mode = std::fs::metadata(server.data_dir()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the data dir must be private");
    let key_mode = std::fs::metadata(server.data_dir().join("root.key")).unwrap().permissions().mode() & 0o777;
    assert_eq!(key_mode, 0o600);
}

#[tokio::test]
async fn unknown_route_wrong_method_and_oversized_body_are_problems() {
    let server = server().env("STRONGROOM_SERVER_BODY_LIMIT_BYTES", "64").start();
    let (status, headers, body) = get_json(&server.url("/v1/no-such-thing")).await;
    assert_eq!(status, 404);
    assert_problem(status, &headers, &body, "not_found");

    let client = reqwest::Client::new();
    let response = client.delete(server.url("/readyz")).send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 405);
    assert_problem(status, &headers, &body, "method_not_allowed");

    let response = client
        .post(server.url("/v1/anything"))
        .header("content-type", "application/json")
        .body(vec![b'x'; 1000])
        .send()
        .await
        .unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 413);
    assert_problem(status, &headers, &body, "payload_too_large");
}

#[tokio::test]
async fn a_connection_trickling_headers_is_closed_while_others_are_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = server().env("STRONGROOM_SERVER_HEADER_READ_TIMEOUT_SECONDS", "2").start();
    let address = server.base_url().trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let started = std::time::Instant::now();
    let mut closed = false;
    // One header line a second: without a head timeout this goes on forever.
    for n in 0..10 {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let (status, _, _) = get_json(&server.url("/healthz")).await;
        assert_eq!(status, 200, "others are served meanwhile");
        let line = format!("X-Slow-{n}: 1\r\n");
        let mut buffer = [0u8; 512];
        let read = tokio::time::timeout(std::time::Duration::from_millis(10), slow.read(&mut buffer)).await;
        if slow.write_all(line.as_bytes()).await.is_err() || matches!(read, Ok(Ok(_) | Err(_))) {
            closed = true;
            break;
        }
    }
    assert!(closed, "the trickling connection is still open after {:?}", started.elapsed());
    assert!(started.elapsed() < std::time::Duration::from_secs(6), "closed only after {:?}", started.elapsed());
}

#[tokio::test]
async fn every_method_not_allowed_answer_names_the_allowed_methods() {
    let server = server().start();
    let token = issue_api_key(&server, &["transit:use"]);
    let client = reqwest::Client::new();
    for (method, path) in [("TRACE", "/v1/transit/keys"), ("DELETE", "/readyz"), ("TRACE", "/healthz")] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let request = client.request(method.clone(), server.url(path)).header("X-API-Key", &token);
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 405, "{method} {path}");
        let allow = response.headers().get("allow").map(|v| v.to_str().unwrap().to_owned());
        assert!(allow.as_deref().is_some_and(|a| a.contains("GET")), "{method} {path}: Allow {allow:?}");
    }
}

#[tokio::test]
async fn second_server_on_the_same_data_dir_exits_with_a_lock_message() {
    let first = server().start();
    let second = server().data_dir(first.data_dir()).try_start().expect_err("second server must not start");
    assert_eq!(second.code, Some(1), "{second:?}");
    assert!(second.stderr.contains("is in use by another strongroom process"), "{}", second.stderr);
    let (status, _, _) = get_json(&first.url("/readyz")).await;
    assert_eq!(status, 200, "the first server keeps working");
}

#[tokio::test]
async fn production_with_a_local_root_key_refuses_to_start_naming_the_rule() {
    let refused = server().env("STRONGROOM_PROFILE", "production").try_start().expect_err("must refuse");
    assert_eq!(refused.code, Some(1));
    assert!(refused.stderr.contains("refusing to start"), "{}", refused.stderr);
    assert!(refused.stderr.contains("root_key.provider"), "{}", refused.stderr);
    assert!(refused.stderr.contains("server.tls"), "{}", refused.stderr);
}

#[tokio::test]
async fn doctor_explains_every_check_and_fails_on_a_broken_profile() {
    let output = server().env("STRONGROOM_PROFILE", "production").run(&["doctor"]);
    assert_eq!(output.code, Some(1), "{output:?}");
    for name in ["server.tls", "root_key.provider", "data_dir", "log.level", "database.connect"] {
        assert!(output.stdout.contains(name), "doctor must report {name}: {}", output.stdout);
    }
    assert!(output.stdout.contains("FAIL  root_key.provider"), "{}", output.stdout);
    let output = server().run(&["doctor"]);
    assert_eq!(output.code, Some(0), "{output:?}");
    assert!(output.stdout.contains("all checks passed"));
}

#[tokio::test]
async fn config_file_with_an_unknown_key_is_refused_with_exit_2() {
    let output = server().config_file("[server]\nlistn = \"127.0.0.1:1\"\n").run(&["doctor"]);
    assert_eq!(output.code, Some(2), "{output:?}");
    assert!(output.stderr.contains("listn"), "{}", output.stderr);
}

#[tokio::test]
async fn a_different_root_key_is_refused_naming_both_keys() {
    let mut first = server().start();
    let data_dir = tempfile::tempdir().unwrap();
    std::fs::remove_dir(data_dir.path()).unwrap();
    // Keep the data dir beyond the first server's life by moving it.
    let original = first.data_dir().to_owned();
    assert!(first.terminate().success());
    std::fs::rename(&original, data_dir.path()).unwrap();
    std::fs::write(data_dir.path().join("root.key"), format!("{}\n", "ab".repeat(32))).unwrap();
    let refused = server().data_dir(data_dir.path()).try_start().expect_err("must refuse another key");
    assert_eq!(refused.code, Some(1));
    assert!(refused.stderr.contains("is not the one this database was initialised with"), "{}", refused.stderr);
}

#[tokio::test]
async fn the_server_writes_no_core_file_whatever_limit_it_inherits() {
    // The tests' own hard limit is normally unlimited: the server lowers both to 0.
    let server = server().start();
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid())).unwrap();
    let core = limits.lines().find(|line| line.starts_with("Max core file size")).expect("a core limit line");
    let values: Vec<&str> = core.trim_start_matches("Max core file size").split_whitespace().collect();
    assert_eq!(&values[..2], ["0", "0"], "soft and hard core limits must be 0: {core}");
}

#[tokio::test]
async fn sigterm_stops_the_server_cleanly() {
    let mut server = server().start();
    let (status, _, _) = get_json(&server.url("/healthz")).await;
    assert_eq!(status, 200);
    let exit = server.terminate();
    assert!(exit.success(), "{exit:?}");
    assert!(server.logs().contains("shutting down"));
}

#[tokio::test]
async fn init_on_a_fresh_postgres_database_creates_the_installation() {
    let Some(database) = TestDatabase::postgres().await else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let data_dir = home.path().join("data");
    let init = server()
        .database(database.url())
        .data_dir(&data_dir)
        .run_with_input(&["init", "--password-stdin"], "correct horse battery staple\n");
    assert_eq!(init.code, Some(0), "{init:?}");
    let again = server()
        .database(database.url())
        .data_dir(&data_dir)
        .run_with_input(&["init", "--password-stdin"], "correct horse battery staple\n");
    assert_eq!(again.code, Some(1), "init runs once: {again:?}");
    let running = server().database(database.url()).data_dir(&data_dir).start();
    let body = serde_json::json!({"username": "admin", "password": "correct horse battery staple"});
    let login = reqwest::Client::new().post(running.url("/v1/auth/login")).json(&body).send().await.unwrap();
    assert_eq!(login.status(), 200, "the admin init made logs in");
}

#[tokio::test]
async fn postgres_backend_serves_and_two_instances_share_one_database() {
    let Some(database) = TestDatabase::postgres().await else {
        return;
    };
    // Instances of one deployment share the root key; a passphrase does that.
    let instance = || {
        server()
            .database(database.url())
            .env("STRONGROOM_ROOT_KEY_PROVIDER", "passphrase")
            .env("STRONGROOM_ROOT_KEY_PASSPHRASE", "shared by every instance of this deployment")
    };
    let a = instance().start();
    let b = instance().start();
    for instance in [&a, &b] {
        let (status, _, body) = get_json(&instance.url("/readyz")).await;
        assert_eq!(status, 200, "{body}");
        assert!(body["checks"][0]["detail"].as_str().unwrap().contains("postgres"));
    }
    // An instance with its own local key file would decrypt nothing: refused.
    let stray = server().database(database.url()).try_start().expect_err("another root key must be refused");
    assert!(stray.stderr.contains("is not the one this database was initialised with"), "{}", stray.stderr);
}

#[tokio::test]
async fn passphrase_root_key_survives_restart_and_a_wrong_one_is_refused() {
    let passphrase = "a passphrase long enough for the rule";
    let mut first = server()
        .env("STRONGROOM_ROOT_KEY_PROVIDER", "passphrase")
        .env("STRONGROOM_ROOT_KEY_PASSPHRASE", passphrase)
        .start();
    let kept = tempfile::tempdir().unwrap();
    let data_dir = kept.path().join("data");
    let original = first.data_dir().to_owned();
    assert!(first.terminate().success());
    std::fs::rename(&original, &data_dir).unwrap();
    let logs = first.logs();
    assert!(!logs.contains(passphrase), "the passphrase must never be logged");

    let again = server()
        .data_dir(&data_dir)
        .env("STRONGROOM_ROOT_KEY_PROVIDER", "passphrase")
        .env("STRONGROOM_ROOT_KEY_PASSPHRASE", passphrase)
        .start();
    drop(again);
    let refused = server()
        .data_dir(&data_dir)
        .env("STRONGROOM_ROOT_KEY_PROVIDER", "passphrase")
        .env("STRONGROOM_ROOT_KEY_PASSPHRASE", "another passphrase, also long")
        .try_start()
        .expect_err("a wrong passphrase must be refused");
    assert!(refused.stderr.contains("is not the one this database was initialised with"), "{}", refused.stderr);
    assert!(!refused.stderr.contains("another passphrase"));
}

#[tokio::test]
async fn production_profile_over_tls_13_starts_and_sends_hsts() {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let files = tempfile::tempdir().unwrap();
    let cert = files.path().join("cert.pem");
    let key = files.path().join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
    let server = server()
        .env("STRONGROOM_PROFILE", "production")
        .env("STRONGROOM_ROOT_KEY_PROVIDER", "passphrase")
        .env("STRONGROOM_ROOT_KEY_PASSPHRASE", "production passphrase of some length")
        .env("STRONGROOM_SERVER_TLS_CERT_FILE", cert.display().to_string())
        .env("STRONGROOM_SERVER_TLS_KEY_FILE", key.display().to_string())
        .start();
    assert!(server.base_url().starts_with("https://"));
    let root = reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap();
    let client = reqwest::Client::builder().add_root_certificate(root.clone()).build().unwrap();
    let response = client.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["strict-transport-security"].to_str().unwrap().contains("max-age"));
    assert!(server.logs().contains("\"level\":\"INFO\""), "production logs are JSON");

    let tls12_only = reqwest::Client::builder()
        .add_root_certificate(root)
        .max_tls_version(reqwest::tls::Version::TLS_1_2)
        .build()
        .unwrap();
    assert!(tls12_only.get(server.url("/healthz")).send().await.is_err(), "TLS 1.2 must be refused");
}

#[tokio::test]
async fn key_commands_manage_the_keyring_beside_a_running_server() {
    let before = server().run(&["key", "list"]);
    assert_eq!(before.code, Some(1));
    assert!(before.stderr.contains("start `strongroom server` once first"), "{}", before.stderr);

    let running = server().start();
    let key = |args: &[&str]| {
        let mut all = vec!["key"];
        all.extend_from_slice(args);
        server().data_dir(running.data_dir()).run(&all)
    };
    let created = key(&["create", "orders", "--rotation-period", "30d"]);
    assert_eq!(created.code, Some(0), "{created:?}");
    assert!(created.stdout.contains("rotation_period:        2592000s"), "{}", created.stdout);
    assert_eq!(key(&["create", "orders"]).code, Some(1), "duplicate names are refused");
    let rotated = key(&["rotate", "orders"]);
    assert!(rotated.stdout.contains("latest_version:         2"), "{}", rotated.stdout);
    let retired = key(&["min-version", "orders", "2"]);
    assert!(retired.stdout.contains("min_decryption_version: 2"), "{}", retired.stdout);
    let why = "matter closed and retention period over";
    let unjustified = key(&["state", "orders", "disabled", "--justification", "because"]);
    assert_eq!(unjustified.code, Some(1));
    assert!(unjustified.stderr.contains("at least 20 characters"), "{}", unjustified.stderr);
    let refused = key(&["state", "orders", "destroyed", "--justification", why]);
    assert_eq!(refused.code, Some(1));
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    let destroyed = key(&["state", "orders", "destroyed", "--justification", why, "--yes"]);
    assert_eq!(destroyed.code, Some(0), "{destroyed:?}");
    assert!(destroyed.stdout.contains("everything it protected is unreadable"));
    let listed = key(&["list"]);
    assert!(listed.stdout.lines().any(|l| l.starts_with("orders") && l.contains("destroyed")), "{}", listed.stdout);
    let (status, _, _) = get_json(&running.url("/readyz")).await;
    assert_eq!(status, 200, "the server is unaffected by the CLI beside it");
}

/// Issues an API key through the CLI, as an operator would.
fn issue_api_key(server: &TestServer, scopes: &[&str]) -> String {
    let mut args = vec!["apikey", "create", "--name", "test client"];
    for scope in scopes {
        args.extend_from_slice(&["--scope", scope]);
    }
    let output = TestServer::builder(BIN).data_dir(server.data_dir()).run(&args);
    assert_eq!(output.code, Some(0), "{output:?}");
    output.stdout.trim().to_owned()
}

async fn transit(client: &reqwest::Client, server: &TestServer, token: &str, path: &str, body: Value) -> (u16, Value) {
    let response = client
        .post(server.url(&format!("/v1/transit/{path}")))
        .header("X-Vault-Token", token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn transit_round_trip_rotation_rewrap_and_retirement_over_http() {
    let server = server().start();
    let token = issue_api_key(&server, &["transit:use", "transit:manage"]);
    let client = reqwest::Client::new();
    let (status, created) = transit(&client, &server, &token, "keys/orders", serde_json::json!({})).await;
    assert_eq!(status, 200, "{created}");
    let context = "bWF0dGVyLTQy"; // base64("matter-42")
    let (_, encrypted) = transit(
        &client,
        &server,
        &token,
        "encrypt/orders",
        serde_json::json!({"plaintext": "aGVsbG8=", "context": context}),
    )
    .await;
    let old = encrypted["data"]["ciphertext"].as_str().unwrap().to_owned();
    assert!(old.starts_with("vault:v1:"), "{old}");

    let (_, rotated) = transit(&client, &server, &token, "keys/orders/rotate", serde_json::json!({})).await;
    assert_eq!(rotated["data"]["latest_version"], 2);
    let (status, decrypted) =
        transit(&client, &server, &token, "decrypt/orders", serde_json::json!({"ciphertext": old, "context": context}))
            .await;
    assert_eq!((status, decrypted["data"]["plaintext"].as_str()), (200, Some("aGVsbG8=")), "{decrypted}");

    let (_, rewrapped) =
        transit(&client, &server, &token, "rewrap/orders", serde_json::json!({"ciphertext": old, "context": context}))
            .await;
    let new = rewrapped["data"]["ciphertext"].as_str().unwrap().to_owned();
    assert!(new.starts_with("vault:v2:"), "{rewrapped}");

    let (status, _) =
        transit(&client, &server, &token, "keys/orders/config", serde_json::json!({"min_decryption_version": 2})).await;
    assert_eq!(status, 200);
    let (status, retired) =
        transit(&client, &server, &token, "decrypt/orders", serde_json::json!({"ciphertext": old, "context": context}))
            .await;
    assert_eq!((status, retired["code"].as_str()), (400, Some("key_version_retired")), "{retired}");
    let (status, _) =
        transit(&client, &server, &token, "decrypt/orders", serde_json::json!({"ciphertext": new, "context": context}))
            .await;
    assert_eq!(status, 200);

    // Moved to another context, or one bit flipped: the same opaque refusal.
    let (status, moved) = transit(
        &client,
        &server,
        &token,
        "decrypt/orders",
        serde_json::json!({"ciphertext": new, "context": "b3RoZXI="}),
    )
    .await;
    assert_eq!((status, moved["code"].as_str()), (400, Some("decryption_failed")), "{moved}");
    let mut flipped = new.clone();
    let last = flipped.pop().unwrap();
    flipped.push(if last == 'A' { 'B' } else { 'A' });
    let (status, tampered) = transit(
        &client,
        &server,
        &token,
        "decrypt/orders",
        serde_json::json!({"ciphertext": flipped, "context": context}),
    )
    .await;
    assert_eq!((status, tampered["code"].as_str()), (400, Some("decryption_failed")), "{tampered}");

    let (status, unknown) =
        transit(&client, &server, &token, "encrypt/nope", serde_json::json!({"plaintext": "aGVsbG8="})).await;
    assert_eq!((status, unknown["code"].as_str()), (404, Some("key_not_found")));

    let batch = serde_json::json!({"batch_input": [
        {"plaintext": "YQ==", "reference": "a"}, {"plaintext": "not base64!", "reference": "b"}
    ]});
    let (status, results) = transit(&client, &server, &token, "encrypt/orders", batch).await;
    assert_eq!(status, 200);
    assert!(results["data"]["batch_results"][0]["ciphertext"].is_string());
    assert_eq!(results["data"]["batch_results"][1]["reference"], "b");
    assert!(results["data"]["batch_results"][1]["error"].as_str().unwrap().contains("base64"));
}

#[tokio::test]
async fn transit_refuses_missing_revoked_and_underscoped_keys() {
    let server = server().start();
    let client = reqwest::Client::new();
    let (status, body) = transit(&client, &server, "", "keys/k", serde_json::json!({})).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthenticated")));
    let user = issue_api_key(&server, &["transit:use"]);
    let (status, body) = transit(&client, &server, &user, "keys/k", serde_json::json!({})).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")), "{body}");
    let manager = issue_api_key(&server, &["transit:manage"]);
    let (status, body) = transit(&client, &server, &manager, "keys/matter.case-1", serde_json::json!({})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("reserved_key_name")),
        "the names of the server's own keys are not for transit: {body}"
    );
    let id = user.split('_').nth(1).unwrap().to_owned();
    let revoke = TestServer::builder(BIN).data_dir(server.data_dir()).run(&["apikey", "revoke", &id]);
    assert_eq!(revoke.code, Some(0), "{revoke:?}");
    // Revoked by another process (the CLI), the key is refused once the
    // server's next poll of the change generation sees it: within
    // `database.cache_refresh_ms` (100 ms; a loaded test machine gets 2 s).
    let revoked_at = std::time::Instant::now();
    loop {
        let (status, _) = transit(&client, &server, &user, "encrypt/k", serde_json::json!({"plaintext": "YQ=="})).await;
        if status == 401 {
            break;
        }
        assert!(revoked_at.elapsed() < std::time::Duration::from_secs(2), "a revoked key is still accepted after 2 s");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(!server.logs().contains(&user[20..]), "API key secrets must never be logged");
}

#[tokio::test]
async fn key_backup_restores_into_a_fresh_server_that_then_decrypts() {
    let a = server().start();
    let token_a = issue_api_key(&a, &["transit:use", "transit:manage"]);
    let client = reqwest::Client::new();
    transit(&client, &a, &token_a, "keys/recordings", serde_json::json!({})).await;
    transit(&client, &a, &token_a, "keys/recordings/rotate", serde_json::json!({})).await;
    let (_, encrypted) = transit(
        &client,
        &a,
        &token_a,
        "encrypt/recordings",
        serde_json::json!({"plaintext": "cHJpdmlsZWdlZA==", "context": "Y2FzZS0x"}),
    )
    .await;
    let ciphertext = encrypted["data"]["ciphertext"].as_str().unwrap().to_owned();

    let files = tempfile::tempdir().unwrap();
    let backup = files.path().join("keys.backup");
    let backup_arg = backup.display().to_string();
    let passphrase = "backup passphrase kept offline";
    let made = server().data_dir(a.data_dir()).env("STRONGROOM_BACKUP_PASSPHRASE", passphrase).run(&[
        "key",
        "backup",
        "--out",
        &backup_arg,
    ]);
    assert_eq!(made.code, Some(0), "{made:?}");
    assert_eq!(std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(&backup).unwrap();
    assert!(!text.contains("recordings"), "key names and material are inside the sealed payload");
    let again = server().data_dir(a.data_dir()).env("STRONGROOM_BACKUP_PASSPHRASE", passphrase).run(&[
        "key",
        "backup",
        "--out",
        &backup_arg,
    ]);
    assert_eq!(again.code, Some(1), "an existing backup is never overwritten");

    // A fresh server with its own root key.
    let b = server().start();
    let wrong = server()
        .data_dir(b.data_dir())
        .env("STRONGROOM_BACKUP_PASSPHRASE", "not the passphrase at all")
        .run(&["key", "restore", "--in", &backup_arg]);
    assert_eq!(wrong.code, Some(1));
    assert!(wrong.stderr.contains("wrong passphrase"), "{}", wrong.stderr);
    let restored = server().data_dir(b.data_dir()).env("STRONGROOM_BACKUP_PASSPHRASE", passphrase).run(&[
        "key",
        "restore",
        "--in",
        &backup_arg,
    ]);
    assert_eq!(restored.code, Some(0), "{restored:?}");
    assert!(restored.stdout.contains("recordings"), "{}", restored.stdout);
    let twice = server().data_dir(b.data_dir()).env("STRONGROOM_BACKUP_PASSPHRASE", passphrase).run(&[
        "key",
        "restore",
        "--in",
        &backup_arg,
    ]);
    assert_eq!(twice.code, Some(1), "restore needs an empty keyring");

    let token_b = issue_api_key(&b, &["transit:use"]);
    let (status, decrypted) = transit(
        &client,
        &b,
        &token_b,
        "decrypt/recordings",
        serde_json::json!({"ciphertext": ciphertext, "context": "Y2FzZS0x"}),
    )
    .await;
    assert_eq!((status, decrypted["data"]["plaintext"].as_str()), (200, Some("cHJpdmlsZWdlZA==")), "{decrypted}");
}

#[tokio::test]
async fn transit_root_key_on_openbao_survives_restart_and_a_wrong_key_is_refused() {
    use strongroom_testkit::{BAO_ROOT_TOKEN, OpenBao};
    let Some(bao) = OpenBao::start().await else { return };
    bao.create_transit_key("strongroom-root").await;
    let with_transit = |builder: strongroom_testkit::ServerBuilder, key: &str| {
        builder
            .env("STRONGROOM_ROOT_KEY_PROVIDER", "transit")
            .env("STRONGROOM_ROOT_KEY_TRANSIT_ADDRESS", bao.address())
            .env("STRONGROOM_ROOT_KEY_TRANSIT_TOKEN", BAO_ROOT_TOKEN)
            .env("STRONGROOM_ROOT_KEY_TRANSIT_KEY", key)
    };
    let mut first = with_transit(server(), "strongroom-root").start();
    let token = issue_api_key_with(&first, |b| with_transit(b, "strongroom-root"), &["transit:use", "transit:manage"]);
    let client = reqwest::Client::new();
    transit(&client, &first, &token, "keys/k", serde_json::json!({})).await;
    let (_, encrypted) = transit(&client, &first, &token, "encrypt/k", serde_json::json!({"plaintext": "eA=="})).await;
    let ciphertext = encrypted["data"]["ciphertext"].as_str().unwrap().to_owned();
    let (_, _, ready) = get_json(&first.url("/readyz")).await;
    assert!(ready["checks"][1]["detail"].as_str().unwrap().contains("transit:"), "{ready}");

    let kept = tempfile::tempdir().unwrap();
    let data_dir = kept.path().join("data");
    let original = first.data_dir().to_owned();
    assert!(first.terminate().success());
    std::fs::rename(&original, &data_dir).unwrap();

    let again = with_transit(server().data_dir(&data_dir), "strongroom-root").start();
    let (status, decrypted) =
        transit(&client, &again, &token, "decrypt/k", serde_json::json!({"ciphertext": ciphertext})).await;
    assert_eq!((status, decrypted["data"]["plaintext"].as_str()), (200, Some("eA==")), "{decrypted}");
    drop(again);

    bao.create_transit_key("another-key").await;
    let refused = with_transit(server().data_dir(&data_dir), "another-key").try_start().expect_err("must refuse");
    assert_eq!(refused.code, Some(1));
    assert!(refused.stderr.contains("transit root key: decrypt"), "{}", refused.stderr);
}

fn issue_api_key_with(
    server: &TestServer,
    configure: impl Fn(strongroom_testkit::ServerBuilder) -> strongroom_testkit::ServerBuilder,
    scopes: &[&str],
) -> String {
    let mut args = vec!["apikey", "create", "--name", "t"];
    for scope in scopes {
        args.extend_from_slice(&["--scope", scope]);
    }
    let output = configure(TestServer::builder(BIN).data_dir(server.data_dir())).run(&args);
    assert_eq!(output.code, Some(0), "{output:?}");
    output.stdout.trim().to_owned()
}

#[tokio::test]
async fn aws_kms_root_key_on_moto_survives_restart_and_another_kms_key_is_refused() {
    use strongroom_testkit::Moto;
    let Some(kms) = Moto::start().await else { return };
    let key_id = kms.create_key().await;
    let with_kms = |builder: strongroom_testkit::ServerBuilder, key: &str| {
        builder
            .env("STRONGROOM_ROOT_KEY_PROVIDER", "aws-kms")
            .env("STRONGROOM_ROOT_KEY_AWS_KMS_KEY_ID", key)
            .env("STRONGROOM_ROOT_KEY_AWS_KMS_REGION", "us-east-1")
            .env("STRONGROOM_ROOT_KEY_AWS_KMS_ENDPOINT", kms.endpoint())
            .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
            .env("AWS_SECRET_ACCESS_KEY", "a-test-secret-that-must-never-be-logged")
    };
    let mut first = with_kms(server(), &key_id).start();
    let token = issue_api_key_with(&first, |b| with_kms(b, &key_id), &["transit:use", "transit:manage"]);
    let client = reqwest::Client::new();
    transit(&client, &first, &token, "keys/k", serde_json::json!({})).await;
    let (_, encrypted) = transit(&client, &first, &token, "encrypt/k", serde_json::json!({"plaintext": "eQ=="})).await;
    let ciphertext = encrypted["data"]["ciphertext"].as_str().unwrap().to_owned();
    let (_, _, ready) = get_json(&first.url("/readyz")).await;
    assert!(ready["checks"][1]["detail"].as_str().unwrap().contains("aws-kms:"), "{ready}");

    let kept = tempfile::tempdir().unwrap();
    let data_dir = kept.path().join("data");
    let original = first.data_dir().to_owned();
    assert!(first.terminate().success());
    assert!(!first.logs().contains("a-test-secret-that-must-never-be-logged"));
    std::fs::rename(&original, &data_dir).unwrap();

    let again = with_kms(server().data_dir(&data_dir), &key_id).start();
    let (status, decrypted) =
        transit(&client, &again, &token, "decrypt/k", serde_json::json!({"ciphertext": ciphertext})).await;
    assert_eq!((status, decrypted["data"]["plaintext"].as_str()), (200, Some("eQ==")), "{decrypted}");
    drop(again);

    let other_key = kms.create_key().await;
    let refused = with_kms(server().data_dir(&data_dir), &other_key).try_start().expect_err("must refuse");
    assert_eq!(refused.code, Some(1));
    assert!(refused.stderr.contains("aws-kms root key: Decrypt"), "{}", refused.stderr);
}

/// An installation from before KMS encryption contexts holds its keyring key
/// wrapped without one. It must still start, and from then on hold a copy
/// bound to its installation id that does not open without that context.
#[tokio::test]
async fn aws_kms_keyring_key_wrapped_without_a_context_is_bound_to_the_installation_on_next_start() {
    use sqlx::Connection;
    use strongroom_testkit::Moto;
    let Some(kms) = Moto::start().await else { return };
    let key_id = kms.create_key().await;
    let with_kms = |builder: strongroom_testkit::ServerBuilder| {
        builder
            .env("STRONGROOM_ROOT_KEY_PROVIDER", "aws-kms")
            .env("STRONGROOM_ROOT_KEY_AWS_KMS_KEY_ID", &key_id)
            .env("STRONGROOM_ROOT_KEY_AWS_KMS_REGION", "us-east-1")
            .env("STRONGROOM_ROOT_KEY_AWS_KMS_ENDPOINT", kms.endpoint())
            .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
            .env("AWS_SECRET_ACCESS_KEY", "a-test-secret")
    };
    let mut first = with_kms(server()).start();
    let token = issue_api_key_with(&first, with_kms, &["transit:use", "transit:manage"]);
    let client = reqwest::Client::new();
    transit(&client, &first, &token, "keys/k", serde_json::json!({})).await;
    let (_, encrypted) = transit(&client, &first, &token, "encrypt/k", serde_json::json!({"plaintext": "eQ=="})).await;
    let ciphertext = encrypted["data"]["ciphertext"].as_str().unwrap().to_owned();
    let kept = tempfile::tempdir().unwrap();
    let data_dir = kept.path().join("data");
    let original = first.data_dir().to_owned();
    assert!(first.terminate().success());
    std::fs::rename(&original, &data_dir).unwrap();

    // Turn the database into one the previous release wrote: no context.
    let url = format!("sqlite://{}", data_dir.join("strongroom.db").display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let setting =
        |name: &'static str| sqlx::query_scalar::<_, Vec<u8>>("SELECT value FROM settings WHERE name = ?").bind(name);
    let installation = String::from_utf8(setting("installation_id").fetch_one(&mut db).await.unwrap()).unwrap();
    let bound = setting("root_key.wrapped_keyring_key.with_context").fetch_one(&mut db).await.unwrap();
    let context = serde_json::json!({"strongroom:installation": installation, "strongroom:purpose": "root-key"});
    let blob = |bytes: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes);
    let (status, opened) =
        kms.kms("Decrypt", serde_json::json!({"CiphertextBlob": blob(&bound), "EncryptionContext": context})).await;
    assert_eq!(status, 200, "the stored key is bound to {context}: {opened}");
    let (status, _) = kms.kms("Decrypt", serde_json::json!({"CiphertextBlob": blob(&bound)})).await;
    assert_eq!(status, 400, "the stored key does not open without its context");
    let (_, legacy) = kms.kms("Encrypt", serde_json::json!({"KeyId": key_id, "Plaintext": opened["Plaintext"]})).await;
    let legacy =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, legacy["CiphertextBlob"].as_str().unwrap())
            .unwrap();
    sqlx::query("DELETE FROM settings WHERE name = 'root_key.wrapped_keyring_key.with_context'")
        .execute(&mut db)
        .await
        .unwrap();
    sqlx::query("INSERT INTO settings (name, value) VALUES ('root_key.wrapped_keyring_key', ?)")
        .bind(&legacy)
        .execute(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();

    let mut again = with_kms(server().data_dir(&data_dir)).start();
    let (status, decrypted) =
        transit(&client, &again, &token, "decrypt/k", serde_json::json!({"ciphertext": ciphertext})).await;
    assert_eq!((status, decrypted["data"]["plaintext"].as_str()), (200, Some("eQ==")), "{decrypted}");
    assert!(again.terminate().success());
    assert!(again.logs().contains("encryption context"), "{}", again.logs());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let rebound = setting("root_key.wrapped_keyring_key.with_context").fetch_one(&mut db).await.unwrap();
    let (status, _) =
        kms.kms("Decrypt", serde_json::json!({"CiphertextBlob": blob(&rebound), "EncryptionContext": context})).await;
    assert_eq!(status, 200, "the key is bound to this installation again");
}

#[tokio::test]
async fn pkcs11_root_key_on_softhsm_survives_restart_and_another_hsm_key_is_refused() {
    use strongroom_testkit::SoftHsm;
    let Some(hsm) = SoftHsm::start() else { return };
    hsm.create_aes_key("strongroom-root");
    let with_hsm = |builder: strongroom_testkit::ServerBuilder, key: &str| {
        builder
            .env("SOFTHSM2_CONF", hsm.conf().display().to_string())
            .env("STRONGROOM_ROOT_KEY_PROVIDER", "pkcs11")
            .env("STRONGROOM_ROOT_KEY_PKCS11_MODULE", hsm.module().display().to_string())
            .env("STRONGROOM_ROOT_KEY_PKCS11_TOKEN_LABEL", SoftHsm::TOKEN)
            .env("STRONGROOM_ROOT_KEY_PKCS11_KEY_LABEL", key)
            .env("STRONGROOM_ROOT_KEY_PKCS11_PIN", SoftHsm::PIN)
    };
    let mut first = with_hsm(server(), "strongroom-root").start();
    let token = issue_api_key_with(&first, |b| with_hsm(b, "strongroom-root"), &["transit:use", "transit:manage"]);
    let client = reqwest::Client::new();
    transit(&client, &first, &token, "keys/k", serde_json::json!({})).await;
    let (_, encrypted) = transit(&client, &first, &token, "encrypt/k", serde_json::json!({"plaintext": "eg=="})).await;
    let ciphertext = encrypted["data"]["ciphertext"].as_str().unwrap().to_owned();
    let (_, _, ready) = get_json(&first.url("/readyz")).await;
    assert!(ready["checks"][1]["detail"].as_str().unwrap().contains("pkcs11:"), "{ready}");

    let kept = tempfile::tempdir().unwrap();
    let data_dir = kept.path().join("data");
    let original = first.data_dir().to_owned();
    assert!(first.terminate().success());
    assert!(!first.logs().contains(SoftHsm::PIN), "the PIN must never be logged");
    std::fs::rename(&original, &data_dir).unwrap();

    let again = with_hsm(server().data_dir(&data_dir), "strongroom-root").start();
    let (status, decrypted) =
        transit(&client, &again, &token, "decrypt/k", serde_json::json!({"ciphertext": ciphertext})).await;
    assert_eq!((status, decrypted["data"]["plaintext"].as_str()), (200, Some("eg==")), "{decrypted}");
    drop(again);

    hsm.create_aes_key("another-key");
    let refused = with_hsm(server().data_dir(&data_dir), "another-key").try_start().expect_err("must refuse");
    assert_eq!(refused.code, Some(1));
    assert!(refused.stderr.contains("initialised with another HSM key"), "{}", refused.stderr);
}

#[tokio::test]
async fn keys_api_lists_rotates_and_destroys_with_justification() {
    let server = server().start();
    let admin = issue_api_key(&server, &["keys:manage", "transit:use", "transit:manage", "audit:read"]);
    let user = issue_api_key(&server, &["transit:use"]);
    let client = reqwest::Client::new();
    transit(&client, &server, &admin, "keys/case-files", serde_json::json!({})).await;
    let (_, encrypted) =
        transit(&client, &server, &admin, "encrypt/case-files", serde_json::json!({"plaintext": "YXVkaW8="})).await;
    let ciphertext = encrypted["data"]["ciphertext"].as_str().unwrap().to_owned();

    let get = |token: &str, path: &str| client.get(server.url(path)).header("X-API-Key", token).send();
    let response = get(&user, "/v1/keys").await.unwrap();
    assert_eq!(response.status(), 403, "keys:manage is required");
    let listed: Value = get(&admin, "/v1/keys").await.unwrap().json().await.unwrap();
    let names: Vec<_> = listed["keys"].as_array().unwrap().iter().map(|k| k["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"case-files") && names.contains(&"system.api-key-hash"), "{listed}");

    let post = |path: &str, body: Value| client.post(server.url(path)).header("X-API-Key", &admin).json(&body).send();
    let rotated: Value = post("/v1/keys/case-files/rotate", serde_json::json!({})).await.unwrap().json().await.unwrap();
    assert_eq!(rotated["latest_version"], 2);
    assert_eq!(rotated["versions"].as_array().unwrap().len(), 2);

    let short =
        post("/v1/keys/case-files/state", serde_json::json!({"state": "destroyed", "justification": "because"}))
            .await
            .unwrap();
    assert_eq!(short.status(), 400);
    let destroyed = post(
        "/v1/keys/case-files/state",
        serde_json::json!({"state": "destroyed", "justification": "matter closed, retention period over"}),
    )
    .await
    .unwrap();
    assert_eq!(destroyed.status(), 200);
    let destroyed: Value = destroyed.json().await.unwrap();
    assert_eq!(destroyed["key"]["state"], "destroyed");
    assert!(destroyed["warning"].as_str().unwrap().contains("permanently unreadable"));
    let (status, refused) =
        transit(&client, &server, &admin, "decrypt/case-files", serde_json::json!({"ciphertext": ciphertext})).await;
    assert_eq!((status, refused["code"].as_str()), (409, Some("key_unusable")), "{refused}");
    let events: Value =
        get(&admin, "/v1/audit/events?action=key.state&target=case-files").await.unwrap().json().await.unwrap();
    let event = &events["events"][0]["event"];
    assert_eq!(event["justification"], "matter closed, retention period over", "{events}");
    assert_eq!((event["details"]["state"].as_str(), event["result"].as_str()), (Some("destroyed"), Some("success")));
}
#[path = "binary/applications.rs"]
mod applications;
#[path = "binary/audit.rs"]
mod audit;
#[path = "binary/authz.rs"]
mod authz;
#[path = "binary/backup.rs"]
mod backup;
#[path = "binary/blobs.rs"]
mod blobs;
#[path = "binary/console.rs"]
mod console;
#[path = "binary/deploy.rs"]
mod deploy;
#[path = "binary/faults.rs"]
mod faults;
#[path = "binary/housekeeping.rs"]
mod housekeeping;
#[path = "binary/identity.rs"]
mod identity;
#[path = "binary/instances.rs"]
mod instances;
#[path = "binary/keyjobs.rs"]
mod keyjobs;
#[path = "binary/metrics.rs"]
mod metrics;
#[path = "binary/personal.rs"]
mod personal;
#[path = "binary/redaction.rs"]
mod redaction;
#[path = "binary/tls.rs"]
mod tls;
#[path = "binary/vault.rs"]
mod vault;

#[tokio::test]
async fn metrics_are_served_behind_their_token_or_on_a_listener_of_their_own() {
    let free_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let token = "a metrics token of more than twenty characters";
    let server = server()
        .env("STRONGROOM_METRICS_TOKEN", token)
        .env("STRONGROOM_METRICS_LISTEN", format!("127.0.0.1:{free_port}"))
        .start();
    let key = issue_api_key(&server, &["transit:use", "transit:manage"]);
    let client = reqwest::Client::new();
    transit(&client, &server, &key, "keys/k", serde_json::json!({})).await;
    let (status, _) = transit(&client, &server, &key, "encrypt/k", serde_json::json!({"plaintext": "aGk="})).await;
    assert_eq!(status, 200);

    let anonymous = client.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401, "the main listener's /metrics takes the token");
    let wrong = client.get(server.url("/metrics")).bearer_auth("not the token at all, but long").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let scraped = client.get(server.url("/metrics")).bearer_auth(token).send().await.unwrap();
    assert_eq!(scraped.status(), 200);
    assert!(scraped.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = scraped.text().await.unwrap();
    for expected in [
        r#"strongroom_http_requests_total{method="POST",route="/v1/transit/encrypt/{name}",status="200"} 1"#,
        "strongroom_http_request_duration_seconds_bucket",
        r#"strongroom_audit_events_total{type="transit.encrypt",outcome="success"} 1"#,
        "strongroom_audit_append_seconds",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    assert!(!text.contains("aGk="), "no request data in metrics");

    let own = client.get(format!("http://127.0.0.1:{free_port}/metrics")).send().await.unwrap();
    assert_eq!(own.status(), 200, "open on its own listener");
    assert!(own.text().await.unwrap().contains("strongroom_http_requests_total"));

    let off = TestServer::builder(BIN).start();
    let answer = client.get(off.url("/metrics")).send().await.unwrap();
    assert_eq!(answer.status(), 404, "off unless configured");
}

#[tokio::test]
async fn a_secret_setting_is_read_from_the_file_its_file_variable_names() {
    let secrets = tempfile::tempdir().unwrap();
    let database = secrets.path().join("from-a-secret-file.db");
    let url_file = secrets.path().join("database-url");
    std::fs::write(&url_file, format!("sqlite://{}\n", database.display())).unwrap();
    let server = TestServer::builder(BIN).env("STRONGROOM_DATABASE_URL_FILE", url_file.to_str().unwrap()).start();
    let (status, _, _) = get_json(&server.url("/readyz")).await;
    assert_eq!(status, 200);
    assert!(database.exists(), "the server uses the database its URL file names");
}
