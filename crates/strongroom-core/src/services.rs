//! The domain services wired together, in the one order that works: the
//! audit log first (every later step writes through it), then the keyring,
//! the audit HMAC key, the checkpoint signer, the API keys, identity,
//! authorization, records and key jobs. The server, every CLI command and the tests start them the
//! same way.

use std::sync::Arc;
use std::time::Duration;

use strongroom_crypto::Kek;

use crate::api_key_management::ApiKeyManagement;
use crate::audit::{AuditContext, AuditLog, AuditSettings, AuditStore, CheckpointAnchor, Checkpointer};
use crate::authz::{Authz, AuthzSettings, AuthzStore};
use crate::freshness::Freshness;
use crate::identity::{Identity, IdentitySettings, IdentityStore};
use crate::jobs::{JobSettings, JobStore, Jobs};
use crate::key_management::KeyManagement;
use crate::oauth::OAuth;
use crate::rate_limits::{RateLimitSettings, RateLimitStore, RateLimits};
use crate::records::{BlobStorage, Records, RecordsStore};
use crate::transit::Transit;
use crate::user_management::UserManagement;
use crate::{ApiKeyStore, ApiKeys, Clock, CoreError, KeyStore, Keyring};

/// The storage ports the services run on.
#[derive(Debug, Clone)]
pub struct ServicePorts {
    /// Keys and their versions.
    pub keys: Arc<dyn KeyStore>,
    /// API keys.
    pub api_keys: Arc<dyn ApiKeyStore>,
    /// The audit tree.
    pub audit: Arc<dyn AuditStore>,
    /// Users, sessions, tokens.
    pub identity: Arc<dyn IdentityStore>,
    /// Matters, grants, access requests, policies.
    pub authz: Arc<dyn AuthzStore>,
    /// Collections and records.
    pub records: Arc<dyn RecordsStore>,
    /// Where blob objects go; without one, blob fields refuse uploads.
    pub blobs: Option<Arc<dyn BlobStorage>>,
    /// Key jobs.
    pub jobs: Arc<dyn JobStore>,
    /// Where rate limits are counted for every instance; `None`: in this
    /// process (SQLite, one instance).
    pub rate_limits: Option<Arc<dyn RateLimitStore>>,
}

/// How the audit log is set up.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    /// Address hashing and the like.
    pub settings: AuditSettings,
    /// The log's origin: the checkpoints' first line and key name.
    pub origin: String,
    /// Where checkpoints are published outside the database.
    pub anchors: Vec<Arc<dyn CheckpointAnchor>>,
}

/// How the services behave, from the configuration.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// The audit log.
    pub audit: AuditOptions,
    /// Passwords, sessions, tokens, lockout.
    pub identity: IdentitySettings,
    /// Policies and purposes.
    pub authz: AuthzSettings,
    /// Key jobs.
    pub jobs: JobSettings,
    /// How long cached key metadata and API-key principals stay usable
    /// after the last confirmation that the store has not changed
    /// ([`Freshness`]); zero turns caching off.
    pub cache_max_age: Duration,
    /// Per-address and per-user request limits.
    pub rate_limits: RateLimitSettings,
}

/// The running domain.
#[derive(Debug, Clone)]
pub struct Services {
    /// The audit log.
    pub audit: Arc<AuditLog>,
    /// The keyring.
    pub keyring: Arc<Keyring>,
    /// Checkpoint signing and stored-log verification.
    pub checkpointer: Arc<Checkpointer>,
    /// API keys.
    pub api_keys: Arc<ApiKeys>,
    /// Users, logins, sessions, tokens.
    pub identity: Arc<Identity>,
    /// Decisions, matters, grants, access requests, policies.
    pub authz: Arc<Authz>,
    /// Collections and records.
    pub records: Arc<Records>,
    /// Key changes that start jobs, and the job runner.
    pub jobs: Arc<Jobs>,
    /// Encryption as a service for applications.
    pub transit: Arc<Transit>,
    /// Key administration for operators.
    pub key_management: Arc<KeyManagement>,
    /// API-key administration.
    pub api_key_management: Arc<ApiKeyManagement>,
    /// User and session administration.
    pub user_management: Arc<UserManagement>,
    /// Introspection and the OAuth2 grants, for applications.
    pub oauth: Arc<OAuth>,
    /// Whether cached key metadata and principals may be used; the server's
    /// poller confirms it against the store's change generation.
    pub freshness: Arc<Freshness>,
    /// Request rate limits per address, user and API key.
    pub rate_limits: Arc<RateLimits>,
}

