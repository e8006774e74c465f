//! The default policy set pinned down: SPEC §3's rules as decisions.

use super::*;
use crate::PrincipalKind;

const MONDAY_NOON: i64 = 1_795_435_200; // 2026-11-23T12:00:00Z
const MONDAY_NIGHT: i64 = 1_795_467_600; // 2026-11-23T21:00:00Z

fn engine(extra: &[(&str, &str)]) -> PolicyEngine {
    let mut sources = vec![PolicySource::default_set()];
    sources.extend(extra.iter().map(|(origin, text)| PolicySource { origin: (*origin).into(), text: (*text).into() }));
    PolicyEngine::new(&sources).unwrap()
}

fn user(id: &str, roles: &[&str], matters: &[&str]) -> PrincipalFacts {
    PrincipalFacts {
        kind: PrincipalKind::User,
        id: id.into(),
        name: id.into(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        scopes: vec![],
        matters: matters.iter().map(|m| (*m).to_owned()).collect(),
    }
}

fn api_key(scopes: &[&str]) -> PrincipalFacts {
    PrincipalFacts {
        kind: PrincipalKind::ApiKey,
        id: "k1".into(),
        name: "app".into(),
        roles: vec![],
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        matters: vec![],
    }
}

fn record() -> Resource {
    Resource::Record { id: "r1".into(), matter: "m1".into(), collection: "interviews".into() }
}

fn facts(profile: &str) -> RequestFacts {
    RequestFacts { justification_length: 42, ..RequestFacts::new(profile, MONDAY_NOON) }
}

#[test]
fn schema_and_default_policies_load_and_every_action_is_declared() {
    let engine = engine(&[]);
    assert!(engine.policies().len() >= 15);
    let schema = schema();
    let declared: HashSet<String> = schema.actions().map(|uid| uid.id().unescaped().to_owned()).collect();
    let ours: HashSet<String> = Action::ALL.iter().map(|a| a.as_str().to_owned()).collect();
    assert_eq!(declared, ours);
    assert!(engine.policies().iter().all(|p| p.description.is_some()), "every default policy says what it is for");
}

#[test]
fn requests_and_entities_conform_to_the_schema() {
    let schema = schema();
    let principal = user("u1", &["admin"], &["m1"]);
    let mut request = facts("production");
    request.ip = Some("10.1.2.3".parse().unwrap());
    request.mfa_age_seconds = Some(10);
    request.purpose = Some("legal_review".into());
    let engine = engine(&[]);
    for resource in [
        record(),
        Resource::Matter("m1".into()),
        Resource::Service,
        Resource::Key("k".into()),
        Resource::User { id: "u2".into(), name: "bob".into() },
    ] {
        let mut inputs = engine.inputs(&principal, Action::RecordRead, &resource, &request);
        let (_, entities) = engine.request(&inputs).unwrap();
        Entities::from_entities(entities.iter().cloned(), Some(&schema)).unwrap();
        let (resource_uid, _) = resource_entities(&resource).unwrap();
        let action = match resource {
            Resource::Record { .. } | Resource::Matter(_) => Action::RecordRead,
            Resource::Key(_) => Action::KeyManage,
            Resource::User { .. } => Action::UserManage,
            Resource::Service => Action::AuditRead,
        };
        let principal_uid = uid("Strongroom::User", "u1");
        let action_uid = uid("Strongroom::Action", action.as_str());
        // As a policy set reading every attribute would have it.
        inputs.context.now_unix_seconds = Some(request.now_unix_seconds);
        inputs.context.ip = request.ip;
        Request::new(
            principal_uid,
            action_uid,
            resource_uid,
            context(principal.kind, &inputs.context).unwrap(),
            Some(&schema),
        )
        .unwrap();
    }
}

#[test]
fn each_role_gets_exactly_its_view_and_only_admins_decrypt() {
    let engine = engine(&[]);
    let request = facts("development");
    let reader = user("r", &["reader"], &["m1"]);
    let analyst = user("a", &["analyst"], &["m1"]);
    let admin = user("d", &["admin"], &["m1"]);
    let allowed = |p: &PrincipalFacts, a| engine.decide(p, a, &record(), &request).allowed;
    assert!(allowed(&reader, Action::RecordRead));
    assert!(!allowed(&reader, Action::RecordReadRedacted));
    assert!(!allowed(&reader, Action::RecordDecrypt));
    assert!(allowed(&analyst, Action::RecordRead) && allowed(&analyst, Action::RecordReadRedacted));
    assert!(!allowed(&analyst, Action::RecordDecrypt));
    assert!(allowed(&admin, Action::RecordReadRedacted) && allowed(&admin, Action::RecordDecrypt));
    let decision = engine.decide(&admin, Action::RecordDecrypt, &record(), &request);
    assert!(decision.decided_by("default/admin.reveal"), "{decision:?}");
}

#[test]
fn data_needs_a_grant_on_the_matter_even_for_admins() {
    let engine = engine(&[]);
    let admin = user("d", &["admin"], &["other"]);
    let decision = engine.decide(&admin, Action::RecordRead, &record(), &facts("development"));
    assert!(!decision.allowed);
    assert!(decision.reasons.is_empty(), "denied by default, no policy permits: {decision:?}");
    // Admins still administer.
    assert!(engine.decide(&admin, Action::UserManage, &Resource::Service, &facts("development")).allowed);
}

#[test]
fn a_short_justification_forbids_a_reveal() {
    let engine = engine(&[]);
    let admin = user("d", &["admin"], &["m1"]);
    let request = RequestFacts { justification_length: 19, ..facts("development") };
    let decision = engine.decide(&admin, Action::RecordDecrypt, &record(), &request);
    assert!(!decision.allowed);
    assert!(decision.decided_by("default/reveal.justification"));
}

#[test]
fn production_needs_a_recent_second_factor_to_decrypt() {
    let engine = engine(&[]);
    let admin = user("d", &["admin"], &["m1"]);
    let stale = RequestFacts { mfa_age_seconds: Some(301), ..facts("production") };
    let decision = engine.decide(&admin, Action::RecordDecrypt, &record(), &stale);
    assert!(!decision.allowed && decision.decided_by("default/reveal.recent_mfa"), "{decision:?}");
    let missing = facts("production");
    assert!(!engine.decide(&admin, Action::RecordDecrypt, &record(), &missing).allowed);
    let fresh = RequestFacts { mfa_age_seconds: Some(30), ..facts("production") };
    assert!(engine.decide(&admin, Action::RecordDecrypt, &record(), &fresh).allowed);
}

#[test]
fn high_security_needs_an_approved_request_for_every_decrypt() {
    let engine = engine(&[]);
    let admin = user("d", &["admin"], &["m1"]);
    let request = RequestFacts { mfa_age_seconds: Some(5), ..facts("high_security") };
    let decision = engine.decide(&admin, Action::RecordDecrypt, &record(), &request);
    assert!(!decision.allowed && decision.decided_by("default/reveal.two_person"), "{decision:?}");
    let elevated = RequestFacts { elevated: true, ..request };
    assert!(engine.decide(&admin, Action::RecordDecrypt, &record(), &elevated).allowed);
}

#[test]
fn an_elevation_opens_a_matter_without_a_standing_grant() {
    let engine = engine(&[]);
    let reader = user("r", &["reader"], &[]);
    let request = RequestFacts { elevated: true, ..facts("development") };
    let decision = engine.decide(&reader, Action::RecordDecrypt, &record(), &request);
    assert!(decision.allowed && decision.decided_by("default/elevated.access"), "{decision:?}");
    assert!(!engine.decide(&reader, Action::RecordWrite, &record(), &request).allowed, "writes are not elevatable");
}

#[test]
fn api_key_scopes_map_to_actions() {
    let engine = engine(&[]);
    let request = facts("development");
    let key = Resource::Key("orders".into());
    let user_key = api_key(&["transit:use"]);
    assert!(engine.decide(&user_key, Action::TransitUse, &key, &request).allowed);
    assert!(engine.decide(&user_key, Action::TransitRead, &key, &request).allowed);
    assert!(!engine.decide(&user_key, Action::TransitManage, &key, &request).allowed);
    let manager = api_key(&["transit:manage"]);
    assert!(!engine.decide(&manager, Action::TransitUse, &key, &request).allowed);
    assert!(engine.decide(&manager, Action::TransitRead, &key, &request).allowed);
    // A person has no transit permission by default.
    let admin = user("d", &["admin"], &[]);
    assert!(!engine.decide(&admin, Action::TransitUse, &key, &request).allowed);
}

#[test]
fn introspection_is_for_its_scope_and_admins_and_an_application_key_may_do_nothing() {
    let engine = engine(&[]);
    let request = facts("development");
    let service = Resource::Service;
    assert!(engine.decide(&api_key(&["auth:introspect"]), Action::TokenIntrospect, &service, &request).allowed);
    assert!(!engine.decide(&api_key(&["transit:use"]), Action::TokenIntrospect, &service, &request).allowed);
    assert!(engine.decide(&user("a", &["admin"], &[]), Action::TokenIntrospect, &service, &request).allowed);
    assert!(!engine.decide(&user("r", &["analyst"], &[]), Action::TokenIntrospect, &service, &request).allowed);
    // An application key's facts carry the scope `app`: even with a role, a
    // grant and real scopes beside it (an operator's mistake, a future bug)
    // the default forbid wins everywhere.
    let mut application = api_key(&["app", "app:read", "auth:introspect", "transit:use"]);
    application.roles = vec!["system".into()];
    application.matters = vec!["m1".into()];
    let key = Resource::Key("orders".into());
    for (action, resource) in [
        (Action::TokenIntrospect, &service),
        (Action::TransitUse, &key),
        (Action::RecordRead, &record()),
        (Action::RecordWrite, &record()),
    ] {
        let decision = engine.decide(&application, action, resource, &request);
        assert!(!decision.allowed && decision.decided_by("default/application_key.none"), "{action}: {decision:?}");
    }
}

#[test]
fn a_custom_forbid_outside_office_hours_changes_the_decision_and_names_itself() {
    let policy = r#"
@id("office-hours")
@description("no decrypts outside 08:00-18:00 UTC on weekdays")
forbid (principal, action == Strongroom::Action::"record.decrypt", resource)
unless { context.weekday <= 5 && context.hour >= 8 && context.hour < 18 };
"#;
    let engine = engine(&[("api", policy)]);
    let admin = user("d", &["admin"], &["m1"]);
    assert!(engine.decide(&admin, Action::RecordDecrypt, &record(), &facts("development")).allowed);
    let night = RequestFacts { now_unix_seconds: MONDAY_NIGHT, ..facts("development") };
    let decision = engine.decide(&admin, Action::RecordDecrypt, &record(), &night);
    assert!(!decision.allowed);
    assert_eq!(decision.reasons.len(), 1);
    assert_eq!(decision.reasons[0].policy, "api/office-hours");
    assert_eq!(decision.reasons[0].effect, Effect::Forbid);
}

#[test]
fn custom_policies_can_test_the_address_the_mfa_age_and_the_purpose() {
    let policy = r#"
forbid (principal, action, resource == Strongroom::Matter::"m1")
unless { context has ip && context.ip.isInRange(ip("10.0.0.0/8")) };
forbid (principal, action == Strongroom::Action::"record.decrypt", resource)
unless { context has purpose && ["legal_review", "subject_request"].contains(context.purpose) };
"#;
    let engine = engine(&[("file:matter.cedar", policy)]);
    let admin = user("d", &["admin"], &["m1"]);
    let inside = RequestFacts { ip: Some("10.0.0.7".parse().unwrap()), ..facts("development") };
    let outside = RequestFacts { ip: Some("192.0.2.1".parse().unwrap()), ..facts("development") };
    let matter = Resource::Matter("m1".into());
    assert!(engine.decide(&admin, Action::RecordRead, &matter, &inside).allowed);
    let decision = engine.decide(&admin, Action::RecordRead, &matter, &outside);
    assert!(!decision.allowed && decision.decided_by("file:matter.cedar/policy0"), "{decision:?}");
    assert!(!engine.decide(&admin, Action::RecordDecrypt, &record(), &inside).allowed, "no purpose");
    let with_purpose = RequestFacts { purpose: Some("legal_review".into()), ..inside };
    assert!(engine.decide(&admin, Action::RecordDecrypt, &record(), &with_purpose).allowed);
}

#[test]
fn a_syntax_error_points_at_its_line_and_column() {
    let text = "permit (principal, action, resource);\n\npermit (principal, action resource);\n";
    let errors = PolicyEngine::check(&PolicySource { origin: "api".into(), text: text.into() }).unwrap_err();
    let first = &errors.0[0];
    assert_eq!(first.origin, "api");
    assert_eq!(first.line, Some(3), "{errors}");
    assert!(first.column.unwrap() > 20, "{errors}");
}

#[test]
fn a_schema_error_points_at_the_attribute_and_names_the_policy() {
    let text = "@id(\"typo\")\nforbid (principal, action, resource)\nwhen { context.mfa_agee > 600 };\n";
    let errors = PolicyEngine::check(&PolicySource { origin: "api".into(), text: text.into() }).unwrap_err();
    let first = &errors.0[0];
    assert_eq!(first.line, Some(3), "{errors}");
    assert_eq!(first.policy.as_deref(), Some("policy0"));
    assert!(first.message.contains("mfa_agee"), "{errors}");
    let unknown_action = "permit (principal, action == Strongroom::Action::\"record.steal\", resource);";
    let errors = PolicyEngine::check(&PolicySource { origin: "api".into(), text: unknown_action.into() });
    assert!(errors.unwrap_err().to_string().contains("record.steal"));
}

#[test]
fn templates_and_duplicate_ids_are_refused() {
    let template = "permit (principal == ?principal, action, resource);";
    assert!(PolicyEngine::check(&PolicySource { origin: "api".into(), text: template.into() }).is_err());
    let twice = "@id(\"a\") permit (principal, action, resource);\n@id(\"a\") forbid (principal, action, resource);";
    let errors = PolicyEngine::check(&PolicySource { origin: "api".into(), text: twice.into() }).unwrap_err();
    assert!(errors.to_string().contains("share this @id"));
}

#[test]
fn an_unguarded_optional_attribute_is_refused_once_with_the_fix() {
    // `context.ip` is absent when the address is unknown; strict validation
    // refuses the policy instead of letting it error (and be skipped) at
    // request time.
    let policy = "forbid (principal, action, resource)\nwhen { context.ip.isLoopback() };";
    let errors = PolicyEngine::check(&PolicySource { origin: "api".into(), text: policy.into() }).unwrap_err();
    assert_eq!(errors.0.len(), 1, "one error per place, not per action: {errors}");
    assert_eq!(errors.0[0].line, Some(2));
    assert!(errors.0[0].message.contains("context has ip"), "{errors}");
}

#[test]
fn only_policies_that_read_them_pay_for_the_address_and_the_time() {
    let mut uses = PolicyReads::default();
    let default = PolicySet::from_str(DEFAULT_POLICIES).unwrap();
    default.policies().for_each(|p| uses.add(p));
    assert!(!uses.ip && !uses.now, "the default policies read neither");
    let reads_ip: PolicySet = "forbid (principal, action, resource) unless { context has ip };".parse().unwrap();
    reads_ip.policies().for_each(|p| uses.add(p));
    assert!(uses.ip && !uses.now);
    let mut uses = PolicyReads::default();
    let whole: PolicySet = "forbid (principal, action, resource) when { context == {} };".parse().unwrap();
    whole.policies().for_each(|p| uses.add(p));
    assert!(uses.ip && uses.now, "a policy using the whole context gets all of it");
    let names: PolicySet =
        r#"permit (principal in Strongroom::Matter::"sup", action, resource) when { principal in Strongroom::Matter::"x" };"#
            .parse()
            .unwrap();
    names.policies().for_each(|p| uses.add(p));
    assert_eq!(uses.matters, HashSet::from(["sup".to_owned(), "x".to_owned()]));
}

#[test]
fn membership_of_a_named_matter_counts_though_the_resource_is_elsewhere() {
    let policy = r#"
@id("supervisors") permit (principal in Strongroom::Matter::"supervisors", action == Strongroom::Action::"record.read", resource);
"#;
    let engine = engine(&[("api", policy)]);
    let supervisor = user("s", &["reader"], &["supervisors", "unrelated"]);
    let decision = engine.decide(&supervisor, Action::RecordRead, &record(), &facts("development"));
    assert!(decision.allowed && decision.decided_by("api/supervisors"), "{decision:?}");
}

#[test]
fn slices_hold_exactly_the_policies_whose_scope_can_match() {
    let policy = r#"
@id("m") forbid (principal, action, resource == Strongroom::Matter::"m1") when { true };
@id("u") forbid (principal is Strongroom::User, action == Strongroom::Action::"record.export", resource) when { true };
"#;
    let engine = engine(&[("api", policy)]);
    let ids = |action, kind, resource_type| -> Vec<String> {
        let mut ids: Vec<String> =
            engine.slices[&(action, kind, resource_type)].policies().map(|p| p.id().to_string()).collect();
        ids.sort();
        ids
    };
    let record_decrypt = ids(Action::RecordDecrypt, PrincipalKind::User, "Strongroom::Record");
    assert!(!record_decrypt.contains(&"api/m".to_owned()), "a matter-only policy skips records");
    assert!(ids(Action::RecordDecrypt, PrincipalKind::User, "Strongroom::Matter").contains(&"api/m".to_owned()));
    assert!(ids(Action::RecordExport, PrincipalKind::User, "Strongroom::Record").contains(&"api/u".to_owned()));
    assert!(!ids(Action::RecordExport, PrincipalKind::ApiKey, "Strongroom::Record").contains(&"api/u".to_owned()));
    assert!(
        !ids(Action::TransitUse, PrincipalKind::ApiKey, "Strongroom::Key").contains(&"default/admin.reveal".to_owned())
    );
    // Same decisions as the whole set: the matter-only forbid denies on the matter.
    let admin = user("d", &["admin"], &["m1"]);
    assert!(!engine.decide(&admin, Action::RecordRead, &Resource::Matter("m1".into()), &facts("development")).allowed);
    assert!(engine.decide(&admin, Action::RecordRead, &record(), &facts("development")).allowed);
}

#[test]
fn a_user_managing_their_own_account_is_decided_without_an_error() {
    let engine = engine(&[]);
    let admin = user("d", &["admin"], &[]);
    let own = Resource::User { id: "d".into(), name: "d".into() };
    let decision = engine.decide(&admin, Action::UserManage, &own, &facts("development"));
    assert!(decision.allowed && decision.errors.is_empty(), "{decision:?}");
}

#[test]
fn a_remembered_decision_is_the_one_a_fresh_engine_makes() {
    // One rule per input a decision is built from: were an input missing
    // from the cache's key, a request differing only in it would get the
    // remembered (allowing) decision here instead of a fresh engine's.
    let policies = r#"
forbid (principal, action == Strongroom::Action::"record.read", resource) when { principal.name == "mallory" };
forbid (principal, action == Strongroom::Action::"record.read", resource) when { principal == Strongroom::User::"u-evil" };
forbid (principal, action == Strongroom::Action::"record.read", resource) when { context has ip && context.ip.isInRange(ip("192.0.2.0/24")) };
forbid (principal, action == Strongroom::Action::"record.read", resource) when { context.now > datetime("2026-11-23T12:00:30Z") };
forbid (principal, action == Strongroom::Action::"record.read", resource) when { context.hour == 13 };
forbid (principal, action == Strongroom::Action::"record.read", resource) when { context has mfa_age_seconds && context.mfa_age_seconds > 600 };
forbid (principal, action == Strongroom::Action::"record.read", resource) when { context.mfa_max_age_seconds == 1 };
forbid (principal, action == Strongroom::Action::"record.read", resource) when { context has purpose && context.purpose == "curiosity" };
forbid (principal, action == Strongroom::Action::"record.read", resource) when { context.justification_length == 7 };
forbid (principal, action == Strongroom::Action::"record.read", resource) when { context.elevated };
forbid (principal, action == Strongroom::Action::"record.read", resource) when { context.profile == "staging" };
forbid (principal, action == Strongroom::Action::"record.read", resource is Strongroom::Record) when { resource.collection == "secret" };
"#;
    let extra = [("api", policies)];
    let shared = engine(&extra);
    let admin = user("d", &["admin"], &["m1"]);
    let base = facts("development");
    let mut cases: Vec<(PrincipalFacts, Action, Resource, RequestFacts)> = vec![
        (admin.clone(), Action::RecordRead, record(), base.clone()),
        (PrincipalFacts { name: "mallory".into(), ..admin.clone() }, Action::RecordRead, record(), base.clone()),
        (PrincipalFacts { id: "u-evil".into(), ..admin.clone() }, Action::RecordRead, record(), base.clone()),
        (user("d", &["reader"], &["m1"]), Action::RecordRead, record(), base.clone()),
        (user("d", &["admin"], &[]), Action::RecordRead, record(), base.clone()),
        (api_key(&["records:read"]), Action::RecordRead, record(), base.clone()),
        (admin.clone(), Action::RecordDecrypt, record(), base.clone()),
        (
            admin.clone(),
            Action::RecordRead,
            Resource::Record { id: "r1".into(), matter: "m1".into(), collection: "secret".into() },
            base.clone(),
        ),
        (
            admin.clone(),
            Action::RecordRead,
            record(),
            RequestFacts { ip: Some("192.0.2.9".parse().unwrap()), ..base.clone() },
        ),
        (
            admin.clone(),
            Action::RecordRead,
            record(),
            RequestFacts { now_unix_seconds: MONDAY_NOON + 31, ..base.clone() },
        ),
        (
            admin.clone(),
            Action::RecordRead,
            record(),
            RequestFacts { now_unix_seconds: MONDAY_NOON + 3600, ..base.clone() },
        ),
        (admin.clone(), Action::RecordRead, record(), RequestFacts { mfa_age_seconds: Some(601), ..base.clone() }),
        (admin.clone(), Action::RecordRead, record(), RequestFacts { mfa_max_age_seconds: 1, ..base.clone() }),
        (
            admin.clone(),
            Action::RecordRead,
            record(),
            RequestFacts { purpose: Some("curiosity".into()), ..base.clone() },
        ),
        (admin.clone(), Action::RecordRead, record(), RequestFacts { justification_length: 7, ..base.clone() }),
        (admin.clone(), Action::RecordRead, record(), RequestFacts { elevated: true, ..base.clone() }),
        (admin.clone(), Action::RecordRead, record(), facts("staging")),
    ];
    // Each asked twice, the first case again at the end.
    cases.push(cases[0].clone());
    for (principal, action, resource, request) in &cases {
        let fresh = engine(&extra).decide(principal, *action, resource, request);
        for _ in 0..2 {
            assert_eq!(
                shared.decide(principal, *action, resource, request),
                fresh,
                "{principal:?} {action:?} {request:?}"
            );
        }
    }
    assert!(shared.decide(&admin, Action::RecordRead, &record(), &base).allowed, "the unchanged request is allowed");
    assert_eq!(shared.decisions.len(), cases.len() - 1, "one remembered decision per distinct question");
}

#[test]
fn the_remembered_decisions_stay_bounded() {
    let engine = engine(&[]);
    for i in 0..(2 * memo::CAPACITY) {
        let principal = user(&format!("u{i}"), &["reader"], &["m1"]);
        engine.decide(&principal, Action::RecordRead, &record(), &facts("development"));
    }
    assert!(engine.decisions.len() <= memo::CAPACITY);
}

/// `check` and `new` on a thread with a tokio worker's 2 MiB stack, where
/// Cedar's unguarded recursion overflowed at about 115 nested brackets, 1,180
/// chained if-then-else and 2,900 chained operators (cedar-policy 4.14).
fn on_a_worker_stack(text: String) -> (Result<usize, PolicyErrors>, bool) {
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            let source = PolicySource { origin: "api".into(), text };
            let loaded = PolicyEngine::new(&[PolicySource::default_set(), source.clone()]).is_ok();
            (PolicyEngine::check(&source), loaded)
        })
        .unwrap()
        .join()
        .unwrap()
}

