//! The storage conformance suite: every behaviour the domain relies on, run
//! once per backend. SQLite always runs; PostgreSQL runs when
//! `STRONGROOM_TEST_POSTGRES_URL` is set (CI always sets it). Each test opens
//! its own database, and several tests open two pools on one database to
//! stand in for two server processes.

use std::sync::Arc;

use std::time::Duration;

use strongroom_core::audit::{
    AlertGroup, AlertRecord, AuditContext, AuditFilter, AuditLog, AuditRecord, AuditSettings, AuditStore, EventSource,
    Severity, StoredCheckpoint,
};
use strongroom_core::identity::{Grantor, Identity, IdentitySettings, LoginOutcome, NewPassword, NewUser, Role};
use strongroom_core::{
    CoreError, FixedClock, KeyAlgorithm, KeyPurpose, KeySpec, KeyState, Keyring, RootKeyStatus, StoreError, settings,
    unseal,
};
use strongroom_crypto::{AssociatedData, CryptoError, Kek, LocalKek, SecretKey};
use strongroom_store::{ConnectOptions, Database};
use strongroom_testkit::TestDatabase;

#[path = "conformance/authz.rs"]
mod authz;
use authz::*;
#[path = "conformance/caching.rs"]
mod caching;
use caching::*;
#[path = "conformance/housekeeping.rs"]
mod housekeeping;
use housekeeping::*;
#[path = "conformance/keyjobs.rs"]
mod keyjobs;
use keyjobs::*;
#[path = "conformance/personal.rs"]
mod personal;
use personal::*;
#[path = "conformance/records.rs"]
mod records;
use records::*;

async fn open(database: &TestDatabase) -> Database {
    let db = Database::connect(database.url(), &ConnectOptions::default()).await.expect("connect");
    db.migrate().await.expect("migrate");
    db
}

pub async fn migrations_are_idempotent_and_report_the_version(database: TestDatabase) {
    let db = Database::connect(database.url(), &ConnectOptions::default()).await.unwrap();
    let first = db.migrate().await.unwrap();
    assert_eq!(first.from_version, 0);
    assert!(first.to_version >= 1);
    let second = db.migrate().await.unwrap();
    assert_eq!(second.from_version, first.to_version);
    assert_eq!(second.to_version, first.to_version);
    assert_eq!(db.store().schema_version().await.unwrap(), first.to_version);
}

pub async fn concurrent_migrations_from_two_processes_both_succeed(database: TestDatabase) {
    let a = Database::connect(database.url(), &ConnectOptions::default()).await.unwrap();
    let b = Database::connect(database.url(), &ConnectOptions::default()).await.unwrap();
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.to_version, rb.to_version);
}

pub async fn settings_round_trip_and_missing_is_none(database: TestDatabase) {
    let store = open(&database).await.store();
    store.ping().await.unwrap();
    assert_eq!(store.setting("absent").await.unwrap(), None);
    let stored = store.setting_or_insert("installation_id", b"\x00\x01binary\xff").await.unwrap();
    assert_eq!(stored, b"\x00\x01binary\xff");
    assert_eq!(store.setting("installation_id").await.unwrap().as_deref(), Some(&b"\x00\x01binary\xff"[..]));
}

pub async fn setting_or_insert_keeps_the_first_value(database: TestDatabase) {
    let store = open(&database).await.store();
    assert_eq!(store.setting_or_insert("k", b"first").await.unwrap(), b"first");
    assert_eq!(store.setting_or_insert("k", b"second").await.unwrap(), b"first");
}

pub async fn insert_settings_if_absent_is_all_or_nothing(database: TestDatabase) {
    let store = open(&database).await.store();
    store.setting_or_insert("b", b"existing").await.unwrap();
    let inserted = store.insert_settings_if_absent(&[("a", b"1"), ("b", b"2"), ("c", b"3")]).await.unwrap();
    assert!(!inserted);
    assert_eq!(store.setting("a").await.unwrap(), None, "a must be rolled back with the batch");
    assert_eq!(store.setting("b").await.unwrap().as_deref(), Some(&b"existing"[..]));
    assert_eq!(store.setting("c").await.unwrap(), None);
    assert!(store.insert_settings_if_absent(&[("x", b"1"), ("y", b"2")]).await.unwrap());
    assert_eq!(store.setting("y").await.unwrap().as_deref(), Some(&b"2"[..]));
}

pub async fn racing_instances_converge_on_one_setting(database: TestDatabase) {
    let a = open(&database).await.store();
    let b = open(&database).await.store();
    let mut tasks = Vec::new();
    for i in 0..16u8 {
        let store = if i % 2 == 0 { Arc::clone(&a) } else { Arc::clone(&b) };
        tasks.push(tokio::spawn(async move { store.setting_or_insert("race", &[i]).await.unwrap() }));
    }
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.unwrap());
    }
    seen.dedup();
    assert_eq!(seen.len(), 1, "every instance must see the same winner: {seen:?}");
}

pub async fn racing_first_starts_bind_one_root_key(database: TestDatabase) {
    let a = open(&database).await.store();
    let b = open(&database).await.store();
    let kek = Arc::new(LocalKek::new(SecretKey::from_bytes([5; 32])));
    let (ra, rb) = tokio::join!(unseal(a.as_ref(), kek.as_ref()), unseal(b.as_ref(), kek.as_ref()));
    let mut statuses = vec![ra.unwrap(), rb.unwrap()];
    statuses.sort_by_key(|s| *s == RootKeyStatus::Verified);
    assert_eq!(statuses, vec![RootKeyStatus::Initialised, RootKeyStatus::Verified]);
    let recorded = a.setting(settings::ROOT_KEY_ID).await.unwrap().unwrap();
    assert_eq!(recorded, kek.id().as_str().as_bytes());
    let other = LocalKek::new(SecretKey::from_bytes([6; 32]));
    assert!(unseal(b.as_ref(), &other).await.is_err());
}

fn keyring_with(db: &Database, root: u8, clock: Arc<FixedClock>) -> Keyring {
    let audit = AuditLog::new(db.audit_store(), Arc::clone(&clock) as _, AuditSettings::default());
    Keyring::new(db.key_store(), Arc::new(LocalKek::new(SecretKey::from_bytes([root; 32]))), clock, audit)
}

/// Who the keyring changes of these tests are audited as.
fn ctx() -> AuditContext {
    AuditContext::service("conformance-test")
}

const WHY: &str = "conformance test of key states";

fn keyring(db: &Database) -> Keyring {
    keyring_with(db, 1, Arc::new(FixedClock::at(Duration::from_secs(1_800_000_000))))
}

fn transit() -> KeySpec {
    KeySpec { purpose: KeyPurpose::Transit, algorithm: None, rotation_period_seconds: None, deletion_allowed: false }
}

fn field(record: &str) -> AssociatedData {
    AssociatedData::new().with("collection", b"interviews").with("record", record.as_bytes()).with("field", b"text")
}

