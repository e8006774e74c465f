//! Housekeeping on both backends: a run purges exactly what is past its
//! retention (a session dead of idleness with its refresh-token family, an
//! expired one-time token, a finished job, a failed-login counter past its
//! window and lock) and nothing alive or recent, with
//! one `housekeeping.purge` event giving the counts; a run with nothing due
//! writes nothing; a run whose event cannot be appended purges nothing.

use std::sync::Arc;
use std::time::Duration;

use strongroom_core::audit::{AuditFilter, AuditLog};
use strongroom_core::housekeeping::{Housekeeping, HousekeepingSettings, PurgeCounts};
use strongroom_core::identity::{Identity, OneTimeKind};
use strongroom_core::{CoreError, FixedClock, Job, JobKind, JobState, StoreError};
use strongroom_testkit::TestDatabase;

use super::{ctx, fast_settings, keyring_with, open, tokens, user_with_password};

const PASSWORD: &str = "correct horse battery staple";

fn job(id: &str, state: JobState, updated_at: i64) -> Job {
    Job {
        id: id.into(),
        kind: JobKind::Rewrap,
        key_name: "matter.x".into(),
        target: "2".into(),
        state,
        total: 1,
        done: u64::from(state == JobState::Done),
        error: None,
        created_by: "service:test".into(),
        created_at: updated_at,
        updated_at,
    }
}

async fn purge_events(audit: &AuditLog) -> Vec<serde_json::Value> {
    let filter = AuditFilter { event_type: Some("housekeeping.purge".into()), limit: 100, ..AuditFilter::default() };
    let found = audit.search(filter, None).await.unwrap();
    found.iter().map(|entry| serde_json::from_slice(&entry.entry).unwrap()).collect()
}

pub async fn housekeeping_purges_what_is_past_its_retention_with_one_event_or_nothing(database: TestDatabase) {
    let db = open(&database).await;
    let t0: i64 = 1_800_000_000;
    let clock = Arc::new(FixedClock::at(Duration::from_secs(t0.unsigned_abs())));
    let ring = Arc::new(keyring_with(&db, 1, Arc::clone(&clock)));
    ring.audit().set_pseudonymizer(ring.audit_pseudonymizer(&ctx()).await.unwrap());
    let audit = Arc::clone(ring.audit());
    let identity = Identity::new(db.identity_store(), Arc::clone(&ring), Arc::clone(&clock) as _, fast_settings());
    identity.ensure_keys(&ctx()).await.unwrap();
    user_with_password(&identity, "ann").await;
    let ann = db.identity_store().user_by_username("ann").await.unwrap().unwrap().id;
    let sessions = || async { db.identity_store().sessions_of(&ann, true).await.unwrap() };

    // At t0: a session refreshed once (a family of two tokens), then left
    // (idle after 600 s, absolute end after 3600 s), and a token that expires.
    let old = tokens(identity.login("ann", PASSWORD, &ctx()).await.unwrap());
    identity.refresh(old.refresh_token.expose(), &ctx()).await.unwrap();
    let old_session = sessions().await[0].id.clone();
    let store = db.identity_store();
    store.insert_one_time(OneTimeKind::PasswordReset, &[1; 32], &ann, t0 + 100, &[]).await.unwrap();
    store.insert_one_time(OneTimeKind::PasswordReset, &[2; 32], &ann, t0 + 100_000, &[]).await.unwrap();
    let jobs = db.job_store();
    jobs.insert_job(&job("job_done", JobState::Done, t0), &[]).await.unwrap();
    jobs.insert_job(&job("job_failed_lately", JobState::Failed, t0 + 3900), &[]).await.unwrap();
    jobs.insert_job(&job("job_running", JobState::Running, t0), &[]).await.unwrap();
    // Failed-login counters: one left alone, one locked for long, one counting still (below).
    store.count_failure("throttle-old", t0, 900).await.unwrap();
    store.count_failure("throttle-locked", t0, 900).await.unwrap();
    store.lock_key("throttle-locked", t0 + 100_000).await.unwrap();

    // At t0 + 4000: a session revoked just now (dead, not yet past retention) and a live one.
    clock.advance(Duration::from_secs(4000));
    tokens(identity.login("ann", PASSWORD, &ctx()).await.unwrap());
    let revoked = sessions().await.into_iter().find(|s| s.id != old_session).unwrap().id;
    identity.revoke_session(&revoked, "logout", &ctx()).await.unwrap();
    tokens(identity.login("ann", PASSWORD, &ctx()).await.unwrap());
    store.count_failure("throttle-recent", t0 + 4000, 900).await.unwrap();

    let settings = HousekeepingSettings {
        session_retention: Duration::from_secs(1000),
        one_time_token_retention: Duration::from_secs(1000),
        job_retention: Duration::from_secs(1000),
        session_idle: Duration::from_secs(600),
        lockout_window: Duration::from_secs(900),
        batch_size: 100,
    };
    let housekeeping =
        Housekeeping::new(db.housekeeping_store(), Arc::clone(&audit), Arc::clone(&clock) as _, settings);
    let purged = housekeeping.run(&ctx()).await.unwrap();
    assert_eq!(purged, PurgeCounts { sessions: 1, refresh_tokens: 2, one_time_tokens: 1, jobs: 1, login_throttles: 1 });
    assert_eq!(store.locked_until("throttle-locked").await.unwrap(), Some(t0 + 100_000), "a lock stays while it lasts");
    assert_eq!(
        store.count_failure("throttle-recent", t0 + 4000, 900).await.unwrap(),
        2,
        "a counter in its window stays"
    );
    let left: Vec<String> = sessions().await.into_iter().map(|s| s.id).collect();
    assert_eq!(left.len(), 2, "the revoked and the live session stay");
    assert!(!left.contains(&old_session));
    assert!(identity.refresh(old.refresh_token.expose(), &ctx()).await.is_err());
    assert!(jobs.job("job_done").await.unwrap().is_none());
    assert!(jobs.job("job_failed_lately").await.unwrap().is_some(), "finished within the retention");
    assert!(jobs.job("job_running").await.unwrap().is_some(), "running jobs are never purged");

    let events = purge_events(&audit).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let details = &events[0]["details"];
    assert_eq!(
        (&details["sessions"], &details["refresh_tokens"], &details["one_time_tokens"], &details["jobs"]),
        (&1.into(), &2.into(), &1.into(), &1.into()),
        "{events:?}"
    );
    assert_eq!(details["login_throttles"], 1, "{events:?}");

    // Nothing more is due: no rows, no event.
    assert_eq!(housekeeping.run(&ctx()).await.unwrap(), PurgeCounts::default());
    assert_eq!(purge_events(&audit).await.len(), 1);

    // An event that cannot be appended takes its purge with it.
    clock.advance(Duration::from_secs(100_000));
    super::refuse_audit_appends(&db, &database).await;
    let refused = housekeeping.run(&ctx()).await.unwrap_err();
    assert!(matches!(refused, CoreError::Store(StoreError::AuditRefused(_))), "{refused:?}");
    assert_eq!(sessions().await.len(), 2, "nothing was purged");
    assert!(jobs.job("job_failed_lately").await.unwrap().is_some());
}
