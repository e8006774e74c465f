//! The audit log through the real binary: signed checkpoints and proofs that
//! verify, tampering caught by `GET /v1/audit/stats` and by the offline
//! verifier, fail-closed writes, one tree from two servers, sinks and alerts.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use strongroom_crypto::merkle::{Hash, leaf_hash, verify_consistency, verify_inclusion};
use strongroom_crypto::note::{Checkpoint, NoteVerifier, open_note};
use strongroom_testkit::{TestDatabase, TestServer};

use super::{BIN, issue_api_key, issue_api_key_with, server, transit};

const ALL_SCOPES: [&str; 5] = ["audit:read", "transit:use", "transit:manage", "keys:manage", "audit:write"];

pub(crate) async fn get(server: &TestServer, token: &str, path: &str) -> (u16, Value) {
    let response = reqwest::Client::new().get(server.url(path)).header("X-API-Key", token).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post(server: &TestServer, token: &str, path: &str, body: &Value) -> (u16, Value) {
    let response =
        reqwest::Client::new().post(server.url(path)).header("X-API-Key", token).json(body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn text(server: &TestServer, path: &str) -> (u16, String) {
    let response = reqwest::get(server.url(path)).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn hash(text: &Value) -> Hash {
    STANDARD.decode(text.as_str().unwrap()).unwrap().try_into().unwrap()
}

/// Makes `count` audited transit calls on key `k` (creating it first).
async fn make_events(server: &TestServer, token: &str, count: usize) {
    let client = reqwest::Client::new();
    transit(&client, server, token, "keys/k", json!({})).await;
    for _ in 0..count {
        let (status, body) = transit(&client, server, token, "encrypt/k", json!({"plaintext": "aGk="})).await;
        assert_eq!(status, 200, "{body}");
    }
}

/// The verified checkpoint the server publishes now.
async fn checkpoint(server: &TestServer) -> (Checkpoint, NoteVerifier) {
    let (status, key) = text(server, "/v1/audit/public-key").await;
    assert_eq!(status, 200, "{key}");
    let verifier = NoteVerifier::parse(key.lines().next().unwrap()).unwrap();
    let (status, note) = text(server, "/v1/audit/checkpoint").await;
    assert_eq!(status, 200, "{note}");
    let body = open_note(&note, std::slice::from_ref(&verifier)).expect("the checkpoint verifies with the public key");
    (Checkpoint::parse(body).unwrap(), verifier)
}

fn sqlite_url(server: &TestServer) -> String {
    format!("sqlite://{}", server.data_dir().join("strongroom.db").display())
}

/// Runs SQL on the server's database behind its back, as an attacker or a
/// failing disk would.
async fn sql(url: &str, statement: &str) {
    use sqlx::Connection;
    let statement = sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned()));
    if url.starts_with("sqlite:") {
        statement.execute(&mut sqlx::SqliteConnection::connect(url).await.unwrap()).await.unwrap();
    } else {
        statement.execute(&mut sqlx::PgConnection::connect(url).await.unwrap()).await.unwrap();
    }
}

fn cli(server: &TestServer, args: &[&str]) -> strongroom_testkit::CliOutput {
    TestServer::builder(BIN).data_dir(server.data_dir()).run(args)
}

#[tokio::test]
async fn checkpoints_verify_and_every_inclusion_and_consistency_proof_checks_out() {
    let server = server().start();
    let token = issue_api_key(&server, &ALL_SCOPES);
    make_events(&server, &token, 3).await;
    let (first, verifier) = checkpoint(&server).await;
    assert!(first.origin.starts_with("strongroom/"), "{}", first.origin);
    assert_eq!(verifier.name(), first.origin);
    make_events(&server, &token, 4).await;
    let (second, _) = checkpoint(&server).await;
    assert!(second.size > first.size);

    for index in 0..second.size {
        let (status, event) = get(&server, &token, &format!("/v1/audit/events/{index}")).await;
        assert_eq!(status, 200, "{event}");
        let entry = STANDARD.decode(event["entry"].as_str().unwrap()).unwrap();
        let leaf = leaf_hash(&entry);
        assert_eq!(hash(&event["leaf_hash"]), leaf);
        let (status, proof) =
            get(&server, &token, &format!("/v1/audit/proof/inclusion?index={index}&tree_size={}", second.size)).await;
        assert_eq!(status, 200, "{proof}");
        let path: Vec<Hash> = proof["inclusion_path"].as_array().unwrap().iter().map(hash).collect();
        assert!(verify_inclusion(&leaf, index, second.size, &path, &second.root), "leaf {index}");
    }
    let (_, proof) =
        get(&server, &token, &format!("/v1/audit/proof/consistency?from={}&to={}", first.size, second.size)).await;
    let path: Vec<Hash> = proof["consistency_path"].as_array().unwrap().iter().map(hash).collect();
    assert!(verify_consistency(first.size, second.size, &first.root, &second.root, &path));

    // A leaf the tree does not have is not found, in a proof as in the event itself.
    let (status, problem) = get(&server, &token, "/v1/audit/proof/inclusion?index=999999").await;
    assert_eq!((status, problem["code"].as_str()), (404, Some("not_found")), "{problem}");
    let (status, problem) = get(&server, &token, "/v1/audit/events/999999").await;
    assert_eq!((status, problem["code"].as_str()), (404, Some("not_found")), "{problem}");
    let reader = issue_api_key(&server, &["transit:use"]);
    let (status, _) = get(&server, &reader, "/v1/audit/events").await;
    assert_eq!(status, 403, "audit:read is required");
    let (_, denied) = get(&server, &token, "/v1/audit/events?action=permission.denied").await;
    assert_eq!(denied["events"][0]["event"]["details"]["action"], "audit.read", "{denied}");
    assert_eq!(denied["events"][0]["event"]["target"]["kind"], "service", "{denied}");
}

#[tokio::test]
async fn an_edited_event_is_reported_with_its_index_by_stats_and_by_offline_verify() {
    let server = server().start();
    let token = issue_api_key(&server, &ALL_SCOPES);
    make_events(&server, &token, 5).await;
    let (before, verifier) = checkpoint(&server).await;
    let (_, stats) = get(&server, &token, "/v1/audit/stats").await;
    assert_eq!(stats["integrity"]["verified"], true, "{stats}");

    let target = before.size - 2;
    sql(
        &sqlite_url(&server),
        &format!(
            "UPDATE audit_entries SET entry = CAST(replace(CAST(entry AS TEXT), 'success', 'failure') AS BLOB) \
             WHERE leaf_index = {target}"
        ),
    )
    .await;
    let (_, stats) = get(&server, &token, "/v1/audit/stats").await;
    assert_eq!(stats["integrity"]["verified"], false, "{stats}");
    assert_eq!(stats["integrity"]["problems"][0]["index"], target, "{stats}");

    let export = server.data_dir().with_file_name("export.jsonl");
    let exported = cli(&server, &["audit", "export", "--out", export.to_str().unwrap()]);
    assert_eq!(exported.code, Some(0), "{exported:?}");
    let key = verifier.encode();
    let verified = cli(&server, &["audit", "verify", export.to_str().unwrap(), "--key", &key]);
    assert_eq!(verified.code, Some(1), "{verified:?}");
    assert!(verified.stderr.contains(&format!("at index {target}: entry {target} does not hash")), "{verified:?}");
}

#[tokio::test]
async fn deleted_and_truncated_events_are_reported_by_stats() {
    let server = server().start();
    let token = issue_api_key(&server, &ALL_SCOPES);
    make_events(&server, &token, 6).await;
    let (signed, _) = checkpoint(&server).await;
    let url = sqlite_url(&server);
    sql(&url, "DELETE FROM audit_entries WHERE leaf_index = 3").await;
    let (_, stats) = get(&server, &token, "/v1/audit/stats").await;
    assert_eq!(stats["integrity"]["problems"][0]["index"], 3, "{stats}");
    assert!(stats["integrity"]["problems"][0]["message"].as_str().unwrap().contains("missing"), "{stats}");

    let cut = signed.size - 2;
    sql(&url, &format!("DELETE FROM audit_entries WHERE leaf_index >= {cut}")).await;
    let (_, stats) = get(&server, &token, "/v1/audit/stats").await;
    let problems = stats["integrity"]["problems"].to_string();
    assert!(problems.contains(&format!("only {cut} are present")), "{stats}");
    assert!(problems.contains("truncated"), "the signed checkpoint covers the cut entries: {stats}");
}

/// What [`server_on_a_restored_older_copy`] makes.
struct RestoredOlderCopy {
    /// The server that made the data dir, stopped; it owns the directory.
    _owner: TestServer,
    /// The server running on the restored copy.
    server: TestServer,
    /// An API key made before the copy.
    token: String,
    data_dir: PathBuf,
    /// The last anchored checkpoint, which the copy is older than, and its verifier.
    anchored: Checkpoint,
    verifier: NoteVerifier,
}

/// A server whose database was restored from a copy older than the last
/// anchored checkpoint.
async fn server_on_a_restored_older_copy(copy_name: &str) -> RestoredOlderCopy {
    let mut first = server().start();
    let data_dir = first.data_dir().to_owned();
    let token = issue_api_key(&first, &ALL_SCOPES);
    make_events(&first, &token, 2).await;
    first.terminate();
    let database = data_dir.join("strongroom.db");
    let old_copy = data_dir.with_file_name(copy_name);
    std::fs::copy(&database, &old_copy).unwrap();

    let mut second = server().data_dir(&data_dir).start();
    make_events(&second, &token, 3).await;
    let (anchored, verifier) = checkpoint(&second).await;
    second.terminate();
    // The whole database goes back in time, tree head and checkpoints included:
    // only the anchor file outside it remembers.
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(data_dir.join(format!("strongroom.db{suffix}")));
    }
    std::fs::copy(&old_copy, &database).unwrap();
    let server = server().data_dir(&data_dir).start();
    RestoredOlderCopy { _owner: first, server, token, data_dir, anchored, verifier }
}

#[tokio::test]
async fn a_database_restored_from_an_old_copy_is_reported_as_a_rollback() {
    let RestoredOlderCopy { _owner, server: third, token, data_dir, anchored, verifier } =
        server_on_a_restored_older_copy("old-copy.db").await;
    let (status, ready) = text(&third, "/readyz").await;
    assert_eq!(status, 503, "{ready}");
    assert!(ready.contains("rolled back"), "{ready}");
    let (status, problem) = text(&third, "/v1/audit/checkpoint").await;
    assert_eq!(status, 503, "no checkpoint is signed over a rolled-back tree: {problem}");
    assert!(problem.contains("audit_damaged"), "{problem}");
    let (_, stats) = get(&third, &token, "/v1/audit/stats").await;
    assert!(stats["integrity"]["problems"].to_string().contains("truncated"), "{stats}");

    let export = data_dir.with_file_name("export.jsonl");
    let exported = cli(&third, &["audit", "export", "--out", export.to_str().unwrap()]);
    assert_eq!(exported.code, Some(0), "a damaged log is still exported: {exported:?}");
    let anchor = data_dir.join("audit-checkpoints.jsonl");
    let verified = cli(
        &third,
        &[
            "audit",
            "verify",
            export.to_str().unwrap(),
            "--key",
            &verifier.encode(),
            "--anchor",
            anchor.to_str().unwrap(),
        ],
    );
    assert_eq!(verified.code, Some(1), "{verified:?}");
    assert!(verified.stderr.contains(&format!("covers {} entries", anchored.size)), "{verified:?}");
}

#[tokio::test]
async fn a_rolled_back_database_refuses_audited_actions_until_an_operator_accepts_it() {
    let RestoredOlderCopy { _owner, server: third, token, .. } = server_on_a_restored_older_copy("old-copy-2.db").await;
    let client = reqwest::Client::new();
    // Appending would fork the log: every audited action is refused, with its own code.
    let (status, refused) = transit(&client, &third, &token, "encrypt/k", json!({"plaintext": "aGk="})).await;
    assert_eq!((status, refused["code"].as_str()), (503, Some("audit_rolled_back")), "{refused}");
    assert!(refused["detail"].as_str().unwrap().contains("accept-rollback"), "{refused}");
    let (_, head_before) = text(&third, "/readyz").await;
    assert!(head_before.contains("rolled back"), "{head_before}");

    let short = cli(&third, &["audit", "accept-rollback", "--reason", "oops"]);
    assert_eq!(short.code, Some(1), "a reason is required: {short:?}");
    let accepted = cli(
        &third,
        &["audit", "accept-rollback", "--reason", "restored the 02:00 backup after the disk failed; ticket 4711"],
    );
    assert_eq!(accepted.code, Some(0), "{accepted:?}");
    // The running server notices at its next checkpoint (here: asked for one).
    let (status, _) = text(&third, "/v1/audit/checkpoint").await;
    assert_eq!(status, 200);
    let (status, encrypted) = transit(&client, &third, &token, "encrypt/k", json!({"plaintext": "aGk="})).await;
    assert_eq!(status, 200, "audited actions resume: {encrypted}");
    let (status, ready) = text(&third, "/readyz").await;
    assert_eq!(status, 200, "{ready}");
    let (_, accepted_events) = get(&third, &token, "/v1/audit/events?action=audit.rollback_accepted").await;
    let events = accepted_events["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{accepted_events}");
    assert!(events[0].to_string().contains("ticket 4711"), "{accepted_events}");
    let again = cli(&third, &["audit", "accept-rollback", "--reason", "nothing is left to accept here at all"]);
    assert_eq!(again.code, Some(1), "{again:?}");
}

#[tokio::test]
async fn a_missing_tree_node_makes_readyz_fail_and_no_checkpoint_is_signed_over_it() {
    let server = server().env("STRONGROOM_AUDIT_CHECKPOINT_INTERVAL_SECONDS", "3600").start();
    let token = issue_api_key(&server, &ALL_SCOPES);
    make_events(&server, &token, 6).await;
    let (status, _) = text(&server, "/readyz").await;
    assert_eq!(status, 200);
    // A node off the head's path: only a full verification reads it.
    sql(&sqlite_url(&server), "DELETE FROM audit_nodes WHERE level = 1 AND last_leaf = 1").await;
    let (_, stats) = get(&server, &token, "/v1/audit/stats").await;
    assert_eq!(stats["integrity"]["verified"], false, "{stats}");
    assert!(stats.to_string().contains("node at level 1 over entries 0 to 1 is missing"), "{stats}");
    let (status, ready) = text(&server, "/readyz").await;
    assert_eq!(status, 503, "{ready}");
    assert!(ready.contains("audit"), "{ready}");
    let (status, problem) = text(&server, "/v1/audit/checkpoint").await;
    assert_eq!(status, 503, "{problem}");
    assert!(problem.contains("audit_damaged"), "{problem}");

    // Nodes on the head's path are checked by every /readyz, with no full verification.
    let fresh = server_with_events(&ALL_SCOPES).await;
    sql(&sqlite_url(&fresh.0), "DELETE FROM audit_nodes WHERE level >= 1").await;
    let (status, ready) = text(&fresh.0, "/readyz").await;
    assert_eq!(status, 503, "{ready}");
}

/// A server with a few events and its API key.
async fn server_with_events(scopes: &[&str]) -> (TestServer, String) {
    let server = server().start();
    let token = issue_api_key(&server, scopes);
    make_events(&server, &token, 6).await;
    (server, token)
}

#[tokio::test]
async fn edited_search_columns_fail_verification_and_the_export_of_damage_is_not_signed() {
    let server = server().start();
    let token = issue_api_key(&server, &ALL_SCOPES);
    make_events(&server, &token, 3).await;
    // An event with a user agent, which the log keeps as an HMAC that `hmac_of` finds.
    let with_agent = reqwest::Client::new()
        .post(server.url("/v1/keys/k/rotate"))
        .header("X-API-Key", &token)
        .header("User-Agent", "audit-test-agent/1")
        .send()
        .await
        .unwrap();
    assert_eq!(with_agent.status(), 200);
    let (_, found) = get(&server, &token, "/v1/audit/events?hmac_of=audit-test-agent/1").await;
    assert_eq!(found["events"].as_array().unwrap().len(), 1, "{found}");
    let (before, _) = checkpoint(&server).await;
    // Hide the encryptions from `?action=` and `?actor=` searches, leaving the entries intact.
    sql(
        &sqlite_url(&server),
        "UPDATE audit_entries SET event_type = 'transit.verify', actor_id = 'nobody' \
         WHERE event_type = 'transit.encrypt'",
    )
    .await;
    let (_, found) = get(&server, &token, "/v1/audit/events?action=transit.encrypt").await;
    assert_eq!(found["events"].as_array().unwrap().len(), 0, "the edit hides them from searches: {found}");
    // And the rotation from `hmac_of`, and a critical app event from `?min_severity=`.
    sql(&sqlite_url(&server), "DELETE FROM audit_hmacs").await;
    let alarm = json!({"type": "app.breach_suspected", "severity": "critical"});
    let (status, recorded) = post(&server, &token, "/v1/audit/events", &alarm).await;
    assert_eq!(status, 201, "{recorded}");
    sql(&sqlite_url(&server), "UPDATE audit_entries SET severity = 0 WHERE event_type = 'app.breach_suspected'").await;
    let (_, found) = get(&server, &token, "/v1/audit/events?min_severity=critical&source=app").await;
    assert_eq!(found["events"].as_array().unwrap().len(), 0, "the edit hides it from searches: {found}");
    let (_, stats) = get(&server, &token, "/v1/audit/stats").await;
    assert_eq!(stats["integrity"]["verified"], false, "{stats}");
    let problems = stats["integrity"]["problems"].to_string();
    assert!(problems.contains("search columns (event_type, actor_id)"), "{stats}");
    assert!(problems.contains("search columns (hmacs)"), "{stats}");
    assert!(problems.contains("search columns (severity)"), "{stats}");
    let (status, ready) = text(&server, "/readyz").await;
    assert_eq!(status, 503, "{ready}");
    let signed_before = stats["latest_checkpoint"]["tree_size"].clone();

    let export = server.data_dir().with_file_name("damaged-export.jsonl");
    let exported = cli(&server, &["audit", "export", "--out", export.to_str().unwrap()]);
    assert_eq!(exported.code, Some(0), "a damaged log is still exported: {exported:?}");
    assert!(exported.stderr.contains("no checkpoint signed for this export"), "{exported:?}");
    let (_, stats) = get(&server, &token, "/v1/audit/stats").await;
    assert_eq!(stats["latest_checkpoint"]["tree_size"], signed_before, "no checkpoint was signed over the damage");
    assert!(before.size <= signed_before.as_u64().unwrap());
}

#[tokio::test]
async fn offline_verify_accepts_an_untouched_export_and_only_with_the_right_key() {
    let server = server().start();
    let token = issue_api_key(&server, &ALL_SCOPES);
    make_events(&server, &token, 3).await;
    let (_, verifier) = checkpoint(&server).await;
    let export = server.data_dir().with_file_name("export.jsonl");
    assert_eq!(cli(&server, &["audit", "export", "--out", export.to_str().unwrap()]).code, Some(0));
    let anchor = server.data_dir().join("audit-checkpoints.jsonl");
    let path = export.to_str().unwrap();
    let verified =
        cli(&server, &["audit", "verify", path, "--key", &verifier.encode(), "--anchor", anchor.to_str().unwrap()]);
    assert_eq!(verified.code, Some(0), "{verified:?}");
    assert!(verified.stdout.starts_with("verified: "), "{verified:?}");
    let stranger = NoteVerifier::new(verifier.name(), [7; 32]).unwrap().encode();
    let refused = cli(&server, &["audit", "verify", path, "--key", &stranger]);
    assert_eq!(refused.code, Some(1), "{refused:?}");
    assert!(refused.stderr.contains("does not verify"), "{refused:?}");
    // The export itself is an audited event.
    let (_, events) = get(&server, &token, "/v1/audit/events?action=audit.export").await;
    assert_eq!(events["events"].as_array().unwrap().len(), 1, "{events}");
}

/// A trigger that makes every insert into the audit tree fail, as a full or
/// read-only audit store would.
async fn break_audit_store(url: &str, postgres: bool) {
    if postgres {
        sql(
            url,
            "CREATE FUNCTION refuse_audit() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit store full'; END $$ \
             LANGUAGE plpgsql; \
             CREATE TRIGGER audit_store_full BEFORE INSERT ON audit_entries FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit()",
        )
        .await;
    } else {
        sql(
            url,
            "CREATE TRIGGER audit_store_full BEFORE INSERT ON audit_entries BEGIN SELECT RAISE(ABORT, 'audit store full'); END",
        )
        .await;
    }
}

/// The environment that lets a server or a CLI command reach a shared
/// PostgreSQL database: its URL and the deployment's root-key passphrase.
fn on_postgres(url: &str) -> impl Fn(strongroom_testkit::ServerBuilder) -> strongroom_testkit::ServerBuilder + '_ {
    move |builder| {
        builder
            .database(url)
            .env("STRONGROOM_ROOT_KEY_PROVIDER", "passphrase")
            .env("STRONGROOM_ROOT_KEY_PASSPHRASE", "shared by every instance of this deployment")
    }
}

