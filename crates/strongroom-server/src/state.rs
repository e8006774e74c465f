//! What every handler can reach. Passed explicitly (no globals), so tests run
//! several servers in one process.

use std::sync::Arc;
use std::time::Duration;

use strongroom_core::api_key_management::ApiKeyManagement;
use strongroom_core::audit::{AlertEvaluator, AuditLog, Checkpointer};
use strongroom_core::audit_ingest::AuditIngest;
use strongroom_core::audit_reading::AuditReader;
use strongroom_core::authz::Authz;
use strongroom_core::identity::Identity;
use strongroom_core::key_management::KeyManagement;
use strongroom_core::oauth::OAuth;
use strongroom_core::rate_limits::RateLimits;
use strongroom_core::readiness::Readiness;
use strongroom_core::records::Records;
use strongroom_core::transit::Transit;
use strongroom_core::user_management::UserManagement;
use strongroom_core::{ApiKeys, Services, Store};

/// HTTP behaviour taken from the configuration.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Largest accepted request body.
    pub body_limit_bytes: usize,
    /// Requests taking longer are answered 408.
    pub request_timeout: Duration,
    /// Whether clients reach us over TLS (directly or through a trusted
    /// proxy), so that `Strict-Transport-Security` is meaningful.
    pub https: bool,
    /// Peers whose `X-Forwarded-For` names the real client (for audit events).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Where browsers reach the console (`server.public_origin`): the
    /// relying party of passkeys. `None`: only `http://localhost:<port>`.
    pub public_origin: Option<String>,
}

/// Shared state of the application.
#[derive(Debug, Clone)]
pub struct AppState {
    /// API keys, to authenticate machine callers.
    pub api_keys: Arc<ApiKeys>,
    /// Users, logins, sessions and access tokens.
    pub identity: Arc<Identity>,
    /// The one decision point, matters, grants, access requests, policies.
    pub authz: Arc<Authz>,
    /// Collections and records.
    pub records: Arc<Records>,
    /// Encryption as a service (Vault's transit engine).
    pub transit: Arc<Transit>,
    /// Key administration for operators.
    pub key_management: Arc<KeyManagement>,
    /// API-key administration.
    pub api_key_management: Arc<ApiKeyManagement>,
    /// User and session administration.
    pub user_management: Arc<UserManagement>,
    /// Introspection and the OAuth2 grants, for applications.
    pub oauth: Arc<OAuth>,
    /// The audit log for its readers: events, proofs, statistics, alerts.
    pub audit_reader: Arc<AuditReader>,
    /// Applications' own events into the audit log.
    pub audit_ingest: Arc<AuditIngest>,
    /// What `/readyz` checks.
    pub readiness: Arc<Readiness>,
    /// The audit log every action writes through.
    pub audit: Arc<AuditLog>,
    /// Signs checkpoints of the audit tree.
    pub checkpointer: Arc<Checkpointer>,
    /// Request rate limits per address, user and API key.
    pub rate_limits: Arc<RateLimits>,
    /// HTTP behaviour.
    pub http: HttpSettings,
    /// `/metrics` on this listener, when configured (behind its token).
    pub metrics: Option<crate::MetricsEndpoint>,
}

impl AppState {
    /// The state over started `services`, with the use cases that read
    /// across them (the audit log for its readers, the readiness checks)
    /// built here, the one way the server and the router's tests share.
    /// `store`, `root_key_id` and `alerts` go into those use cases only:
    /// handlers reach nothing but core's services.
    pub fn new(
        store: Arc<dyn Store>,
        root_key_id: String,
        services: &Services,
        alerts: Arc<AlertEvaluator>,
        http: HttpSettings,
        metrics: Option<crate::MetricsEndpoint>,
    ) -> Self {
        let audit_reader = Arc::new(AuditReader::new(
            Arc::clone(&services.audit),
            Arc::clone(&services.checkpointer),
            alerts,
            Arc::clone(&services.authz),
        ));
        let audit_ingest = Arc::new(AuditIngest::new(
            Arc::clone(&services.audit),
            Arc::clone(&services.authz),
            Arc::clone(&services.api_keys),
            Arc::clone(&services.identity),
        ));
        let readiness =
            Arc::new(Readiness::new(store, Arc::clone(&services.audit), Arc::clone(&services.records), root_key_id));
        Self {
            api_keys: Arc::clone(&services.api_keys),
            identity: Arc::clone(&services.identity),
            authz: Arc::clone(&services.authz),
            records: Arc::clone(&services.records),
            transit: Arc::clone(&services.transit),
            key_management: Arc::clone(&services.key_management),
            api_key_management: Arc::clone(&services.api_key_management),
            user_management: Arc::clone(&services.user_management),
            oauth: Arc::clone(&services.oauth),
            audit_reader,
            audit_ingest,
            readiness,
            audit: Arc::clone(&services.audit),
            checkpointer: Arc::clone(&services.checkpointer),
            rate_limits: Arc::clone(&services.rate_limits),
            http,
            metrics,
        }
    }
}
