//! A real local AWS KMS API: moto in server mode (`moto_server`, installed in
//! the test virtualenv by `scripts/python-env.sh`), for tests of the
//! `aws-kms` root-key provider.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The variable naming the `moto_server` executable.
pub const MOTO_VARIABLE: &str = "STRONGROOM_TEST_MOTO";

/// A running moto server, killed on drop.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    /// Starts one, or returns `None` (printing why) when `STRONGROOM_TEST_MOTO`
    /// is unset. Under CI an unset variable is a failure, never a silent skip.
    pub async fn start() -> Option<Self> {
        let Ok(bin) = std::env::var(MOTO_VARIABLE) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must set {MOTO_VARIABLE} (scripts/python-env.sh installs moto): KMS tests may not be skipped in CI"
            );
            eprintln!("skipped: {MOTO_VARIABLE} is not set, so this AWS KMS test did not run");
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let moto = Self { child, endpoint: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(60);
        while reqwest::get(format!("{}/moto-api/", moto.endpoint)).await.is_err() {
            assert!(Instant::now() < deadline, "moto did not start");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Some(moto)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Creates a symmetric KMS key and returns its id.
    pub async fn create_key(&self) -> String {
        let response = reqwest::Client::new()
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
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
