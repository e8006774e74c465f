//! The configuration schema. Field doc comments are the reference for each key.
//!
//! Invariant: every struct is `deny_unknown_fields` (a typo is an error, not a
//! silently ignored setting) and `Debug` never prints a secret.

use std::fmt;
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretBox};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::RootKeyConfig;

/// A security profile: sets defaults and hard requirements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// A developer's machine: local root key and plain HTTP on loopback are fine.
    #[default]
    Development,
    /// A pre-production environment: production rules that fail are only warnings.
    Staging,
    /// Real data: no local root key, TLS (or a trusted proxy), private data dir, no debug logs.
    Production,
    /// Production plus stricter defaults (later: two-person decrypt).
    HighSecurity,
}

impl Profile {
    /// `"development"`, `"staging"`, ….
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Staging => "staging",
            Self::Production => "production",
            Self::HighSecurity => "high_security",
        }
    }

    /// Whether production's hard requirements apply.
    pub fn is_production_grade(self) -> bool {
        matches!(self, Self::Production | Self::HighSecurity)
    }
}

/// The whole configuration file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Security profile: `development`, `staging`, `production` or `high_security`.
    pub profile: Profile,
    /// Directory for the SQLite database, the local root key and local blobs.
    /// Created with mode 0700 if missing.
    pub data_dir: PathBuf,
    /// The HTTP listener.
    pub server: ServerConfig,
    /// Where state is kept.
    pub database: DatabaseConfig,
    /// The root key that wraps every other key.
    pub root_key: RootKeyConfig,
    /// Logging.
    pub log: LogConfig,
    /// The audit log: checkpoints, anchors, sinks, alerts.
    pub audit: AuditConfig,
    /// Users, passwords, logins, tokens, sessions, lockout.
    pub identity: IdentityConfig,
    /// Authorization: policies, purposes, decrypt rules.
    pub authz: AuthzConfig,
    /// Records: retention.
    pub records: RecordsConfig,
    /// Where blob ciphertext is stored.
    pub blobs: BlobsConfig,
    /// Prometheus metrics.
    pub metrics: MetricsConfig,
    /// Purging dead sessions, spent tokens and finished jobs.
    pub housekeeping: HousekeepingConfig,
    /// Request rate limits per client address and per user, and where
    /// every instance counts them.
    pub ratelimit: RateLimitConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            profile: Profile::default(),
            data_dir: PathBuf::from("strongroom-data"),
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            root_key: RootKeyConfig::default(),
            log: LogConfig::default(),
            audit: AuditConfig::default(),
            identity: IdentityConfig::default(),
            authz: AuthzConfig::default(),
            records: RecordsConfig::default(),
            blobs: BlobsConfig::default(),
            metrics: MetricsConfig::default(),
            housekeeping: HousekeepingConfig::default(),
            ratelimit: RateLimitConfig::default(),
        }
    }
}

impl Config {
    /// The database URL in effect: the configured one, or a SQLite file in the data dir.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) => url.expose().to_owned(),
            None => format!("sqlite://{}", self.sqlite_path().display()),
        }
    }

    /// Whether the database in effect is SQLite.
    pub fn uses_sqlite(&self) -> bool {
        self.database_url().starts_with("sqlite:")
    }

    /// The embedded SQLite file (used when `database.url` is unset).
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("strongroom.db")
    }

    /// The log format in effect: the configured one, else pretty in
    /// development and JSON in every other profile (for log shippers).
    pub fn log_format(&self) -> LogFormat {
        self.log.format.unwrap_or(match self.profile {
            Profile::Development => LogFormat::Pretty,
            _ => LogFormat::Json,
        })
    }

    /// The checkpoint anchor file in effect: the configured one (an empty
    /// path turns it off), else `<data_dir>/audit-checkpoints.jsonl`.
    pub fn audit_anchor_file(&self) -> Option<PathBuf> {
        match &self.audit.anchor_file {
            Some(path) if path.as_os_str().is_empty() => None,
            Some(path) => Some(path.clone()),
            None => Some(self.data_dir.join("audit-checkpoints.jsonl")),
        }
    }

    /// Whether the listener itself terminates TLS.
    pub fn tls_enabled(&self) -> bool {
        self.server.tls_cert_file.is_some() || self.server.tls_key_file.is_some()
    }
}