pub async fn keyring_creates_keys_and_round_trips_values(database: TestDatabase) {
    let db = open(&database).await;
    let ring = keyring(&db);
    let info = ring.create("orders", transit(), &ctx()).await.unwrap();
    assert_eq!((info.latest_version, info.min_decryption_version, info.state), (1, 1, KeyState::Active));
    assert!(matches!(ring.create("orders", transit(), &ctx()).await, Err(CoreError::KeyExists(_))));
    assert!(matches!(ring.create("Bad Name", transit(), &ctx()).await, Err(CoreError::InvalidKeyName(_))));
    for server_name in ["matter.case-1", "blind.pii_vault.email", "system.other"] {
        assert!(
            matches!(ring.create(server_name, transit(), &ctx()).await, Err(CoreError::ReservedKeyName { .. })),
            "{server_name} is kept for the server's own keys"
        );
    }
    let matter_key = |purpose| KeySpec { purpose, ..transit() };
    ring.ensure("matter.case-1", matter_key(KeyPurpose::MatterData), &ctx()).await.unwrap();
    assert!(
        matches!(
            ring.ensure("orders", matter_key(KeyPurpose::MatterData), &ctx()).await,
            Err(CoreError::InvalidKeyChange(_))
        ),
        "ensure does not hand out a key of another purpose"
    );
    let sealed = ring.encrypt(KeyPurpose::Transit, "orders", b"candidate answer", &field("r1")).await.unwrap();
    assert_eq!(
        ring.decrypt(KeyPurpose::Transit, "orders", &sealed, &field("r1")).await.unwrap().expose(),
        b"candidate answer"
    );
    assert!(matches!(ring.info("missing").await, Err(CoreError::KeyNotFound(_))));
    assert_eq!(ring.list().await.unwrap().len(), 2, "orders and matter.case-1");
}

pub async fn ciphertext_moved_to_another_record_or_key_fails(database: TestDatabase) {
    let db = open(&database).await;
    let ring = keyring(&db);
    ring.create("a", transit(), &ctx()).await.unwrap();
    ring.create("b", transit(), &ctx()).await.unwrap();
    let sealed = ring.encrypt(KeyPurpose::Transit, "a", b"secret", &field("r1")).await.unwrap();
    let moved = ring.decrypt(KeyPurpose::Transit, "a", &sealed, &field("r2")).await.unwrap_err();
    assert!(matches!(moved, CoreError::Crypto(CryptoError::Decrypt)), "{moved:?}");
    assert!(matches!(
        ring.decrypt(KeyPurpose::Transit, "b", &sealed, &field("r1")).await,
        Err(CoreError::WrongKeyForCiphertext(_))
    ));
    let mut flipped = sealed.clone();
    *flipped.last_mut().unwrap() ^= 1;
    assert!(matches!(
        ring.decrypt(KeyPurpose::Transit, "a", &flipped, &field("r1")).await,
        Err(CoreError::Crypto(CryptoError::Decrypt))
    ));
    assert!(matches!(
        ring.decrypt(KeyPurpose::Transit, "a", &sealed[..10], &field("r1")).await,
        Err(CoreError::Crypto(CryptoError::Decrypt))
    ));
}

pub async fn rotation_keeps_old_values_readable_rewrap_moves_them_and_min_version_retires(database: TestDatabase) {
    let db = open(&database).await;
    let ring = keyring(&db);
    ring.create("k", transit(), &ctx()).await.unwrap();
    let old = ring.encrypt(KeyPurpose::Transit, "k", b"v1 data", &field("r")).await.unwrap();
    assert_eq!(ring.rotate("k", &ctx()).await.unwrap().latest_version, 2);
    assert_eq!(ring.decrypt(KeyPurpose::Transit, "k", &old, &field("r")).await.unwrap().expose(), b"v1 data");
    let rewrapped = ring.rewrap(KeyPurpose::Transit, "k", &old, &field("r")).await.unwrap();
    assert_eq!(strongroom_crypto::SealedHeader::parse(&rewrapped).unwrap().0.key_version, 2);
    assert_eq!(ring.decrypt(KeyPurpose::Transit, "k", &rewrapped, &field("r")).await.unwrap().expose(), b"v1 data");
    ring.set_min_decryption_version("k", 2, &ctx()).await.unwrap();
    assert!(matches!(
        ring.decrypt(KeyPurpose::Transit, "k", &old, &field("r")).await,
        Err(CoreError::KeyVersionRetired { version: 1, min: 2, .. })
    ));
    assert!(ring.set_min_decryption_version("k", 1, &ctx()).await.is_err(), "never backwards");
    assert!(ring.set_min_decryption_version("k", 3, &ctx()).await.is_err(), "never past the latest");
}

pub async fn states_gate_operations_and_destruction_crypto_shreds(database: TestDatabase) {
    let db = open(&database).await;
    let ring = keyring(&db);
    ring.create("k", transit(), &ctx()).await.unwrap();
    let sealed = ring.encrypt(KeyPurpose::Transit, "k", b"privileged audio key", &field("r")).await.unwrap();
    ring.set_state("k", KeyState::DecryptOnly, WHY, &ctx()).await.unwrap();
    assert!(matches!(
        ring.encrypt(KeyPurpose::Transit, "k", b"x", &field("r")).await,
        Err(CoreError::KeyUnusable { .. })
    ));
    ring.decrypt(KeyPurpose::Transit, "k", &sealed, &field("r")).await.unwrap();
    ring.set_state("k", KeyState::Disabled, WHY, &ctx()).await.unwrap();
    assert!(matches!(
        ring.decrypt(KeyPurpose::Transit, "k", &sealed, &field("r")).await,
        Err(CoreError::KeyUnusable { .. })
    ));
    ring.set_state("k", KeyState::Compromised, WHY, &ctx()).await.unwrap();
    ring.decrypt(KeyPurpose::Transit, "k", &sealed, &field("r")).await.unwrap();
    assert!(ring.set_state("k", KeyState::Active, WHY, &ctx()).await.is_err(), "a compromised key stays compromised");
    // A second instance has the material cached before the first destroys the key.
    let other_instance = keyring(&db);
    other_instance.decrypt(KeyPurpose::Transit, "k", &sealed, &field("r")).await.unwrap();
    ring.set_state("k", KeyState::Destroyed, WHY, &ctx()).await.unwrap();
    for instance in [&ring, &other_instance, &keyring(&db)] {
        assert!(matches!(
            instance.decrypt(KeyPurpose::Transit, "k", &sealed, &field("r")).await,
            Err(CoreError::KeyUnusable { .. })
        ));
    }
    let stored = db.key_store().key_version("k", 1).await.unwrap().unwrap();
    assert!(stored.wrapped_material.is_empty(), "destroyed material must be erased at rest");
    assert!(ring.set_state("k", KeyState::Active, WHY, &ctx()).await.is_err(), "destroyed is final");
}

pub async fn material_depends_on_the_root_key(database: TestDatabase) {
    let db = open(&database).await;
    let clock = Arc::new(FixedClock::at(Duration::from_secs(1_800_000_000)));
    let ring = keyring_with(&db, 1, Arc::clone(&clock));
    ring.create("k", transit(), &ctx()).await.unwrap();
    let sealed = ring.encrypt(KeyPurpose::Transit, "k", b"x", &field("r")).await.unwrap();
    let wrong_root = keyring_with(&db, 2, clock);
    assert!(matches!(
        wrong_root.decrypt(KeyPurpose::Transit, "k", &sealed, &field("r")).await,
        Err(CoreError::Crypto(_))
    ));
}

pub async fn concurrent_rotations_from_two_instances_never_collide(database: TestDatabase) {
    let db_a = open(&database).await;
    let db_b = open(&database).await;
    let a = Arc::new(keyring(&db_a));
    let b = Arc::new(keyring(&db_b));
    a.create("k", transit(), &ctx()).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let ring = if i % 2 == 0 { Arc::clone(&a) } else { Arc::clone(&b) };
        tasks.push(tokio::spawn(async move { ring.rotate("k", &ctx()).await }));
    }
    let mut succeeded = 0;
    for task in tasks {
        if task.await.unwrap().is_ok() {
            succeeded += 1;
        }
    }
    let info = a.info("k").await.unwrap();
    assert_eq!(info.latest_version, 1 + succeeded, "every successful rotation adds exactly one version");
    assert!(succeeded >= 4, "most rotations succeed even under contention: {succeeded}");
    for version in 1..=info.latest_version {
        assert!(db_a.key_store().key_version("k", version).await.unwrap().is_some(), "version {version} missing");
    }
}

