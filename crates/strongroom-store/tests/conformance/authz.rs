//! Authorization on both backends: matters and grants loaded with the
//! principal, access requests whose elevation ends on time, policy documents
//! shared by instances.

use std::sync::Arc;
use std::time::Duration;

use strongroom_core::authz::{
    Action, Ask, Authz, AuthzSettings, DenialKind, NewAccessRequest, NewMatter, PrincipalKind, Resource, RoleDefinition,
};
use strongroom_core::identity::{Grantor, Identity, NewPassword, NewUser, Role};
use strongroom_core::{CoreError, FixedClock};
use strongroom_store::Database;
use strongroom_testkit::TestDatabase;

use super::{ctx, fast_settings, keyring_with, open, tokens};

const PASSWORD: &str = "correct horse battery staple";
const WHY: &str = "reviewing the interview for the appeal";

pub(crate) async fn services(db: &Database, clock: Arc<FixedClock>) -> (Identity, Authz) {
    let ring = Arc::new(keyring_with(db, 1, Arc::clone(&clock)));
    let audit = Arc::clone(ring.audit());
    audit.set_pseudonymizer(ring.audit_pseudonymizer(&ctx()).await.unwrap());
    let identity = Identity::new(db.identity_store(), ring, Arc::clone(&clock) as _, fast_settings());
    identity.ensure_keys(&ctx()).await.unwrap();
    let authz = Authz::start(
        db.authz_store(),
        db.identity_store(),
        db.api_key_store(),
        audit,
        clock,
        AuthzSettings { purposes: vec!["case_work".into()], ..AuthzSettings::default() },
    )
    .await
    .unwrap();
    (identity, authz)
}

pub(crate) async fn user(identity: &Identity, username: &str, role: Role) -> String {
    let new = NewUser {
        username: username.into(),
        email: format!("{username}@example.com"),
        full_name: String::new(),
        roles: vec![role],
        password: NewPassword::Plain(zeroize::Zeroizing::new(PASSWORD.into())),
    };
    identity.create_user(new, &Grantor::Operator, &ctx()).await.unwrap().id
}

fn record(matter: &str) -> Resource {
    Resource::Record { id: "r1".into(), matter: matter.into(), collection: "interviews".into() }
}

fn reveal() -> Ask<'static> {
    Ask { justification: Some(WHY), purpose: Some("case_work") }
}

