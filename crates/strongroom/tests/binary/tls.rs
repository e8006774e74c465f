//! TLS at both ends: to PostgreSQL (a cluster of the test's own, with
//! certificates the test makes) and on the listener (SIGHUP reload, the
//! plain-HTTP redirect listener).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use strongroom_testkit::{PostgresCluster, ServerBuilder, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{BIN, server, transit};

/// A CA of the test's own: its certificate (PEM) and what signs with it.
struct Authority {
    pem: String,
    issuer: rcgen::Certificate,
    key: rcgen::KeyPair,
}

impl Authority {
    fn new(name: &str) -> Self {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key = rcgen::KeyPair::generate().unwrap();
        let issuer = params.self_signed(&key).unwrap();
        Self { pem: issuer.pem(), issuer, key }
    }

    /// A server certificate for `names` and its key, both PEM.
    fn issue(&self, names: &[&str]) -> (String, String) {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let params = rcgen::CertificateParams::new(names).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer, &self.key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let file = dir.join(name);
        std::fs::write(&file, &self.pem).unwrap();
        file
    }
}

/// A builder on `cluster` by `host`, verify-full against `ca_file`.
fn over_tls(builder: ServerBuilder, cluster: &PostgresCluster, host: &str, ca_file: &Path) -> ServerBuilder {
    builder
        .database(&cluster.url(host))
        .env("STRONGROOM_DATABASE_TLS_MODE", "verify-full")
        .env("STRONGROOM_DATABASE_TLS_CA_FILE", ca_file.display().to_string())
}

#[tokio::test]
async fn postgres_over_verify_full_serves_and_a_wrong_ca_or_host_is_refused() {
    let authority = Authority::new("Strongroom test PostgreSQL CA");
    let (cert, key) = authority.issue(&["localhost"]);
    let Some(cluster) = PostgresCluster::start_tls(&cert, &key) else {
        return;
    };
    let files = tempfile::tempdir().unwrap();
    let ca_file = authority.write(files.path(), "ca.pem");
    let other_ca_file = Authority::new("Some other CA").write(files.path(), "other-ca.pem");

    // verify-full end to end: the server starts, migrates and serves.
    let running = over_tls(server(), &cluster, "localhost", &ca_file).start();
    let apikey = over_tls(TestServer::builder(BIN).data_dir(running.data_dir()), &cluster, "localhost", &ca_file)
        .run(&["apikey", "create", "--name", "tls client", "--scope", "transit:use", "--scope", "transit:manage"]);
    assert_eq!(apikey.code, Some(0), "{apikey:?}");
    let token = apikey.stdout.trim();
    let client = reqwest::Client::new();
    let (status, created) = transit(&client, &running, token, "keys/orders", json!({})).await;
    assert_eq!(status, 200, "{created}");
    let (status, encrypted) =
        transit(&client, &running, token, "encrypt/orders", json!({"plaintext": "aGVsbG8="})).await;
    assert_eq!(status, 200, "{encrypted}");
    assert!(encrypted["data"]["ciphertext"].as_str().unwrap().starts_with("vault:v1:"), "{encrypted}");
    // The cluster admits TCP only over TLS (hostssl); its own view agrees.
    let options = <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(&cluster.url("localhost"))
        .unwrap()
        .ssl_mode(sqlx::postgres::PgSslMode::VerifyFull)
        .ssl_root_cert(&ca_file);
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect_with(&options).await.unwrap();
    let (plain, encrypted_count): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE NOT s.ssl), count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
         WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(plain, 0);
    assert!(encrypted_count >= 1, "the server's pool is connected over TLS");

    // A certificate from another CA: refused, naming the setting.
    let wrong_ca = over_tls(server(), &cluster, "localhost", &other_ca_file)
        .try_start()
        .expect_err("a certificate from an untrusted CA must be refused");
    assert!(wrong_ca.stderr.contains("not issued by a trusted CA"), "{}", wrong_ca.stderr);
    assert!(
        wrong_ca.stderr.contains("UnknownIssuer") && wrong_ca.stderr.contains("other-ca.pem"),
        "{}",
        wrong_ca.stderr
    );

    // The certificate names `localhost`; connecting by address is refused.
    let wrong_host = over_tls(server(), &cluster, "127.0.0.1", &ca_file)
        .try_start()
        .expect_err("a certificate for another host must be refused");
    assert!(wrong_host.stderr.contains("not issued for the host 127.0.0.1"), "{}", wrong_host.stderr);
    assert!(wrong_host.stderr.contains("not valid for name"), "{}", wrong_host.stderr);
    // verify-ca does not compare names: the same address is accepted.
    let verify_ca = over_tls(server().data_dir(running.data_dir()), &cluster, "127.0.0.1", &ca_file)
        .env("STRONGROOM_DATABASE_TLS_MODE", "verify-ca")
        .start();
    assert_eq!(reqwest::get(verify_ca.url("/readyz")).await.unwrap().status(), 200);
}