fn when(body: &str) -> String {
    format!("permit (principal, action, resource)\nwhen {{ {body} }};")
}

#[test]
fn deeply_nested_policies_are_refused_naming_the_limit_instead_of_overflowing_the_stack() {
    let n = 300;
    let shapes = [
        ("()", format!("{}true{}", "(".repeat(n), ")".repeat(n))),
        ("[]", format!("{}1{} == []", "[".repeat(n), "]".repeat(n))),
        ("{}", format!("{}1{} == {{}}", "{a: ".repeat(n), "}".repeat(n))),
        ("else if", format!("{}true", "if true then true else ".repeat(1500))),
        ("if if", format!("{}true{}", "if ".repeat(1500), " then true else true".repeat(1500))),
    ];
    for (shape, body) in shapes {
        let (checked, loaded) = on_a_worker_stack(when(&body));
        let errors = checked.unwrap_err();
        assert!(!loaded, "{shape}");
        assert_eq!(errors.0.len(), 1, "{shape}: {errors}");
        assert!(errors.0[0].message.contains("nesting limit"), "{shape}: {errors}");
        assert!(errors.0[0].message.contains(&crate::MAX_NESTING.to_string()), "{shape}: {errors}");
        assert_eq!(errors.0[0].line, Some(2), "{shape}: {errors}");
    }
}

