//! Audit-log benchmarks on the real stores: append throughput with many
//! concurrent writers through the group-commit path (durability kept: SQLite
//! WAL with synchronous=FULL on the real disk, PostgreSQL with its defaults),
//! and inclusion-proof latency at a million entries.
//!
//! ```sh
//! cargo bench -p strongroom-store --bench audit                 # SQLite, and PostgreSQL when
//!                                                               # STRONGROOM_TEST_POSTGRES_URL is set
//! cargo bench -p strongroom-store --bench audit -- 64 10 1000000   # writers, seconds, entries for proofs
//! BENCH_BACKEND=postgres cargo bench -p strongroom-store --bench audit   # one backend only
//! ```
//!
//! Not a criterion bench: throughput under concurrency and latency
//! percentiles over a large tree need their own loop. Numbers go to
//! bench/README.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use strongroom_core::SystemClock;
use strongroom_core::audit::{
    Actor, ActorKind, AuditContext, AuditEvent, AuditLog, AuditSettings, AuditStore, EventType, Pseudonymizer, Target,
};
use strongroom_crypto::SecretKey;
use strongroom_store::{ConnectOptions, Database};
use strongroom_testkit::TestDatabase;

fn context(n: usize) -> AuditContext {
    AuditContext {
        actor: Actor {
            kind: ActorKind::ApiKey,
            // A handful of API keys, as a real deployment has, not one per event.
            id: format!("{:016x}", n % 8),
            name: Some("billing worker".into()),
            roles: vec!["transit:use".into()],
        },
        ip: Some("10.1.2.3".parse().unwrap()),
        user_agent: Some("hvac/2.3.0 python-requests/2.34.2".into()),
        request_id: Some(format!("{:032x}", n)),
    }
}

/// A realistic event: a transit encrypt by an API key (about 450 bytes).
fn event(log: &AuditLog, n: usize) -> AuditEvent {
    log.event(EventType::TransitEncrypt, &context(n))
        .target(Target::new("transit_key", "orders"))
        .detail("items", 1usize)
        .detail("failed_items", 0usize)
}

/// A log over `store` with an HMAC key loaded, as the server has one: the
/// user agent of every event is kept as its HMAC.
fn log(store: Arc<dyn AuditStore>) -> Arc<AuditLog> {
    let log = AuditLog::new(store, Arc::new(SystemClock), AuditSettings::default());
    // Invariant: 32 bytes make a key.
    let key = SecretKey::from_slice(&[7; 32]).expect("a 32-byte key");
    log.set_pseudonymizer(Pseudonymizer::new(vec![(1, key)]).expect("one key version"));
    log
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

async fn throughput(logs: &[Arc<AuditLog>], writers: usize, seconds: u64) -> (f64, Duration, Duration) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let log = Arc::clone(&logs[writer % logs.len()]);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = writer * 1_000_000;
            while Instant::now() < deadline {
                let begun = Instant::now();
                log.record(&event(&log, n)).await.expect("append");
                latencies.push(begun.elapsed());
                n += 1;
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    (latencies.len() as f64 / elapsed, percentile(&latencies, 0.5), percentile(&latencies, 0.99))
}

async fn fill(log: &AuditLog, database: &Database, entries: u64) {
    let store = database.audit_store();
    let mut size = store.audit_head().await.unwrap().size;
    let started = Instant::now();
    while size < entries {
        let batch = (entries - size).min(5000) as usize;
        let records: Vec<_> = (0..batch).map(|i| log.seal(&event(log, size as usize + i)).unwrap()).collect();
        size = store.append_audit(&records).await.unwrap().head.size;
    }
    eprintln!("  filled to {size} entries in {:.1} s", started.elapsed().as_secs_f64());
}

async fn proof_latency(log: &AuditLog, samples: usize) -> (Duration, Duration, Duration) {
    let size = log.head().await.unwrap().size;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut latencies = Vec::with_capacity(samples);
    for _ in 0..samples {
        // xorshift: spread the indexes over the whole tree without a rand dependency.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let index = state % size;
        let begun = Instant::now();
        let path = log.inclusion_proof(index, size).await.unwrap();
        latencies.push(begun.elapsed());
        assert!(!path.is_empty());
    }
    latencies.sort_unstable();
    (percentile(&latencies, 0.5), percentile(&latencies, 0.99), *latencies.last().unwrap())
}

async fn run(name: &str, database: &TestDatabase, writers: usize, seconds: u64, entries: u64) {
    eprintln!("{name}:");
    let open = || async {
        let db = Database::connect(database.url(), &ConnectOptions::default()).await.unwrap();
        db.migrate().await.unwrap();
        db
    };
    let first = open().await;
    let mut logs = vec![log(first.audit_store())];
    // A short warm-up: connections open and prepare their statements.
    throughput(&logs, writers, 1).await;
    let (rate, p50, p99) = throughput(&logs, writers, seconds).await;
    println!(
        "{name}: append, {writers} writers, 1 instance: {rate:.0} events/s, record() p50 {:.2} ms p99 {:.2} ms",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
    if name == "postgres" {
        let second = open().await;
        logs.push(log(second.audit_store()));
        let (rate, p50, p99) = throughput(&logs, writers, seconds).await;
        println!(
            "{name}: append, {writers} writers, 2 instances: {rate:.0} events/s, record() p50 {:.2} ms p99 {:.2} ms",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
    }
    fill(&logs[0], &first, entries).await;
    let (p50, p99, max) = proof_latency(&logs[0], 10_000).await;
    println!(
        "{name}: inclusion proof at {entries} entries: p50 {:.3} ms p99 {:.3} ms max {:.3} ms",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3
    );
}

fn main() {
    // `cargo bench` passes `--bench`; numbers are positional.
    let numbers: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let writers = numbers.first().copied().unwrap_or(64) as usize;
    let seconds = numbers.get(1).copied().unwrap_or(10);
    let entries = numbers.get(2).copied().unwrap_or(1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let only = std::env::var("BENCH_BACKEND").unwrap_or_default();
        if only.is_empty() || only == "sqlite" {
            // A temporary directory on the real disk (not tmpfs): fsync costs what it costs.
            run("sqlite", &TestDatabase::sqlite(), writers, seconds, entries).await;
        }
        if (only.is_empty() || only == "postgres")
            && let Some(database) = TestDatabase::postgres().await
        {
            run("postgres", &database, writers, seconds, entries).await;
        }
    });
}
