//! The `transit` root-key provider: a Vault/OpenBao transit key wraps a random
//! 256-bit keyring key, whose wrapped form is stored in the database. At start
//! the server asks transit to unwrap it, once; afterwards the keyring key
//! works in memory, so a transit outage never slows requests (but a restart
//! needs transit). The token and the keyring key are never logged.

use anyhow::{Context, bail};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use strongroom_config::TransitRootKey;
use strongroom_core::CoreError;
use strongroom_core::root_key::{Custody, RootKeyProvider};
use zeroize::Zeroizing;

use super::provider_error;

/// A minimal client for one transit key.
pub struct TransitRoot {
    http: reqwest::Client,
    base: String,
    token: String,
    key: String,
}

impl std::fmt::Debug for TransitRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransitRoot").field("base", &self.base).field("key", &self.key).finish_non_exhaustive()
    }
}

impl TransitRoot {
    /// From `[root_key] transit_*` (already checked by the profile rules).
    pub fn from_config(root: &TransitRootKey) -> anyhow::Result<Self> {
        let address = root.transit_address.as_deref().context("root_key.transit_address is not set")?;
        let token = root.transit_token.as_ref().context("STRONGROOM_ROOT_KEY_TRANSIT_TOKEN is not set")?;
        let key = root.transit_key.as_deref().context("root_key.transit_key is not set")?;
        let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build()?;
        Ok(Self {
            http,
            base: format!("{}/v1/{}", address.trim_end_matches('/'), root.transit_mount.trim_matches('/')),
            token: token.expose().to_owned(),
            key: key.to_owned(),
        })
    }

    async fn call(&self, operation: &str, body: serde_json::Value) -> anyhow::Result<serde_json::Value> {
        let url = format!("{}/{operation}/{}", self.base, self.key);
        let response = self
            .http
            .post(&url)
            .header("X-Vault-Token", &self.token)
            .json(&body)
            .send()
            .await
            .with_context(|| format!("transit root key: cannot reach {url}"))?;
        let status = response.status();
        let answer: serde_json::Value = response.json().await.unwrap_or_default();
        if !status.is_success() {
            // Vault's `errors` name the problem (permission denied, no such key), never secrets.
            bail!("transit root key: {operation} at {url} answered {status}: {}", answer["errors"]);
        }
        Ok(answer)
    }

    /// Wraps `plaintext` (the keyring key), returning Vault's ciphertext string.
    pub async fn wrap(&self, plaintext: &[u8]) -> anyhow::Result<String> {
        let body = serde_json::json!({ "plaintext": STANDARD.encode(plaintext) });
        let answer = self.call("encrypt", body).await?;
        answer["data"]["ciphertext"].as_str().map(str::to_owned).context("transit root key: no ciphertext in answer")
    }

    /// Unwraps what [`wrap`](Self::wrap) returned.
    pub async fn unwrap(&self, ciphertext: &str) -> anyhow::Result<Zeroizing<Vec<u8>>> {
        let answer = self.call("decrypt", serde_json::json!({ "ciphertext": ciphertext })).await?;
        let encoded = Zeroizing::new(
            answer["data"]["plaintext"].as_str().context("transit root key: no plaintext in answer")?.to_owned(),
        );
        Ok(Zeroizing::new(STANDARD.decode(encoded.as_bytes()).context("transit root key: plaintext not base64")?))
    }
}

/// The keyring key is kept as Vault's ciphertext text (`vault:v1:…`).
#[async_trait]
impl RootKeyProvider for TransitRoot {
    fn id(&self) -> &'static str {
        "transit"
    }

    fn description(&self) -> String {
        format!("transit key {:?} at {}", self.key, self.base)
    }

    fn custody(&self) -> Custody {
        Custody::External { binds_installation: false }
    }

    async fn wrap(&self, plaintext: &[u8], _installation: Option<&str>) -> Result<Vec<u8>, CoreError> {
        Ok(TransitRoot::wrap(self, plaintext).await.map_err(provider_error)?.into_bytes())
    }

    async fn unwrap(&self, wrapped: &[u8], _installation: Option<&str>) -> Result<Zeroizing<Vec<u8>>, CoreError> {
        let wrapped = std::str::from_utf8(wrapped)
            .map_err(|_| CoreError::RootKeyProvider("stored transit ciphertext is not text".into()))?;
        TransitRoot::unwrap(self, wrapped).await.map_err(provider_error)
    }
}
