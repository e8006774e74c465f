//! Records on both backends: sealed fields round-trip only through decrypt,
//! listings page with cursors across matters, blind indexes follow updates,
//! deletion shreds.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use strongroom_core::authz::{Ask, Authz, AuthzSettings, NewMatter, PrincipalKind, Subject};
use strongroom_core::identity::{Grantor, Identity, Role};
use strongroom_core::records::{NewRecord, RecordQuery, Records};
use strongroom_core::{CoreError, FixedClock};
use strongroom_testkit::TestDatabase;

use super::{ctx, fast_settings, keyring_with, open};

fn fields(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

/// The records service over `db` with an admin holding grants on matters
/// `m-a` and `m-b`, the keyring it uses and the audit log.
pub(crate) async fn records_with_admin(
    db: &strongroom_store::Database,
    clock: Arc<FixedClock>,
    blobs: Option<Arc<dyn strongroom_core::records::BlobStorage>>,
) -> (Records, Subject, Arc<strongroom_core::Keyring>) {
    let ring = Arc::new(keyring_with(db, 1, Arc::clone(&clock)));
    let audit = Arc::clone(ring.audit());
    audit.set_pseudonymizer(ring.audit_pseudonymizer(&ctx()).await.unwrap());
    let identity = Identity::new(db.identity_store(), Arc::clone(&ring), Arc::clone(&clock) as _, fast_settings());
    identity.ensure_keys(&ctx()).await.unwrap();
    let settings = AuthzSettings { purposes: vec![], ..AuthzSettings::default() };
    let authz = Arc::new(
        Authz::start(
            db.authz_store(),
            db.identity_store(),
            db.api_key_store(),
            Arc::clone(&audit),
            Arc::clone(&clock) as _,
            settings,
        )
        .await
        .unwrap(),
    );
    let mut records =
        Records::new(db.records_store(), Arc::clone(&ring), Arc::clone(&authz), audit, Arc::clone(&clock) as _);
    if let Some(blobs) = blobs {
        records = records.with_blob_storage(blobs);
    }
    records.ensure_templates(&ctx()).await.unwrap();
    assert!(records.ensure_templates(&ctx()).await.unwrap().is_empty(), "templates are created once");

    let new = strongroom_core::identity::NewUser {
        username: "ada".into(),
        email: "ada@example.com".into(),
        full_name: String::new(),
        roles: vec![Role::Admin],
        password: strongroom_core::identity::NewPassword::Plain(zeroize::Zeroizing::new(
            "correct horse battery staple".into(),
        )),
    };
    let ada = identity.create_user(new, &Grantor::Operator, &ctx()).await.unwrap().id;
    let admin = authz.subject_of(PrincipalKind::User, &ada).await.unwrap();
    for matter in ["m-a", "m-b"] {
        authz.create_matter(&admin, NewMatter { id: Some(matter.into()), name: matter.into() }, &ctx()).await.unwrap();
    }
    let reserved = authz.create_matter(&admin, NewMatter { id: Some("m-a.r2".into()), name: "x".into() }, &ctx()).await;
    assert!(matches!(reserved, Err(CoreError::InvalidInput(_))), "the ids of successor keys are reserved");
    (records, authz.subject_of(PrincipalKind::User, &ada).await.unwrap(), ring)
}

pub async fn records_seal_page_search_update_and_shred(database: TestDatabase) {
    let db = open(&database).await;
    let clock = Arc::new(FixedClock::at(Duration::from_secs(1_800_000_000)));
    let (records, admin, _) = records_with_admin(&db, Arc::clone(&clock), None).await;
    let search =
        |value: &str| RecordQuery { search: Some(("reference".into(), json!(value))), ..RecordQuery::default() };
    let (none, _) = records.list(&admin, "pii_vault", search("ref-1"), &ctx()).await.unwrap();
    assert!(none.is_empty(), "searching before anything is indexed finds nothing (and creates no key)");
    let mut ids = Vec::new();
    for i in 0..5 {
        let new = NewRecord {
            matter_id: if i % 2 == 0 { "m-a".into() } else { "m-b".into() },
            fields: fields(json!({"payload": {"n": i}, "purpose": "check", "reference": format!("ref-{i}")})),
            subject: Some(format!("subject-{i}")),
            expires_at: None,
            ttl_seconds: None,
        };
        let view = records.create(&admin, "pii_vault", new, &ctx()).await.unwrap();
        assert_eq!(view.withheld, ["payload", "reference"]);
        ids.push(view.id);
    }
    // Pages of two across both matters, then one matter only.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let query = RecordQuery { limit: Some(2), cursor: cursor.clone(), ..RecordQuery::default() };
        let (page, next) = records.list(&admin, "pii_vault", query, &ctx()).await.unwrap();
        seen.extend(page.into_iter().map(|v| v.id));
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut expected = ids.clone();
    expected.sort();
    seen.sort();
    assert_eq!(seen, expected);
    let only_b = RecordQuery { matter_id: Some("m-b".into()), ..RecordQuery::default() };
    assert_eq!(records.list(&admin, "pii_vault", only_b, &ctx()).await.unwrap().0.len(), 2);

    // Blind index: found by value, follows an update.
    let search =
        |value: &str| RecordQuery { search: Some(("reference".into(), json!(value))), ..RecordQuery::default() };
    let (found, _) = records.list(&admin, "pii_vault", search("REF-3 "), &ctx()).await.unwrap();
    assert_eq!(found.iter().map(|v| v.id.clone()).collect::<Vec<_>>(), [ids[3].clone()]);
    records.update(&admin, "pii_vault", &ids[3], fields(json!({"reference": "ref-33"})), &ctx()).await.unwrap();
    assert!(records.list(&admin, "pii_vault", search("ref-3"), &ctx()).await.unwrap().0.is_empty());
    assert_eq!(records.list(&admin, "pii_vault", search("ref-33"), &ctx()).await.unwrap().0.len(), 1);

    // Decrypt reveals; deletion shreds.
    let ask = Ask { justification: Some("conformance test of the reveal path"), purpose: None };
    let revealed = records
        .decrypt(&admin, "pii_vault", &ids[3], &["payload".into(), "reference".into()], &ask, &ctx())
        .await
        .unwrap();
    assert_eq!(revealed["payload"], json!({"n": 3}));
    assert_eq!(revealed["reference"], json!("ref-33"));
    records.delete(&admin, "pii_vault", &ids[3], &ctx()).await.unwrap();
    let gone = records.read(&admin, "pii_vault", &ids[3], &ctx()).await;
    assert!(matches!(gone, Err(CoreError::NotFound(_))), "{gone:?}");
    assert!(
        records.list(&admin, "pii_vault", search("ref-33"), &ctx()).await.unwrap().0.is_empty(),
        "index entries go too"
    );

    // Retention: an expired record is shredded by the sweep, a held one is not.
    let short = |reference: &str| NewRecord {
        matter_id: "m-a".into(),
        fields: fields(json!({"payload": 1, "purpose": "check", "reference": reference})),
        subject: None,
        expires_at: Some(1_800_000_000 + 10),
        ttl_seconds: None,
    };
    let gone = records.create(&admin, "pii_vault", short("soon-1"), &ctx()).await.unwrap().id;
    let kept = records.create(&admin, "pii_vault", short("soon-2"), &ctx()).await.unwrap().id;
    records.hold(&admin, "pii_vault", &kept, true, "litigation hold for the test", &ctx()).await.unwrap();
    assert_eq!(records.sweep_expired(100).await.unwrap(), 0, "nothing has expired yet");
    clock.advance(Duration::from_secs(11));
    assert_eq!(records.sweep_expired(100).await.unwrap(), 1);
    assert_eq!(records.sweep_expired(100).await.unwrap(), 0);
    assert!(db.records_store().record("pii_vault", &gone).await.unwrap().is_none(), "shredded");
    assert!(db.records_store().record("pii_vault", &kept).await.unwrap().is_some(), "held");
}
