//! `strongroom server` and `strongroom migrate`: wiring configuration,
//! storage, root key and HTTP together, in the order that fails earliest.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use strongroom_config::{Config, DatabaseTlsMode, Outcome};
use strongroom_core::audit::{AuditContext, AuditSettings, Checkpointer, run_sink};
use strongroom_core::authz::{Action, Authz, AuthzSettings, PolicySource, RoleDefinition};
use strongroom_core::freshness::Freshness;
use strongroom_core::housekeeping::{Housekeeping, HousekeepingSettings};
use strongroom_core::identity::{Identity, IdentitySettings, PasswordPolicy, Role};
use strongroom_core::rate_limits::{Rate, RateLimitSettings, RateLimitStore};
use strongroom_core::records::Records;
use strongroom_core::root_key::{ProviderState, keyring_kek};
use strongroom_core::{
    ApiKeys, AuditOptions, JobSettings, Jobs, RootKeyStatus, ServicePorts, ServiceSettings, Services, Store,
    SystemClock, settings,
};
use strongroom_crypto::PasswordParams;
use strongroom_server::{AppState, HttpSettings, Listener, TlsListener};
use strongroom_store::{ConnectOptions, Database, PostgresTls, PostgresTlsMode};
use tokio::net::TcpListener;

use strongroom_integrations::audit_outputs;
use strongroom_integrations::redis_rate_limits::RedisRateLimits;

use crate::{data_dir, logging};