impl Services {
    /// Starts the services. `context` is who starts them (the server, an
    /// operator's command): the system keys created on first start are
    /// audited under it. Must run inside a Tokio runtime.
    pub async fn start(
        ports: ServicePorts,
        kek: Arc<dyn Kek>,
        clock: Arc<dyn Clock>,
        settings: ServiceSettings,
        context: &AuditContext,
    ) -> Result<Self, CoreError> {
        let ServiceSettings { audit: options, identity, authz, jobs, cache_max_age, rate_limits } = settings;
        let freshness = Arc::new(Freshness::new(cache_max_age));
        let audit = AuditLog::new(ports.audit, Arc::clone(&clock), options.settings);
        let keyring = Arc::new(
            Keyring::new(ports.keys, kek, Arc::clone(&clock), Arc::clone(&audit))
                .with_freshness(Arc::clone(&freshness)),
        );
        audit.set_pseudonymizer(keyring.audit_pseudonymizer(context).await?);
        let checkpointer = Arc::new(Checkpointer::new(
            Arc::<Keyring>::clone(&keyring),
            Arc::clone(&audit),
            options.origin,
            options.anchors,
        ));
        checkpointer.ensure_key(context).await?;
        let rate_limits =
            Arc::new(RateLimits::new(ports.rate_limits, rate_limits, Arc::clone(&audit), Arc::clone(&clock)));
        let api_keys = Arc::new(ApiKeys::new(
            Arc::clone(&ports.api_keys),
            Arc::clone(&keyring),
            Arc::clone(&clock),
            Arc::clone(&rate_limits),
        ));
        let identity =
            Arc::new(Identity::new(Arc::clone(&ports.identity), Arc::clone(&keyring), Arc::clone(&clock), identity));
        identity.ensure_keys(context).await?;
        let sealed = identity.seal_old_rows().await?;
        if sealed > 0 {
            tracing::info!(rows = sealed, "sealed the personal data of users and sessions stored in clear");
        }
        let authz = Arc::new(
            Authz::start(ports.authz, ports.identity, ports.api_keys, Arc::clone(&audit), Arc::clone(&clock), authz)
                .await?
                .with_freshness(Arc::clone(&freshness)),
        );
        let mut records = Records::new(
            ports.records,
            Arc::clone(&keyring),
            Arc::clone(&authz),
            Arc::clone(&audit),
            Arc::clone(&clock),
        );
        if let Some(blobs) = ports.blobs {
            records = records.with_blob_storage(blobs);
        }
        let records = Arc::new(records);
        let jobs = Arc::new(Jobs::new(ports.jobs, Arc::clone(&records), Arc::clone(&keyring), clock, jobs)?);
        let transit = Arc::new(Transit::new(Arc::clone(&keyring), Arc::clone(&authz), Arc::clone(&audit)));
        let key_management = Arc::new(KeyManagement::new(Arc::clone(&keyring), Arc::clone(&jobs), Arc::clone(&authz)));
        let api_key_management =
            Arc::new(ApiKeyManagement::new(Arc::clone(&api_keys), Arc::clone(&identity), Arc::clone(&authz)));
        let user_management =
            Arc::new(UserManagement::new(Arc::clone(&identity), Arc::clone(&api_keys), Arc::clone(&authz)));
        let oauth =
            Arc::new(OAuth::new(Arc::clone(&identity), Arc::clone(&api_keys), Arc::clone(&authz), Arc::clone(&audit)));
        Ok(Self {
            audit,
            keyring,
            checkpointer,
            api_keys,
            identity,
            authz,
            records,
            jobs,
            transit,
            key_management,
            api_key_management,
            user_management,
            oauth,
            freshness,
            rate_limits,
        })
    }
}
