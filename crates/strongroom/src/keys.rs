//! `strongroom key …`: the keyring from the command line, working directly on
//! the server's database (the server may be running). Key material is never
//! printed; destroying a key asks for `--yes` because it cannot be undone.
//! A rotation or a compromise of a matter key starts a job: the command
//! follows it with a progress bar, running it itself unless a server already
//! does (`--no-wait` returns at once; `strongroom key job ID` follows later,
//! and resumes a job whose process died).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use strongroom_config::Config;
use strongroom_core::{Job, JobState, Jobs, KeyAlgorithm, KeyInfo, KeyPurpose, KeyReport, KeySpec, KeyState};
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
    /// Add a new version; old versions keep decrypting. For a matter key,
    /// its records' data keys are then resealed under the new version (a job).
    Rotate {
        /// Key name.
        name: String,
        /// Start the job and return; `strongroom key job ID` follows it.
        #[arg(long)]
        no_wait: bool,
    },
    /// Reseal a matter key's data keys under its latest version (a job).
    Rewrap {
        /// Key name.
        name: String,
        /// Start the job and return.
        #[arg(long)]
        no_wait: bool,
    },
    /// Follow a key job to its end with a progress bar, running it here
    /// unless another process does.
    Job {
        /// The job id (`job_…`).
        id: String,
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
        /// For `compromised`: start the re-encryption job and return.
        #[arg(long)]
        no_wait: bool,
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
    let jobs = services.jobs;
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
            KeyCommand::Show { name } => print_report(&jobs.key_report(&name).await?),
            KeyCommand::Create { name, purpose, algorithm, rotation_period, allow_deletion } => {
                let purpose = KeyPurpose::parse(&purpose).with_context(|| format!("unknown purpose {purpose:?}"))?;
                let algorithm = algorithm
                    .map(|a| KeyAlgorithm::parse(&a).with_context(|| format!("unknown algorithm {a:?}")))
                    .transpose()?;
                let rotation_period_seconds = rotation_period.as_deref().map(parse_duration).transpose()?;
                let spec = KeySpec { purpose, algorithm, rotation_period_seconds, deletion_allowed: allow_deletion };
                print_key(&keyring.create(&name, spec, &context).await?);
            }
            KeyCommand::Rotate { name, no_wait } => {
                let (info, job) = jobs.rotate_key(&name, &context).await?;
                print_key(&info);
                if let Some(job) = job {
                    run_job(&jobs, job, no_wait).await?;
                }
            }
            KeyCommand::Rewrap { name, no_wait } => {
                run_job(&jobs, jobs.rewrap_key(&name, &context).await?, no_wait).await?
            }
            KeyCommand::Job { id } => {
                let job = jobs.job(&id).await?;
                run_job(&jobs, job, false).await?;
            }
            KeyCommand::State { name, state, justification, yes, no_wait } => {
                let target = KeyState::parse(&state).with_context(|| format!("unknown state {state:?}"))?;
                if justification.trim().chars().count() < 20 {
                    bail!("--justification must be at least 20 characters: say why this key changes state");
                }
                if target == KeyState::Destroyed && !yes {
                    bail!("destroying key {name:?} makes everything it protected unreadable, for good; add --yes");
                }
                let change = jobs.set_key_state(&name, target, justification.trim(), &context).await?;
                eprintln!("key {name:?} is now {}: {}", target.as_str(), justification.trim());
                print_key(&change.info);
                if let Some((data_keys, ciphertexts)) = change.shredded {
                    println!(
                        "key {name:?} destroyed: its material is erased and everything it protected is unreadable \
                         ({data_keys} record data keys, {ciphertexts} sealed values and blobs)"
                    );
                }
                if let Some(job) = change.job {
                    run_job(&jobs, job, no_wait).await?;
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

fn print_report(report: &KeyReport) {
    print_key(&report.info);
    println!("census:                 {}", report.census);
    println!("{:>8} {:>12} {:>12} {:>12}", "VERSION", "CREATED", "DATA KEYS", "CIPHERTEXTS");
    for version in &report.versions {
        let (keys, values) = match version.census {
            Some(c) => (c.data_keys.to_string(), c.ciphertexts.to_string()),
            None => ("-".into(), "-".into()),
        };
        println!("{:>8} {:>12} {keys:>12} {values:>12}", version.version, version.created_at);
    }
    for job in &report.jobs {
        println!(
            "job {} {} {}: {}/{} {}",
            job.id,
            job.kind.as_str(),
            job.target,
            job.done,
            job.total,
            job.state.as_str()
        );
    }
}

/// One line of progress: `[#####.....]  50%  5/10 records  rewrap job_…`.
fn progress_line(job: &Job) -> String {
    let percent = job.percent();
    let filled = usize::from(percent / 5);
    format!(
        "[{}{}] {percent:>3}%  {}/{} records  {} {}",
        "#".repeat(filled),
        ".".repeat(20 - filled),
        job.done.min(job.total),
        job.total,
        job.kind.as_str(),
        job.id
    )
}

/// Follows `job` to its end with a progress bar on standard error, running
/// it in this process whenever no other process holds it (a server, or a
/// command that died: its lease lapses). With `no_wait`, only says how to
/// follow it.
async fn run_job(jobs: &std::sync::Arc<Jobs>, job: Job, no_wait: bool) -> anyhow::Result<()> {
    println!("job {} ({} of {} record data keys under {}) started", job.id, job.kind.as_str(), job.total, job.key_name);
    if no_wait {
        println!("follow it with: strongroom key job {}", job.id);
        return Ok(());
    }
    let runner = {
        let (jobs, id) = (std::sync::Arc::clone(jobs), job.id.clone());
        tokio::spawn(async move {
            loop {
                match jobs.run_next(Some(&id)).await {
                    Ok(Some(job)) if job.state != JobState::Running => return,
                    Ok(_) => tokio::time::sleep(std::time::Duration::from_secs(1)).await,
                    Err(error) => {
                        eprintln!("\nthe job paused: {error}; retrying");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
            }
        })
    };
    let finished = loop {
        let current = jobs.job(&job.id).await?;
        eprint!("\r{}", progress_line(&current));
        if current.state != JobState::Running {
            eprintln!();
            break current;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    runner.abort();
    match finished.state {
        JobState::Failed => bail!(
            "job {} failed after {} of {} records: {}",
            finished.id,
            finished.done,
            finished.total,
            finished.error.unwrap_or_default()
        ),
        _ => {
            println!("job {} done: {} record(s) moved off {}", finished.id, finished.done, finished.key_name);
            Ok(())
        }
    }
}

/// The backup passphrase: from `--passphrase-file` (first line) or
/// STRONGROOM_BACKUP_PASSPHRASE; never from the command line, where other
/// users could read it in the process list.
pub(crate) fn backup_passphrase(file: Option<&Path>) -> anyhow::Result<Zeroizing<String>> {
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
