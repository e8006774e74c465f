//! Housekeeping through the real binary: sessions that expire (with their
//! refresh-token families), a password-reset token past its time and a
//! finished key job are purged by the server's schedule; the rows are gone
//! from the database and one `housekeeping.purge` event per run carries the
//! counts, found by the severity filter too. The operator's command purges
//! on demand, failed-login counters past their window too.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use strongroom_testkit::TestServer;

use super::authz::PASSWORD;
use super::{BIN, issue_api_key, server};

/// The short lifetimes both the server and the CLI run with.
const SHORT: &[(&str, &str)] = &[
    ("STRONGROOM_IDENTITY_SESSION_ABSOLUTE_SECONDS", "2"),
    ("STRONGROOM_IDENTITY_RESET_TOKEN_SECONDS", "1"),
    ("STRONGROOM_HOUSEKEEPING_SESSION_RETENTION_SECONDS", "0"),
    ("STRONGROOM_HOUSEKEEPING_ONE_TIME_TOKEN_RETENTION_SECONDS", "0"),
    ("STRONGROOM_HOUSEKEEPING_JOB_RETENTION_SECONDS", "0"),
    ("STRONGROOM_IDENTITY_LOCKOUT_WINDOW_SECONDS", "1"),
];

fn cli(server: &TestServer, args: &[&str], stdin: Option<&str>) -> strongroom_testkit::CliOutput {
    let mut builder = TestServer::builder(BIN).data_dir(server.data_dir());
    for (name, value) in SHORT {
        builder = builder.env(*name, *value);
    }
    let output = match stdin {
        Some(input) => builder.run_with_input(args, input),
        None => builder.run(args),
    };
    assert_eq!(output.code, Some(0), "{args:?}: {output:?}");
    output
}

