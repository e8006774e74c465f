//! The storage conformance suite: every behaviour the domain relies on, run
//! once per backend. SQLite always runs; PostgreSQL runs when
//! `STRONGROOM_TEST_POSTGRES_URL` is set (CI always sets it). Each test opens
//! its own database, and several tests open two pools on one database to
//! stand in for two server processes.

use std::sync::Arc;

use strongroom_core::{RootKeyStatus, StoreError, settings, unseal};
use strongroom_crypto::{Kek, LocalKek, SecretKey};
use strongroom_store::{ConnectOptions, Database};
use strongroom_testkit::TestDatabase;

async fn open(database: &TestDatabase) -> Database {
    let db = Database::connect(database.url(), &ConnectOptions::default())
        .await
        .expect("connect");
    db.migrate().await.expect("migrate");
    db
}

pub async fn migrations_are_idempotent_and_report_the_version(database: TestDatabase) {
    let db = Database::connect(database.url(), &ConnectOptions::default())
        .await
        .unwrap();
    let first = db.migrate().await.unwrap();
    assert_eq!(first.from_version, 0);
    assert!(first.to_version >= 1);
    let second = db.migrate().await.unwrap();
    assert_eq!(second.from_version, first.to_version);
    assert_eq!(second.to_version, first.to_version);
    assert_eq!(db.store().schema_version().await.unwrap(), first.to_version);
}

pub async fn concurrent_migrations_from_two_processes_both_succeed(database: TestDatabase) {
    let a = Database::connect(database.url(), &ConnectOptions::default())
        .await
        .unwrap();
    let b = Database::connect(database.url(), &ConnectOptions::default())
        .await
        .unwrap();
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.to_version, rb.to_version);
}

pub async fn settings_round_trip_and_missing_is_none(database: TestDatabase) {
    let store = open(&database).await.store();
    store.ping().await.unwrap();
    assert_eq!(store.setting("absent").await.unwrap(), None);
    let stored = store
        .setting_or_insert("installation_id", b"\x00\x01binary\xff")
        .await
        .unwrap();
    assert_eq!(stored, b"\x00\x01binary\xff");
    assert_eq!(
        store.setting("installation_id").await.unwrap().as_deref(),
        Some(&b"\x00\x01binary\xff"[..])
    );
}

pub async fn setting_or_insert_keeps_the_first_value(database: TestDatabase) {
    let store = open(&database).await.store();
    assert_eq!(
        store.setting_or_insert("k", b"first").await.unwrap(),
        b"first"
    );
    assert_eq!(
        store.setting_or_insert("k", b"second").await.unwrap(),
        b"first"
    );
}

pub async fn insert_settings_if_absent_is_all_or_nothing(database: TestDatabase) {
    let store = open(&database).await.store();
    store.setting_or_insert("b", b"existing").await.unwrap();
    let inserted = store
        .insert_settings_if_absent(&[("a", b"1"), ("b", b"2"), ("c", b"3")])
        .await
        .unwrap();
    assert!(!inserted);
    assert_eq!(
        store.setting("a").await.unwrap(),
        None,
        "a must be rolled back with the batch"
    );
    assert_eq!(
        store.setting("b").await.unwrap().as_deref(),
        Some(&b"existing"[..])
    );
    assert_eq!(store.setting("c").await.unwrap(), None);
    assert!(
        store
            .insert_settings_if_absent(&[("x", b"1"), ("y", b"2")])
            .await
            .unwrap()
    );
    assert_eq!(
        store.setting("y").await.unwrap().as_deref(),
        Some(&b"2"[..])
    );
}

pub async fn racing_instances_converge_on_one_setting(database: TestDatabase) {
    let a = open(&database).await.store();
    let b = open(&database).await.store();
    let mut tasks = Vec::new();
    for i in 0..16u8 {
        let store = if i % 2 == 0 {
            Arc::clone(&a)
        } else {
            Arc::clone(&b)
        };
        tasks.push(tokio::spawn(async move {
            store.setting_or_insert("race", &[i]).await.unwrap()
        }));
    }
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.unwrap());
    }
    seen.dedup();
    assert_eq!(
        seen.len(),
        1,
        "every instance must see the same winner: {seen:?}"
    );
}

pub async fn racing_first_starts_bind_one_root_key(database: TestDatabase) {
    let a = open(&database).await.store();
    let b = open(&database).await.store();
    let kek = Arc::new(LocalKek::new(SecretKey::from_bytes([5; 32])));
    let (ra, rb) = tokio::join!(
        unseal(a.as_ref(), kek.as_ref()),
        unseal(b.as_ref(), kek.as_ref())
    );
    let mut statuses = vec![ra.unwrap(), rb.unwrap()];
    statuses.sort_by_key(|s| *s == RootKeyStatus::Verified);
    assert_eq!(
        statuses,
        vec![RootKeyStatus::Initialised, RootKeyStatus::Verified]
    );
    let recorded = a.setting(settings::ROOT_KEY_ID).await.unwrap().unwrap();
    assert_eq!(recorded, kek.id().as_str().as_bytes());
    let other = LocalKek::new(SecretKey::from_bytes([6; 32]));
    assert!(unseal(b.as_ref(), &other).await.is_err());
}

#[tokio::test]
async fn unreachable_database_is_a_backend_error() {
    let error = Database::connect(
        "postgres://nobody@127.0.0.1:1/none",
        &ConnectOptions {
            acquire_timeout: std::time::Duration::from_secs(2),
            ..ConnectOptions::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(error, StoreError::Backend(_)), "{error:?}");
}

/// Stamps out one `#[tokio::test]` per behaviour for a backend.
macro_rules! conformance {
    ($backend:ident, $make:expr, [$($name:ident),* $(,)?]) => {
        mod $backend {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(database) = $make else { return };
                    super::$name(database).await;
                }
            )*
        }
    };
}

macro_rules! all_backends {
    ($($name:ident),* $(,)?) => {
        conformance!(sqlite, Some(TestDatabase::sqlite()), [$($name),*]);
        conformance!(postgres, TestDatabase::postgres().await, [$($name),*]);
    };
}

all_backends![
    migrations_are_idempotent_and_report_the_version,
    settings_round_trip_and_missing_is_none,
    setting_or_insert_keeps_the_first_value,
    insert_settings_if_absent_is_all_or_nothing,
    racing_instances_converge_on_one_setting,
    racing_first_starts_bind_one_root_key,
];

// SQLite is single-process by design (the server locks its data dir, and
// `strongroom migrate` takes the same lock), so concurrent migration from two
// processes is a PostgreSQL-only promise.
conformance!(
    postgres_only,
    TestDatabase::postgres().await,
    [concurrent_migrations_from_two_processes_both_succeed]
);