pub async fn grants_and_elevations_load_with_the_principal_and_end_on_time(database: TestDatabase) {
    let db = open(&database).await;
    let clock = Arc::new(FixedClock::at(Duration::from_secs(1_800_000_000)));
    let (identity, authz) = services(&db, Arc::clone(&clock)).await;
    let ada = user(&identity, "ada", Role::Admin).await;
    let rui = user(&identity, "rui", Role::Reader).await;
    let admin = authz.subject_of(PrincipalKind::User, &ada).await.unwrap();
    authz
        .create_matter(&admin, NewMatter { id: Some("case-1".into()), name: "Case one".into() }, &ctx())
        .await
        .unwrap();
    let again =
        authz.create_matter(&admin, NewMatter { id: Some("case-1".into()), name: "Again".into() }, &ctx()).await;
    assert!(matches!(again, Err(CoreError::Conflict(_))), "{again:?}");

    // The grant arrives with the session, in the query that loads the user.
    let login = tokens(identity.login("rui", PASSWORD, &ctx()).await.unwrap());
    let token = login.access_token.expose().to_owned();
    assert!(identity.authenticate(&token, &ctx()).await.unwrap().access.matters.is_empty());
    authz.grant(&admin, "case-1", (PrincipalKind::User, &rui), "needs to read the case files", &ctx()).await.unwrap();
    let reader = identity.authenticate(&token, &ctx()).await.unwrap();
    assert_eq!(reader.access.matters, ["case-1"]);
    let reader = reader.subject();
    authz.authorize(&reader, Action::RecordRead, &record("case-1"), &Ask::default(), &ctx()).await.unwrap();
    let decrypt = authz.authorize(&reader, Action::RecordDecrypt, &record("case-1"), &reveal(), &ctx()).await;
    assert!(matches!(decrypt, Err(CoreError::Denied(ref d)) if d.kind == DenialKind::Forbidden), "{decrypt:?}");
    // Another matter's record is answered as one that does not exist.
    let elsewhere = authz.authorize(&reader, Action::RecordRead, &record("case-2"), &Ask::default(), &ctx()).await;
    assert!(matches!(elsewhere, Err(CoreError::NotFound(_))), "{elsewhere:?}");

    // An access request: never approved by its requester, then approved by the admin.
    let new = NewAccessRequest {
        action: Action::RecordDecrypt,
        matter_id: "case-1".into(),
        record_id: Some("r1".into()),
        duration_minutes: 30,
        justification: WHY.into(),
        purpose: Some("case_work".into()),
    };
    let request = authz.request_access(&reader, new, &ctx()).await.unwrap();
    let own = authz.decide_access_request(&reader, &request.id, true, "", &ctx()).await;
    assert!(matches!(own, Err(CoreError::Denied(ref d)) if d.kind == DenialKind::SelfApproval), "{own:?}");
    let approved = authz.decide_access_request(&admin, &request.id, true, "for the appeal", &ctx()).await.unwrap();
    assert_eq!(approved.expires_at, Some(1_800_000_000 + 30 * 60));
    let twice = authz.decide_access_request(&admin, &request.id, false, "", &ctx()).await;
    assert!(matches!(twice, Err(CoreError::Conflict(_))), "{twice:?}");

    let elevated = identity.authenticate(&token, &ctx()).await.unwrap().subject();
    assert_eq!(elevated.elevations.len(), 1);
    let decision =
        authz.authorize(&elevated, Action::RecordDecrypt, &record("case-1"), &reveal(), &ctx()).await.unwrap();
    assert!(decision.decided_by("default/elevated.access"), "{decision:?}");
    // Another record of the matter is not covered.
    let other = Resource::Record { id: "r2".into(), matter: "case-1".into(), collection: "interviews".into() };
    assert!(authz.authorize(&elevated, Action::RecordDecrypt, &other, &reveal(), &ctx()).await.is_err());

    // Checked at use: the elevation loaded before stops at its time.
    clock.advance(Duration::from_secs(30 * 60));
    let expired = authz.authorize(&elevated, Action::RecordDecrypt, &record("case-1"), &reveal(), &ctx()).await;
    assert!(matches!(expired, Err(CoreError::Denied(_))), "{expired:?}");
    assert!(authz.subject_of(PrincipalKind::User, &rui).await.unwrap().elevations.is_empty(), "not loaded either");
    assert_eq!(authz.record_expiries().await.unwrap(), 1);
    assert_eq!(authz.record_expiries().await.unwrap(), 0, "an expiry is audited once");
    let listed = authz.list_access_requests(&reader, &ctx()).await.unwrap();
    assert_eq!(listed[0].status_at(1_800_000_000 + 30 * 60), "expired");
}