pub async fn automatic_rotation_follows_the_period(database: TestDatabase) {
    let db = open(&database).await;
    let clock = Arc::new(FixedClock::at(Duration::from_secs(1_800_000_000)));
    let ring = keyring_with(&db, 1, Arc::clone(&clock));
    let spec = KeySpec { rotation_period_seconds: Some(3600), ..transit() };
    ring.create("rotating", spec, &ctx()).await.unwrap();
    ring.create("static", transit(), &ctx()).await.unwrap();
    assert!(ring.rotate_due().await.unwrap().is_empty());
    clock.advance(Duration::from_secs(3600));
    assert_eq!(ring.rotate_due().await.unwrap(), vec!["rotating".to_string()]);
    assert_eq!(ring.info("rotating").await.unwrap().latest_version, 2);
    assert!(ring.rotate_due().await.unwrap().is_empty(), "the period restarts at rotation");
    assert!(ring.create("fast", KeySpec { rotation_period_seconds: Some(60), ..transit() }, &ctx()).await.is_err());
}

pub async fn instances_running_rotate_due_together_rotate_a_key_once(database: TestDatabase) {
    let db_a = open(&database).await;
    let db_b = open(&database).await;
    let clock = Arc::new(FixedClock::at(Duration::from_secs(1_800_000_000)));
    let a = keyring_with(&db_a, 1, Arc::clone(&clock));
    let b = keyring_with(&db_b, 1, Arc::clone(&clock));
    a.create("k", KeySpec { rotation_period_seconds: Some(3600), ..transit() }, &ctx()).await.unwrap();
    clock.advance(Duration::from_secs(4000));
    let (ra, rb) = tokio::join!(a.rotate_due(), b.rotate_due());
    let total = ra.unwrap().len() + rb.unwrap().len();
    assert_eq!(total, 1, "exactly one instance rotates the due key");
    assert_eq!(a.info("k").await.unwrap().latest_version, 2);
}

pub async fn deletion_is_refused_unless_allowed(database: TestDatabase) {
    let db = open(&database).await;
    let ring = keyring(&db);
    ring.create("k", transit(), &ctx()).await.unwrap();
    assert!(matches!(ring.delete("k", &ctx()).await, Err(CoreError::InvalidKeyChange(_))));
    ring.configure("k", Some(true), None, &ctx()).await.unwrap();
    ring.delete("k", &ctx()).await.unwrap();
    assert!(matches!(ring.info("k").await, Err(CoreError::KeyNotFound(_))));
}