/// Runs the server until SIGINT or SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    refuse_contradicting_profile(&config)?;
    if let Some(origin) = &config.server.public_origin {
        strongroom_core::identity::RelyingParty::from_origin(origin)
            .map_err(|error| anyhow::anyhow!("server.public_origin: {error}"))?;
    }
    logging::init(&config)?;
    let (database, _lock) = open_database(&config).await?;
    let store = database.store();
    let (kek, status) = root_key(&config, store.as_ref(), true).await?;
    match status {
        RootKeyStatus::Initialised => {
            tracing::info!(root_key = %kek.id(), "database bound to this root key")
        }
        RootKeyStatus::Verified => tracing::info!(root_key = %kek.id(), "root key verified"),
    }
    let rate_limit_store = shared_rate_limits(&config, &database).await?;
    let services =
        start_services(&config, &database, Arc::clone(&kek), &AuditContext::service("server"), rate_limit_store)
            .await?;
    let created = services.records.ensure_templates(&AuditContext::service("server")).await?;
    if !created.is_empty() {
        tracing::info!(collections = ?created, "created the built-in collections");
    }
    // Checks the tree against the anchors now, so a rolled-back database is
    // reported at start (readyz fails) rather than at the first checkpoint.
    if let Err(error) = services.checkpointer.current().await {
        tracing::error!(%error, "the audit log does not verify against its last checkpoint");
    }
    let alerts = Arc::new(audit_outputs::alert_evaluator(&config, Arc::clone(&services.audit))?);
    let mut background = vec![
        tokio::spawn(rotate_keys_when_due(Arc::clone(&services.jobs))),
        tokio::spawn(run_key_jobs(
            Arc::clone(&services.jobs),
            Duration::from_secs(config.records.key_job_poll_seconds.max(1)),
        )),
        tokio::spawn(flush_api_key_usage(Arc::clone(&services.api_keys))),
        tokio::spawn(flush_session_activity(Arc::clone(&services.identity))),
        tokio::spawn(follow_authorization(
            Arc::clone(&services.authz),
            Duration::from_secs(config.authz.policy_refresh_seconds.max(1)),
        )),
        tokio::spawn(sweep_expired_records(
            Arc::clone(&services.records),
            Duration::from_secs(config.records.retention_sweep_seconds.max(1)),
        )),
        tokio::spawn(sweep_blob_uploads(
            Arc::clone(&services.records),
            Duration::from_secs(config.blobs.stale_upload_seconds.max(1)),
        )),
        tokio::spawn(sign_checkpoints(
            Arc::clone(&services.checkpointer),
            Duration::from_secs(config.audit.checkpoint_interval_seconds.max(1)),
        )),
        tokio::spawn(verify_audit_log(
            Arc::clone(&services.checkpointer),
            (config.audit.verify_interval_seconds > 0)
                .then(|| Duration::from_secs(config.audit.verify_interval_seconds)),
        )),
        tokio::spawn(audit_outputs::evaluate_alerts(
            Arc::clone(&alerts),
            Duration::from_secs(config.audit.alert_interval_seconds),
        )),
        tokio::spawn(audit_outputs::watch_free_space(
            config.data_dir.clone(),
            config.audit.min_free_bytes,
            Arc::clone(&services.audit),
            Arc::clone(&alerts),
        )),
    ];
    if config.database.cache_refresh_ms > 0 {
        let interval = Duration::from_millis(config.database.cache_refresh_ms);
        background.push(tokio::spawn(confirm_caches(Arc::clone(&store), Arc::clone(&services.freshness), interval)));
    }
    for sink in audit_outputs::sinks(&config)? {
        background.push(tokio::spawn(run_sink(Arc::clone(&services.audit), sink)));
    }
    if config.housekeeping.interval_seconds > 0 {
        background.push(tokio::spawn(purge_on_schedule(
            Arc::new(housekeeping(&config, &database, &services)?),
            Duration::from_secs(config.housekeeping.interval_seconds),
        )));
    }
    let metrics = start_metrics(&config, &mut background).await?;
    if metrics.is_some() || config.metrics.listen.is_some() {
        background.push(tokio::spawn(crate::gauges::sample(
            Arc::clone(&services.keyring),
            Arc::clone(&services.jobs),
            database.clone(),
            Duration::from_secs(5),
        )));
    }
    let shutdown = shutdown_signal()?;
    let hangup =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).context("cannot listen for SIGHUP")?;
    let listener = bind(&config).await?;
    let address = listener.local_addr()?;
    let reloader = match &listener {
        Listener::Tls(tls) => Some(tls.reloader()),
        Listener::Tcp(_) => None,
    };
    background.push(tokio::spawn(reload_certificate_on_hangup(
        hangup,
        reloader,
        config.clone(),
        Arc::clone(&services.audit),
    )));
    // One shutdown signal, two listeners: the redirect listener stops with the main one.
    let (stopping, stop) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        shutdown.await;
        let _ = stopping.send(true);
    };
    let times = strongroom_server::ServeTimes {
        grace: Duration::from_secs(config.server.shutdown_grace_seconds),
        header_read: Duration::from_secs(config.server.header_read_timeout_seconds),
    };
    let redirects = match &config.server.http_redirect_listen {
        Some(listen) => {
            let tcp = TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen} (server.http_redirect_listen)"))?;
            let mut stop = stop.clone();
            let stopped = async move {
                let _ = stop.wait_for(|stopping| *stopping).await;
            };
            let redirect_address = tcp.local_addr()?;
            Some((
                redirect_address,
                tokio::spawn(strongroom_server::serve_redirects(tcp, address.port(), stopped, times)),
            ))
        }
        None => None,
    };
    let scheme = if config.tls_enabled() { "https" } else { "http" };
    let api_keys = Arc::clone(&services.api_keys);
    let state = AppState::new(
        Arc::clone(&store),
        kek.id().to_string(),
        &services,
        alerts,
        HttpSettings {
            body_limit_bytes: usize::try_from(config.server.body_limit_bytes).unwrap_or(usize::MAX),
            request_timeout: Duration::from_secs(config.server.request_timeout_seconds),
            https: config.tls_enabled() || !config.server.trusted_proxy.is_empty(),
            trusted_proxies: config.server.trusted_proxy.iter().filter_map(|p| p.parse().ok()).collect(),
            public_origin: config.server.public_origin.clone(),
        },
        metrics,
    );
    print_banner(&config, scheme, address, store.as_ref(), kek.id().as_str());
    tracing::info!(%address, profile = config.profile.as_str(), "listening");
    if let Some((redirect_address, _)) = &redirects {
        println!("  redirect : http://{redirect_address} answers only 308 to https port {}", address.port());
        tracing::info!(address = %redirect_address, "plain HTTP redirects to HTTPS");
    }
    strongroom_server::serve(listener, strongroom_server::router(state), shutdown, times)
        .await
        .context("the HTTP server failed")?;
    if let Some((_, redirects)) = redirects {
        match redirects.await {
            Ok(Err(error)) => tracing::warn!(%error, "the redirect listener failed"),
            Err(error) => tracing::warn!(%error, "the redirect listener stopped abnormally"),
            Ok(Ok(())) => {}
        }
    }
    for task in background {
        task.abort();
    }
    if let Err(error) = api_keys.flush_usage().await {
        tracing::warn!(%error, "could not record the last second of API-key usage");
    }
    database.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Where the server's instances count rate limits together: Redis when
/// `ratelimit.redis_url` is set, else the database (PostgreSQL's table;
/// SQLite's one instance counts in memory).
async fn shared_rate_limits(config: &Config, database: &Database) -> anyhow::Result<Option<Arc<dyn RateLimitStore>>> {
    Ok(match &config.ratelimit.redis_url {
        Some(url) => {
            let redis = RedisRateLimits::new(url.expose(), &config.ratelimit.redis_key_prefix)?;
            redis.connect().await;
            Some(Arc::new(redis))
        }
        None => database.rate_limit_store(),
    })
}

