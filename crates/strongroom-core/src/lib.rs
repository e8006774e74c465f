//! Strongroom's domain logic, free of HTTP and SQL.
//!
//! Which API should I use?
//! - [`Store`] is the port every storage backend implements
//!   (`strongroom-store` has SQLite and PostgreSQL); the domain only talks to it.
//! - [`root_key::RootKeyProvider`] is the port every root-key provider
//!   implements (`strongroom-integrations` has them); [`root_key::keyring_kek`]
//!   turns one into the key that wraps the keyring, and [`unseal`] checks,
//!   at start, that it is the one the database was initialised with, and
//!   records it on first start.
//! - [`Services::start`] wires the audit log, keyring and API keys in the
//!   one order that works; the server, the CLI and tests all use it.
//! - [`Clock`] gives the time, so time-dependent rules are tested with a fixed clock.
//! - [`authz`] decides every request (Cedar policies, matter grants, access
//!   requests) and explains its decisions.
//! - [`jobs`] runs what a key change starts over the data the key protects
//!   (rewrap after a rotation, re-encryption after a compromise).
//! - [`transit`] is encryption as a service (Vault's transit engine): the
//!   server maps its wire format onto these use cases.
//! - [`housekeeping`] purges dead sessions, spent one-time tokens and
//!   finished jobs past their retention, one audited transaction per run.
//! - [`audit`] records every security-relevant event in a Merkle tree with
//!   signed checkpoints; every domain change goes through it.
//!
//! Data flows one way: server → core → crypto. When core needs something from
//! the outside world, it declares a port here and the outer crates implement it.

pub mod api_key_management;
mod api_keys;
pub mod archive;
pub mod audit;
pub mod audit_ingest;
pub mod audit_reading;
pub mod authz;
mod backup;
mod clock;
mod error;
pub mod freshness;
pub mod housekeeping;
pub mod identity;
mod ids;
pub mod jobs;
pub mod key_management;
mod keyring;
mod matter_keys;
pub mod oauth;
pub mod principal;
pub mod rate_limits;
pub mod readiness;
pub mod records;
pub mod root_key;
mod services;
mod store;
pub mod transit;
pub mod user_management;

pub use api_keys::{
    API_KEY_HASH_KEY, APP_SCOPE_PREFIX, ApiKeyPrincipal, ApiKeyRecord, ApiKeyStore, ApiKeys, Cidr, IssuedApiKey,
    NewApiKey, Scope, parse_app_scope, parse_scope_names, refuse_application_key,
};
pub use clock::{Clock, FixedClock, SystemClock};
pub use error::CoreError;
pub use jobs::{Job, JobKind, JobSettings, JobState, JobStore, Jobs, KeyChange, KeyReport, VersionReport};
pub use keyring::{KeyAlgorithm, KeyInfo, KeyPurpose, KeyRotationStatus, KeySpec, KeyState, KeyUse, Keyring};
pub use root_key::{RootKeyProvider, RootKeyStatus, unseal};
pub use services::{AuditOptions, ServicePorts, ServiceSettings, Services};
pub use store::{Backend, KeyStore, Store, StoreError, StoredKey, StoredKeyVersion, settings};
