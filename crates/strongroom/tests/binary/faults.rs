//! Dependency faults through the real binary: a database that goes away and
//! comes back. Each test makes its own PostgreSQL role and database (never
//! the shared service's), so taking them away harms nobody else.

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

#[tokio::test]
async fn a_database_that_goes_away_answers_503_with_retry_after_and_the_server_recovers_by_itself() {
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
    ]);
    assert_eq!(key.code, Some(0), "{key:?}");
    let token = key.stdout.trim().to_owned();
    let client = reqwest::Client::new();
    let (status, _) = transit(&client, &server, &token, "keys/k", json!({})).await;
    assert_eq!(status, 200);
    let encrypt = || transit(&client, &server, &token, "encrypt/k", json!({"plaintext": "aGk="}));
    assert_eq!(encrypt().await.0, 200);

    database.go_away().await;
    // Every answer during the outage is a 503 naming the dependency, with Retry-After: never a 500.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut refused = 0;
    while Instant::now() < deadline {
        let response = client
            .post(server.url("/v1/transit/encrypt/k"))
            .header("X-Vault-Token", &token)
            .json(&json!({"plaintext": "aGk="}))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let retry_after = response.headers().get("retry-after").cloned();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_ne!(status, 500, "a dependency fault is not a bug: {body}");
        if status == 503 {
            let code = body["code"].as_str().unwrap_or_default().to_owned();
            assert!(["database_unavailable", "audit_unavailable"].contains(&code.as_str()), "{body}");
            assert!(retry_after.is_some(), "a transient fault says when to retry: {body}");
            refused += 1;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused > 0, "the outage was noticed");
    let ready = reqwest::get(server.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 503);

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
    drop(server);
    database.remove().await;
}
