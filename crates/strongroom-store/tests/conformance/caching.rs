//! What instances cache (key metadata, API keys with their grants) against
//! changes made by another instance: the database's change generation moves
//! with every such change, as it commits, and an instance that confirms it
//! drops what it cached (`strongroom_core::freshness`).

use std::sync::Arc;
use std::time::Duration;

use strongroom_core::authz::{NewMatter, PrincipalKind};
use strongroom_core::freshness::Freshness;
use strongroom_core::identity::Role;
use strongroom_core::rate_limits::RateLimits;
use strongroom_core::{ApiKeys, CoreError, FixedClock, KeyPurpose, KeySpec, KeyState, Keyring, Scope};
use strongroom_store::Database;
use strongroom_testkit::TestDatabase;

use super::{WHY, ctx, field, keyring_with, new_key, open};

/// The generation as the poller reads it.
async fn generation(db: &Database) -> u64 {
    db.store().change_generation().await.unwrap()
}

pub async fn caches_drop_what_another_instance_changed_once_the_generation_moves(database: TestDatabase) {
    let here = open(&database).await;
    let elsewhere = open(&database).await;
    let clock = Arc::new(FixedClock::at(Duration::from_secs(1_800_000_000)));
    let freshness = Arc::new(Freshness::new(Duration::from_secs(600)));
    let ring = Arc::new(keyring_with(&here, 1, Arc::clone(&clock)).with_freshness(Arc::clone(&freshness)));
    let keys = ApiKeys::new(here.api_key_store(), Arc::clone(&ring), Arc::clone(&clock) as _, limits(&ring, &clock));
    let other_ring = Arc::new(keyring_with(&elsewhere, 1, Arc::clone(&clock)));
    let other_keys = ApiKeys::new(
        elsewhere.api_key_store(),
        Arc::clone(&other_ring),
        Arc::clone(&clock) as _,
        limits(&other_ring, &clock),
    );

    let spec = KeySpec {
        purpose: KeyPurpose::Transit,
        algorithm: None,
        rotation_period_seconds: None,
        deletion_allowed: false,
    };
    ring.create("orders", spec, &ctx()).await.unwrap();
    let (record, issued) = keys.create(&new_key("worker", &[Scope::TransitUse], None), &ctx()).await.unwrap();
    freshness.confirm(generation(&here).await);
    let encrypt = || async { ring.use_key(KeyPurpose::Transit, "orders").await?.encrypt(b"x", &field("r")).await };
    encrypt().await.unwrap();
    keys.authenticate(issued.expose(), None).await.unwrap();

    // Another instance disables the key and revokes the API key: the
    // generation moves, but until this instance confirms it, its caches
    // answer as before (this is the window `cache_refresh_ms` bounds).
    let before = generation(&here).await;
    other_ring.set_state("orders", KeyState::Disabled, WHY, &ctx()).await.unwrap();
    other_keys.revoke(&record.id, &ctx()).await.unwrap();
    assert!(generation(&here).await > before, "the changes moved the generation");
    encrypt().await.expect("cached until confirmed");
    keys.authenticate(issued.expose(), None).await.expect("cached until confirmed");
    freshness.confirm(generation(&here).await);
    assert!(matches!(encrypt().await, Err(CoreError::KeyUnusable { .. })), "{:?}", encrypt().await);
    assert!(matches!(keys.authenticate(issued.expose(), None).await, Err(CoreError::Unauthenticated)));

    // A change made here takes effect at once, confirmed or not.
    let (second, issued_second) = keys.create(&new_key("second", &[Scope::TransitUse], None), &ctx()).await.unwrap();
    freshness.confirm(generation(&here).await);
    keys.authenticate(issued_second.expose(), None).await.unwrap();
    keys.revoke(&second.id, &ctx()).await.unwrap();
    assert!(matches!(keys.authenticate(issued_second.expose(), None).await, Err(CoreError::Unauthenticated)));

    // Usage tallies move no generation (they change nothing cached); a
    // grant does, since principals are cached with their grants.
    let (third, issued_third) = keys.create(&new_key("third", &[Scope::TransitUse], None), &ctx()).await.unwrap();
    keys.authenticate(issued_third.expose(), None).await.unwrap();
    let before = generation(&here).await;
    keys.flush_usage().await.unwrap();
    assert_eq!(generation(&here).await, before, "a usage tally is not a change");
    let (identity, authz) = super::authz::services(&elsewhere, Arc::clone(&clock)).await;
    let ada = super::authz::user(&identity, "ada", Role::Admin).await;
    let admin = authz.subject_of(PrincipalKind::User, &ada).await.unwrap();
    authz.create_matter(&admin, NewMatter { id: Some("case-1".into()), name: "Case".into() }, &ctx()).await.unwrap();
    freshness.confirm(generation(&here).await);
    let principal = keys.authenticate(issued_third.expose(), None).await.unwrap();
    assert!(principal.access.matters.is_empty());
    authz
        .grant(&admin, "case-1", (PrincipalKind::ApiKey, &third.id), "the worker transcribes this case", &ctx())
        .await
        .unwrap();
    assert_eq!(keys.authenticate(issued_third.expose(), None).await.unwrap().access.matters, Vec::<String>::new());
    freshness.confirm(generation(&here).await);
    assert_eq!(keys.authenticate(issued_third.expose(), None).await.unwrap().access.matters, ["case-1"]);

    // Unconfirmed for longer than max_age, nothing cached is used.
    let brief = Arc::new(Freshness::new(Duration::from_millis(50)));
    let ring = Arc::new(keyring_with(&here, 1, Arc::clone(&clock)).with_freshness(Arc::clone(&brief)));
    brief.confirm(generation(&here).await);
    other_ring.set_state("orders", KeyState::Active, WHY, &ctx()).await.unwrap();
    brief.confirm(generation(&here).await);
    ring.use_key(KeyPurpose::Transit, "orders").await.unwrap();
    other_ring.set_state("orders", KeyState::Disabled, WHY, &ctx()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert!(ring.use_key(KeyPurpose::Transit, "orders").await.unwrap().encrypt(b"x", &field("r")).await.is_err());
}

/// Rate limits counted in memory, by the test's clock.
fn limits(ring: &Arc<Keyring>, clock: &Arc<FixedClock>) -> Arc<RateLimits> {
    Arc::new(RateLimits::new(None, Default::default(), Arc::clone(ring.audit()), Arc::clone(clock) as _))
}