/// `[metrics]`: Prometheus text at `GET /metrics`. Off unless one of these
/// is set: metrics name routes, keys and rates, which is operational data.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// An address of its own to serve `/metrics` on, without a token (for a
    /// scraper on a private network), e.g. `127.0.0.1:9464`.
    pub listen: Option<String>,
    /// A bearer token that opens `/metrics` on the main listener. Give it
    /// through the environment or `token_file`.
    pub token: Option<SecretString>,
    /// A file whose first line is the token.
    pub token_file: Option<PathBuf>,
}

/// `[server]`: the HTTP listener.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address and port to listen on. Port 0 picks a free port (the chosen
    /// address is printed at start).
    pub listen: String,
    /// PEM certificate chain; with `tls_key_file`, the listener speaks TLS 1.3 only.
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key for `tls_cert_file`. Both files are read again on
    /// SIGHUP (a renewed certificate needs no restart).
    pub tls_key_file: Option<PathBuf>,
    /// An address for a plain-HTTP listener that answers every request with
    /// a 308 redirect to the same path on the HTTPS listener and serves
    /// nothing else, e.g. `0.0.0.0:80`. Needs the listener's own TLS.
    pub http_redirect_listen: Option<String>,
    /// Addresses of reverse proxies that terminate TLS in front of the server.
    /// When set, production profiles accept a plain-HTTP listener.
    /// In the environment: comma-separated.
    pub trusted_proxy: Vec<String>,
    /// Where browsers reach the console, `https://host[:port]`: passkeys
    /// are bound to this origin's host. Unset: passkeys work only on a
    /// development server opened as `http://localhost:<port>`.
    pub public_origin: Option<String>,
    /// Largest accepted request body in bytes (blob uploads have their own limit).
    pub body_limit_bytes: u64,
    /// A request that takes longer is answered 408.
    pub request_timeout_seconds: u64,
    /// How long a client has to send a request's head (request line and
    /// headers); a connection that is slower is closed. Guards against
    /// clients that hold connections open by trickling headers.
    pub header_read_timeout_seconds: u64,
    /// On SIGINT/SIGTERM, how long in-flight requests may take to finish.
    pub shutdown_grace_seconds: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            tls_cert_file: None,
            tls_key_file: None,
            http_redirect_listen: None,
            trusted_proxy: Vec::new(),
            public_origin: None,
            body_limit_bytes: 1024 * 1024,
            request_timeout_seconds: 30,
            header_read_timeout_seconds: 10,
            shutdown_grace_seconds: 30,
        }
    }
}

/// `[database]`: where state is kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `postgres://USER@HOST/DB`. Unset: `sqlite://<data_dir>/strongroom.db`.
    /// May hold a password, so it is masked in every dump.
    pub url: Option<SecretString>,
    /// Connections in the pool.
    pub max_connections: u32,
    /// How often (ms) this instance checks the database's change generation
    /// to drop its caches of key metadata and API keys: a change made by
    /// another instance or a CLI command takes effect here within this time.
    /// 0: nothing is cached, every request reads them.
    pub cache_refresh_ms: u64,
    /// TLS to PostgreSQL, as libpq's `sslmode`: `disable`, `prefer`,
    /// `require`, `verify-ca` or `verify-full`. Unset: the URL's `sslmode`
    /// if it has one, else `verify-full` for a host beyond loopback and
    /// `prefer` for loopback or a Unix socket. Both set and different is an
    /// error, never a silent choice.
    pub tls_mode: Option<DatabaseTlsMode>,
    /// PEM file of the CA(s) that issue the PostgreSQL server's certificate,
    /// for `verify-ca` and `verify-full` (as the URL's `sslrootcert`).
    pub tls_ca_file: Option<PathBuf>,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self { url: None, max_connections: 10, cache_refresh_ms: 100, tls_mode: None, tls_ca_file: None }
    }
}