async fn an_unwritable_audit_store_refuses_actions_and_commits_nothing(
    server: TestServer,
    url: String,
    postgres: bool,
) {
    let configure = on_postgres(&url);
    let cli = |args: &[&str]| {
        let builder = TestServer::builder(BIN).data_dir(server.data_dir());
        if postgres { configure(builder).run(args) } else { builder.run(args) }
    };
    let token = if postgres {
        issue_api_key_with(&server, &configure, &ALL_SCOPES)
    } else {
        issue_api_key(&server, &ALL_SCOPES)
    };
    make_events(&server, &token, 1).await;
    let (_, head) = get(&server, &token, "/v1/audit/stats").await;
    break_audit_store(&url, postgres).await;

    let client = reqwest::Client::new();
    let (status, refused) = transit(&client, &server, &token, "encrypt/k", json!({"plaintext": "aGk="})).await;
    assert_eq!((status, refused["code"].as_str()), (503, Some("audit_unavailable")), "{refused}");
    let (status, refused) =
        transit(&client, &server, &token, "decrypt/k", json!({"ciphertext": "vault:v1:AAAA"})).await;
    assert_eq!(status, 400, "a refusal that reveals nothing is still answered: {refused}");
    let batch = json!({"events": [{"type": "app.session_created"}, {"type": "app.session_ended"}]});
    let (status, refused) = post(&server, &token, "/v1/audit/events", &batch).await;
    assert_eq!((status, refused["code"].as_str()), (503, Some("audit_unavailable")), "fails closed: {refused}");
    let rotate = client.post(server.url("/v1/keys/k/rotate")).header("X-API-Key", &token).send().await.unwrap();
    assert_eq!(rotate.status(), 503);
    let created = cli(&["apikey", "create", "--name", "during outage", "--scope", "transit:use"]);
    assert_eq!(created.code, Some(1), "{created:?}");
    let (status, ready) = text(&server, "/readyz").await;
    assert_eq!(status, 503, "{ready}");

    let drop =
        if postgres { "DROP TRIGGER audit_store_full ON audit_entries" } else { "DROP TRIGGER audit_store_full" };
    sql(&url, drop).await;
    let (_, key) = get(&server, &token, "/v1/keys/k").await;
    assert_eq!(key["latest_version"], 1, "the refused rotation committed nothing: {key}");
    let listed = cli(&["apikey", "list"]);
    assert!(!listed.stdout.contains("during outage"), "{listed:?}");
    let (status, body) = transit(&client, &server, &token, "encrypt/k", json!({"plaintext": "aGk="})).await;
    assert_eq!(status, 200, "{body}");
    let (_, stats) = get(&server, &token, "/v1/audit/stats").await;
    assert_eq!(stats["integrity"]["verified"], true, "{stats}");
    let recorded = stats["total_events"].as_u64().unwrap() - head["total_events"].as_u64().unwrap();
    assert_eq!(recorded, 1, "only the encrypt after recovery, nothing of the refused actions: {stats}");
    let (status, ready) = text(&server, "/readyz").await;
    assert_eq!(status, 200, "{ready}");
}