#[test]
fn long_operator_chains_are_refused_naming_the_limit_instead_of_overflowing_the_stack() {
    let n = 5000;
    let shapes = [
        ("||", format!("true{}", " || true".repeat(n))),
        ("&&", format!("true{}", " && true".repeat(n))),
        ("+", format!("1{} == 1", " + 1".repeat(n))),
        ("*", format!("1{} == 1", " * 1".repeat(n))),
        (".", format!("context{} == 1", ".a".repeat(n))),
        ("[index]", format!("context{} == 1", "[\"a\"]".repeat(n))),
        ("has", format!("context has a{}", ".a".repeat(n))),
        ("method calls", format!("[1]{} == 1", ".contains(1)".repeat(n))),
    ];
    for (shape, body) in shapes {
        let (checked, loaded) = on_a_worker_stack(when(&body));
        let errors = checked.unwrap_err();
        assert!(!loaded, "{shape}");
        let message = &errors.0[0].message;
        assert!(message.contains("operator limit") || message.contains("nesting limit"), "{shape}: {errors}");
    }
}

#[test]
fn the_largest_policy_the_limits_allow_loads_on_a_worker_stack() {
    // Every bound at its maximum at once: the nesting, then the operators
    // inside it, in each of several policies of one text.
    let depth = crate::MAX_NESTING - 1;
    let chain = format!("1{} == 1", " + 1".repeat(crate::MAX_OPERATORS - 1));
    let nested = format!("{}{}{}", "(".repeat(depth), chain, ")".repeat(depth));
    let ifs = format!("{}true", "if true then true else ".repeat(crate::MAX_NESTING - 1));
    let text =
        [when(&nested), when(&ifs), when(&format!("true{}", " || true".repeat(crate::MAX_OPERATORS)))].join("\n");
    let (checked, loaded) = on_a_worker_stack(text);
    assert_eq!(checked, Ok(3));
    assert!(loaded);
}

