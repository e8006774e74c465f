//! `strongroom apikey …`: API keys for machines, from the command line, on the
//! server's database. The full key is printed once, at creation; afterwards
//! only its id exists outside the caller.

use anyhow::Context;
use clap::Subcommand;
use strongroom_config::Config;
use strongroom_core::Scope;

use crate::server::{cli_context, open_services};

/// API-key commands.
#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Issue a key; it is printed once and never again.
    Create {
        /// A label for operators (1-100 characters).
        #[arg(long)]
        name: String,
        /// A scope to grant (repeat for more): transit:use, transit:manage, keys:manage, audit:read.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Refuse the key after this many days (1-3650).
        #[arg(long)]
        expires_in_days: Option<u32>,
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
    let api_keys = services.api_keys;
    let context = cli_context();
    let result = async {
        match command {
            ApiKeyCommand::Create { name, scopes, expires_in_days } => {
                let scopes = scopes
                    .iter()
                    .map(|s| {
                        Scope::parse(s).with_context(|| {
                            let known: Vec<_> = Scope::ALL.iter().map(|s| s.as_str()).collect();
                            format!("unknown scope {s:?}; known: {}", known.join(", "))
                        })
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let (record, issued) = api_keys.create(&name, &scopes, expires_in_days, &context).await?;
                println!("{}", issued.expose());
                eprintln!("API key {} ({}) created. It is shown only this once: store it now.", record.id, record.name);
            }
            ApiKeyCommand::List => {
                println!("{:<18} {:<24} {:<30} {:<8} {:>8}", "ID", "NAME", "SCOPES", "STATUS", "USES");
                for key in api_keys.list().await? {
                    let scopes: Vec<_> = key.scopes.iter().map(|s| s.as_str()).collect();
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