async fn login(server: &TestServer, username: &str) -> Value {
    let body = json!({"username": username, "password": PASSWORD});
    let response = reqwest::Client::new().post(server.url("/v1/auth/login")).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Rows left in `table` (of the `where` clause) of the server's SQLite database.
async fn rows(server: &TestServer, table: &str, condition: &str) -> i64 {
    use sqlx::{Connection, Row};
    let url = format!("sqlite://{}", server.data_dir().join("strongroom.db").display());
    let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let query = format!("SELECT COUNT(*) FROM {table} WHERE {condition}");
    sqlx::query(sqlx::AssertSqlSafe(query)).fetch_one(&mut connection).await.unwrap().get(0)
}

async fn purge_events(server: &TestServer, token: &str, filter: &str) -> Vec<Value> {
    let path = format!("/v1/audit/events?action=housekeeping.purge&limit=1000{filter}");
    let response = reqwest::Client::new().get(server.url(&path)).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let page: Value = response.json().await.unwrap();
    page["events"].as_array().unwrap().iter().map(|e| e["event"].clone()).collect()
}

#[tokio::test]
async fn the_schedule_purges_dead_sessions_spent_tokens_and_finished_jobs_in_one_audited_run() {
    let metrics_token = "a metrics token of more than twenty characters";
    let mut builder =
        server().env("STRONGROOM_HOUSEKEEPING_INTERVAL_SECONDS", "1").env("STRONGROOM_METRICS_TOKEN", metrics_token);
    for (name, value) in SHORT {
        builder = builder.env(*name, *value);
    }
    let server = builder.start();
    let auditor = issue_api_key(&server, &["audit:read"]);
    cli(&server, &["init", "--password-stdin"], Some(&format!("{PASSWORD}\n")));
    let args = ["user", "create", "--username", "rui", "--email", "rui@example.com", "--role", "reader"];
    cli(&server, &[&args[..], &["--password-stdin"]].concat(), Some(&format!("{PASSWORD}\n")));

    // Two sessions; one refreshed, so its family holds a used token and a new one.
    login(&server, "admin").await;
    let pair = login(&server, "rui").await;
    let refreshed = reqwest::Client::new()
        .post(server.url("/v1/auth/refresh"))
        .json(&json!({"refresh_token": pair["refresh_token"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 200, "{}", refreshed.text().await.unwrap());
    // A password-reset token that expires unused, and a key job that finishes at once.
    cli(&server, &["user", "reset-password", "rui"], None);
    cli(&server, &["key", "create", "housekeeping-matter", "--purpose", "matter_data"], None);
    cli(&server, &["key", "rotate", "housekeeping-matter"], None);

    let deadline = Instant::now() + Duration::from_secs(30);
    let tables = ["sessions", "refresh_tokens", "one_time_tokens", "jobs"];
    loop {
        let mut left = Vec::new();
        for table in tables {
            left.push(rows(&server, table, "1 = 1").await);
        }
        if left == [0, 0, 0, 0] {
            break;
        }
        assert!(Instant::now() < deadline, "rows left in {tables:?}: {left:?}; logs: {}", server.logs());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Runs may have split the rows between them; together they count each once.
    let events = purge_events(&server, &auditor, "").await;
    assert!(!events.is_empty(), "no housekeeping.purge event; logs: {}", server.logs());
    let total = |kind: &str| events.iter().map(|e| e["details"][kind].as_i64().unwrap()).sum::<i64>();
    assert_eq!(
        [total("sessions"), total("refresh_tokens"), total("one_time_tokens"), total("jobs")],
        [2, 3, 1, 1],
        "{events:#?}"
    );
    for event in &events {
        assert_eq!(event["actor"]["id"], "housekeeping", "{event}");
        assert_eq!(event["result"], "success", "{event}");
        assert_eq!(event["details"]["session_retention_seconds"], 0, "{event}");
    }
    let info = purge_events(&server, &auditor, "&severity=info").await;
    assert_eq!(info.len(), events.len(), "the purge events are info events");
    assert!(purge_events(&server, &auditor, "&severity=warning").await.is_empty());

    let metrics = reqwest::Client::new()
        .get(server.url("/metrics"))
        .bearer_auth(metrics_token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for (kind, count) in [("sessions", 2), ("refresh_tokens", 3), ("one_time_tokens", 1), ("jobs", 1)] {
        let line = format!("strongroom_housekeeping_purged_rows_total{{kind=\"{kind}\"}} {count}");
        assert!(metrics.lines().any(|l| l == line), "{line} missing from:\n{metrics}");
    }

    // Nothing is left: the operator's command purges nothing and writes no event.
    let output = cli(&server, &["housekeeping", "run"], None);
    assert!(
        output.stdout.contains("purged 0 sessions, 0 refresh tokens, 0 one-time tokens, 0 key jobs, 0 login throttles"),
        "{output:?}"
    );
    assert_eq!(purge_events(&server, &auditor, "").await.len(), events.len());
}

#[tokio::test]
async fn the_operators_command_purges_on_demand_and_counts_what_it_purged() {
    // The schedule is off: only the command purges.
    let mut builder = server().env("STRONGROOM_HOUSEKEEPING_INTERVAL_SECONDS", "0");
    for (name, value) in SHORT {
        builder = builder.env(*name, *value);
    }
    let server = builder.start();
    cli(&server, &["init", "--password-stdin"], Some(&format!("{PASSWORD}\n")));
    login(&server, "admin").await;
    cli(&server, &["user", "reset-password", "admin"], None);
    // A failed login leaves three counters: the name from this address, the name, the address.
    let body = json!({"username": "nobody", "password": "not the password at all"});
    let failed = reqwest::Client::new().post(server.url("/v1/auth/login")).json(&body).send().await.unwrap();
    assert_eq!(failed.status(), 401);
    assert_eq!(rows(&server, "login_throttle", "1 = 1").await, 3);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(rows(&server, "sessions", "1 = 1").await, 1, "the schedule is off");
    let output = cli(&server, &["housekeeping", "run"], None);
    assert!(
        output.stdout.contains("purged 1 sessions, 1 refresh tokens, 1 one-time tokens, 0 key jobs, 3 login throttles"),
        "{output:?}"
    );
    assert_eq!(rows(&server, "sessions", "1 = 1").await, 0);
    assert_eq!(rows(&server, "one_time_tokens", "1 = 1").await, 0);
    assert_eq!(rows(&server, "login_throttle", "1 = 1").await, 0);
}