/// How the connection to PostgreSQL is protected (libpq's `sslmode` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatabaseTlsMode {
    /// Plain TCP: the connection, passwords included, can be read on the way.
    Disable,
    /// TLS if the server offers it, else plain; the certificate is not checked.
    Prefer,
    /// TLS or no connection; the certificate is not checked (an attacker in
    /// the path can still pose as the server).
    Require,
    /// TLS with a certificate issued by a trusted CA, for any host name.
    VerifyCa,
    /// TLS with a certificate issued by a trusted CA for the host connected to.
    VerifyFull,
}

impl DatabaseTlsMode {
    /// The libpq spelling: `disable`, …, `verify-full`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }

    /// Whether the connection is encrypted whatever the server says.
    pub fn always_encrypts(self) -> bool {
        matches!(self, Self::Require | Self::VerifyCa | Self::VerifyFull)
    }
}

impl std::str::FromStr for DatabaseTlsMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        [Self::Disable, Self::Prefer, Self::Require, Self::VerifyCa, Self::VerifyFull]
            .into_iter()
            .find(|mode| mode.as_str() == text)
            .ok_or_else(|| format!("sslmode {text:?} is not one of disable, prefer, require, verify-ca, verify-full"))
    }
}

/// Log output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable, for a terminal.
    Pretty,
    /// One JSON object per line, for log shippers.
    Json,
}

/// `[log]`: logging. Logs never contain request bodies or secrets.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter: `info`, `warn`, `strongroom=debug,info`, …
    /// `debug` and `trace` are refused by production profiles, because
    /// dependencies log request details at those levels.
    pub level: String,
    /// `pretty` or `json`. Unset: pretty in development, json otherwise.
    pub format: Option<LogFormat>,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { level: "info".into(), format: None }
    }
}

/// `[audit]`: the audit log. The log itself is always on and in the database;
/// these keys add checkpoints outside it, copies to other sinks, and alerts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// The log's name in signed checkpoints (origin line and note key name),
    /// without spaces or `+`. Unset: `strongroom/<installation id>`.
    pub origin: Option<String>,
    /// Sign a checkpoint this often when the log has grown, in seconds
    /// (checkpoints are also signed on demand by `GET /v1/audit/checkpoint`).
    pub checkpoint_interval_seconds: u64,
    /// Verify the whole stored log (every entry, its search columns and the
    /// tree's nodes) at start and then this often, in seconds; damage makes
    /// `/readyz` fail and stops checkpoint signing. 0: only at start.
    pub verify_interval_seconds: u64,
    /// A file every signed checkpoint is appended to (JSON lines), to detect
    /// a rolled-back or truncated database. Unset: `<data_dir>/audit-checkpoints.jsonl`;
    /// an empty value turns it off. Best on another disk or an append-only mount.
    pub anchor_file: Option<PathBuf>,
    /// A URL every new checkpoint is POSTed to (`text/plain`), e.g. a witness.
    pub anchor_url: Option<String>,
    /// Record client addresses only as HMACs (searchable with `hmac_of`, not readable).
    pub hash_ip: bool,
    /// Below this many free bytes on the data dir's filesystem `/readyz`
    /// fails and an alert is raised, before the audit store runs out of space.
    pub min_free_bytes: u64,
    /// Also write every event to this file, one JSON object per line.
    pub sink_file: Option<PathBuf>,
    /// Also write every event to standard output, one JSON object per line.
    pub sink_stdout: bool,
    /// Also send every event to syslog: `udp://HOST:PORT` or `unix:///dev/log`.
    pub sink_syslog: Option<String>,
    /// Alert when one account or one address has this many failed logins
    /// within `alert_failed_logins_window_seconds` (0 turns the rule off).
    pub alert_failed_logins: u64,
    /// The window of `alert_failed_logins`.
    pub alert_failed_logins_window_seconds: u64,
    /// Alert when one actor reveals plaintext (decrypts, exports) this many
    /// times within an hour (0 turns the rule off).
    pub alert_reveals_per_hour: u64,
    /// Alert when this many requests are denied within `alert_denials_window_seconds` (0: off).
    pub alert_denials: u64,
    /// The window of `alert_denials`.
    pub alert_denials_window_seconds: u64,
    /// POST every raised alert as JSON to this URL.
    pub alert_webhook_url: Option<String>,
    /// How often the alert rules are evaluated, in seconds.
    pub alert_interval_seconds: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            origin: None,
            checkpoint_interval_seconds: 60,
            verify_interval_seconds: 3600,
            anchor_file: None,
            anchor_url: None,
            hash_ip: false,
            min_free_bytes: 256 * 1024 * 1024,
            sink_file: None,
            sink_stdout: false,
            sink_syslog: None,
            alert_failed_logins: 10,
            alert_failed_logins_window_seconds: 300,
            alert_reveals_per_hour: 100,
            alert_denials: 50,
            alert_denials_window_seconds: 60,
            alert_webhook_url: None,
            alert_interval_seconds: 10,
        }
    }
}