/// Starts the domain services on `database` as `context`: the audit log
/// (origin, anchors, address hashing from the configuration), the keyring
/// and the API keys, counting rate limits in `rate_limit_store`.
pub async fn start_services(
    config: &Config,
    database: &Database,
    kek: Arc<dyn strongroom_crypto::Kek>,
    context: &AuditContext,
    rate_limit_store: Option<Arc<dyn RateLimitStore>>,
) -> anyhow::Result<Services> {
    let origin = match &config.audit.origin {
        Some(origin) => {
            if origin.is_empty() || origin.contains(|c: char| c.is_whitespace() || c == '+') {
                bail!("audit.origin {origin:?} must be non-empty, without spaces or '+'");
            }
            origin.clone()
        }
        None => {
            let fresh = strongroom_crypto::to_hex(&strongroom_crypto::random_bytes::<8>()?);
            let id = database.store().setting_or_insert(settings::INSTALLATION_ID, fresh.as_bytes()).await?;
            format!("strongroom/{}", String::from_utf8_lossy(&id))
        }
    };
    let ports = ServicePorts {
        keys: database.key_store(),
        api_keys: database.api_key_store(),
        audit: database.audit_store(),
        identity: database.identity_store(),
        authz: database.authz_store(),
        records: database.records_store(),
        blobs: Some(blob_storage(config)?),
        jobs: database.job_store(),
        rate_limits: rate_limit_store,
    };
    let options = AuditOptions {
        settings: AuditSettings { hash_ip: config.audit.hash_ip },
        origin,
        anchors: audit_outputs::anchors(config)?,
    };
    let settings = ServiceSettings {
        audit: options,
        identity: identity_settings(config)?,
        authz: authz_settings(config)?,
        jobs: job_settings(config)?,
        cache_max_age: cache_max_age(config.database.cache_refresh_ms),
        rate_limits: RateLimitSettings {
            per_address: Rate::per_second(config.ratelimit.per_address_per_second, config.ratelimit.per_address_burst),
            per_user: Rate::per_second(config.ratelimit.per_user_per_second, config.ratelimit.per_user_burst),
        },
    };
    Services::start(ports, kek, Arc::new(SystemClock), settings, context)
        .await
        .context("cannot start the keyring, the audit log and the policies")
}

/// How long cached metadata stays usable after the poller last confirmed
/// it: a few missed polls are tolerated, a stopped poller is not (see
/// `strongroom_core::freshness`). Zero (no caching) for a zero interval.
fn cache_max_age(refresh_ms: u64) -> Duration {
    if refresh_ms == 0 {
        Duration::ZERO
    } else {
        Duration::from_millis(refresh_ms.saturating_mul(4)).max(Duration::from_secs(1))
    }
}

/// Confirms the caches against the store's change generation every
/// `interval`, which drops them whenever another instance, a CLI command or
/// anyone else changed keys, API keys or grants.
async fn confirm_caches(store: Arc<dyn Store>, freshness: Arc<Freshness>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        ticker.tick().await;
        match store.change_generation().await {
            Ok(generation) => {
                freshness.confirm(generation);
                if std::mem::take(&mut failing) {
                    tracing::info!("the change generation reads again: caching resumed");
                }
            }
            Err(error) if !failing => {
                failing = true;
                tracing::warn!(%error, "cannot read the change generation: caches unused until it reads again");
            }
            Err(_) => {}
        }
    }
}

/// Applies pending migrations and exits.
pub async fn migrate_only(config: Config) -> anyhow::Result<()> {
    logging::init(&config)?;
    let (database, _lock) = open_database(&config).await?;
    let version = database.store().schema_version().await?;
    println!("database schema at version {version} ({})", database.backend().as_str());
    database.close().await;
    Ok(())
}

/// Prints every failing rule and refuses, so the operator fixes them all at once.
fn refuse_contradicting_profile(config: &Config) -> anyhow::Result<()> {
    let checks = config.checks();
    for check in &checks {
        if let Outcome::Warn(reason) = &check.outcome {
            eprintln!("strongroom: warning: {}: {reason}", check.name);
        }
    }
    let failures: Vec<String> = checks
        .iter()
        .filter_map(|check| match &check.outcome {
            Outcome::Fail(reason) => Some(format!("  - {}: {reason}", check.name)),
            _ => None,
        })
        .collect();
    if failures.is_empty() {
        return Ok(());
    }
    bail!(
        "refusing to start: the configuration contradicts profile {:?}:\n{}\nRun `strongroom doctor` to see every check.",
        config.profile.as_str(),
        failures.join("\n")
    )
}

