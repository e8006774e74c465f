//! A real local AWS KMS API: moto in server mode (`moto_server`, installed in
//! the test virtualenv by `scripts/python-env.sh`), for tests of the
//! `aws-kms` root-key provider, with its STS and IAM for credentials.
//!
//! moto checks no signature until told to: [`Moto::require_signatures_after`]
//! turns on its IAM enforcement, where botocore recomputes every request's
//! SigV4 signature and the caller's policy is evaluated.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The variable naming the `moto_server` executable.
pub const MOTO_VARIABLE: &str = "STRONGROOM_TEST_MOTO";

/// A running moto server, killed on drop.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    /// How it was started, to start it again on the same port.
    command: Vec<std::ffi::OsString>,
    endpoint: String,
    client: reqwest::Client,
    /// The certificate and key files of an HTTPS server, kept until the end.
    _tls_files: Option<tempfile::TempDir>,
}

impl Moto {
    /// Starts one, or returns `None` (printing why) when `STRONGROOM_TEST_MOTO`
    /// is unset. Under CI an unset variable is a failure, never a silent skip.
    pub async fn start() -> Option<Self> {
        Self::spawn(None).await
    }

    /// Starts one serving HTTPS with `certificate_pem` (which must name
    /// 127.0.0.1) and its `key_pem`, as real AWS endpoints do; `None` as
    /// [`start`](Self::start).
    pub async fn start_https(certificate_pem: &str, key_pem: &str) -> Option<Self> {
        Self::spawn(Some((certificate_pem, key_pem))).await
    }

    async fn spawn(tls: Option<(&str, &str)>) -> Option<Self> {
        let Ok(bin) = std::env::var(MOTO_VARIABLE) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must set {MOTO_VARIABLE} (scripts/python-env.sh installs moto): KMS tests may not be skipped in CI"
            );
            eprintln!("skipped: {MOTO_VARIABLE} is not set, so this AWS KMS test did not run");
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let mut command = Command::new(bin);
        command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        let mut client = reqwest::Client::builder();
        let mut scheme = "http";
        let mut tls_files = None;
        if let Some((certificate_pem, key_pem)) = tls {
            let dir = tempfile::tempdir().expect("a temporary directory");
            std::fs::write(dir.path().join("cert.pem"), certificate_pem).expect("write the certificate");
            std::fs::write(dir.path().join("key.pem"), key_pem).expect("write the key");
            command.arg("--ssl-cert").arg(dir.path().join("cert.pem"));
            command.arg("--ssl-key").arg(dir.path().join("key.pem"));
            let root = reqwest::Certificate::from_pem(certificate_pem.as_bytes()).expect("a PEM certificate");
            client = client.add_root_certificate(root);
            scheme = "https";
            tls_files = Some(dir);
        }
        let client = client.build().expect("an HTTP client");
        let command: Vec<_> =
            std::iter::once(command.get_program()).chain(command.get_args()).map(|a| a.to_owned()).collect();
        let child = Self::launch(&command);
        let moto =
            Self { child, command, endpoint: format!("{scheme}://127.0.0.1:{port}"), client, _tls_files: tls_files };
        moto.wait_until_up().await;
        Some(moto)
    }

    fn launch(command: &[std::ffi::OsString]) -> Child {
        Command::new(&command[0])
            .args(&command[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server")
    }

    async fn wait_until_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.client.get(format!("{}/moto-api/", self.endpoint)).send().await.is_err() {
            assert!(Instant::now() < deadline, "moto did not start");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Kills the server, as an outage would: its port stops answering.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port after [`stop`](Self::stop); it
    /// comes back empty (moto keeps its state in memory).
    pub async fn start_again(&mut self) {
        self.child = Self::launch(&self.command);
        self.wait_until_up().await;
    }

    /// `http://127.0.0.1:PORT` (`https://` from [`start_https`](Self::start_https)).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Creates a symmetric KMS key and returns its id.
    pub async fn create_key(&self) -> String {
        let response = self
            .client
            .post(&self.endpoint)
            .header("Content-Type", "application/x-amz-json-1.1")
            .header("X-Amz-Target", "TrentService.CreateKey")
            // moto routes by the service named in the credential scope; it does not check the signature.
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body("{}")
            .send()
            .await
            .expect("moto answers");
        let answer: serde_json::Value = response.json().await.expect("CreateKey answer");
        answer["KeyMetadata"]["KeyId"].as_str().expect("a key id").to_owned()
    }

    /// Calls KMS `operation` unsigned (as a test stands beside the server)
    /// and returns the HTTP status and the answer.
    pub async fn kms(&self, operation: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let response = self
            .client
            .post(&self.endpoint)
            .header("Content-Type", "application/x-amz-json-1.1")
            .header("X-Amz-Target", format!("TrentService.{operation}"))
            .header("Authorization", Self::routing_authorization("kms"))
            .body(body.to_string())
            .send()
            .await
            .expect("moto answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    /// The `Authorization` header that makes moto route an unsigned request
    /// to `service` (real AWS routes by host name; moto has one host).
    pub fn routing_authorization(service: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"
        )
    }

    /// Creates an IAM role that anybody may assume with a web identity and
    /// that may use every KMS key; returns its ARN.
    pub async fn create_role_allowing_kms(&self, name: &str) -> String {
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"*"},"Action":"sts:AssumeRoleWithWebIdentity"}]}"#;
        let created =
            self.iam(&[("Action", "CreateRole"), ("RoleName", name), ("AssumeRolePolicyDocument", trust)]).await;
        let kms = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#;
        self.iam(&[("Action", "PutRolePolicy"), ("RoleName", name), ("PolicyName", "kms"), ("PolicyDocument", kms)])
            .await;
        let arn = created.split_once("<Arn>").and_then(|(_, rest)| rest.split_once("</Arn>")).expect("a role ARN").0;
        arn.to_owned()
    }

    async fn iam(&self, parameters: &[(&str, &str)]) -> String {
        let mut form = vec![("Version", "2010-05-08")];
        form.extend_from_slice(parameters);
        let response = self
            .client
            .post(&self.endpoint)
            .header("Authorization", Self::routing_authorization("iam"))
            .form(&form)
            .send()
            .await
            .expect("moto answers");
        assert!(response.status().is_success(), "IAM {parameters:?}: {}", response.status());
        response.text().await.expect("an IAM answer")
    }

    /// From the next `unchecked` requests on, moto verifies every signature
    /// (with botocore) and the caller's IAM policy, as AWS does.
    pub async fn require_signatures_after(&self, unchecked: u32) {
        let response = self
            .client
            .post(format!("{}/moto-api/reset-auth", self.endpoint))
            .body(unchecked.to_string())
            .send()
            .await
            .expect("moto answers");
        assert!(response.status().is_success(), "reset-auth: {}", response.status());
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
