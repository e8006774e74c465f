//! `strongroom housekeeping run`: one purge now, beside a running server or
//! instead of its schedule, with the same settings and the same single
//! audited transaction (as `cli:<user>`).

use clap::Subcommand;
use strongroom_config::Config;

use crate::server::{cli_context, housekeeping, open_services};

/// Housekeeping commands.
#[derive(Debug, Subcommand)]
pub enum HousekeepingCommand {
    /// Purge dead sessions (with their refresh tokens), spent one-time
    /// tokens and finished key jobs past their retention, and failed-login
    /// counters past their window, until none is due; prints the counts.
    Run,
}

/// Runs `command`.
pub async fn run(config: &Config, command: HousekeepingCommand) -> anyhow::Result<()> {
    match command {
        HousekeepingCommand::Run => {
            let (database, services) = open_services(config).await?;
            let purge = housekeeping(config, &database, &services)?;
            let context = cli_context();
            let mut total = strongroom_core::housekeeping::PurgeCounts::default();
            let outcome = loop {
                match purge.run(&context).await {
                    Ok(purged) => {
                        total.add(&purged);
                        if !purged.hit(purge.settings().batch_size) {
                            break Ok(());
                        }
                    }
                    Err(error) => break Err(error),
                }
            };
            database.close().await;
            outcome?;
            println!(
                "purged {} sessions, {} refresh tokens, {} one-time tokens, {} key jobs, {} login throttles",
                total.sessions, total.refresh_tokens, total.one_time_tokens, total.jobs, total.login_throttles
            );
            Ok(())
        }
    }
}