#[tokio::test]
async fn production_refuses_plain_postgres_beyond_loopback() {
    let refused = server()
        .env("STRONGROOM_PROFILE", "production")
        .env("STRONGROOM_ROOT_KEY_PROVIDER", "passphrase")
        .env("STRONGROOM_ROOT_KEY_PASSPHRASE", "production passphrase of some length")
        .env("STRONGROOM_SERVER_TRUSTED_PROXY", "10.0.0.2")
        .database("postgres://strongroom:hunter2@db.example:5432/strongroom?sslmode=prefer")
        .try_start()
        .expect_err("plain text to a remote database must be refused");
    assert!(refused.stderr.contains("database.tls"), "{}", refused.stderr);
    assert!(refused.stderr.contains("sslmode prefer to db.example beyond loopback"), "{}", refused.stderr);
    assert!(!refused.stderr.contains("hunter2"));
}

/// Starts a server terminating TLS with the pair in `dir` (`cert.pem`, `key.pem`).
fn tls_server(dir: &Path) -> ServerBuilder {
    server()
        .env("STRONGROOM_SERVER_TLS_CERT_FILE", dir.join("cert.pem").display().to_string())
        .env("STRONGROOM_SERVER_TLS_KEY_FILE", dir.join("key.pem").display().to_string())
}

fn write_pair(dir: &Path, (cert, key): &(String, String)) {
    std::fs::write(dir.join("cert.pem"), cert).unwrap();
    std::fs::write(dir.join("key.pem"), key).unwrap();
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().trim_end_matches('/').parse().unwrap()
}

/// A TLS connection to 127.0.0.1:`port` trusting `authority`, and the
/// certificate the server presented.
async fn connect(port: u16, authority: &Authority) -> (tokio_rustls::client::TlsStream<TcpStream>, Vec<u8>) {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(authority.issuer.der().clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await.unwrap();
    let presented = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    (tls, presented)
}

/// Sends `GET /healthz` on an open keep-alive connection and reads the whole answer.
async fn health_on(stream: &mut tokio_rustls::client::TlsStream<TcpStream>) -> u16 {
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let read = stream.read(&mut buffer).await.expect("the open connection still answers");
        assert!(read > 0, "the server closed the open connection");
        answer.extend_from_slice(&buffer[..read]);
        let text = String::from_utf8_lossy(&answer).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
                .unwrap_or(0);
            if body.len() >= length {
                return head[9..12].parse().unwrap();
            }
        }
    }
}

fn certificate_der(pem: &str) -> Vec<u8> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem.as_bytes()).unwrap().to_vec()
}

