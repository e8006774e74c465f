//! What deploy/ ships, through the real binary: the example configurations
//! pass `doctor` (so they cannot rot as the schema changes), and
//! `strongroom healthcheck`, the container's probe, tells a ready server
//! from a missing one.

use std::path::PathBuf;

use strongroom_testkit::TestDatabase;

use super::server;

fn example(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/examples").join(name);
    path.display().to_string()
}

/// A secret file, as a container platform or systemd's LoadCredential mounts one.
fn secret_file(dir: &tempfile::TempDir, name: &str, value: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, format!("{value}\n")).unwrap();
    path.display().to_string()
}

#[tokio::test]
async fn the_single_binary_example_passes_doctor_with_its_secret_from_a_file() {
    let files = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["strongroom.example".into()]).unwrap();
    let cert = secret_file(&files, "fullchain.pem", &certified.cert.pem());
    let key = secret_file(&files, "privkey.pem", &certified.key_pair.serialize_pem());
    let passphrase = secret_file(&files, "root-key-passphrase", "a passphrase from a mounted file");
    // Only what differs on a test machine is overridden: the TLS files'
    // paths (the data dir and listener are the test kit's).
    let output = server()
        .env("STRONGROOM_SERVER_TLS_CERT_FILE", cert)
        .env("STRONGROOM_SERVER_TLS_KEY_FILE", key)
        .env("STRONGROOM_ROOT_KEY_PASSPHRASE_FILE", passphrase)
        .run(&["--config", &example("single.toml"), "doctor"]);
    assert_eq!(output.code, Some(0), "{output:#?}");
    assert!(output.stdout.contains("profile production"), "{}", output.stdout);
    assert!(output.stdout.contains("PASS  root_key.provider"), "{}", output.stdout);
    assert!(output.stdout.contains("terminates TLS 1.3"), "{}", output.stdout);
    assert!(!output.stdout.contains("a passphrase from"), "{}", output.stdout);

    // Without its secret the same file is refused, naming the variable to set.
    let refused = server().run(&["--config", &example("single.toml"), "doctor"]);
    assert_eq!(refused.code, Some(1), "{refused:#?}");
    assert!(refused.stdout.contains("STRONGROOM_ROOT_KEY_PASSPHRASE"), "{}", refused.stdout);
}

#[tokio::test]
async fn the_cluster_example_passes_doctor_against_postgresql_with_the_url_from_a_file() {
    let Some(database) = TestDatabase::postgres().await else { return };
    let files = tempfile::tempdir().unwrap();
    let url = secret_file(&files, "database-url", database.url());
    let cluster = || server().env("STRONGROOM_DATABASE_URL_FILE", url.clone());
    // As a rollout does it: migrations as a job of their own, then each instance.
    let output = cluster().run(&["--config", &example("cluster.toml"), "migrate"]);
    assert_eq!(output.code, Some(0), "{output:#?}");
    assert!(output.stdout.contains("postgres"), "{}", output.stdout);
    let output = cluster().run(&["--config", &example("cluster.toml"), "doctor"]);
    assert_eq!(output.code, Some(0), "{output:#?}");
    assert!(output.stdout.contains("PASS  database.connect"), "{}", output.stdout);
    assert!(output.stdout.contains("postgres answers"), "{}", output.stdout);
    assert!(output.stdout.contains("KMS key"), "{}", output.stdout);
    assert!(!output.stdout.contains(database.url()) && !output.stderr.contains(database.url()));
}

#[tokio::test]
async fn healthcheck_exits_0_for_a_ready_server_and_1_for_none() {
    let server_under_test = server().start();
    let url = server_under_test.url("/readyz");
    let output = server().run(&["healthcheck", "--url", &url]);
    assert_eq!(output.code, Some(0), "{output:#?}");
    assert!(output.stdout.starts_with("ready"), "{}", output.stdout);

    // Nobody listens on a port just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let output = server().run(&["healthcheck", "--url", &format!("http://127.0.0.1:{port}/readyz")]);
    assert_eq!(output.code, Some(1), "{output:#?}");
    assert!(output.stderr.contains("does not answer"), "{}", output.stderr);

    // Without --url it needs a port to find: the test kit's listener is port 0.
    let output = server().run(&["healthcheck"]);
    assert_eq!(output.code, Some(1), "{output:#?}");
    assert!(output.stderr.contains("--url"), "{}", output.stderr);
}

#[tokio::test]
async fn healthcheck_trusts_the_listeners_own_certificate() {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let files = tempfile::tempdir().unwrap();
    let cert = secret_file(&files, "cert.pem", &certified.cert.pem());
    let key = secret_file(&files, "key.pem", &certified.key_pair.serialize_pem());
    let tls = || {
        server().env("STRONGROOM_SERVER_TLS_CERT_FILE", cert.clone()).env("STRONGROOM_SERVER_TLS_KEY_FILE", key.clone())
    };
    let server_under_test = tls().start();
    assert!(server_under_test.base_url().starts_with("https://"));
    let output = tls().run(&["healthcheck", "--url", &server_under_test.url("/readyz")]);
    assert_eq!(output.code, Some(0), "{output:#?}");
    // Without the listener's configuration the self-signed certificate is not trusted.
    let output = server().run(&["healthcheck", "--url", &server_under_test.url("/readyz")]);
    assert_eq!(output.code, Some(1), "{output:#?}");
}