/// The blob store of `[blobs]`.
pub(crate) fn blob_storage(config: &Config) -> anyhow::Result<Arc<dyn strongroom_core::records::BlobStorage>> {
    let blobs = &config.blobs;
    match blobs.backend.as_str() {
        "disk" => {
            let dir = blobs.dir.clone().unwrap_or_else(|| config.data_dir.join("blobs"));
            Ok(Arc::new(
                strongroom_blobs::DiskBlobs::new(&dir)
                    .with_context(|| format!("cannot use {} for blobs", dir.display()))?,
            ))
        }
        "s3" => {
            let settings = strongroom_blobs::S3Settings {
                endpoint: blobs.s3_endpoint.clone().context("blobs.s3_endpoint is not set")?,
                bucket: blobs.s3_bucket.clone().context("blobs.s3_bucket is not set")?,
                region: blobs.s3_region.clone(),
                prefix: blobs.s3_prefix.clone(),
                credentials: strongroom_integrations::aws_credentials::chain(
                    std::env::vars(),
                    &blobs.s3_region,
                    strongroom_integrations::aws_credentials::client_options(),
                )?,
            };
            Ok(Arc::new(strongroom_blobs::S3Blobs::new(settings)?))
        }
        other => bail!("blobs.backend {other:?} is not one of disk, s3"),
    }
}