pub async fn policies_stored_by_one_instance_are_loaded_by_another(database: TestDatabase) {
    let db = open(&database).await;
    let clock = Arc::new(FixedClock::at(Duration::from_secs(1_800_000_000)));
    let (identity, first) = services(&db, Arc::clone(&clock)).await;
    let (_, second) = services(&db, Arc::clone(&clock)).await;
    let ada = user(&identity, "ada", Role::Admin).await;
    let admin = first.subject_of(PrincipalKind::User, &ada).await.unwrap();
    first.create_matter(&admin, NewMatter { id: Some("case-1".into()), name: "Case".into() }, &ctx()).await.unwrap();
    let admin = first.subject_of(PrincipalKind::User, &ada).await.unwrap();
    let decrypt = |authz: &Authz| authz.decide(&admin, Action::RecordDecrypt, &record("case-1"), &reveal(), &ctx());
    assert!(decrypt(&second).allowed);

    let broken = "forbid (principal, action, resource)\nwhen { context.purposee == \"x\" };";
    let refused = first.replace_policies(&admin, broken, "a policy with a typo in it", &ctx()).await;
    match refused {
        Err(CoreError::InvalidPolicy(errors)) => assert_eq!(errors.0[0].line, Some(2), "{errors}"),
        other => panic!("expected invalid policies, got {other:?}"),
    }
    let freeze = "@id(\"freeze\")\nforbid (principal, action == Strongroom::Action::\"record.decrypt\", resource);";
    let stored = first.replace_policies(&admin, freeze, "incident: stop every decrypt now", &ctx()).await.unwrap();
    assert_eq!(stored.version, 1);
    assert!(!decrypt(&first).allowed && decrypt(&first).decided_by("api/freeze"));
    assert!(decrypt(&second).allowed, "not seen before a refresh");
    assert!(second.refresh_policies().await.unwrap());
    assert!(!second.refresh_policies().await.unwrap(), "nothing new the second time");
    assert!(!decrypt(&second).allowed);
    // Emptying the document lifts the freeze everywhere.
    second.replace_policies(&admin, "", "incident over, decrypts resume", &ctx()).await.unwrap();
    first.refresh_policies().await.unwrap();
    assert!(decrypt(&first).allowed);
}

pub async fn roles_defined_by_one_instance_are_loaded_by_another_and_survive_a_restart(database: TestDatabase) {
    let db = open(&database).await;
    let clock = Arc::new(FixedClock::at(Duration::from_secs(1_800_000_000)));
    let (identity, first) = services(&db, Arc::clone(&clock)).await;
    let (_, second) = services(&db, Arc::clone(&clock)).await;
    let ada = user(&identity, "ada", Role::Admin).await;
    let pam = user(&identity, "pam", Role::Reader).await;
    let admin = first.subject_of(PrincipalKind::User, &ada).await.unwrap();
    first.create_matter(&admin, NewMatter { id: Some("case-1".into()), name: "Case".into() }, &ctx()).await.unwrap();
    first.grant(&admin, "case-1", (PrincipalKind::User, &pam), "paralegal on the case", &ctx()).await.unwrap();
    let why = "the firm staffs cases with paralegals";
    let paralegal = RoleDefinition::new("paralegal", "paralegals", vec![Action::RecordReadRedacted]).unwrap();
    first.define_role(&admin, paralegal.clone(), false, why, &ctx()).await.unwrap();
    let again = first.define_role(&admin, paralegal, false, why, &ctx()).await;
    assert!(matches!(again, Err(CoreError::Conflict(_))), "{again:?}");

    // Pam holds the new role once an admin assigns it; the other instance
    // knows the role after a refresh.
    assert!(first.role_exists(&Role::Custom("paralegal".into())));
    assert!(!second.role_exists(&Role::Custom("paralegal".into())), "not seen before a refresh");
    assert!(second.refresh_policies().await.unwrap());
    assert!(!second.refresh_policies().await.unwrap(), "nothing new the second time");
    identity.set_roles(&pam, vec![Role::Custom("paralegal".into())], why, &Grantor::Operator, &ctx()).await.unwrap();
    let pam_subject = second.subject_of(PrincipalKind::User, &pam).await.unwrap();
    let redacted = second.decide(&pam_subject, Action::RecordReadRedacted, &record("case-1"), &reveal(), &ctx());
    assert!(redacted.allowed && redacted.decided_by("roles/paralegal.data"), "{redacted:?}");
    let held = second.delete_role(&admin, "paralegal", why, &ctx()).await;
    assert!(matches!(held, Err(CoreError::Conflict(_))), "a held role stays: {held:?}");

    // A third instance, started later, loads the stored catalogue.
    let (_, third) = services(&db, Arc::clone(&clock)).await;
    let roles = third.roles(&admin, &ctx()).await.unwrap();
    let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["reader", "analyst", "admin", "system", "paralegal"]);
    assert_eq!(roles[4].permissions, [Action::RecordReadRedacted]);
}
