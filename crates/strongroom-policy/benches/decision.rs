//! One authorization decision: the default policy set plus 50 custom
//! policies of the kinds operators write (office hours, address ranges,
//! MFA age, per-matter restrictions), for a decrypt that passes every one.
//!
//! `cargo bench -p strongroom-policy --bench decision`; target: median under
//! 50 µs on the 2-vCPU CI machine for a decision made the first time (the
//! engine remembers decisions, so asking the same again is a lookup).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use strongroom_policy::{Action, PolicyEngine, PolicySource, PrincipalFacts, PrincipalKind, RequestFacts, Resource};

fn custom_policies(count: usize) -> String {
    (0..count)
        .map(|i| match i % 5 {
            0 => format!(
                "@id(\"hours-{i}\") forbid (principal, action == Strongroom::Action::\"record.decrypt\", resource) \
                 unless {{ context.hour >= 6 && context.hour < 22 }};\n"
            ),
            1 => format!(
                "@id(\"range-{i}\") forbid (principal, action, resource == Strongroom::Matter::\"restricted-{i}\") \
                 unless {{ context has ip && context.ip.isInRange(ip(\"10.0.0.0/8\")) }};\n"
            ),
            2 => format!(
                "@id(\"mfa-{i}\") forbid (principal is Strongroom::User, action == Strongroom::Action::\"record.export\", resource) \
                 unless {{ context has mfa_age_seconds && context.mfa_age_seconds < 600 }};\n"
            ),
            3 => format!(
                "@id(\"matter-{i}\") permit (principal in Strongroom::Matter::\"team-{i}\", \
                 action == Strongroom::Action::\"record.read\", resource in Strongroom::Matter::\"team-{i}\");\n"
            ),
            _ => format!(
                "@id(\"purpose-{i}\") forbid (principal, action == Strongroom::Action::\"record.decrypt\", resource) \
                 when {{ resource.matter == Strongroom::Matter::\"audit-{i}\" }} \
                 unless {{ context has purpose && context.purpose == \"audit\" }};\n"
            ),
        })
        .collect()
}

fn decision(c: &mut Criterion) {
    let sources = [PolicySource::default_set(), PolicySource { origin: "api".into(), text: custom_policies(50) }];
    let engine = PolicyEngine::new(&sources).expect("the bench policies load");
    let principal = PrincipalFacts {
        kind: PrincipalKind::User,
        id: "u-42".into(),
        name: "dana".into(),
        roles: vec!["admin".into()],
        scopes: vec![],
        matters: (0..20).map(|i| format!("matter-{i}")).collect(),
    };
    let resource = Resource::Record { id: "rec-1".into(), matter: "matter-7".into(), collection: "interviews".into() };
    let request = RequestFacts {
        ip: Some("10.4.5.6".parse().expect("an address")),
        mfa_age_seconds: Some(30),
        justification_length: 48,
        purpose: Some("legal_review".into()),
        ..RequestFacts::new("production", 1_795_435_200)
    };
    assert!(engine.decide(&principal, Action::RecordDecrypt, &resource, &request).allowed);
    c.bench_function("decide: decrypt, default set + 50 custom policies", |b| {
        b.iter(|| black_box(engine.decide(&principal, Action::RecordDecrypt, &resource, &request)))
    });
    let reader = PrincipalFacts { roles: vec!["reader".into()], ..principal.clone() };
    c.bench_function("decide: denied read (no grant), default set + 50 custom policies", |b| {
        let elsewhere =
            Resource::Record { id: "rec-2".into(), matter: "other".into(), collection: "interviews".into() };
        b.iter(|| black_box(engine.decide(&reader, Action::RecordRead, &elsewhere, &request)))
    });
    // The engine remembers decisions by their inputs; a record id never
    // asked about before makes every decision here a first one, as Cedar
    // alone would take.
    let mut next = 0_u64;
    c.bench_function("decide: decrypt, first time asked (not remembered), default set + 50 custom policies", |b| {
        b.iter(|| {
            next += 1;
            let resource = Resource::Record {
                id: format!("rec-{next}"),
                matter: "matter-7".into(),
                collection: "interviews".into(),
            };
            black_box(engine.decide(&principal, Action::RecordDecrypt, &resource, &request))
        })
    });
}

criterion_group!(benches, decision);
criterion_main!(benches);
