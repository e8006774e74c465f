//! Strongroom's configuration.
//!
//! Which API should I use?
//! - [`Config::load`] reads an optional TOML file, applies `STRONGROOM_<SECTION>_<KEY>`
//!   environment overrides and returns the typed configuration; unknown keys
//!   are errors, not silently ignored.
//! - [`Config::checks`] evaluates every rule of the configured [`Profile`];
//!   the server refuses to start when one fails, and `strongroom doctor` prints them all.
//!
//! ```
//! use strongroom_config::{Config, Profile};
//! let env = [("STRONGROOM_SERVER_LISTEN".to_string(), "127.0.0.1:9000".to_string())];
//! let config = Config::load(None, env).unwrap();
//! assert_eq!(config.profile, Profile::Development);
//! assert_eq!(config.server.listen, "127.0.0.1:9000");
//! ```
//!
//! The field doc comments below are the documentation of each key; keep
//! `docs/configuration.md` in step with them (a test checks every key is listed).

mod checks;
mod env;
mod error;
mod postgres_url;
mod root_key;
mod schema;

pub use checks::{Check, Outcome};
pub use env::keys;
pub use error::ConfigError;
pub use postgres_url::DatabaseTls;
pub use root_key::{AwsKmsRootKey, LocalRootKey, PassphraseRootKey, Pkcs11RootKey, RootKeyConfig, TransitRootKey};
pub use schema::{
    AuditConfig, Config, DatabaseConfig, DatabaseTlsMode, HousekeepingConfig, IdentityConfig, LogConfig, LogFormat,
    MetricsConfig, PolicyInvariants, Profile, RoleConfig, SecretString, ServerConfig,
};
