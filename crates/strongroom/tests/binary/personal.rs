//! Personal data at rest through the real binary: a user's e-mail and full
//! name, a session's address and user agent are stored sealed, so `grep` on
//! the database files finds none of them; rows an older version wrote in
//! clear are sealed when the server starts, and still read back. The audit
//! log keeps the user agent's HMAC only.

use serde_json::{Value, json};
use strongroom_testkit::TestServer;

use super::{BIN, server};

const PASSWORD: &str = "correct horse battery staple";
const ADMIN_EMAIL: &str = "ada.vexillology@example.org";
const FULL_NAME: &str = "Quentin Zanzibar-Whitlock";
const USER_AGENT: &str = "Zyxwv-Agent/7.3 (distinctive)";

fn database(server: &TestServer) -> std::path::PathBuf {
    server.data_dir().join("strongroom.db")
}

/// Which of `values` are in the database file or its `-wal` and `-shm` files.
fn found_in_files(server: &TestServer, values: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let path = server.data_dir().join(format!("strongroom.db{suffix}"));
        let Ok(bytes) = std::fs::read(&path) else { continue };
        for value in values {
            if bytes.windows(value.len()).any(|window| window == value.as_bytes()) {
                found.push(format!("{value} in strongroom.db{suffix}"));
            }
        }
    }
    found
}

async fn call(server: &TestServer, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut request = client.request(method.parse().unwrap(), server.url(path)).header("user-agent", USER_AGENT);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

/// `init` with a distinctive e-mail, a login with a distinctive user agent,
/// a user with a distinctive full name; the admin's access token and the new user's id.
async fn populate(server: &TestServer) -> (String, String) {
    let init = TestServer::builder(BIN)
        .data_dir(server.data_dir())
        .run_with_input(&["init", "--email", ADMIN_EMAIL, "--password-stdin"], &format!("{PASSWORD}\n"));
    assert_eq!(init.code, Some(0), "{init:?}");
    let login = json!({"username": "admin", "password": PASSWORD});
    let (status, tokens) = call(server, "POST", "/v1/auth/login", None, Some(login)).await;
    assert_eq!(status, 200, "{tokens}");
    let admin = tokens["access_token"].as_str().unwrap().to_owned();
    let body = json!({"username": "quentin", "email": "quentin@example.com", "full_name": FULL_NAME,
        "roles": ["reader"], "password": "he reads the transcripts aloud"});
    let (status, created) = call(server, "POST", "/v1/users", Some(&admin), Some(body)).await;
    assert_eq!(status, 201, "{created}");
    (admin, created["id"].as_str().unwrap().to_owned())
}

async fn sql<T>(server: &TestServer, query: &str) -> T
where
    T: Send + Unpin + for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    use sqlx::Connection;
    let mut connection =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", database(server).display())).await.unwrap();
    let value = sqlx::query_scalar(sqlx::AssertSqlSafe(query.to_owned())).fetch_one(&mut connection).await.unwrap();
    connection.close().await.unwrap();
    value
}

/// What the admin sees of `user_id` and of their own sessions.
async fn shown(server: &TestServer, admin: &str, user_id: &str) -> (Value, Value) {
    let (status, user) = call(server, "GET", &format!("/v1/users/{user_id}"), Some(admin), None).await;
    assert_eq!(status, 200, "{user}");
    let (status, sessions) = call(server, "GET", "/v1/sessions", Some(admin), None).await;
    assert_eq!(status, 200, "{sessions}");
    (user, sessions)
}

#[tokio::test]
async fn e_mails_full_names_and_user_agents_are_not_stored_in_clear() {
    let server = server().start();
    let (admin, quentin) = populate(&server).await;
    let (user, sessions) = shown(&server, &admin, &quentin).await;
    assert_eq!(user["full_name"], FULL_NAME);
    assert_eq!(sessions["sessions"][0]["user_agent"], USER_AGENT, "{sessions}");

    // Throttling keys are HMACs: an attempted name is not stored.
    let attempt = json!({"username": "nobody-xylophonist", "password": "not the password at all"});
    assert_eq!(call(&server, "POST", "/v1/auth/login", None, Some(attempt)).await.0, 401);

    let found =
        found_in_files(&server, &[ADMIN_EMAIL, "quentin@example.com", FULL_NAME, "nobody-xylophonist", USER_AGENT]);
    assert!(found.is_empty(), "personal data in clear: {found:?}");
    let clear: i64 = sql(&server, "SELECT COUNT(*) FROM sessions WHERE ip IS NOT NULL OR user_agent IS NOT NULL").await;
    assert_eq!(clear, 0, "sessions keep their address and user agent sealed only");
    let sealed: i64 = sql(&server, "SELECT COUNT(*) FROM sessions WHERE sealed_user_agent IS NOT NULL").await;
    assert_eq!(sealed, 1);
}

#[tokio::test]
async fn personal_data_an_older_version_stored_in_clear_is_sealed_at_start_and_reads_back() {
    let mut first = server().start();
    let data_dir = first.data_dir().to_owned();
    let (admin, quentin) = populate(&first).await;
    first.terminate();
    // As a version before migration 0014 wrote them.
    let back_in_clear = format!(
        "UPDATE users SET email = '{ADMIN_EMAIL}', full_name = 'Administrator', sealed_email = NULL, \
         sealed_full_name = NULL WHERE username = 'admin'; \
         UPDATE users SET email = 'quentin@example.com', full_name = '{FULL_NAME}', sealed_email = NULL, \
         sealed_full_name = NULL WHERE id = '{quentin}'; \
         UPDATE sessions SET ip = '127.0.0.1', user_agent = '{USER_AGENT}', sealed_ip = NULL, \
         sealed_user_agent = NULL, ip_mac = NULL, user_agent_mac = NULL"
    );
    {
        use sqlx::Connection;
        let url = format!("sqlite://{}", database(&first).display());
        let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(back_in_clear)).execute(&mut connection).await.unwrap();
        connection.close().await.unwrap();
    }
    let values = [ADMIN_EMAIL, "quentin@example.com", FULL_NAME];
    let before = found_in_files(&first, &values);
    assert_eq!(before.len(), 3, "the old rows are in clear: {before:?}");

    let second = server().data_dir(&data_dir).start();
    let found = found_in_files(&second, &values);
    assert!(found.is_empty(), "sealed at start, nothing left in clear: {found:?}");
    let clear: i64 = sql(&second, "SELECT COUNT(*) FROM sessions WHERE ip IS NOT NULL OR user_agent IS NOT NULL").await;
    assert_eq!(clear, 0);
    let (user, sessions) = shown(&second, &admin, &quentin).await;
    assert_eq!((user["email"].as_str(), user["full_name"].as_str()), (Some("quentin@example.com"), Some(FULL_NAME)));
    let session = &sessions["sessions"][0];
    assert_eq!((session["ip"].as_str(), session["user_agent"].as_str()), (Some("127.0.0.1"), Some(USER_AGENT)));
}