/// `[identity]`: users, passwords, logins, tokens, sessions and lockout.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityConfig {
    /// Argon2id memory per password hash, KiB (OWASP: at least 19456).
    pub password_memory_kib: u32,
    /// Argon2id passes (OWASP: at least 2 with 19 MiB).
    pub password_iterations: u32,
    /// Argon2id lanes.
    pub password_parallelism: u32,
    /// Fewest characters in a password.
    pub password_min_length: u32,
    /// Fewest estimated bits of guessing work in a password.
    pub password_min_strength_bits: u32,
    /// Password hashes computed at once; more logins queue.
    pub hashing_concurrency: u32,
    /// Lifetime of access tokens (JWTs), seconds.
    pub access_token_seconds: u64,
    /// A session unused this long ends, seconds.
    pub session_idle_seconds: u64,
    /// A session ends this long after login, seconds.
    pub session_absolute_seconds: u64,
    /// Live sessions per user; the oldest is revoked beyond it.
    pub max_sessions_per_user: u32,
    /// Refuse a session's tokens from another address than its login's.
    pub bind_session_to_ip: bool,
    /// Refuse a session's tokens from another user agent than its login's.
    pub bind_session_to_user_agent: bool,
    /// Roles that must use a second factor. Production profiles always add `admin`.
    pub mfa_required_roles: Vec<String>,
    /// Failed logins of one account within the window before it locks.
    pub lockout_threshold: u32,
    /// Failed logins of one account from all addresses within the window
    /// before it locks for everyone (keep it well above `lockout_threshold`).
    pub account_lockout_threshold: u32,
    /// Failed logins from one address within the window before it locks.
    pub ip_lockout_threshold: u32,
    /// The window failed logins are counted in, seconds.
    pub lockout_window_seconds: u64,
    /// The first lock, doubled with each further failure, seconds.
    pub lockout_base_seconds: u64,
    /// The longest lock, seconds.
    pub lockout_max_seconds: u64,
    /// Lifetime of password-reset and enrolment tokens an admin issues, seconds.
    pub reset_token_seconds: u64,
    /// The `iss` claim of access tokens.
    pub issuer: String,
    /// The `aud` claim of access tokens; the server refuses tokens without
    /// it. Unset: the issuer (RFC 9068 §3 lets the two be the same).
    pub audience: Option<String>,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            password_memory_kib: 19 * 1024,
            password_iterations: 2,
            password_parallelism: 1,
            password_min_length: 12,
            password_min_strength_bits: 50,
            hashing_concurrency: 2,
            access_token_seconds: 900,
            session_idle_seconds: 1800,
            session_absolute_seconds: 12 * 3600,
            max_sessions_per_user: 10,
            bind_session_to_ip: false,
            bind_session_to_user_agent: false,
            mfa_required_roles: Vec::new(),
            lockout_threshold: 5,
            account_lockout_threshold: 100,
            ip_lockout_threshold: 50,
            lockout_window_seconds: 900,
            lockout_base_seconds: 30,
            lockout_max_seconds: 3600,
            reset_token_seconds: 3600,
            issuer: "strongroom".into(),
            audience: None,
        }
    }
}

