//! Strongroom's adapters to outside systems: where the root key lives,
//! where the audit log goes besides the database, and where rate limits are
//! counted.
//!
//! Which API should I use?
//! - [`root_key::provider`] turns the configured `[root_key]` into core's
//!   [`RootKeyProvider`](strongroom_core::RootKeyProvider) port (a key file,
//!   a passphrase, Vault/OpenBao transit, AWS KMS, PKCS#11); core's
//!   [`keyring_kek`](strongroom_core::root_key::keyring_kek) and
//!   [`unseal`](strongroom_core::unseal) do the rest.
//! - [`audit_outputs`] builds the audit sinks, checkpoint anchors and the
//!   alert webhook the configuration asks for.
//! - [`aws_credentials`] is the standard AWS credential chain, shared by the
//!   KMS provider and the S3 blob store.
//! - [`redis_rate_limits`] counts rate limits in Redis for every instance
//!   (`ratelimit.redis_url`).
//!
//! ```no_run
//! # async fn start(config: &strongroom_config::Config, store: &dyn strongroom_core::Store) -> anyhow::Result<()> {
//! use strongroom_core::root_key::{ProviderState, keyring_kek};
//! let state = ProviderState::new(store, true);
//! let provider = strongroom_integrations::root_key::provider(&config.root_key, &config.data_dir, state).await?;
//! let kek = keyring_kek(provider.as_ref(), state).await?;
//! strongroom_core::unseal(store, kek.as_ref()).await?;
//! # Ok(()) }
//! ```
//!
//! Every adapter here only implements a port of core: core never calls into
//! this crate, and nothing here holds a domain rule.

pub mod audit_outputs;
pub mod aws_credentials;
pub mod redis_rate_limits;
pub mod root_key;