/// The authorization settings from `[authz]`, with the policy directory read.
fn authz_settings(config: &Config) -> anyhow::Result<AuthzSettings> {
    let authz = &config.authz;
    for purpose in &authz.purposes {
        let valid = !purpose.is_empty()
            && purpose.len() <= 64
            && purpose.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            bail!("authz.purposes: {purpose:?} must be 1-64 characters of a-z, 0-9 and '_'");
        }
    }
    let mut policy_files = Vec::new();
    if let Some(dir) = &authz.policy_dir {
        let entries = std::fs::read_dir(dir).with_context(|| format!("authz.policy_dir {}", dir.display()))?;
        let mut paths: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "cedar"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            policy_files.push(PolicySource { origin: format!("file:{name}"), text });
        }
    }
    let mut roles = Vec::new();
    for (name, role) in &authz.roles {
        let permissions = role
            .permissions
            .iter()
            .map(|action| {
                Action::parse(action).with_context(|| format!("authz.roles.{name}.permissions: no action {action:?}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let role = RoleDefinition::new(name, &role.description, permissions)
            .map_err(|why| anyhow::anyhow!("authz.roles.{name}: {why}"))?;
        roles.push(role);
    }
    Ok(AuthzSettings {
        profile: config.profile.as_str().to_owned(),
        roles,
        decrypt_mfa_max_age_seconds: i64::try_from(authz.decrypt_mfa_max_age_seconds.max(1)).unwrap_or(i64::MAX),
        purposes: authz.purposes.clone(),
        policy_files,
        policy_invariants: match authz.policy_invariants {
            strongroom_config::PolicyInvariants::Refuse => strongroom_core::authz::PolicyInvariants::Refuse,
            strongroom_config::PolicyInvariants::Warn => strongroom_core::authz::PolicyInvariants::Warn,
        },
    })
}

/// The identity settings from `[identity]`, checked.
fn identity_settings(config: &Config) -> anyhow::Result<IdentitySettings> {
    let identity = &config.identity;
    let seconds = |key: &str, value: u64| -> anyhow::Result<i64> {
        match i64::try_from(value) {
            Ok(value) if value > 0 => Ok(value),
            _ => bail!("identity.{key} must be a positive number of seconds"),
        }
    };
    let mfa_required_roles = config
        .mfa_required_roles()
        .iter()
        .map(|name| Role::parse(name).with_context(|| format!("identity.mfa_required_roles: unknown role {name:?}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let password_params = PasswordParams {
        memory_kib: identity.password_memory_kib,
        iterations: identity.password_iterations,
        parallelism: identity.password_parallelism,
    };
    if password_params.memory_kib < 8 * password_params.parallelism || password_params.iterations == 0 {
        bail!("identity.password_*: Argon2id needs at least 8 KiB per lane and one pass");
    }
    Ok(IdentitySettings {
        password_params,
        password_policy: PasswordPolicy {
            min_length: identity.password_min_length as usize,
            min_strength_bits: f64::from(identity.password_min_strength_bits),
        },
        hashing_concurrency: (identity.hashing_concurrency as usize).max(1),
        access_token_seconds: seconds("access_token_seconds", identity.access_token_seconds)?,
        session_idle_seconds: seconds("session_idle_seconds", identity.session_idle_seconds)?,
        session_absolute_seconds: seconds("session_absolute_seconds", identity.session_absolute_seconds)?,
        max_sessions_per_user: (identity.max_sessions_per_user as usize).max(1),
        bind_session_to_ip: identity.bind_session_to_ip,
        bind_session_to_user_agent: identity.bind_session_to_user_agent,
        mfa_required_roles,
        lockout_threshold: u64::from(identity.lockout_threshold.max(1)),
        account_lockout_threshold: u64::from(identity.account_lockout_threshold.max(1)),
        ip_lockout_threshold: u64::from(identity.ip_lockout_threshold.max(1)),
        lockout_window_seconds: seconds("lockout_window_seconds", identity.lockout_window_seconds)?,
        lockout_base_seconds: seconds("lockout_base_seconds", identity.lockout_base_seconds)?,
        lockout_max_seconds: seconds("lockout_max_seconds", identity.lockout_max_seconds)?,
        mfa_token_seconds: 300,
        reset_token_seconds: seconds("reset_token_seconds", identity.reset_token_seconds)?,
        issuer: identity.issuer.clone(),
        audience: identity.audience().to_owned(),
    })
}

/// Opens the database and the services for an operator command run beside
/// (or instead of) a server: no data-dir lock (SQLite serialises writers
/// itself), no key file or salt created, and the root key must match the
/// database. What the command changes is audited as `cli:<user>`.
pub async fn open_services(config: &Config) -> anyhow::Result<(Database, Services)> {
    if config.uses_sqlite() && config.database.url.is_none() && !config.sqlite_path().exists() {
        bail!(
            "no database in {}: run `strongroom init` or start `strongroom server` once first \
             (either creates the database and binds the root key)",
            config.data_dir.display()
        );
    }
    let database = connect_database(config, 2).await.context("cannot open the database")?;
    database.migrate().await.context("cannot migrate the database")?;
    let store = database.store();
    let (kek, _) = root_key(config, store.as_ref(), false).await?;
    let services = start_services(config, &database, kek, &cli_context(), database.rate_limit_store()).await?;
    Ok((database, services))
}

/// Whether no server has started on this configuration yet: the embedded
/// SQLite file does not exist, or the configured database is bound to no
/// root key.
pub async fn is_new_installation(config: &Config) -> anyhow::Result<bool> {
    if config.uses_sqlite() && config.database.url.is_none() {
        return Ok(!config.sqlite_path().exists());
    }
    let database = connect_database(config, 1).await.context("cannot open the database")?;
    let bound = async {
        database.migrate().await?;
        database.store().setting(strongroom_core::settings::ROOT_KEY_ID).await
    }
    .await;
    database.close().await;
    Ok(bound.context("cannot read the database")?.is_none())
}

/// Like [`open_services`], but on a new data dir too, as the server's first
/// start does: creates the data dir and database, and binds the root key
/// (generating a local one). For `strongroom init`.
pub async fn open_services_creating(config: &Config) -> anyhow::Result<(Database, Services)> {
    refuse_contradicting_profile(config)?;
    let (database, _lock) = open_database(config).await?;
    let store = database.store();
    let (kek, _) = root_key(config, store.as_ref(), true).await?;
    let services = start_services(config, &database, kek, &cli_context(), database.rate_limit_store()).await?;
    Ok((database, services))
}

/// The configured root key, checked against the database. With `create`
/// (a first start), what the provider keeps is made: a local key file, a
/// passphrase salt, a wrapped keyring key; without it nothing is written and
/// a missing one is an error.
pub async fn root_key(
    config: &Config,
    store: &dyn Store,
    create: bool,
) -> anyhow::Result<(Arc<dyn strongroom_crypto::Kek>, RootKeyStatus)> {
    let state = ProviderState::new(store, create);
    let provider = strongroom_integrations::root_key::provider(&config.root_key, &config.data_dir, state).await?;
    tracing::debug!(provider = provider.id(), root_key = %provider.description(), "opening the root key");
    let kek = keyring_kek(provider.as_ref(), state).await?;
    let status = strongroom_core::unseal(store, kek.as_ref()).await?;
    Ok((kek, status))
}

/// The audit context of an operator command: `cli:<login name>`.
pub fn cli_context() -> AuditContext {
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
    AuditContext::service(&format!("cli:{user}"))
}

/// Connects to the configured database with `max_connections`, with the
/// TLS to PostgreSQL of `database.tls_mode`/`tls_ca_file` (or the URL).
/// A TLS refusal says which setting to look at.
pub async fn connect_database(config: &Config, max_connections: u32) -> anyhow::Result<Database> {
    let tls = match config.database_tls() {
        None => None,
        Some(Ok(tls)) => Some(tls),
        Some(Err(problem)) => bail!("{problem}"),
    };
    let options = ConnectOptions {
        max_connections,
        postgres_tls: tls.as_ref().map(|tls| PostgresTls {
            mode: match tls.mode {
                DatabaseTlsMode::Disable => PostgresTlsMode::Disable,
                DatabaseTlsMode::Prefer => PostgresTlsMode::Prefer,
                DatabaseTlsMode::Require => PostgresTlsMode::Require,
                DatabaseTlsMode::VerifyCa => PostgresTlsMode::VerifyCa,
                DatabaseTlsMode::VerifyFull => PostgresTlsMode::VerifyFull,
            },
            ca_file: tls.ca_file.clone(),
        }),
        ..ConnectOptions::default()
    };
    match Database::connect(&config.database_url(), &options).await {
        Ok(database) => Ok(database),
        Err(error) => {
            let Some(tls) = tls else { return Err(error.into()) };
            let cause = format!("{:#}", anyhow::Error::from(error));
            let ca = tls.ca_file.as_ref().map_or("no database.tls_ca_file".to_owned(), |f| f.display().to_string());
            let hint = if cause.contains("UnknownIssuer") || cause.contains("BadSignature") {
                format!(
                    "the PostgreSQL server's certificate is not issued by a trusted CA ({ca}): \
                     check database.tls_ca_file"
                )
            } else if cause.contains("not valid for name") || cause.contains("NotValidForName") {
                format!(
                    "the PostgreSQL server's certificate is not issued for the host {} of database.url: \
                     connect by a name the certificate holds",
                    tls.hosts.join(", ")
                )
            } else if cause.contains("TLS") || cause.contains("tls") || cause.contains("certificate") {
                format!("TLS to PostgreSQL failed (sslmode {}, CA {ca})", tls.mode.as_str())
            } else {
                return Err(anyhow::anyhow!(cause));
            };
            Err(anyhow::anyhow!("{hint}: {cause}"))
        }
    }
}

/// Creates the data dir, locks it when the embedded SQLite lives there,
/// connects and migrates.
async fn open_database(config: &Config) -> anyhow::Result<(Database, Option<data_dir::DataDirLock>)> {
    data_dir::ensure(&config.data_dir)?;
    let lock = if config.uses_sqlite() { Some(data_dir::lock(&config.data_dir)?) } else { None };
    let database = connect_database(config, config.database.max_connections).await.with_context(|| {
        format!("cannot open the {} database", if config.uses_sqlite() { "SQLite" } else { "PostgreSQL" })
    })?;
    let report = database.migrate().await.context("cannot migrate the database")?;
    if report.from_version != report.to_version {
        tracing::info!(from = report.from_version, to = report.to_version, "migrated the database");
    }
    Ok((database, lock))
}

/// Loads policies other instances stored, and audits access requests that
/// expired (their expiry itself is checked at every use).
async fn follow_authorization(authz: Arc<Authz>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        ticker.tick().await;
        match authz.refresh_policies().await {
            Ok(true) => tracing::info!("loaded policies stored by another instance"),
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "could not look for new policies; retrying"),
        }
        if let Err(error) = authz.record_expiries().await {
            tracing::warn!(%error, "could not audit expired access requests; retrying");
        }
    }
}

/// Crypto-shreds expired records, a batch per tick until none is due.
async fn sweep_expired_records(records: Arc<Records>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        ticker.tick().await;
        loop {
            match records.sweep_expired(500).await {
                Ok(0) => break,
                Ok(shredded) => tracing::info!(shredded, "crypto-shredded expired records"),
                Err(error) => {
                    tracing::warn!(%error, "the retention sweep failed; retrying at the next tick");
                    break;
                }
            }
        }
    }
}

/// Removes what killed blob uploads left (part files, empty directories)
/// once older than `older_than`: now, at start, then hourly.
async fn sweep_blob_uploads(records: Arc<Records>, older_than: Duration) {
    let mut ticker = tokio::time::interval(Duration::from_secs(3600));
    loop {
        ticker.tick().await;
        match records.sweep_blob_uploads(older_than).await {
            None | Some(Ok(0)) => {}
            Some(Ok(removed)) => tracing::info!(removed, "swept what interrupted blob uploads left"),
            Some(Err(error)) => {
                tracing::warn!(%error, "the sweep of interrupted blob uploads failed; retrying in an hour")
            }
        }
    }
}

/// The housekeeping purge as `[housekeeping]` sets it up, auditing
/// through `services`' log.
pub fn housekeeping(config: &Config, database: &Database, services: &Services) -> anyhow::Result<Housekeeping> {
    let housekeeping = &config.housekeeping;
    if housekeeping.batch_size == 0 {
        bail!("housekeeping.batch_size must be at least 1");
    }
    let settings = HousekeepingSettings {
        session_retention: Duration::from_secs(housekeeping.session_retention_seconds),
        one_time_token_retention: Duration::from_secs(housekeeping.one_time_token_retention_seconds),
        job_retention: Duration::from_secs(housekeeping.job_retention_seconds),
        session_idle: Duration::from_secs(config.identity.session_idle_seconds),
        lockout_window: Duration::from_secs(config.identity.lockout_window_seconds),
        batch_size: housekeeping.batch_size,
    };
    Ok(Housekeeping::new(database.housekeeping_store(), Arc::clone(&services.audit), Arc::new(SystemClock), settings))
}

/// Purges what is past its retention every `interval` (the first run after
/// a minute at most, once the server is up). A run that reached the batch
/// size is followed by another at once, until the backlog is gone. Every
/// instance runs it; two purging the same rows at once write one event
/// (the other finds its rows gone and writes nothing).
async fn purge_on_schedule(housekeeping: Arc<Housekeeping>, interval: Duration) {
    let context = AuditContext::service("housekeeping");
    tokio::time::sleep(interval.min(Duration::from_secs(60))).await;
    loop {
        match housekeeping.run(&context).await {
            Ok(purged) if purged.total() == 0 => {}
            Ok(purged) => {
                tracing::info!(
                    sessions = purged.sessions,
                    refresh_tokens = purged.refresh_tokens,
                    one_time_tokens = purged.one_time_tokens,
                    jobs = purged.jobs,
                    "purged what was past its retention"
                );
                if purged.hit(housekeeping.settings().batch_size) {
                    continue;
                }
            }
            Err(error) => tracing::warn!(%error, "housekeeping failed; retrying at the next interval"),
        }
        tokio::time::sleep(interval).await;
    }
}

/// How key jobs run, from `[records]`.
fn job_settings(config: &Config) -> anyhow::Result<JobSettings> {
    let records = &config.records;
    if !(1..=10_000).contains(&records.key_job_batch_size) {
        bail!("records.key_job_batch_size must be between 1 and 10000");
    }
    if records.key_job_lease_seconds == 0 {
        bail!("records.key_job_lease_seconds must be at least 1");
    }
    Ok(JobSettings {
        batch_size: records.key_job_batch_size,
        pause: Duration::from_millis(records.key_job_pause_ms),
        lease: Duration::from_secs(records.key_job_lease_seconds),
    })
}

/// Runs key jobs no process is running (new ones, or ones whose process
/// died: their lease lapsed), every `interval`; each instance runs it, the
/// lease keeps a job on one of them.
async fn run_key_jobs(jobs: Arc<Jobs>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        ticker.tick().await;
        loop {
            match jobs.run_next(None).await {
                Ok(None) => break,
                Ok(Some(job)) => tracing::info!(job = %job.id, state = job.state.as_str(), done = job.done, "key job"),
                Err(error) => {
                    tracing::warn!(%error, "a key job stopped; it resumes at a later tick");
                    break;
                }
            }
        }
    }
}

/// Rotates keys whose rotation period has passed, once a minute, starting
/// the rewrap jobs of matter keys. Every instance runs it; the keyring
/// re-checks the period on the fresh key, so a key is rotated once however
/// many instances see it due.
async fn rotate_keys_when_due(jobs: Arc<Jobs>) {
    let mut ticker = tokio::time::interval(Duration::from_secs(60));
    loop {
        ticker.tick().await;
        match jobs.rotate_due().await {
            Ok(rotated) if rotated.is_empty() => {}
            Ok(rotated) => tracing::info!(keys = ?rotated, "rotated keys whose rotation period had passed"),
            Err(error) => tracing::warn!(%error, "automatic key rotation failed; retrying in a minute"),
        }
    }
}

/// Signs a checkpoint every `interval` when the log has grown (the
/// checkpointer returns the stored one otherwise).
async fn sign_checkpoints(checkpointer: Arc<Checkpointer>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        ticker.tick().await;
        match checkpointer.current().await {
            Ok(checkpoint) => {
                let now_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
                let age = (now_ms - checkpoint.created_ms).max(0) as f64 / 1000.0;
                metrics::gauge!("strongroom_audit_checkpoint_age_seconds").set(age);
                metrics::gauge!("strongroom_audit_tree_size").set(checkpoint.size as f64);
            }
            Err(error) => {
                metrics::counter!("strongroom_audit_checkpoint_failures_total").increment(1);
                tracing::error!(%error, "could not sign an audit checkpoint");
            }
        }
    }
}