impl IdentityConfig {
    /// The `aud` of access tokens: the configured audience, else the issuer.
    pub fn audience(&self) -> &str {
        self.audience.as_deref().filter(|a| !a.trim().is_empty()).unwrap_or(&self.issuer)
    }
}

impl Config {
    /// The roles that must use a second factor: the configured ones, plus
    /// `admin` in production profiles (which cannot be configured away).
    pub fn mfa_required_roles(&self) -> Vec<String> {
        let mut roles = self.identity.mfa_required_roles.clone();
        if self.profile.is_production_grade() && !roles.iter().any(|r| r == "admin") {
            roles.push("admin".into());
        }
        roles
    }
}

/// `[authz]`: the policy engine and what decrypts must carry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthzConfig {
    /// A directory of `*.cedar` files loaded beside the default policies at
    /// start (a broken one stops the start, naming file and line).
    pub policy_dir: Option<PathBuf>,
    /// Purpose codes a decrypt or export must give one of; empty: none asked.
    pub purposes: Vec<String>,
    /// Under production and high_security, a person's decrypt needs a second
    /// factor proven this recently, seconds.
    pub decrypt_mfa_max_age_seconds: u64,
    /// How often an instance looks for policies another instance stored, seconds.
    pub policy_refresh_seconds: u64,
    /// What a policy set that breaks an invariant of docs/authorization.md
    /// (a reader decrypting, data without a grant, a reveal without a
    /// second person under high_security) meets: `refuse` or `warn`.
    pub policy_invariants: PolicyInvariants,
    /// Operator-defined roles by name (`[authz.roles.attorney]`), beside
    /// those defined through `/v1/roles`; read-only through the API.
    pub roles: std::collections::BTreeMap<String, RoleConfig>,
}

/// One operator-defined role of the configuration file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoleConfig {
    /// What the role is for, for people.
    pub description: String,
    /// The actions it allows (`record.read`, `record.decrypt`, …; the list
    /// is in docs/authorization.md). Data actions apply in the matters its
    /// holders hold a grant on.
    pub permissions: Vec<String>,
}

/// What happens to policies that break an authorization invariant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyInvariants {
    /// Refused: `PUT /v1/policies` answers 400 `invalid_policy`, and a
    /// policy file or stored document that breaks one stops the start.
    #[default]
    Refuse,
    /// Loaded, with a warning in the answer and the log.
    Warn,
}

impl Default for AuthzConfig {
    fn default() -> Self {
        Self {
            policy_dir: None,
            purposes: ["case_work", "subject_request", "legal_hold", "incident_response", "quality_review"]
                .map(String::from)
                .to_vec(),
            decrypt_mfa_max_age_seconds: 300,
            policy_refresh_seconds: 1,
            policy_invariants: PolicyInvariants::Refuse,
            roles: std::collections::BTreeMap::new(),
        }
    }
}

/// `[records]`: retention.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordsConfig {
    /// How often expired records are crypto-shredded, seconds (they answer
    /// 404 from their expiry on, whatever this says).
    pub retention_sweep_seconds: u64,
    /// Records per batch of a key job (rewrap after a rotation,
    /// re-encryption after a compromise): one transaction and one audit
    /// event each.
    pub key_job_batch_size: u32,
    /// Rest between two batches of a key job, milliseconds, to spare a busy database.
    pub key_job_pause_ms: u64,
    /// How often a server looks for key jobs no process is running, seconds.
    pub key_job_poll_seconds: u64,
    /// How long a process holds a key job without progress before another
    /// may take it over (after a crash), seconds.
    pub key_job_lease_seconds: u64,
}

