//! `strongroom doctor`: every configuration rule with its outcome and reason,
//! then whether the database answers and the root key matches it. Read-only:
//! it creates nothing (no data dir, no key file, no database). Opening an
//! existing SQLite file tightens its mode to 0600, as every command does.

use std::path::Path;
use std::process::ExitCode;

use strongroom_config::{Check, Config, Outcome};
use strongroom_core::root_key::{ProviderState, keyring_kek};
use strongroom_store::ConnectOptions;

/// Prints every check; exit 1 if any fails.
pub async fn run(config: &Config, path: Option<&Path>) -> ExitCode {
    let source = path.map_or("embedded defaults".to_owned(), |p| p.display().to_string());
    println!("strongroom doctor: profile {}, configuration from {source}", config.profile.as_str());
    let mut checks = config.checks();
    checks.extend(runtime_checks(config).await);
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for check in &checks {
        let (label, reason) = match &check.outcome {
            Outcome::Pass(reason) => ("PASS", reason),
            Outcome::Warn(reason) => ("WARN", reason),
            Outcome::Fail(reason) => ("FAIL", reason),
        };
        println!("  {label}  {:width$}  {reason}", check.name);
    }
    let failed = checks.iter().filter(|c| c.is_failure()).count();
    if failed == 0 {
        println!("all checks passed");
        ExitCode::SUCCESS
    } else {
        println!("{failed} check(s) failed: `strongroom server` will refuse to start");
        ExitCode::FAILURE
    }
}

/// Database reachability and root-key match, without creating anything.
async fn runtime_checks(config: &Config) -> Vec<Check> {
    if config.uses_sqlite() && !config.sqlite_path().exists() && config.database.url.is_none() {
        let pass = |name, reason: &str| Check { name, outcome: Outcome::Pass(reason.to_owned()) };
        return vec![
            pass("database.connect", "no database yet: the first start creates it"),
            pass("root_key.match", "nothing to compare yet: the first start binds the root key"),
        ];
    }
    let database = match crate::server::connect_database(config, ConnectOptions::default().max_connections).await {
        Ok(database) => database,
        Err(error) => {
            return vec![Check {
                name: "database.connect",
                outcome: Outcome::Fail(format!("cannot connect: {error:#}")),
            }];
        }
    };
    let store = database.store();
    let connect = match store.schema_version().await {
        Ok(version) => Outcome::Pass(format!("{} answers, schema version {version}", store.backend().as_str())),
        Err(error) => Outcome::Fail(format!("the database answers with an error: {error}")),
    };
    let root_key = root_key_check(config, store.as_ref()).await;
    database.close().await;
    vec![Check { name: "database.connect", outcome: connect }, Check { name: "root_key.match", outcome: root_key }]
}

async fn root_key_check(config: &Config, store: &dyn strongroom_core::Store) -> Outcome {
    use strongroom_core::settings::ROOT_KEY_ID;
    let recorded = match store.setting(ROOT_KEY_ID).await {
        Ok(Some(id)) => String::from_utf8_lossy(&id).into_owned(),
        Ok(None) => return Outcome::Pass("database not bound to a root key yet".into()),
        Err(error) => return Outcome::Fail(format!("cannot read the root-key binding: {error}")),
    };
    let state = ProviderState::new(store, false);
    let provider = match strongroom_integrations::root_key::provider(&config.root_key, &config.data_dir, state).await {
        Ok(provider) => provider,
        Err(error) => return Outcome::Fail(format!("cannot load the root key: {error:#}")),
    };
    let described = provider.description();
    let kek = match keyring_kek(provider.as_ref(), state).await {
        Ok(kek) => kek,
        Err(error) => return Outcome::Fail(format!("cannot load the root key ({described}): {error:#}")),
    };
    match strongroom_core::unseal(store, kek.as_ref()).await {
        Ok(_) => Outcome::Pass(format!("root key {recorded} ({described}) matches the database")),
        Err(error) => Outcome::Fail(error.to_string()),
    }
}