/// Turns metrics on when `[metrics]` asks for them: installs the recorder,
/// serves `/metrics` open on `metrics.listen` (a task in `background`), and
/// returns the main listener's `/metrics`, behind `metrics.token`.
async fn start_metrics(
    config: &Config,
    background: &mut Vec<tokio::task::JoinHandle<()>>,
) -> anyhow::Result<Option<strongroom_server::MetricsEndpoint>> {
    use strongroom_server::MetricsEndpoint;
    let token = match (&config.metrics.token, &config.metrics.token_file) {
        (Some(token), _) => Some(zeroize::Zeroizing::new(token.expose().trim().to_owned())),
        (None, Some(file)) => {
            let text = zeroize::Zeroizing::new(
                std::fs::read_to_string(file)
                    .with_context(|| format!("cannot read metrics.token_file {}", file.display()))?,
            );
            Some(zeroize::Zeroizing::new(text.lines().next().unwrap_or_default().trim().to_owned()))
        }
        (None, None) => None,
    };
    if token.as_ref().is_some_and(|token| token.chars().count() < 20) {
        bail!("metrics.token: at least 20 characters (it guards what the server is doing)");
    }
    if config.metrics.listen.is_none() && token.is_none() {
        return Ok(None);
    }
    let handle = strongroom_server::install_metrics()
        .map_err(|error| anyhow::anyhow!("cannot start the metrics recorder: {error}"))?;
    if let Some(listen) = &config.metrics.listen {
        let listener =
            TcpListener::bind(listen).await.with_context(|| format!("cannot listen on metrics.listen {listen}"))?;
        tracing::info!(address = %listener.local_addr()?, "serving /metrics");
        let router = strongroom_server::metrics_router(MetricsEndpoint::open(handle.clone()));
        let times = strongroom_server::ServeTimes {
            grace: Duration::from_secs(1),
            header_read: Duration::from_secs(config.server.header_read_timeout_seconds),
        };
        background.push(tokio::spawn(async move {
            let serving = strongroom_server::serve(Listener::Tcp(listener), router, std::future::pending(), times);
            if let Err(error) = serving.await {
                tracing::error!(%error, "the metrics listener failed");
            }
        }));
    }
    Ok(token.map(|token| MetricsEndpoint::with_token(handle, token)))
}