impl Default for RecordsConfig {
    fn default() -> Self {
        Self {
            retention_sweep_seconds: 60,
            key_job_batch_size: 100,
            key_job_pause_ms: 0,
            key_job_poll_seconds: 5,
            key_job_lease_seconds: 60,
        }
    }
}

/// `[blobs]`: where blob ciphertext goes (it is sealed before it leaves the
/// server, so neither holds plaintext).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BlobsConfig {
    /// `disk` (under `dir`) or `s3`.
    pub backend: String,
    /// The directory of the `disk` backend; `<data_dir>/blobs` when unset.
    pub dir: Option<PathBuf>,
    /// The S3-compatible endpoint, e.g. `https://s3.eu-west-1.amazonaws.com`
    /// or `http://127.0.0.1:9000`. Credentials come from the standard AWS
    /// chain, as for `root_key.aws_kms_key_id`.
    pub s3_endpoint: Option<String>,
    /// The bucket (it must exist).
    pub s3_bucket: Option<String>,
    /// The SigV4 region.
    pub s3_region: String,
    /// Prepended to every object name.
    pub s3_prefix: String,
    /// Age past which a `.part` file of the `disk` backend counts as left by
    /// a killed upload and is swept (at start and hourly). Blob uploads have
    /// no request timeout, so this must exceed the longest upload.
    pub stale_upload_seconds: u64,
}

impl Default for BlobsConfig {
    fn default() -> Self {
        Self {
            backend: "disk".into(),
            dir: None,
            s3_endpoint: None,
            s3_bucket: None,
            s3_region: "us-east-1".into(),
            s3_prefix: String::new(),
            stale_upload_seconds: 86_400,
        }
    }
}

/// `[housekeeping]`: rows that stopped mattering are purged once past their
/// retention, one audited transaction (`housekeeping.purge`, with the
/// counts) per run. The audit log keeps the lasting record of each.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HousekeepingConfig {
    /// How often a run starts, seconds (the first a minute after start);
    /// `0` turns the schedule off (`strongroom housekeeping run` still works).
    pub interval_seconds: u64,
    /// How long a dead session (expired, idle, revoked) and its refresh
    /// tokens are kept, seconds: users and admins still see it listed.
    pub session_retention_seconds: u64,
    /// How long a used or expired one-time token (MFA challenge, enrolment,
    /// password reset) is kept, seconds.
    pub one_time_token_retention_seconds: u64,
    /// How long a finished (done or failed) key job is kept, seconds: its
    /// key's recent history.
    pub job_retention_seconds: u64,
    /// Sessions, tokens and jobs each purged per run at most; a run that
    /// reaches it is followed by another at once.
    pub batch_size: u32,
}

impl Default for HousekeepingConfig {
    fn default() -> Self {
        Self {
            interval_seconds: 3600,
            session_retention_seconds: 7 * 86_400,
            one_time_token_retention_seconds: 86_400,
            job_retention_seconds: 30 * 86_400,
            batch_size: 10_000,
        }
    }
}

/// `[ratelimit]`: requests per client address (every request, before its
/// credentials are checked; health probes excepted) and per user (every
/// request of their sessions), counted with GCRA: a burst at once, then the
/// sustained rate. Over it: `429 rate_limited` with `Retry-After`, and one
/// `ratelimit.exceeded` audit event per minute while it lasts. API keys
/// carry their own limit (`rate_limit_per_minute`, `rate_limit_burst`).
/// On PostgreSQL every instance counts in the database, or in Redis when
/// `redis_url` is set; on SQLite in memory.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Sustained requests per second from one client address; `0` (the
    /// default): no limit. Off by default because Strongroom's usual client
    /// is an application's backend, whose every request comes from one or
    /// two addresses at thousands a second; set it where people or
    /// untrusted machines reach Strongroom directly. Behind a proxy, list
    /// it in `server.trusted_proxy` so the client's own address is
    /// counted, not the proxy's.
    pub per_address_per_second: u32,
    /// Requests one client address may make at once.
    pub per_address_burst: u32,
    /// Sustained requests per second of one user; `0`: no limit.
    pub per_user_per_second: u32,
    /// Requests one user may make at once.
    pub per_user_burst: u32,
    /// `redis://[user:password@]host:port[/db]`: count in Redis instead of
    /// the database (a secret: it may hold a password).
    pub redis_url: Option<SecretString>,
    /// Prefix of the Redis keys, so installations can share one Redis.
    pub redis_key_prefix: String,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            per_address_per_second: 0,
            per_address_burst: 400,
            per_user_per_second: 50,
            per_user_burst: 100,
            redis_url: None,
            redis_key_prefix: "strongroom:ratelimit:".into(),
        }
    }
}

