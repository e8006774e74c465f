//! `/metrics` read as a scraper reads it: parsed by a Prometheus text
//! parser, every series docs/api.md lists is there with bounded labels, and
//! the counters move under load (a blob up and down moves the byte
//! counters, an unreachable anchor the anchor failures).

use std::time::{Duration, Instant};

use prometheus_parse::{Sample, Scrape, Value as Metric};
use serde_json::json;
use strongroom_testkit::TestServer;

use super::authz::{admin_and_reader_on, call};
use super::blobs::{get, put, wav};
use super::{BIN, server};

const TOKEN: &str = "a metrics token of more than twenty characters";

async fn scrape(server: &TestServer) -> Vec<Sample> {
    let response = reqwest::Client::new().get(server.url("/metrics")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).expect("Prometheus text").samples
}

fn value(sample: &Sample) -> f64 {
    match &sample.value {
        Metric::Counter(v) | Metric::Gauge(v) | Metric::Untyped(v) => *v,
        Metric::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
        Metric::Summary(_) => f64::NAN,
    }
}

/// The value of the series `name` with `labels`, if it is there.
fn find(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples.iter().find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))).map(value)
}

/// Scrapes until `check` holds on the samples (the gauges are sampled every
/// few seconds), for at most 20 s.
async fn eventually(server: &TestServer, what: &str, check: impl Fn(&[Sample]) -> bool) -> Vec<Sample> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let samples = scrape(server).await;
        if check(&samples) {
            return samples;
        }
        if Instant::now() > deadline {
            let names: std::collections::BTreeSet<_> = samples.iter().map(|s| s.metric.as_str()).collect();
            panic!("{what}: not in the metrics; series: {names:?}\nlogs: {}", server.logs());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn metrics_parse_and_every_listed_series_moves_under_load() {
    let server = server()
        .env("STRONGROOM_METRICS_TOKEN", TOKEN)
        // Nothing listens there: every published checkpoint fails to anchor.
        .env("STRONGROOM_AUDIT_ANCHOR_URL", "http://127.0.0.1:9/anchor")
        .env("STRONGROOM_AUDIT_CHECKPOINT_INTERVAL_SECONDS", "1")
        .start();
    let (server, admin, reader, _) = admin_and_reader_on(server).await;
    let keys = |args: &[&str]| {
        let output = TestServer::builder(BIN).data_dir(server.data_dir()).run(&[&["key"][..], args].concat());
        assert_eq!(output.code, Some(0), "{output:?}");
    };
    keys(&["create", "due-key", "--rotation-period", "1h"]);
    keys(&["create", "steady-key", "--rotation-period", "30d"]);
    // Its period passed two hours ago. (The scheduler, which would rotate
    // it, looks once a minute from start; this test is done long before.)
    {
        use sqlx::Connection;
        let url = format!("sqlite://{}", server.data_dir().join("strongroom.db").display());
        let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("UPDATE keys SET updated_at = updated_at - 7200 WHERE name = 'due-key'")
            .execute(&mut connection)
            .await
            .unwrap();
    }

    let before = scrape(&server).await;
    let bytes_in = find(&before, "strongroom_blob_bytes_in_total", &[]).unwrap_or(0.0);
    let bytes_out = find(&before, "strongroom_blob_bytes_out_total", &[]).unwrap_or(0.0);

    // Load: a recording up and back, on a matter (whose key is a matter key).
    let (status, _) = call(&server, "POST", "/v1/matters", &admin, Some(json!({"id": "m-7", "name": "m-7"}))).await;
    assert_eq!(status, 201);
    let record = json!({"matter": "m-7", "fields": {"title": "Deposition", "status": "recorded"}});
    let (status, created) = call(&server, "POST", "/v1/collections/recordings/records", &admin, Some(record)).await;
    assert_eq!(status, 201, "{created}");
    let path = format!("/v1/collections/recordings/records/{}/blobs/audio", created["id"].as_str().unwrap());
    let audio = wav(2);
    let (status, stored) = put(&server, &admin, &path, "audio/wav", audio.clone()).await;
    assert_eq!(status, 201, "{stored}");
    let why = [("x-justification", "quality check of the transcription"), ("x-purpose", "case_work")];
    let download = get(&server, &admin, &path, &why).await;
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().await.unwrap().len(), audio.len());
    assert_eq!(get(&server, &reader, &path, &why).await.status(), 404, "no grant: nothing streamed");

    let n = audio.len() as f64;
    let samples = eventually(&server, "the gauges, the byte counters and an anchor failure", |s| {
        find(s, "strongroom_blob_bytes_out_total", &[]) == Some(bytes_out + n)
            && find(s, "strongroom_audit_anchor_failures_total", &[("operation", "publish")]).is_some_and(|v| v >= 1.0)
            && find(s, "strongroom_key_rotation_due", &[("key", "due-key")]) == Some(1.0)
            && find(s, "strongroom_keys_oldest_age_seconds", &[("purpose", "matter_data")]).is_some()
    })
    .await;
    assert_eq!(find(&samples, "strongroom_blob_bytes_in_total", &[]), Some(bytes_in + n), "upload counted once");

    // Keys: the age and rotation of each named key, matter keys only in their purpose's aggregates.
    assert_eq!(
        find(&samples, "strongroom_key_rotation_due", &[("key", "steady-key"), ("purpose", "transit")]),
        Some(0.0)
    );
    let age = find(&samples, "strongroom_key_age_seconds", &[("key", "steady-key")]).unwrap();
    assert!((0.0..600.0).contains(&age), "{age}");
    assert!(find(&samples, "strongroom_keys_rotation_due", &[("purpose", "transit")]).is_some_and(|v| v >= 1.0));
    assert!(
        samples.iter().all(|s| s.labels.get("key").is_none_or(|key| !key.starts_with("matter."))),
        "matter keys are never a label"
    );
    // Key jobs by kind, the pools, and the series that were there before.
    for (name, labels) in [
        ("strongroom_key_jobs_running", &[("kind", "rewrap")][..]),
        ("strongroom_key_job_records_done", &[("kind", "reencrypt")]),
        ("strongroom_key_job_records_total", &[("kind", "rewrap")]),
        ("strongroom_db_pool_connections", &[("pool", "readers"), ("state", "in_use")]),
        ("strongroom_db_pool_connections", &[("pool", "writer"), ("state", "idle")]),
        // (prometheus-parse drops samples whose labels hold braces, as
        // route templates do; tests/python/test_metrics.py reads every
        // line with the reference client's strict parser.)
        ("strongroom_http_requests_total", &[("route", "/v1/matters")]),
        ("strongroom_http_request_duration_seconds", &[]),
        ("strongroom_audit_append_seconds", &[]),
        ("strongroom_audit_checkpoint_age_seconds", &[]),
    ] {
        assert!(find(&samples, name, labels).is_some(), "{name} {labels:?} missing");
    }
    assert_eq!(find(&samples, "strongroom_db_pool_max_connections", &[("pool", "writer")]), Some(1.0));
    let record_id = created["id"].as_str().unwrap();
    assert!(samples.iter().all(|s| s.labels.values().all(|v| !v.contains(record_id))), "no record id in a label");
}