#[tokio::test]
async fn an_unwritable_sqlite_audit_store_refuses_actions_and_commits_nothing() {
    let server = server().start();
    let url = sqlite_url(&server);
    an_unwritable_audit_store_refuses_actions_and_commits_nothing(server, url, false).await;
}

#[tokio::test]
async fn an_unwritable_postgres_audit_store_refuses_actions_and_commits_nothing() {
    let Some(database) = TestDatabase::postgres().await else { return };
    let server = on_postgres(database.url())(server()).start();
    an_unwritable_audit_store_refuses_actions_and_commits_nothing(server, database.url().to_owned(), true).await;
}

#[tokio::test]
async fn two_servers_on_one_postgres_grow_one_tree_with_every_acknowledged_event() {
    let Some(database) = TestDatabase::postgres().await else { return };
    let instance = on_postgres(database.url());
    let a = instance(server()).start();
    let b = instance(server()).start();
    let token = issue_api_key_with(&a, &instance, &ALL_SCOPES);
    make_events(&a, &token, 1).await;
    let (_, before) = get(&a, &token, "/v1/audit/stats").await;
    let before = before["total_events"].as_u64().unwrap();

    let client = reqwest::Client::new();
    let mut calls = Vec::new();
    for i in 0..200 {
        let (client, url, token) = (client.clone(), if i % 2 == 0 { a.url("") } else { b.url("") }, token.clone());
        calls.push(tokio::spawn(async move {
            client
                .post(format!("{url}/v1/transit/encrypt/k"))
                .header("X-Vault-Token", token)
                .json(&json!({"plaintext": "aGk="}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut acknowledged = 0;
    for call in calls {
        if call.await.unwrap() == 200 {
            acknowledged += 1;
        }
    }
    assert_eq!(acknowledged, 200);
    let (_, stats) = get(&b, &token, "/v1/audit/stats").await;
    assert_eq!(stats["integrity"]["verified"], true, "{stats}");
    // The stats request itself is not an event; nothing else ran meanwhile.
    assert_eq!(stats["total_events"].as_u64().unwrap(), before + acknowledged, "{stats}");
    let (_, encrypts) = get(&a, &token, "/v1/audit/events?action=transit.encrypt&limit=1000").await;
    assert_eq!(encrypts["events"].as_array().unwrap().len(), 201);
}

/// Accepts one HTTP request on a free port and returns its body.
async fn one_http_request() -> (String, tokio::task::JoinHandle<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            let read = stream.read(&mut buffer).await.unwrap();
            request.extend_from_slice(&buffer[..read]);
            let text = String::from_utf8_lossy(&request).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= length {
                    stream.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n").await.unwrap();
                    return body.to_owned();
                }
            }
            if read == 0 {
                return text;
            }
        }
    });
    (url, task)
}

#[tokio::test]
async fn sinks_copy_every_event_and_failed_authentications_raise_an_alert_and_a_webhook() {
    let syslog = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (webhook, received) = one_http_request().await;
    let home = tempfile::tempdir().unwrap();
    let sink_file = home.path().join("audit.jsonl");
    let server = server()
        .env("STRONGROOM_AUDIT_SINK_FILE", sink_file.to_str().unwrap())
        .env("STRONGROOM_AUDIT_SINK_SYSLOG", format!("udp://{}", syslog.local_addr().unwrap()))
        .env("STRONGROOM_AUDIT_ALERT_FAILED_LOGINS", "3")
        .env("STRONGROOM_AUDIT_ALERT_INTERVAL_SECONDS", "1")
        .env("STRONGROOM_AUDIT_ALERT_WEBHOOK_URL", webhook)
        .start();
    let token = issue_api_key(&server, &ALL_SCOPES);
    let client = reqwest::Client::new();
    for attempt in 0..3 {
        let bad = format!("sr_000000000000000{attempt}_{}", "A".repeat(43));
        let response = client.get(server.url("/v1/keys")).header("X-API-Key", bad).send().await.unwrap();
        assert_eq!(response.status(), 401);
    }
    let body = tokio::time::timeout(Duration::from_secs(20), received).await.expect("the webhook is called").unwrap();
    let alert: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(alert["rule"], "failed_logins_per_address", "{alert}");
    assert_eq!(alert["group_key"], "127.0.0.1");
    let (_, alerts) = get(&server, &token, "/v1/alerts").await;
    assert!(alerts["alerts"].to_string().contains("failed_logins_per_address"), "{alerts}");
    let (_, raised) = get(&server, &token, "/v1/audit/events?action=alert").await;
    assert_eq!(raised["events"].as_array().unwrap().len(), 1, "an alert is raised once per window: {raised}");

    let (_, stats) = get(&server, &token, "/v1/audit/stats").await;
    let total = stats["total_events"].as_u64().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let lines = loop {
        let lines = std::fs::read_to_string(&sink_file).unwrap_or_default().lines().count() as u64;
        if lines >= total || std::time::Instant::now() > deadline {
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(lines >= total, "the file sink holds {lines} of {total} events");
    let mut datagram = [0u8; 8192];
    let length = tokio::time::timeout(Duration::from_secs(5), syslog.recv(&mut datagram)).await.unwrap().unwrap();
    let message = String::from_utf8_lossy(&datagram[..length]);
    assert!(message.starts_with('<') && message.contains(" strongroom ") && message.contains("\"event\""), "{message}");
}

/// Denied requests past the threshold raise `denied_access_spike` (a rule
/// that counts every matching event as one group).
async fn denied_requests_raise_the_denied_access_alert(
    server: TestServer,
    configure: impl Fn(strongroom_testkit::ServerBuilder) -> strongroom_testkit::ServerBuilder + Copy,
) {
    let token = issue_api_key_with(&server, configure, &ALL_SCOPES);
    let denied = issue_api_key_with(&server, configure, &["audit:read"]);
    let client = reqwest::Client::new();
    for _ in 0..3 {
        let response = client.get(server.url("/v1/keys")).header("X-API-Key", &denied).send().await.unwrap();
        assert_eq!(response.status(), 403);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, alerts) = get(&server, &token, "/v1/alerts").await;
        if alerts["alerts"].to_string().contains("denied_access_spike") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no denied_access_spike alert: {alerts}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!server.logs().contains("alert evaluation failed"), "{}", server.logs());
    // The full verification (entries, search columns, HMACs, nodes) runs on this engine too.
    let (_, stats) = get(&server, &token, "/v1/audit/stats").await;
    assert_eq!(stats["integrity"]["verified"], true, "{stats}");
    assert!(!server.logs().contains("could not verify"), "{}", server.logs());
}

fn alerting(builder: strongroom_testkit::ServerBuilder) -> strongroom_testkit::ServerBuilder {
    builder.env("STRONGROOM_AUDIT_ALERT_DENIALS", "3").env("STRONGROOM_AUDIT_ALERT_INTERVAL_SECONDS", "1")
}

#[tokio::test]
async fn denied_requests_raise_the_denied_access_alert_on_sqlite() {
    let server = alerting(server()).start();
    denied_requests_raise_the_denied_access_alert(server, |builder| builder).await;
}

#[tokio::test]
async fn denied_requests_raise_the_denied_access_alert_on_postgres() {
    let Some(database) = TestDatabase::postgres().await else { return };
    let configure = on_postgres(database.url());
    let server = alerting(configure(server())).start();
    denied_requests_raise_the_denied_access_alert(server, &configure).await;
}

#[tokio::test]
async fn hashed_addresses_stay_out_of_events_yet_are_found_by_hmac_of() {
    let server = server().env("STRONGROOM_AUDIT_HASH_IP", "true").start();
    let token = issue_api_key(&server, &ALL_SCOPES);
    make_events(&server, &token, 2).await;
    let (_, events) = get(&server, &token, "/v1/audit/events?action=transit.*").await;
    let listed = events["events"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{events}");
    for event in listed {
        assert!(event["event"].get("ip").is_none(), "{event}");
        assert_eq!(event["event"]["hmac"]["ip"].as_str().unwrap().len(), 64, "{event}");
    }
    assert!(!events.to_string().contains("127.0.0.1"));
    let (_, found) = get(&server, &token, "/v1/audit/events?hmac_of=127.0.0.1&action=transit.*").await;
    assert_eq!(found["events"].as_array().unwrap().len(), 2, "{found}");
    let (_, none) = get(&server, &token, "/v1/audit/events?hmac_of=10.9.9.9").await;
    assert!(none["events"].as_array().unwrap().is_empty(), "{none}");
}

/// The id of a new user `name`, created with the CLI.
fn create_user(server: &TestServer, name: &str) -> String {
    let email = format!("{name}@example.com");
    let created = cli(server, &["user", "create", "--username", name, "--email", &email, "--role", "reader"]);
    assert_eq!(created.code, Some(0), "{created:?}");
    created.stdout.split_whitespace().next().unwrap().to_owned()
}

/// The events of `GET /v1/audit/events?{query}` (one page of up to 1,000).
async fn events(server: &TestServer, token: &str, query: &str) -> Vec<Value> {
    let (status, page) = get(server, token, &format!("/v1/audit/events?limit=1000&{query}")).await;
    assert_eq!(status, 200, "{page}");
    page["events"].as_array().unwrap().iter().map(|e| e["event"].clone()).collect()
}

#[tokio::test]
async fn applications_append_their_own_events_and_filter_them_by_severity_and_source() {
    let server = server().start();
    let writer = issue_api_key(&server, &["audit:write"]);
    let writer_id = writer.split('_').nth(1).unwrap().to_owned();
    let reader = issue_api_key(&server, &["audit:read"]);
    let ann = create_user(&server, "ann");

    // One event: the key is the actor, the user it acted for is named, and
    // the value listed in hmac_fields is in the log only as its HMAC.
    let one = json!({
        "type": "app.transcript.exported", "category": "export", "severity": "notice",
        "on_behalf_of": ann, "target": {"kind": "transcript", "id": "t-17"},
        "details": {"format": "pdf", "pages": 12, "email": "ann@example.com", "layout": {"columns": [1, 2]}},
        "hmac_fields": ["email"],
    });
    let (status, recorded) = post(&server, &writer, "/v1/audit/events", &one).await;
    assert_eq!(status, 201, "{recorded}");
    assert_eq!(recorded["count"], 1, "{recorded}");
    assert_eq!(recorded["first_index"], recorded["last_index"], "{recorded}");
    let index = recorded["first_index"].as_u64().unwrap();
    let (_, stored) = get(&server, &reader, &format!("/v1/audit/events/{index}")).await;
    let entry = String::from_utf8(STANDARD.decode(stored["entry"].as_str().unwrap()).unwrap()).unwrap();
    assert!(!entry.contains("ann@example.com"), "{entry}");
    let event = &stored["event"];
    assert_eq!(event["type"], "app.transcript.exported", "{event}");
    assert_eq!((event["category"].as_str(), event["severity"].as_str()), (Some("export"), Some("notice")));
    assert_eq!(
        (event["actor"]["kind"].as_str(), event["actor"]["id"].as_str()),
        (Some("api_key"), Some(writer_id.as_str()))
    );
    assert_eq!(event["on_behalf_of"].as_str(), Some(ann.as_str()));
    assert_eq!(event["target"], json!({"kind": "transcript", "id": "t-17"}));
    assert_eq!(event["details"], json!({"format": "pdf", "pages": 12, "layout": {"columns": [1, 2]}}));
    assert!(event["hmac"]["detail:email"].is_string(), "{event}");
    let found = events(&server, &reader, "hmac_of=ann@example.com").await;
    assert_eq!(found.len(), 1, "searchable by the value without holding it: {found:?}");

    // A batch of 100, in order, as consecutive leaves; severities cycle.
    let severities = ["info", "notice", "warning", "critical"];
    let batch: Vec<Value> = (0..100)
        .map(|i| json!({"type": "app.session_created", "severity": severities[i % 4], "details": {"n": i}}))
        .collect();
    let sent = reqwest::Client::new()
        .post(server.url("/v1/audit/events"))
        .header("X-API-Key", &writer)
        .header("User-Agent", "ingest-test-agent/2")
        .json(&json!({"events": batch}))
        .send()
        .await
        .unwrap();
    let status = sent.status().as_u16();
    let recorded: Value = sent.json().await.unwrap();
    assert_eq!(status, 201, "{recorded}");
    let first = recorded["first_index"].as_u64().unwrap();
    assert_eq!((recorded["count"].as_u64(), recorded["last_index"].as_u64()), (Some(100), Some(first + 99)));
    let (_, last) = get(&server, &reader, &format!("/v1/audit/events/{}", first + 99)).await;
    assert_eq!(last["event"]["details"]["n"], 99, "{last}");
    // The request's user agent, HMACed once for the batch, is every event's.
    let (_, head) = get(&server, &reader, &format!("/v1/audit/events/{first}")).await;
    assert!(head["event"]["hmac"]["user_agent"].is_string(), "{head}");
    assert_eq!(head["event"]["hmac"]["user_agent"], last["event"]["hmac"]["user_agent"]);
    let found = events(&server, &reader, "hmac_of=ingest-test-agent/2").await;
    assert_eq!(found.len(), 100, "the whole batch is found by its user agent");

    // Filters: source, severity, minimum severity, and a type family.
    let apps = events(&server, &reader, "source=app").await;
    assert_eq!(apps.len(), 101);
    assert!(apps.iter().all(|e| e["type"].as_str().unwrap().starts_with("app.")));
    let own = events(&server, &reader, "source=strongroom").await;
    assert!(!own.is_empty() && own.iter().all(|e| !e["type"].as_str().unwrap().starts_with("app.")), "{own:?}");
    let critical = events(&server, &reader, "source=app&severity=critical").await;
    assert_eq!(critical.len(), 25);
    assert!(critical.iter().all(|e| e["severity"] == "critical"));
    let serious = events(&server, &reader, "source=app&min_severity=warning").await;
    assert_eq!(serious.len(), 50);
    let notices = events(&server, &reader, "action=app.*&severity=notice").await;
    assert_eq!(notices.len(), 26, "25 of the batch and the export");
    let (status, problem) = get(&server, &reader, "/v1/audit/events?severity=loud").await;
    assert_eq!((status, problem["code"].as_str()), (400, Some("invalid_request")), "{problem}");
    let (status, problem) = get(&server, &reader, "/v1/audit/events?source=elsewhere").await;
    assert_eq!((status, problem["code"].as_str()), (400, Some("invalid_request")), "{problem}");

    // Only with the scope; and the stored columns still verify.
    let (status, _) = post(&server, &reader, "/v1/audit/events", &one).await;
    assert_eq!(status, 403, "audit:write is required");
    let (_, stats) = get(&server, &issue_api_key(&server, &ALL_SCOPES), "/v1/audit/stats").await;
    assert_eq!(stats["integrity"]["verified"], true, "{stats}");
}

#[tokio::test]
async fn a_batch_with_one_bad_event_is_refused_whole_and_the_attempt_is_recorded() {
    let server = server().start();
    let writer = issue_api_key(&server, &["audit:write"]);
    let reader = issue_api_key(&server, &["audit:read"]);
    let refuse = |body: Value, index: usize, rule: &'static str| {
        let (server, writer) = (&server, &writer);
        async move {
            let (status, problem) = post(server, writer, "/v1/audit/events", &body).await;
            assert_eq!((status, problem["code"].as_str()), (400, Some("invalid_request")), "{problem}");
            let detail = problem["detail"].as_str().unwrap();
            assert!(detail.contains(&format!("events[{index}]")) && detail.contains(rule), "{rule}: {detail}");
        }
    };
    let forged = json!({"events": [
        {"type": "app.probe_one"}, {"type": "record.decrypt"}, {"type": "app.probe_two"},
    ]});
    refuse(forged, 1, "Strongroom's own types cannot be written").await;
    let probes = events(&server, &reader, "source=app").await;
    assert!(probes.is_empty(), "nothing of the batch was appended: {probes:?}");
    let refusals = events(&server, &reader, "action=audit.ingest_refused").await;
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(refusals[0]["details"], json!({"events": 3, "field": "type", "index": 1}));
    assert_eq!(refusals[0]["severity"], "warning");

    refuse(json!([{"type": "app.x"}, {"type": "app.x", "on_behalf_of": "no-such-user"}]), 1, "no user").await;
    refuse(json!([{"type": "app.x", "details": {"a": {"b": {"c": {"d": 1}}}}}]), 0, "at most 4 levels").await;
    let big = json!([{"type": "app.x"}, {"type": "app.x", "details": {"blob": "x".repeat(5000)}}]);
    refuse(big, 1, "at most 4096 bytes").await;
    refuse(json!([{"type": "app.x", "details": {"ratio": 0.5}}]), 0, "integers").await;
    refuse(json!([{"type": "app.x", "severity": "loud"}]), 0, "severity").await;
    refuse(json!([{"type": "app.x", "hmac_fields": ["email"]}]), 0, "names no member of details").await;
    refuse(json!([{"type": "app.x"}, {"type": "app.x", "extra": 1}]), 1, "unknown field").await;
    let too_many: Vec<Value> = (0..1001).map(|_| json!({"type": "app.x"})).collect();
    let (status, problem) = post(&server, &writer, "/v1/audit/events", &Value::Array(too_many)).await;
    assert_eq!(status, 400, "{problem}");
    assert!(events(&server, &reader, "source=app").await.is_empty());
}

#[tokio::test]
async fn every_event_of_a_batch_counts_against_the_keys_rate_limit() {
    let server = server().start();
    let output = TestServer::builder(BIN).data_dir(server.data_dir()).run(&[
        "apikey",
        "create",
        "--name",
        "limited",
        "--scope",
        "audit:write",
        "--rate-limit-per-minute",
        "150",
        "--rate-limit-burst",
        "150",
    ]);
    assert_eq!(output.code, Some(0), "{output:?}");
    let writer = output.stdout.trim().to_owned();
    let batch = json!({"events": (0..100).map(|_| json!({"type": "app.tick"})).collect::<Vec<_>>()});
    let (status, body) = post(&server, &writer, "/v1/audit/events", &batch).await;
    assert_eq!(status, 201, "{body}");
    // 100 events per batch against 150 a minute with bursts of 150: of
    // three batches sent at once, one at least is refused.
    let mut refused = 0;
    for _ in 0..2 {
        let (status, body) = post(&server, &writer, "/v1/audit/events", &batch).await;
        if status == 429 {
            assert_eq!(body["code"], "rate_limited", "{body}");
            refused += 1;
        }
    }
    assert!(refused >= 1, "each event counts as a request");
}