/// A configuration value that is secret: masked in `Debug` and when
/// serialised, zeroized on drop.
#[derive(Clone)]
pub struct SecretString(std::sync::Arc<SecretBox<str>>);

impl SecretString {
    /// Wraps a secret.
    pub fn new(value: String) -> Self {
        Self(std::sync::Arc::new(SecretBox::new(value.into_boxed_str())))
    }

    /// The secret; use it, never print it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<hidden>")
    }
}

impl Serialize for SecretString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("<hidden>")
    }
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::new)
    }
}

impl Config {
    /// Reads `path` (if any), applies environment overrides from `env` and
    /// checks the result against the schema. Profile rules are not applied
    /// here: see [`Config::checks`].
    pub fn load(
        path: Option<&std::path::Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, crate::ConfigError> {
        let (mut table, origin) = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| crate::ConfigError::Read { path: path.to_owned(), source })?;
                let origin = format!(" in {}", path.display());
                let table = text
                    .parse::<toml::Table>()
                    .map_err(|e| crate::ConfigError::Invalid { origin: origin.clone(), message: e.to_string() })?;
                (table, origin)
            }
            None => (toml::Table::new(), String::new()),
        };
        crate::env::apply(&mut table, env)?;
        table.try_into().map_err(|e: toml::de::Error| crate::ConfigError::Invalid {
            origin: if origin.is_empty() { " (environment)".into() } else { origin },
            message: e.to_string().trim().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_embedded_development_setup() {
        let config = Config::load(None, Vec::new()).unwrap();
        assert_eq!(config.profile, Profile::Development);
        assert!(config.uses_sqlite());
        assert_eq!(config.server.listen, "127.0.0.1:8080");
        assert!(matches!(config.root_key, RootKeyConfig::Local(_)), "{:?}", config.root_key);
        assert_eq!(config.log_format(), LogFormat::Pretty);
    }

    #[test]
    fn file_values_are_read_and_env_overrides_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("strongroom.toml");
        std::fs::write(&path, "profile = \"production\"\n[server]\nlisten = \"0.0.0.0:443\"\n").unwrap();
        let env = vec![("STRONGROOM_SERVER_LISTEN".to_string(), "127.0.0.1:1".to_string())];
        let config = Config::load(Some(&path), env).unwrap();
        assert_eq!(config.profile, Profile::Production);
        assert_eq!(config.server.listen, "127.0.0.1:1");
        assert_eq!(config.log_format(), LogFormat::Json);
    }

    #[test]
    fn fail_unknown_key_in_file_names_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("strongroom.toml");
        std::fs::write(&path, "[server]\nlistne = \"x\"\n").unwrap();
        let message = Config::load(Some(&path), Vec::new()).unwrap_err().to_string();
        assert!(message.contains("strongroom.toml") && message.contains("listne"), "{message}");
    }

    #[test]
    fn debug_and_serialisation_mask_secrets() {
        let mut config = Config::default();
        config.database.url = Some(SecretString::new("postgres://u:hunter2@db/x".into()));
        config.root_key = RootKeyConfig::Passphrase(crate::PassphraseRootKey {
            passphrase: Some(SecretString::new("correct horse battery".into())),
            passphrase_file: None,
        });
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2") && !debug.contains("horse"), "{debug}");
        let dumped = toml::to_string(&config).unwrap();
        assert!(!dumped.contains("hunter2") && !dumped.contains("horse"), "{dumped}");
    }
}