pub async fn signing_and_hmac_keys_are_created_but_do_not_encrypt(database: TestDatabase) {
    let db = open(&database).await;
    let ring = keyring(&db);
    let jwt = ring
        .create(
            "jwt",
            KeySpec {
                purpose: KeyPurpose::JwtSigning,
                algorithm: None,
                rotation_period_seconds: None,
                deletion_allowed: false,
            },
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(jwt.algorithm, KeyAlgorithm::Ed25519);
    assert!(matches!(
        ring.encrypt(KeyPurpose::JwtSigning, "jwt", b"x", &field("r")).await,
        Err(CoreError::WrongAlgorithm { .. })
    ));
}

fn new_key(name: &str, scopes: &[strongroom_core::Scope], expires_in_days: Option<u32>) -> strongroom_core::NewApiKey {
    strongroom_core::NewApiKey { name: name.into(), scopes: scopes.to_vec(), expires_in_days, ..Default::default() }
}

fn api_keys(db: &Database, clock: Arc<FixedClock>) -> strongroom_core::ApiKeys {
    let ring = Arc::new(keyring_with(db, 1, Arc::clone(&clock)));
    let limits = strongroom_core::rate_limits::RateLimits::new(
        None,
        Default::default(),
        Arc::clone(ring.audit()),
        Arc::clone(&clock) as _,
    );
    strongroom_core::ApiKeys::new(db.api_key_store(), ring, clock, Arc::new(limits))
}

pub async fn api_keys_authenticate_once_issued_and_never_after_revocation_or_expiry(database: TestDatabase) {
    use strongroom_core::Scope;
    let db = open(&database).await;
    let clock = Arc::new(FixedClock::at(Duration::from_secs(1_800_000_000)));
    let keys = api_keys(&db, Arc::clone(&clock));
    let (record, issued) =
        keys.create(&new_key("billing worker", &[Scope::TransitUse], Some(1)), &ctx()).await.unwrap();
    assert!(issued.expose().starts_with(&format!("sr_{}_", record.id)));
    assert!(!format!("{issued:?}").contains(&issued.expose()[20..]), "Debug must hide the key");
    let stored = db.api_key_store().api_key(&record.id).await.unwrap().unwrap();
    let secret = issued.expose().splitn(3, '_').nth(2).unwrap(); // base64url: may itself hold '_'
    assert!(!stored.secret_hash.windows(secret.len()).any(|w| w == secret.as_bytes()), "secret stored in clear");
    let principal = keys.authenticate(issued.expose(), None).await.unwrap();
    assert_eq!(principal.scopes, vec![Scope::TransitUse]);
    assert!(principal.require(Scope::TransitManage).is_err());
    keys.authenticate(issued.expose(), None).await.unwrap();
    assert_eq!(db.api_key_store().api_key(&record.id).await.unwrap().unwrap().use_count, 0, "tallied in memory");
    keys.flush_usage().await.unwrap();
    keys.flush_usage().await.unwrap();
    let used = db.api_key_store().api_key(&record.id).await.unwrap().unwrap();
    assert_eq!((used.use_count, used.last_used_at), (2, Some(1_800_000_000)));
    let mut wrong = issued.expose().to_owned();
    wrong.pop();
    wrong.push(if issued.expose().ends_with('A') { 'B' } else { 'A' });
    assert!(matches!(keys.authenticate(&wrong, None).await, Err(CoreError::Unauthenticated)));
    let unknown = format!("sr_0000000000000000_{}", secret);
    assert!(matches!(keys.authenticate(&unknown, None).await, Err(CoreError::Unauthenticated)));
    clock.advance(Duration::from_secs(86_400));
    assert!(matches!(keys.authenticate(issued.expose(), None).await, Err(CoreError::Unauthenticated)), "expired");
    let (other, issued_other) = keys.create(&new_key("other", &[Scope::TransitManage], None), &ctx()).await.unwrap();
    keys.revoke(&other.id, &ctx()).await.unwrap();
    assert!(matches!(keys.authenticate(issued_other.expose(), None).await, Err(CoreError::Unauthenticated)), "revoked");
    assert!(keys.revoke(&other.id, &ctx()).await.is_err(), "already revoked");
    assert!(keys.create(&new_key("", &[Scope::TransitUse], None), &ctx()).await.is_err());
    assert!(keys.create(&new_key("no scopes", &[], None), &ctx()).await.is_err());
    assert_eq!(keys.list().await.unwrap().len(), 2);
}

fn audit_record(n: usize, event_type: &str, actor: &str) -> AuditRecord {
    AuditRecord {
        entry: format!("{{\"n\":{n},\"type\":\"{event_type}\"}}").into_bytes(),
        time_ms: 1_000 + n as i64,
        event_type: event_type.into(),
        outcome: if n.is_multiple_of(3) { "failure".into() } else { "success".into() },
        actor_id: actor.into(),
        target_id: Some(format!("target-{}", n % 2)),
        matter: None,
        ip_key: Some("10.0.0.1".into()),
        hmacs: if n == 4 { vec![vec![0xab; 32]] } else { Vec::new() },
        severity: (n % 4) as i16,
    }
}

/// Recomputes the root over every stored entry.
async fn recomputed_root(store: &dyn AuditStore) -> (u64, strongroom_crypto::merkle::Hash) {
    let mut frontier = strongroom_crypto::merkle::Frontier::new();
    for entry in store.audit_entries(0, 100_000).await.unwrap() {
        assert_eq!(entry.index, frontier.size(), "indexes are contiguous");
        let leaf = strongroom_crypto::merkle::leaf_hash(&entry.entry);
        assert_eq!(entry.leaf_hash, Some(leaf));
        frontier.push(leaf);
    }
    (frontier.size(), frontier.root())
}

pub async fn audit_appends_grow_one_tree_whose_proofs_verify(database: TestDatabase) {
    use strongroom_crypto::merkle;
    let db = open(&database).await;
    let store = db.audit_store();
    assert_eq!(store.audit_head().await.unwrap().size, 0);
    let mut roots = vec![store.audit_head().await.unwrap().root];
    let mut n = 0;
    for batch in [1usize, 4, 2, 9] {
        let records: Vec<_> = (n..n + batch).map(|i| audit_record(i, "key.rotate", "ops")).collect();
        let receipt = store.append_audit(&records).await.unwrap();
        assert_eq!(receipt.first_index, n as u64);
        n += batch;
        assert_eq!(receipt.head.size, n as u64);
        roots.push(receipt.head.root);
    }
    assert_eq!(recomputed_root(store.as_ref()).await, (16, *roots.last().unwrap()));
    let sizes = [1u64, 5, 7, 16];
    for (&size, root) in sizes.iter().zip(&roots[1..]) {
        let nodes = store.audit_nodes(&merkle::nodes_needed_for_root(size)).await.unwrap();
        assert_eq!(merkle::root_at(&nodes, size).unwrap(), *root);
        for index in 0..size {
            let nodes = store.audit_nodes(&merkle::nodes_needed_for_inclusion(index, size)).await.unwrap();
            let path = merkle::inclusion_proof(&nodes, index, size).unwrap();
            let leaf = merkle::leaf_hash(&audit_record(index as usize, "key.rotate", "ops").entry);
            assert!(merkle::verify_inclusion(&leaf, index, size, &path, root));
        }
    }
    let nodes = store.audit_nodes(&merkle::nodes_needed_for_consistency(5, 16)).await.unwrap();
    let path = merkle::consistency_proof(&nodes, 5, 16).unwrap();
    assert!(merkle::verify_consistency(5, 16, &roots[2], &roots[4], &path));
}

pub async fn concurrent_audit_appends_from_two_instances_grow_one_tree(database: TestDatabase) {
    let stores = [open(&database).await.audit_store(), open(&database).await.audit_store()];
    let mut tasks = Vec::new();
    for task in 0..20usize {
        let store = Arc::clone(&stores[task % 2]);
        tasks.push(tokio::spawn(async move {
            let records: Vec<_> = (0..5).map(|i| audit_record(task * 5 + i, "transit.encrypt", "app")).collect();
            store.append_audit(&records).await.unwrap()
        }));
    }
    let mut firsts = Vec::new();
    for task in tasks {
        firsts.push(task.await.unwrap().first_index);
    }
    firsts.sort_unstable();
    assert_eq!(firsts, (0..20).map(|i| i * 5).collect::<Vec<u64>>(), "no two batches share an index");
    let head = stores[0].audit_head().await.unwrap();
    assert_eq!((head.size, head.root), recomputed_root(stores[1].as_ref()).await);
}

/// The group-commit append (on SQLite, its own thread and connection) and
/// the appends inside audited key changes (on the writer connection) take
/// turns at one tree: neither may extend a head the other has moved.
pub async fn group_commit_appends_and_audited_key_changes_grow_one_tree(database: TestDatabase) {
    let db = open(&database).await;
    let ring = Arc::new(keyring(&db));
    let store = db.audit_store();
    ring.create("k", transit(), &ctx()).await.unwrap();
    let before = store.audit_head().await.unwrap().size;
    let mut tasks = Vec::new();
    for task in 0..10usize {
        let (store, ring) = (Arc::clone(&store), Arc::clone(&ring));
        tasks.push(tokio::spawn(async move {
            if task % 2 == 0 {
                let records: Vec<_> = (0..3).map(|i| audit_record(task * 3 + i, "transit.encrypt", "app")).collect();
                store.append_audit(&records).await.unwrap();
            } else {
                ring.rotate("k", &ctx()).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let head = store.audit_head().await.unwrap();
    assert!(head.size >= before + 5 * 3 + 5, "every append and every rotation left its leaves: {}", head.size);
    assert_eq!((head.size, head.root), recomputed_root(store.as_ref()).await);
    assert_eq!(ring.info("k").await.unwrap().latest_version, 6);
}

/// Audited key changes still get their turn at the writer while appends
/// never stop: the SQLite writer thread keeps the turn across back-to-back
/// commits, and must give it back.
pub async fn key_changes_are_not_starved_by_continuous_appends(database: TestDatabase) {
    let db = open(&database).await;
    let ring = keyring(&db);
    let store = db.audit_store();
    ring.create("k", transit(), &ctx()).await.unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut appenders = Vec::new();
    for task in 0..8usize {
        let (store, stop) = (Arc::clone(&store), Arc::clone(&stop));
        appenders.push(tokio::spawn(async move {
            let mut appended = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                store.append_audit(&[audit_record(task, "transit.encrypt", "app")]).await.unwrap();
                appended += 1;
            }
            appended
        }));
    }
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        ring.rotate("k", &ctx()).await.expect("a rotation gets the writer between appends");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut appended = 0;
    for task in appenders {
        appended += task.await.unwrap();
    }
    assert!(appended > 8, "the appends ran alongside: {appended}");
    assert_eq!(ring.info("k").await.unwrap().latest_version, 4);
    let head = store.audit_head().await.unwrap();
    assert_eq!((head.size, head.root), recomputed_root(store.as_ref()).await);
}

/// Many appends at once, of different lengths: whether the store commits
/// them one by one or merges them into shared commits, each gets a run of
/// indexes of its own that holds exactly its records, in order, and a head
/// that includes them.
pub async fn concurrent_appends_each_get_their_own_run_of_indexes(database: TestDatabase) {
    let db = open(&database).await;
    let store = db.audit_store();
    let before = store.audit_head().await.unwrap().size;
    let mut tasks = Vec::new();
    for task in 0..40usize {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let records: Vec<_> =
                (0..1 + task % 4).map(|i| audit_record(task * 10 + i, "transit.encrypt", "app")).collect();
            let receipt = store.append_audit(&records).await.unwrap();
            assert!(receipt.head.size >= receipt.first_index + records.len() as u64, "the head includes the append");
            (receipt.first_index, records)
        }));
    }
    let mut runs = Vec::new();
    for task in tasks {
        runs.push(task.await.unwrap());
    }
    runs.sort_by_key(|(first, _)| *first);
    let mut next = before;
    for (first, records) in &runs {
        assert_eq!(*first, next, "runs are disjoint and leave no gap");
        let stored = store.audit_entries(*first, records.len() as u32).await.unwrap();
        let expected: Vec<_> = records.iter().map(|r| r.entry.clone()).collect();
        assert_eq!(stored.into_iter().map(|e| e.entry).collect::<Vec<_>>(), expected, "the run holds its own records");
        next += records.len() as u64;
    }
    let head = store.audit_head().await.unwrap();
    assert_eq!(head.size, next);
    assert_eq!((head.size, head.root), recomputed_root(store.as_ref()).await);
}

pub async fn audit_search_filters_counts_checkpoints_and_alerts(database: TestDatabase) {
    let db = open(&database).await;
    let store = db.audit_store();
    let mut records: Vec<_> = (0..6).map(|i| audit_record(i, "key.rotate", "ops")).collect();
    records.push(audit_record(6, "keyring.other", "ops"));
    records.push(audit_record(7, "login.failure", "anon"));
    store.append_audit(&records).await.unwrap();
    let search = |filter: AuditFilter| {
        let store = Arc::clone(&store);
        async move { store.search_audit(&AuditFilter { limit: 100, ..filter }).await.unwrap() }
    };
    let family = search(AuditFilter { event_type: Some("key.*".into()), ..Default::default() }).await;
    assert_eq!(family.iter().map(|e| e.index).collect::<Vec<_>>(), vec![5, 4, 3, 2, 1, 0], "newest first, family only");
    let page =
        search(AuditFilter { event_type: Some("key.*".into()), before_index: Some(3), ..Default::default() }).await;
    assert_eq!(page.iter().map(|e| e.index).collect::<Vec<_>>(), vec![2, 1, 0]);
    let failed =
        search(AuditFilter { outcome: Some("failure".into()), target: Some("target-0".into()), ..Default::default() })
            .await;
    assert_eq!(failed.iter().map(|e| e.index).collect::<Vec<_>>(), vec![6, 0]);
    let by_mac = search(AuditFilter { hmacs: vec![vec![0xab; 32]], ..Default::default() }).await;
    assert_eq!(by_mac.iter().map(|e| e.index).collect::<Vec<_>>(), vec![4]);
    let window = search(AuditFilter { from_ms: Some(1_002), to_ms: Some(1_004), ..Default::default() }).await;
    assert_eq!(window.iter().map(|e| e.index).collect::<Vec<_>>(), vec![3, 2]);

    let counts = store.audit_counts(1_005).await.unwrap();
    assert!(counts.per_type.contains(&("key.rotate".to_string(), 6)));
    assert_eq!(counts.failures_since, 1, "index 6 is the only failure at or after 1005");
    let first_hour = strongroom_core::audit::HourCount { hour_ms: 0, events: 3, failures: 1 };
    assert_eq!(counts.per_hour, vec![first_hour], "indexes 5 to 7 fall in the hour that starts at 0");
    let later = store.audit_counts(3_600_000).await.unwrap();
    assert!(later.per_hour.is_empty(), "nothing from the next hour on");
    let groups = store.count_audit_groups(&["key.rotate", "login.failure"], 0, AlertGroup::Ip, 7).await.unwrap();
    assert_eq!(groups, vec![("10.0.0.1".to_string(), 7)]);
    assert!(store.count_audit_groups(&["key.rotate"], 0, AlertGroup::Actor, 7).await.unwrap().is_empty());
    // The rule that counts every matching event as one group (the denied-access alert).
    let all_of_them =
        counts.per_type.iter().filter(|(t, _)| t == "key.rotate" || t == "login.failure").map(|(_, n)| n).sum();
    let everything = store.count_audit_groups(&["key.rotate", "login.failure"], 0, AlertGroup::All, 2).await.unwrap();
    assert_eq!(everything, vec![("*".to_string(), all_of_them)]);
    assert!(store.count_audit_groups(&["key.rotate"], 0, AlertGroup::All, 1_000).await.unwrap().is_empty());

    let alert = AlertRecord {
        id: "rule:x:1".into(),
        rule: "rule".into(),
        group_key: "x".into(),
        count: 3,
        window_start_ms: 0,
        created_ms: 5,
        message: "m".into(),
    };
    let before = store.audit_head().await.unwrap().size;
    assert!(store.insert_alert(&alert, &[audit_record(0, "alert", "alerts")]).await.unwrap());
    assert_eq!(store.audit_head().await.unwrap().size, before + 1, "stored with its event");
    assert!(!store.insert_alert(&alert, &[audit_record(1, "alert", "alerts")]).await.unwrap(), "raised once");
    assert_eq!(store.audit_head().await.unwrap().size, before + 1, "no event for an alert raised already");
    assert_eq!(store.alerts(10).await.unwrap(), vec![alert]);

    let head = store.audit_head().await.unwrap();
    let checkpoint = StoredCheckpoint { size: head.size, root: head.root, note: "note".into(), created_ms: 9 };
    store.insert_checkpoint(&checkpoint).await.unwrap();
    store.insert_checkpoint(&StoredCheckpoint { note: "other".into(), ..checkpoint.clone() }).await.unwrap();
    assert_eq!(store.latest_checkpoint().await.unwrap(), Some(checkpoint));
}

/// `severity=`, `min_severity=` and `source=` (applications' `app.*` types
/// against Strongroom's), and the severity column read back for verification.
pub async fn audit_search_filters_by_severity_and_source(database: TestDatabase) {
    let db = open(&database).await;
    let store = db.audit_store();
    // Severity is n % 4: 0 info, 1 notice, 2 warning, 3 critical.
    let records = vec![
        audit_record(0, "app.session_created", "app-key"),
        audit_record(1, "key.rotate", "ops"),
        audit_record(2, "app.transcript.exported", "app-key"),
        audit_record(3, "app.export", "app-key"),
        audit_record(4, "apply.thing", "ops"),
        audit_record(5, "app", "ops"),
        audit_record(6, "login.failure", "anon"),
    ];
    store.append_audit(&records).await.unwrap();
    let search = |filter: AuditFilter| {
        let store = Arc::clone(&store);
        async move {
            let found = store.search_audit(&AuditFilter { limit: 100, ..filter }).await.unwrap();
            found.iter().map(|e| e.index).collect::<Vec<_>>()
        }
    };
    assert_eq!(search(AuditFilter { severity: Some(Severity::Warning), ..Default::default() }).await, vec![6, 2]);
    assert_eq!(
        search(AuditFilter { min_severity: Some(Severity::Warning), ..Default::default() }).await,
        vec![6, 3, 2]
    );
    assert_eq!(search(AuditFilter { source: Some(EventSource::App), ..Default::default() }).await, vec![3, 2, 0]);
    assert_eq!(
        search(AuditFilter { source: Some(EventSource::Strongroom), ..Default::default() }).await,
        vec![6, 5, 4, 1],
        "`apply.thing` and `app` are not in the apps' namespace"
    );
    let both =
        AuditFilter { source: Some(EventSource::App), min_severity: Some(Severity::Critical), ..Default::default() };
    assert_eq!(search(both).await, vec![3]);
    let stored = store.audit_entries(0, 100).await.unwrap();
    let severities: Vec<_> = stored.iter().map(|e| e.columns.as_ref().unwrap().severity).collect();
    assert_eq!(
        severities,
        [0, 1, 2, 3, 0, 1, 2].iter().map(|r| Severity::from_rank(*r)).collect::<Vec<_>>(),
        "verification compares this column with the entry's severity"
    );
}

/// Makes every later audit append fail, as a full disk would.
async fn refuse_audit_appends(db: &Database, database: &TestDatabase) {
    let refuse = match db.backend() {
        strongroom_core::Backend::Sqlite => {
            "CREATE TRIGGER disk_full BEFORE INSERT ON audit_entries BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        }
        _ => {
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER disk_full BEFORE INSERT ON audit_entries FOR EACH STATEMENT EXECUTE FUNCTION refuse()"
        }
    };
    {
        use sqlx::Connection;
        let statement = sqlx::raw_sql(sqlx::AssertSqlSafe(refuse));
        match db.backend() {
            strongroom_core::Backend::Sqlite => {
                statement.execute(&mut sqlx::SqliteConnection::connect(database.url()).await.unwrap()).await.unwrap();
            }
            _ => {
                statement.execute(&mut sqlx::PgConnection::connect(database.url()).await.unwrap()).await.unwrap();
            }
        }
    }
}

pub async fn a_key_change_whose_audit_event_cannot_be_appended_is_rolled_back(database: TestDatabase) {
    let db = open(&database).await;
    let ring = keyring(&db);
    ring.create("k", transit(), &ctx()).await.unwrap();
    refuse_audit_appends(&db, &database).await;
    let refused = ring.rotate("k", &ctx()).await.unwrap_err();
    assert!(matches!(refused, CoreError::Store(StoreError::AuditRefused(_))), "{refused:?}");
    assert_eq!(ring.info("k").await.unwrap().latest_version, 1, "the rotation was rolled back with its event");
}

pub async fn api_keys_keep_to_their_addresses_rate_and_rotation_grace(database: TestDatabase) {
    use strongroom_core::{NewApiKey, Scope};
    let db = open(&database).await;
    let clock = Arc::new(FixedClock::at(Duration::from_secs(1_800_000_000)));
    let keys = api_keys(&db, Arc::clone(&clock));
    let new = NewApiKey {
        name: "batch job".into(),
        scopes: vec![Scope::TransitUse],
        allowed_cidrs: vec!["10.0.0.0/8".into()],
        rate_limit_per_minute: Some(2),
        rate_limit_burst: Some(2),
        ..Default::default()
    };
    let (record, issued) = keys.create(&new, &ctx()).await.unwrap();
    let inside = Some("10.1.2.3".parse().unwrap());
    assert!(matches!(
        keys.authenticate(issued.expose(), Some("192.0.2.1".parse().unwrap())).await,
        Err(CoreError::Forbidden(_))
    ));
    assert!(matches!(keys.authenticate(issued.expose(), None).await, Err(CoreError::Forbidden(_))));
    keys.authenticate(issued.expose(), inside).await.unwrap();
    keys.authenticate(issued.expose(), inside).await.unwrap();
    assert!(matches!(keys.authenticate(issued.expose(), inside).await, Err(CoreError::TooManyAttempts { .. })));
    clock.advance(Duration::from_secs(60));
    keys.authenticate(issued.expose(), inside).await.unwrap();

    let (_, rotated) = keys.rotate(&record.id, 300, &ctx()).await.unwrap();
    clock.advance(Duration::from_secs(60));
    keys.authenticate(rotated.expose(), inside).await.unwrap();
    keys.authenticate(issued.expose(), inside).await.unwrap();
    clock.advance(Duration::from_secs(300));
    assert!(matches!(keys.authenticate(issued.expose(), inside).await, Err(CoreError::Unauthenticated)), "grace over");
    keys.authenticate(rotated.expose(), inside).await.unwrap();
    assert!(keys.rotate(&record.id, 31 * 86_400, &ctx()).await.is_err());
    assert!(keys.create(&NewApiKey { allowed_cidrs: vec!["nonsense".into()], ..new.clone() }, &ctx()).await.is_err());
}

async fn identity_with(db: &Database, clock: Arc<FixedClock>, settings: IdentitySettings) -> Identity {
    let ring = Arc::new(keyring_with(db, 1, Arc::clone(&clock)));
    ring.audit().set_pseudonymizer(ring.audit_pseudonymizer(&ctx()).await.unwrap());
    let identity = Identity::new(db.identity_store(), ring, clock, settings);
    identity.ensure_keys(&ctx()).await.unwrap();
    identity
}

fn fast_settings() -> IdentitySettings {
    IdentitySettings {
        password_params: strongroom_crypto::PasswordParams { memory_kib: 64, iterations: 1, parallelism: 1 },
        password_policy: strongroom_core::identity::PasswordPolicy { min_length: 12, min_strength_bits: 50.0 },
        hashing_concurrency: 2,
        access_token_seconds: 300,
        session_idle_seconds: 600,
        session_absolute_seconds: 3600,
        max_sessions_per_user: 10,
        bind_session_to_ip: false,
        bind_session_to_user_agent: false,
        mfa_required_roles: Vec::new(),
        lockout_threshold: 3,
        account_lockout_threshold: 100,
        ip_lockout_threshold: 50,
        lockout_window_seconds: 900,
        lockout_base_seconds: 30,
        lockout_max_seconds: 3600,
        mfa_token_seconds: 300,
        reset_token_seconds: 3600,
        issuer: "strongroom".into(),
        audience: "strongroom".into(),
    }
}

async fn user_with_password(identity: &Identity, username: &str) {
    let new = NewUser {
        username: username.into(),
        email: format!("{username}@example.com"),
        full_name: String::new(),
        roles: vec![Role::Analyst],
        password: NewPassword::Plain(zeroize::Zeroizing::new("correct horse battery staple".into())),
    };
    identity.create_user(new, &Grantor::Operator, &ctx()).await.unwrap();
}

fn tokens(outcome: LoginOutcome) -> strongroom_core::identity::TokenPair {
    match outcome {
        LoginOutcome::Tokens(pair) => pair,
        other => panic!("expected tokens, got {other:?}"),
    }
}

pub async fn sessions_and_access_tokens_follow_the_clock(database: TestDatabase) {
    let db = open(&database).await;
    let clock = Arc::new(FixedClock::at(Duration::from_secs(1_800_000_000)));
    let identity = identity_with(&db, Arc::clone(&clock), fast_settings()).await;
    user_with_password(&identity, "ann").await;
    let context = ctx();
    let login = || identity.login("ann", "correct horse battery staple", &context);
    let pair = tokens(login().await.unwrap());
    let token = pair.access_token.expose().to_owned();
    identity.authenticate(&token, &ctx()).await.unwrap();
    // Not valid yet for a server whose clock is two minutes behind the issuer's
    // (up to a minute of skew is tolerated).
    clock.rewind(Duration::from_secs(120));
    assert!(matches!(identity.authenticate(&token, &ctx()).await, Err(CoreError::Unauthenticated)), "nbf");
    clock.advance(Duration::from_secs(90));
    identity.authenticate(&token, &ctx()).await.unwrap();
    clock.advance(Duration::from_secs(30));
    clock.advance(Duration::from_secs(301));
    assert!(matches!(identity.authenticate(&token, &ctx()).await, Err(CoreError::Unauthenticated)), "expired");
    let refreshed = identity.refresh(pair.refresh_token.expose(), &ctx()).await.unwrap();
    identity.authenticate(refreshed.access_token.expose(), &ctx()).await.unwrap();
    identity.flush_session_activity().await.unwrap();
    // Idle: no request for longer than the idle timeout ends the session.
    clock.advance(Duration::from_secs(601));
    assert!(identity.refresh(refreshed.refresh_token.expose(), &ctx()).await.is_err(), "idle");
    // Absolute: however active, the session ends an hour after login.
    let pair = tokens(login().await.unwrap());
    let mut refresh = pair.refresh_token.expose().to_owned();
    for _ in 0..7 {
        clock.advance(Duration::from_secs(290));
        let next = identity.refresh(&refresh, &ctx()).await.unwrap();
        identity.authenticate(next.access_token.expose(), &ctx()).await.unwrap();
        identity.flush_session_activity().await.unwrap();
        refresh = next.refresh_token.expose().to_owned();
    }
    clock.advance(Duration::from_secs(1600));
    assert!(identity.refresh(&refresh, &ctx()).await.is_err(), "absolute timeout");
}

pub async fn failed_logins_lock_for_a_doubling_time_then_release(database: TestDatabase) {
    let db = open(&database).await;
    let clock = Arc::new(FixedClock::at(Duration::from_secs(1_800_000_000)));
    let identity = identity_with(&db, Arc::clone(&clock), fast_settings()).await;
    user_with_password(&identity, "bob").await;
    for _ in 0..3 {
        assert!(matches!(identity.login("bob", "wrong guess", &ctx()).await, Err(CoreError::LoginFailed)));
    }
    let locked = identity.login("bob", "correct horse battery staple", &ctx()).await;
    assert!(matches!(locked, Err(CoreError::TooManyAttempts { retry_after_seconds: 30 })), "{locked:?}");
    clock.advance(Duration::from_secs(31));
    assert!(matches!(identity.login("bob", "wrong guess", &ctx()).await, Err(CoreError::LoginFailed)));
    let locked = identity.login("bob", "correct horse battery staple", &ctx()).await;
    assert!(matches!(locked, Err(CoreError::TooManyAttempts { retry_after_seconds: 60 })), "doubled: {locked:?}");
    clock.advance(Duration::from_secs(61));
    assert!(identity.login("bob", "correct horse battery staple", &ctx()).await.is_ok());
    // Unknown accounts lock the same way: locking tells nothing about existence.
    for _ in 0..3 {
        assert!(matches!(identity.login("nobody", "wrong guess", &ctx()).await, Err(CoreError::LoginFailed)));
    }
    assert!(matches!(identity.login("nobody", "wrong guess", &ctx()).await, Err(CoreError::TooManyAttempts { .. })));
}

/// An outsider's failures from one address lock the account for that
/// address only, end none of its sessions, and the account locks for
/// everyone only at the much higher account threshold; an unlock clears both.
pub async fn failed_logins_from_one_address_lock_only_that_address_and_end_no_session(database: TestDatabase) {
    let db = open(&database).await;
    let clock = Arc::new(FixedClock::at(Duration::from_secs(1_800_000_000)));
    let settings = IdentitySettings { account_lockout_threshold: 6, ..fast_settings() };
    let identity = identity_with(&db, Arc::clone(&clock), settings).await;
    user_with_password(&identity, "carol").await;
    let from = |ip: &str| AuditContext { ip: Some(ip.parse().unwrap()), ..ctx() };
    let owner = tokens(identity.login("carol", "correct horse battery staple", &from("10.0.0.1")).await.unwrap());
    for _ in 0..3 {
        let failed = identity.login("carol", "wrong guess", &from("192.0.2.66")).await;
        assert!(matches!(failed, Err(CoreError::LoginFailed)), "{failed:?}");
    }
    let attacker = identity.login("carol", "correct horse battery staple", &from("192.0.2.66")).await;
    assert!(matches!(attacker, Err(CoreError::TooManyAttempts { .. })), "that address is locked: {attacker:?}");
    assert!(identity.authenticate(owner.access_token.expose(), &from("10.0.0.1")).await.is_ok(), "no session ended");
    assert!(identity.login("carol", "correct horse battery staple", &from("10.0.0.2")).await.is_ok());
    // Failures from enough other addresses lock the account for everyone.
    for ip in ["192.0.2.1", "192.0.2.2", "192.0.2.3"] {
        let _ = identity.login("carol", "wrong guess", &from(ip)).await;
    }
    let everyone = identity.login("carol", "correct horse battery staple", &from("10.0.0.3")).await;
    assert!(matches!(everyone, Err(CoreError::TooManyAttempts { .. })), "{everyone:?}");
    assert!(
        identity.authenticate(owner.access_token.expose(), &from("10.0.0.1")).await.is_ok(),
        "still no session ended"
    );
    let carol = identity.find_user("carol").await.unwrap();
    identity.unlock(&carol.id, &Grantor::Operator, &ctx()).await.unwrap();
    assert!(identity.login("carol", "correct horse battery staple", &from("192.0.2.66")).await.is_ok());
    assert!(identity.login("carol", "correct horse battery staple", &from("10.0.0.3")).await.is_ok());
}

/// The bytes of an `otpauth://` URI's base32 `secret`.
fn totp_secret_of(uri: &str) -> Vec<u8> {
    let encoded = uri.split("secret=").nth(1).unwrap().split('&').next().unwrap();
    let (mut bits, mut value, mut bytes) = (0u32, 0u32, Vec::new());
    for c in encoded.bytes().filter(|c| *c != b'=') {
        let digit = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            other => panic!("not base32: {other}"),
        };
        value = (value << 5) | u32::from(digit);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            bytes.push((value >> bits) as u8);
            value &= (1 << bits) - 1;
        }
    }
    bytes
}

/// Two logins racing with one TOTP code: exactly one is let in (the step is
/// advanced by compare-and-set). And a user saved from a stale copy is
/// refused rather than overwriting the change made meanwhile.
pub async fn one_totp_code_lets_in_one_of_two_racing_logins_and_stale_user_writes_are_refused(database: TestDatabase) {
    let db = open(&database).await;
    let clock = Arc::new(FixedClock::at(Duration::from_secs(1_800_000_000)));
    let identity = Arc::new(identity_with(&db, Arc::clone(&clock), fast_settings()).await);
    user_with_password(&identity, "dora").await;
    let dora = identity.find_user("dora").await.unwrap();
    let secret = totp_secret_of(identity.enroll_totp(&dora.id, &ctx()).await.unwrap().expose());
    let now = || strongroom_core::Clock::now(clock.as_ref()).as_secs();
    let code = |at: u64| strongroom_crypto::hotp(&secret, strongroom_crypto::totp_step(at));
    identity.confirm_totp(&dora.id, &code(now()), &ctx()).await.unwrap();
    clock.advance(Duration::from_secs(30));
    for _ in 0..3 {
        let challenge = |outcome: LoginOutcome| match outcome {
            LoginOutcome::MfaRequired { mfa_token } => mfa_token,
            other => panic!("expected an MFA challenge, got {other:?}"),
        };
        let first = challenge(identity.login("dora", "correct horse battery staple", &ctx()).await.unwrap());
        let second = challenge(identity.login("dora", "correct horse battery staple", &ctx()).await.unwrap());
        let shared = code(now());
        let (a, b) = (Arc::clone(&identity), Arc::clone(&identity));
        let (c1, c2) = (shared.clone(), shared);
        let (t1, t2) = (first.expose().to_owned(), second.expose().to_owned());
        let one = tokio::spawn(async move { a.complete_mfa(&t1, &c1, &ctx()).await });
        let two = tokio::spawn(async move { b.complete_mfa(&t2, &c2, &ctx()).await });
        let (one, two) = (one.await.unwrap(), two.await.unwrap());
        assert_eq!(usize::from(one.is_ok()) + usize::from(two.is_ok()), 1, "{one:?} / {two:?}");
        clock.advance(Duration::from_secs(30));
    }

    let store = db.identity_store();
    let stale = store.user(&dora.id).await.unwrap().unwrap();
    let mut locked = stale.clone();
    locked.locked = true;
    assert!(store.update_user(&locked, &[]).await.unwrap(), "a save from the current version");
    let mut rehashed = stale;
    rehashed.password_hash = Some("$argon2id$stale".into());
    assert!(!store.update_user(&rehashed, &[]).await.unwrap(), "a save from a stale copy is refused");
    let stored = store.user(&dora.id).await.unwrap().unwrap();
    assert!(stored.locked, "the lock made meanwhile stands");
    assert_ne!(stored.password_hash.as_deref(), Some("$argon2id$stale"));
}

/// Passkeys: a ceremony is taken once (a second take finds nothing), a
/// passkey is stored with its audit record, listed, updated on use, and
/// deleted only by its own user; a user's deletion takes their passkeys.
pub async fn passkey_ceremonies_are_taken_once_and_passkeys_belong_to_their_user(database: TestDatabase) {
    use strongroom_core::identity::{PasskeyCeremony, PasskeyRecord};
    let db = open(&database).await;
    let clock = Arc::new(FixedClock::at(Duration::from_secs(1_800_000_000)));
    let identity = identity_with(&db, Arc::clone(&clock), fast_settings()).await;
    user_with_password(&identity, "pia").await;
    let pia = identity.find_user("pia").await.unwrap();
    let store = db.identity_store();

    let ceremony = PasskeyCeremony {
        challenge: vec![7; 16],
        user_id: Some(pia.id.clone()),
        state: vec![1, 2, 3],
        expires_at: 2_000,
    };
    store.insert_passkey_ceremony(&ceremony, 1_000).await.unwrap();
    let expired = PasskeyCeremony { challenge: vec![8; 16], user_id: None, state: vec![4], expires_at: 999 };
    store.insert_passkey_ceremony(&expired, 900).await.unwrap();
    let sign_in = PasskeyCeremony { challenge: vec![9; 16], user_id: None, state: vec![5], expires_at: 3_000 };
    store.insert_passkey_ceremony(&sign_in, 1_000).await.unwrap();
    assert_eq!(store.take_passkey_ceremony(&[7; 16]).await.unwrap(), Some(ceremony));
    assert_eq!(store.take_passkey_ceremony(&[7; 16]).await.unwrap(), None, "used once");
    assert_eq!(store.take_passkey_ceremony(&[8; 16]).await.unwrap(), None, "dropped when the next one was stored");
    assert_eq!(store.take_passkey_ceremony(&[9; 16]).await.unwrap(), Some(sign_in));

    let passkey = PasskeyRecord {
        credential_id: vec![0xc1; 32],
        user_id: pia.id.clone(),
        user_handle: vec![0x55; 64],
        name: "Laptop".into(),
        static_state: vec![1; 80],
        dynamic_state: vec![0; 7],
        created_at: 1_000,
        last_used_at: None,
    };
    let before = db.audit_store().audit_head().await.unwrap().size;
    store.insert_passkey(&passkey, &[audit_record(before as usize, "passkey.register", "pia")]).await.unwrap();
    assert_eq!(db.audit_store().audit_head().await.unwrap().size, before + 1, "committed with its audit record");
    assert!(store.insert_passkey(&passkey, &[]).await.is_err(), "a credential id is registered once");
    store.use_passkey(&passkey.credential_id, &[1, 0, 0, 0, 0, 0, 0], 1_500).await.unwrap();
    let used = store.passkey(&passkey.credential_id).await.unwrap().unwrap();
    assert_eq!((used.dynamic_state, used.last_used_at), (vec![1, 0, 0, 0, 0, 0, 0], Some(1_500)));
    assert_eq!(store.passkeys_of(&pia.id).await.unwrap().len(), 1);

    assert!(!store.delete_passkey("someone-else", &passkey.credential_id, &[]).await.unwrap(), "not theirs");
    assert!(store.delete_passkey(&pia.id, &passkey.credential_id, &[]).await.unwrap());
    assert!(store.passkey(&passkey.credential_id).await.unwrap().is_none());
}

/// The SQLite database at `path` and its WAL files have mode 0600.
fn assert_owner_only(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{}{suffix}", path.display());
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file}");
    }
}

