//! `strongroom key …`: the keyring from the command line, working directly on
//! the server's database (the server may be running). Key material is never
//! printed; destroying a key asks for `--yes` because it cannot be undone.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use strongroom_config::Config;
use strongroom_core::{KeyAlgorithm, KeyInfo, KeyPurpose, KeySpec, KeyState};
use zeroize::Zeroizing;

use crate::server::{cli_context, open_services};

/// Keyring commands.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// List every key with its state and versions.
    List,
    /// Show one key.
    Show {
        /// Key name.
        name: String,
    },
    /// Create a key (version 1).
    Create {
        /// Key name: 1-128 of a-z 0-9 . _ -
        name: String,
        /// matter_data, jwt_signing, audit_signing, token_hmac, blind_index_hmac, api_key_hash, transit.
        #[arg(long, default_value = "transit")]
        purpose: String,
        /// aes256-gcm96, ed25519 or hmac-sha256 (default: the purpose's).
        #[arg(long)]
        algorithm: Option<String>,
        /// Rotate automatically after this long: 3600s, 12h, 30d.
        #[arg(long, value_name = "DURATION")]
        rotation_period: Option<String>,
        /// Allow deleting the key later (deleting makes its data unreadable).
        #[arg(long)]
        allow_deletion: bool,
    },
    /// Add a new version; old versions keep decrypting.
    Rotate {
        /// Key name.
        name: String,
    },
    /// Change the state: active, decrypt_only, disabled, compromised, destroyed.
    State {
        /// Key name.
        name: String,
        /// The new state.
        state: String,
        /// Why (at least 20 characters): key changes are accountable.
        #[arg(long)]
        justification: String,
        /// Confirms `destroyed`, which erases the material for good.
        #[arg(long)]
        yes: bool,
    },
    /// Write every key, sealed under a backup passphrase, to a new file (0600).
    /// The passphrase comes from STRONGROOM_BACKUP_PASSPHRASE or --passphrase-file.
    Backup {
        /// The file to create (never overwritten).
        #[arg(long)]
        out: PathBuf,
        /// A file whose first line is the backup passphrase (at least 16 bytes).
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
    },
    /// Load a backup into this server's empty keyring, re-wrapped under its root key.
    Restore {
        /// The backup file.
        #[arg(long = "in")]
        input: PathBuf,
        /// A file whose first line is the backup passphrase.
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
    },
    /// Retire versions below VERSION from decryption.
    MinVersion {
        /// Key name.
        name: String,
        /// The lowest version that still decrypts.
        version: u32,
    },
}