/// Verifies the whole stored log now and then every `interval` (or only
/// now); the outcome is the audit health's `damaged`, which `/readyz` reports.
async fn verify_audit_log(checkpointer: Arc<Checkpointer>, interval: Option<Duration>) {
    loop {
        match checkpointer.verify_stored().await {
            Ok(report) if report.verified() => {}
            Ok(report) => tracing::error!(
                problems = report.problems.len(),
                first = %report.problems[0].message,
                "the stored audit log does not verify"
            ),
            Err(error) => tracing::error!(%error, "could not verify the stored audit log"),
        }
        let Some(interval) = interval else { return };
        tokio::time::sleep(interval).await;
    }
}

/// Writes session activity (last seen) once a second (see `Identity::flush_session_activity`).
async fn flush_session_activity(identity: Arc<Identity>) {
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    loop {
        ticker.tick().await;
        if let Err(error) = identity.flush_session_activity().await {
            tracing::warn!(%error, "could not record session activity; retrying");
        }
    }
}

/// Writes API-key usage tallies once a second (see `ApiKeys::flush_usage`).
async fn flush_api_key_usage(api_keys: Arc<ApiKeys>) {
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    loop {
        ticker.tick().await;
        if let Err(error) = api_keys.flush_usage().await {
            tracing::warn!(%error, "could not record API-key usage; retrying");
        }
    }
}

