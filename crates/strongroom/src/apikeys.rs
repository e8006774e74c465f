//! `strongroom apikey …`: API keys for machines, from the command line, on the
//! server's database. The full key is printed once, at creation; afterwards
//! only its id exists outside the caller.

use clap::Subcommand;
use strongroom_config::Config;
use strongroom_core::NewApiKey;

use crate::server::{cli_context, open_services};

/// API-key commands.
#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Issue a key; it is printed once and never again.
    Create {
        /// A label for operators (1-100 characters).
        #[arg(long)]
        name: String,
        /// A scope to grant (repeat for more): transit:use, transit:manage, keys:manage, audit:read,
        /// users:manage, roles:assign, api_keys:manage, matters:manage, collections:manage, records:decrypt, audit:write.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Refuse the key after this many days (1-3650).
        #[arg(long)]
        expires_in_days: Option<u32>,
        /// An address block it may be used from (repeat for more), e.g. 10.0.0.0/8; none: anywhere.
        #[arg(long = "allowed-cidr")]
        allowed_cidrs: Vec<String>,
        /// Requests per minute it may make, all instances together.
        #[arg(long)]
        rate_limit_per_minute: Option<u32>,
        /// Requests it may make at once (default: a second's worth of the rate).
        #[arg(long)]
        rate_limit_burst: Option<u32>,
        /// The username or id of the service account (role system) that owns it.
        #[arg(long)]
        owner: Option<String>,
    },
    /// Give a key a new secret (printed once); the old one works for --grace-seconds more.
    Rotate {
        /// The key's id.
        id: String,
        /// How long the old secret keeps working.
        #[arg(long, default_value_t = 0)]
        grace_seconds: i64,
    },
    /// List keys (ids, scopes, usage; never secrets).
    List,
    /// Revoke a key at once.
    Revoke {
        /// The key's id (the part after `sr_`).
        id: String,
    },
}

/// Runs an API-key command.
pub async fn run(config: &Config, command: ApiKeyCommand) -> anyhow::Result<()> {
    let (database, services) = open_services(config).await?;
    let api_keys = &services.api_keys;
    let context = cli_context();
    let result = async {
        match command {
            ApiKeyCommand::Create {
                name,
                scopes,
                expires_in_days,
                allowed_cidrs,
                rate_limit_per_minute,
                rate_limit_burst,
                owner,
            } => {
                let (scopes, app_scopes) = strongroom_core::parse_scope_names(&scopes)?;
                let owner_user_id = match owner {
                    Some(owner) => Some(services.identity.find_user(&owner).await?.id),
                    None => None,
                };
                let new = NewApiKey {
                    name,
                    scopes,
                    app_scopes,
                    expires_in_days,
                    allowed_cidrs,
                    rate_limit_per_minute,
                    rate_limit_burst,
                    owner_user_id,
                };
                let (record, issued) = api_keys.create(&new, &context).await?;
                println!("{}", issued.expose());
                eprintln!("API key {} ({}) created. It is shown only this once: store it now.", record.id, record.name);
            }
            ApiKeyCommand::List => {
                println!("{:<18} {:<24} {:<30} {:<8} {:>8}", "ID", "NAME", "SCOPES", "STATUS", "USES");
                for key in api_keys.list().await? {
                    let scopes: Vec<_> = key.scope_names().collect();
                    let status = if key.revoked_at.is_some() { "revoked" } else { "active" };
                    println!(
                        "{:<18} {:<24} {:<30} {:<8} {:>8}",
                        key.id,
                        key.name,
                        scopes.join(","),
                        status,
                        key.use_count
                    );
                }
            }
            ApiKeyCommand::Rotate { id, grace_seconds } => {
                let (record, issued) = api_keys.rotate(&id, grace_seconds, &context).await?;
                println!("{}", issued.expose());
                eprintln!(
                    "API key {} ({}) has a new secret, shown only this once; the old one works for {grace_seconds} s more.",
                    record.id, record.name
                );
            }
            ApiKeyCommand::Revoke { id } => {
                api_keys.revoke(&id, &context).await?;
                println!("API key {id} revoked");
            }
        }
        anyhow::Ok(())
    }
    .await;
    database.close().await;
    result
}