#[test]
fn a_text_past_the_size_limit_is_refused_naming_the_limit() {
    let policy = "permit (principal, action == Strongroom::Action::\"audit.read\", resource) when { false };\n";
    let text = policy.repeat(crate::MAX_TEXT_BYTES / policy.len() + 1);
    let errors = PolicyEngine::check(&PolicySource { origin: "file:big.cedar".into(), text }).unwrap_err();
    assert!(errors.0[0].message.contains("policy size limit"), "{errors}");
}

#[test]
fn a_service_key_with_records_decrypt_reveals_in_its_matters_with_a_justification_and_a_second_person_under_high_security()
 {
    let engine = engine(&[]);
    let worker =
        PrincipalFacts { roles: vec!["system".into()], matters: vec!["m1".into()], ..api_key(&["records:decrypt"]) };
    let plain = PrincipalFacts { scopes: vec!["transit:use".into()], ..worker.clone() };
    for profile in ["development", "production"] {
        let decided = engine.decide(&worker, Action::RecordDecrypt, &record(), &facts(profile));
        assert!(decided.allowed && decided.decided_by("default/scope.records_decrypt"), "{profile}: {decided:?}");
        assert!(!engine.decide(&plain, Action::RecordDecrypt, &record(), &facts(profile)).allowed);
    }
    let unjustified = RequestFacts::new("development", MONDAY_NOON);
    assert!(!engine.decide(&worker, Action::RecordDecrypt, &record(), &unjustified).allowed);
    let elsewhere = Resource::Record { id: "r2".into(), matter: "m2".into(), collection: "recordings".into() };
    assert!(!engine.decide(&worker, Action::RecordDecrypt, &elsewhere, &facts("development")).allowed);
    assert!(!engine.decide(&worker, Action::RecordExport, &record(), &facts("development")).allowed);
    // The two-person rule holds for keys too: only an approved request opens it.
    assert!(!engine.decide(&worker, Action::RecordDecrypt, &record(), &facts("high_security")).allowed);
    let elevated = RequestFacts { elevated: true, ..facts("high_security") };
    assert!(engine.decide(&worker, Action::RecordDecrypt, &record(), &elevated).allowed);
    let matter = Resource::Matter("m1".into());
    assert!(engine.decide(&worker, Action::AccessRequest, &matter, &facts("high_security")).allowed);
    assert!(!engine.decide(&plain, Action::AccessRequest, &matter, &facts("high_security")).allowed);
}