async fn bind(config: &Config) -> anyhow::Result<Listener> {
    let tcp = TcpListener::bind(&config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    match (&config.server.tls_cert_file, &config.server.tls_key_file) {
        (Some(cert), Some(key)) => {
            let tls = strongroom_server::load_tls_config(cert, key)?;
            Ok(Listener::Tls(TlsListener::new(tcp, tls)?))
        }
        _ => Ok(Listener::Tcp(tcp)),
    }
}

/// On every SIGHUP, reads the listener's certificate and key again and
/// swaps them in for new connections (open ones keep theirs). A pair that
/// does not load leaves the old one in service. Either way the attempt is
/// logged and audited (`config.change`), since it changes who the server
/// proves to be.
async fn reload_certificate_on_hangup(
    mut hangup: tokio::signal::unix::Signal,
    reloader: Option<strongroom_server::TlsReloader>,
    config: Config,
    audit: Arc<strongroom_core::audit::AuditLog>,
) {
    use strongroom_core::audit::{EventType, Outcome as AuditOutcome};
    while hangup.recv().await.is_some() {
        let (Some(reloader), Some(cert), Some(key)) =
            (&reloader, &config.server.tls_cert_file, &config.server.tls_key_file)
        else {
            tracing::info!("SIGHUP: the listener has no TLS, nothing to reload");
            continue;
        };
        let event = audit
            .event(EventType::ConfigChange, &AuditContext::service("server"))
            .detail("change", "TLS certificate reload")
            .detail("certificate_file", cert.display().to_string());
        let event = match reloader.reload(cert, key) {
            Ok(()) => {
                tracing::info!(certificate = %cert.display(), "TLS certificate reloaded");
                event
            }
            Err(error) => {
                tracing::error!(%error, "TLS certificate reload failed: the previous certificate stays in use");
                event.failed(AuditOutcome::Failure, "invalid_certificate")
            }
        };
        if let Err(error) = audit.record(&event).await {
            tracing::error!(%error, "could not audit the TLS certificate reload");
        }
    }
}

fn print_banner(config: &Config, scheme: &str, address: std::net::SocketAddr, store: &dyn Store, root_key: &str) {
    let base = format!("{scheme}://{address}");
    println!("Strongroom {} listening on {base} (profile {})", env!("CARGO_PKG_VERSION"), config.profile.as_str());
    println!("  data dir : {} ({}, root key {root_key})", config.data_dir.display(), store.backend().as_str());
    println!("  ready?   : curl {base}/readyz");
    println!("  API      : {base}/openapi.json");
    println!("  console  : {base}/console");
    println!("  check    : strongroom doctor    stop: Ctrl-C");
}

/// Listens for SIGINT and SIGTERM from now on. The handlers are installed
/// here, before the banner tells anyone the server is up, so a signal sent
/// right after start is a graceful shutdown, never the default kill.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}