/// A new SQLite database and its WAL files are readable by their owner
/// only, whatever the umask: they hold the wrapped keys and the audit log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_sqlite_database_and_its_wal_are_private() {
    let database = TestDatabase::sqlite();
    let db = open(&database).await;
    db.audit_store().append_audit(&[audit_record(0, "transit.encrypt", "app")]).await.unwrap();
    let path = database.sqlite_path().unwrap();
    assert_owner_only(&path);
    db.close().await;
}

/// A database file left readable by others (by an earlier version, which
/// let SQLite create it with the umask's mode) is tightened when opened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_sqlite_database_readable_by_others_is_tightened() {
    use std::os::unix::fs::PermissionsExt;
    let database = TestDatabase::sqlite();
    let path = database.sqlite_path().unwrap();
    open(&database).await.close().await;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let db = open(&database).await;
    db.audit_store().append_audit(&[audit_record(0, "transit.encrypt", "app")]).await.unwrap();
    assert_owner_only(&path);
    db.close().await;
}

#[tokio::test]
async fn unreachable_database_is_unavailable_not_a_bug() {
    let error = Database::connect(
        "postgres://nobody@127.0.0.1:1/none",
        &ConnectOptions { acquire_timeout: std::time::Duration::from_secs(2), ..ConnectOptions::default() },
    )
    .await
    .unwrap_err();
    // Transient (503 database_unavailable, retried), not Backend (a bug, 500).
    assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
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
    keyring_creates_keys_and_round_trips_values,
    ciphertext_moved_to_another_record_or_key_fails,
    rotation_keeps_old_values_readable_rewrap_moves_them_and_min_version_retires,
    states_gate_operations_and_destruction_crypto_shreds,
    material_depends_on_the_root_key,
    concurrent_rotations_from_two_instances_never_collide,
    automatic_rotation_follows_the_period,
    deletion_is_refused_unless_allowed,
    instances_running_rotate_due_together_rotate_a_key_once,
    api_keys_authenticate_once_issued_and_never_after_revocation_or_expiry,
    api_keys_keep_to_their_addresses_rate_and_rotation_grace,
    sessions_and_access_tokens_follow_the_clock,
    failed_logins_lock_for_a_doubling_time_then_release,
    failed_logins_from_one_address_lock_only_that_address_and_end_no_session,
    one_totp_code_lets_in_one_of_two_racing_logins_and_stale_user_writes_are_refused,
    passkey_ceremonies_are_taken_once_and_passkeys_belong_to_their_user,
    personal_data_in_clear_is_sealed_in_place_and_reads_back,
    signing_and_hmac_keys_are_created_but_do_not_encrypt,
    audit_appends_grow_one_tree_whose_proofs_verify,
    concurrent_audit_appends_from_two_instances_grow_one_tree,
    group_commit_appends_and_audited_key_changes_grow_one_tree,
    concurrent_appends_each_get_their_own_run_of_indexes,
    key_changes_are_not_starved_by_continuous_appends,
    audit_search_filters_counts_checkpoints_and_alerts,
    audit_search_filters_by_severity_and_source,
    a_key_change_whose_audit_event_cannot_be_appended_is_rolled_back,
    grants_and_elevations_load_with_the_principal_and_end_on_time,
    policies_stored_by_one_instance_are_loaded_by_another,
    roles_defined_by_one_instance_are_loaded_by_another_and_survive_a_restart,
    records_seal_page_search_update_and_shred,
    key_jobs_rewrap_after_rotation_and_reencrypt_after_compromise,
    housekeeping_purges_what_is_past_its_retention_with_one_event_or_nothing,
    caches_drop_what_another_instance_changed_once_the_generation_moves,
];

// SQLite is single-process by design (the server locks its data dir, and
// `strongroom migrate` takes the same lock), so concurrent migration from two
// processes is a PostgreSQL-only promise.
conformance!(postgres_only, TestDatabase::postgres().await, [concurrent_migrations_from_two_processes_both_succeed]);