/// Runs a key command and prints its result.
pub async fn run(config: &Config, command: KeyCommand) -> anyhow::Result<()> {
    let (database, services) = open_services(config).await?;
    let keyring = services.keyring;
    let context = cli_context();
    let result = async {
        match command {
            KeyCommand::List => {
                let keys = keyring.list().await?;
                println!(
                    "{:<32} {:<16} {:<13} {:<12} {:>6} {:>6}",
                    "NAME", "PURPOSE", "ALGORITHM", "STATE", "LATEST", "MIN"
                );
                for key in &keys {
                    println!(
                        "{:<32} {:<16} {:<13} {:<12} {:>6} {:>6}",
                        key.name,
                        key.purpose.as_str(),
                        key.algorithm.as_str(),
                        key.state.as_str(),
                        key.latest_version,
                        key.min_decryption_version
                    );
                }
                if keys.is_empty() {
                    println!("(no keys yet: strongroom key create NAME)");
                }
            }
            KeyCommand::Show { name } => print_key(&keyring.info(&name).await?),
            KeyCommand::Create { name, purpose, algorithm, rotation_period, allow_deletion } => {
                let purpose = KeyPurpose::parse(&purpose).with_context(|| format!("unknown purpose {purpose:?}"))?;
                let algorithm = algorithm
                    .map(|a| KeyAlgorithm::parse(&a).with_context(|| format!("unknown algorithm {a:?}")))
                    .transpose()?;
                let rotation_period_seconds = rotation_period.as_deref().map(parse_duration).transpose()?;
                let spec = KeySpec { purpose, algorithm, rotation_period_seconds, deletion_allowed: allow_deletion };
                print_key(&keyring.create(&name, spec, &context).await?);
            }
            KeyCommand::Rotate { name } => print_key(&keyring.rotate(&name, &context).await?),
            KeyCommand::State { name, state, justification, yes } => {
                let target = KeyState::parse(&state).with_context(|| format!("unknown state {state:?}"))?;
                if justification.trim().chars().count() < 20 {
                    bail!("--justification must be at least 20 characters: say why this key changes state");
                }
                if target == KeyState::Destroyed && !yes {
                    bail!("destroying key {name:?} makes everything it protected unreadable, for good; add --yes");
                }
                let info = keyring.set_state(&name, target, justification.trim(), &context).await?;
                eprintln!("key {name:?} is now {}: {}", target.as_str(), justification.trim());
                print_key(&info);
                if target == KeyState::Destroyed {
                    println!(
                        "key {name:?} destroyed: its material is erased and everything it protected is unreadable"
                    );
                }
            }
            KeyCommand::Backup { out, passphrase_file } => {
                let passphrase = backup_passphrase(passphrase_file.as_deref())?;
                let backup = keyring.export_backup(passphrase.as_bytes(), &context).await?;
                let mut file =
                    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&out).with_context(
                        || format!("cannot create {} (an existing file is never overwritten)", out.display()),
                    )?;
                file.write_all(&backup)?;
                file.sync_all()?;
                let count = keyring.list().await?.len();
                println!("backed up {count} key(s) to {}", out.display());
            }
            KeyCommand::Restore { input, passphrase_file } => {
                let passphrase = backup_passphrase(passphrase_file.as_deref())?;
                let backup = std::fs::read(&input).with_context(|| format!("cannot read {}", input.display()))?;
                let names = keyring.restore_backup(&backup, passphrase.as_bytes(), &context).await?;
                println!("restored {} key(s): {}", names.len(), names.join(", "));
            }
            KeyCommand::MinVersion { name, version } => {
                print_key(&keyring.set_min_decryption_version(&name, version, &context).await?)
            }
        }
        anyhow::Ok(())
    }
    .await;
    database.close().await;
    result
}

fn print_key(key: &KeyInfo) {
    println!("name:                   {}", key.name);
    println!("purpose:                {}", key.purpose.as_str());
    println!("algorithm:              {}", key.algorithm.as_str());
    println!("state:                  {}", key.state.as_str());
    println!("latest_version:         {}", key.latest_version);
    println!("min_decryption_version: {}", key.min_decryption_version);
    match key.rotation_period_seconds {
        Some(seconds) => println!("rotation_period:        {seconds}s"),
        None => println!("rotation_period:        none"),
    }
    println!("deletion_allowed:       {}", key.deletion_allowed);
}

/// The backup passphrase: from `--passphrase-file` (first line) or
/// STRONGROOM_BACKUP_PASSPHRASE; never from the command line, where other
/// users could read it in the process list.
fn backup_passphrase(file: Option<&Path>) -> anyhow::Result<Zeroizing<String>> {
    if let Some(file) = file {
        let text =
            Zeroizing::new(std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?);
        return Ok(Zeroizing::new(text.lines().next().unwrap_or_default().to_owned()));
    }
    match std::env::var("STRONGROOM_BACKUP_PASSPHRASE") {
        Ok(value) => Ok(Zeroizing::new(value)),
        Err(_) => bail!("give the backup passphrase in STRONGROOM_BACKUP_PASSPHRASE or with --passphrase-file"),
    }
}

/// `3600s`, `90m`, `12h`, `30d` or plain seconds.
fn parse_duration(text: &str) -> anyhow::Result<i64> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let value: i64 = number.parse().with_context(|| format!("{text:?} is not a duration such as 3600s, 12h or 30d"))?;
    let factor = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => bail!("{text:?}: the unit must be s, m, h or d"),
    };
    value.checked_mul(factor).context("duration too long")
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("3600").unwrap(), 3600);
        assert_eq!(parse_duration("12h").unwrap(), 43_200);
        assert_eq!(parse_duration("30d").unwrap(), 2_592_000);
        assert!(parse_duration("3w").is_err());
        assert!(parse_duration("h").is_err());
    }
}
