//! Personal data at rest on both backends: e-mail, full name, a session's
//! address and user agent are stored sealed; rows written in clear before
//! migration 0014 are sealed in place, and read back the same.

use std::sync::Arc;
use std::time::Duration;

use strongroom_core::audit::AuditContext;
use strongroom_core::identity::{Grantor, IdentitySettings, NewPassword, NewUser, Role};
use strongroom_core::{Backend, CoreError, FixedClock};
use strongroom_store::Database;
use strongroom_testkit::TestDatabase;

use super::{ctx, fast_settings, identity_with, open, tokens};

const PASSWORD: &str = "correct horse battery staple";
const EMAIL: &str = "erin.distinct@example.com";
const FULL_NAME: &str = "Erin Quillfeather";
const USER_AGENT: &str = "QuillBrowser/9.1 (distinct)";
const IP: &str = "198.51.100.77";

/// Runs `sql` on its own connection, as an operator's tool would.
async fn raw(database: &TestDatabase, db: &Database, sql: &str) {
    use sqlx::Connection;
    let statement = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()));
    match db.backend() {
        Backend::Sqlite => {
            statement.execute(&mut sqlx::SqliteConnection::connect(database.url()).await.unwrap()).await.unwrap();
        }
        _ => {
            statement.execute(&mut sqlx::PgConnection::connect(database.url()).await.unwrap()).await.unwrap();
        }
    }
}

/// How many rows hold any of the values in a clear column.
async fn rows_in_clear(database: &TestDatabase, db: &Database) -> i64 {
    use sqlx::Connection;
    let sql = format!(
        "SELECT (SELECT COUNT(*) FROM users WHERE email = '{EMAIL}' OR full_name = '{FULL_NAME}') + \
         (SELECT COUNT(*) FROM sessions WHERE ip = '{IP}' OR user_agent = '{USER_AGENT}')"
    );
    match db.backend() {
        Backend::Sqlite => {
            let mut connection = sqlx::SqliteConnection::connect(database.url()).await.unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(&mut connection).await.unwrap()
        }
        _ => {
            let mut connection = sqlx::PgConnection::connect(database.url()).await.unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(&mut connection).await.unwrap()
        }
    }
}

pub async fn personal_data_in_clear_is_sealed_in_place_and_reads_back(database: TestDatabase) {
    let db = open(&database).await;
    let clock = Arc::new(FixedClock::at(Duration::from_secs(1_800_000_000)));
    let identity = identity_with(&db, Arc::clone(&clock), fast_settings()).await;
    let new = NewUser {
        username: "erin".into(),
        email: EMAIL.into(),
        full_name: FULL_NAME.into(),
        roles: vec![Role::Analyst],
        password: NewPassword::Plain(zeroize::Zeroizing::new(PASSWORD.into())),
    };
    let erin = identity.create_user(new, &Grantor::Operator, &ctx()).await.unwrap();
    let client = AuditContext { ip: Some(IP.parse().unwrap()), user_agent: Some(USER_AGENT.into()), ..ctx() };
    let pair = tokens(identity.login("erin", PASSWORD, &client).await.unwrap());
    assert_eq!(rows_in_clear(&database, &db).await, 0, "new rows are written sealed");
    assert_eq!(identity.seal_old_rows().await.unwrap(), 0, "nothing old to seal");

    // Back to how rows were written before migration 0014.
    raw(
        &database,
        &db,
        &format!(
            "UPDATE users SET email = '{EMAIL}', full_name = '{FULL_NAME}', sealed_email = NULL, \
             sealed_full_name = NULL WHERE id = '{}'; \
             UPDATE sessions SET ip = '{IP}', user_agent = '{USER_AGENT}', sealed_ip = NULL, \
             sealed_user_agent = NULL, ip_mac = NULL, user_agent_mac = NULL WHERE id = '{}'",
            erin.id, pair.session_id
        ),
    )
    .await;
    assert_eq!(rows_in_clear(&database, &db).await, 2);
    assert!(identity.user(&erin.id).await.is_err(), "an unsealed user is not read as if it had no e-mail");

    assert_eq!(identity.seal_old_rows().await.unwrap(), 2);
    assert_eq!(identity.seal_old_rows().await.unwrap(), 0, "a second run finds nothing");
    assert_eq!(rows_in_clear(&database, &db).await, 0, "the clear columns are emptied");
    let profile = identity.profile(&identity.user(&erin.id).await.unwrap()).await.unwrap();
    assert_eq!((profile.email.as_str(), profile.full_name.as_str()), (EMAIL, FULL_NAME));
    let session = identity.session(&pair.session_id).await.unwrap();
    let opened = identity.session_client(&session).await.unwrap();
    assert_eq!((opened.ip.as_deref(), opened.user_agent.as_deref()), (Some(IP), Some(USER_AGENT)));
    for hidden in [EMAIL, FULL_NAME, IP, USER_AGENT] {
        let shown = format!("{:?} {:?} {profile:?} {opened:?}", identity.user(&erin.id).await.unwrap(), session);
        assert!(!shown.contains(hidden), "{hidden} in Debug: {shown}");
    }

    // A sealed value is bound to its column: moved into another, it does not open.
    raw(&database, &db, &format!("UPDATE users SET sealed_email = sealed_full_name WHERE id = '{}'", erin.id)).await;
    let moved = identity.profile(&identity.user(&erin.id).await.unwrap()).await;
    assert!(moved.is_err(), "a full name moved into the e-mail column must not open as the e-mail");

    // Binding compares the keyed hashes the sealing made, without opening anything.
    let bound = IdentitySettings { bind_session_to_ip: true, bind_session_to_user_agent: true, ..fast_settings() };
    let bound = identity_with(&db, clock, bound).await;
    bound.authenticate(pair.access_token.expose(), &client).await.unwrap();
    let elsewhere = AuditContext { user_agent: Some("curl/8.0".into()), ..client.clone() };
    let moved = bound.authenticate(pair.access_token.expose(), &elsewhere).await;
    assert!(matches!(moved, Err(CoreError::Unauthenticated)), "{moved:?}");
    let other_address = AuditContext { ip: Some("203.0.113.9".parse().unwrap()), ..client };
    let moved = bound.authenticate(pair.access_token.expose(), &other_address).await;
    assert!(matches!(moved, Err(CoreError::Unauthenticated)), "{moved:?}");
}