/// The certificate new connections see, once it is `wanted` (polled for up to ten seconds).
async fn await_certificate(port: u16, authority: &Authority, wanted: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, presented) = connect(port, authority).await;
        if presented == wanted {
            return;
        }
        assert!(Instant::now() < deadline, "new connections never got the reloaded certificate");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn hangup(server: &TestServer) {
    let status = std::process::Command::new("kill").args(["-HUP", &server.pid().to_string()]).status().unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn sighup_reloads_the_certificate_for_new_connections_and_keeps_open_ones() {
    let authority = Authority::new("Strongroom test listener CA");
    let first = authority.issue(&["127.0.0.1"]);
    let second = authority.issue(&["127.0.0.1"]);
    let files = tempfile::tempdir().unwrap();
    write_pair(files.path(), &first);
    let running = tls_server(files.path()).start();
    let port = port_of(running.base_url());

    let (mut open, presented) = connect(port, &authority).await;
    assert_eq!(presented, certificate_der(&first.0));
    assert_eq!(health_on(&mut open).await, 200);

    write_pair(files.path(), &second);
    hangup(&running);
    await_certificate(port, &authority, &certificate_der(&second.0)).await;
    // The connection made before the reload is still served, on its certificate.
    assert_eq!(health_on(&mut open).await, 200);
    assert_eq!(open.get_ref().1.peer_certificates().unwrap()[0].to_vec(), certificate_der(&first.0));
    assert!(running.logs().contains("TLS certificate reloaded"), "{}", running.logs());

    // A broken pair is refused and the last good certificate stays in service.
    std::fs::write(files.path().join("cert.pem"), "not a certificate").unwrap();
    hangup(&running);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !running.logs().contains("TLS certificate reload failed") {
        assert!(Instant::now() < deadline, "no error logged: {}", running.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (mut fresh, presented) = connect(port, &authority).await;
    assert_eq!(presented, certificate_der(&second.0));
    assert_eq!(health_on(&mut fresh).await, 200);
    assert_eq!(health_on(&mut open).await, 200);
}

#[tokio::test]
async fn the_redirect_listener_answers_308_to_https_and_serves_no_api() {
    let authority = Authority::new("Strongroom test listener CA");
    let pair = authority.issue(&["127.0.0.1"]);
    let files = tempfile::tempdir().unwrap();
    write_pair(files.path(), &pair);
    let redirect_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let running = tls_server(files.path())
        .env("STRONGROOM_SERVER_HTTP_REDIRECT_LISTEN", format!("127.0.0.1:{redirect_port}"))
        .start();
    let https_port = port_of(running.base_url());
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let base = format!("http://127.0.0.1:{redirect_port}");
    for (method, path) in [
        (reqwest::Method::GET, "/healthz"),
        (reqwest::Method::GET, "/v1/transit/keys?list=true"),
        (reqwest::Method::POST, "/v1/auth/login"),
        (reqwest::Method::GET, "/metrics"),
    ] {
        let response = plain
            .request(method.clone(), format!("{base}{path}"))
            .json(&json!({"username": "admin", "password": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 308, "{method} {path}");
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(location, format!("https://127.0.0.1:{https_port}{path}"));
        assert!(response.bytes().await.unwrap().is_empty(), "a redirect carries no API answer");
    }
    // Followed, the redirect reaches the API over TLS.
    let root = reqwest::Certificate::from_pem(authority.pem.as_bytes()).unwrap();
    let https = reqwest::Client::builder().add_root_certificate(root).build().unwrap();
    let followed = https.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(followed.url().scheme(), "https");
    assert_eq!(followed.status(), 200);
    let body: Value = followed.json().await.unwrap();
    assert_eq!(body["status"], "ok");

    // A Host header that is no host name cannot steer the Location elsewhere.
    let mut tcp = TcpStream::connect(("127.0.0.1", redirect_port)).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: user@evil.example\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(!answer.to_ascii_lowercase().contains("location"), "{answer}");
    // Without one at all, the request is refused before it is routed.
    let mut tcp = TcpStream::connect(("127.0.0.1", redirect_port)).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.0\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    assert!(answer.contains(" 400 ") && !answer.contains("location"), "{answer}");
}
