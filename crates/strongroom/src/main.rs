//! `strongroom`: the one binary. Subcommands load the configuration, wire the
//! crates together and run.
//!
//! Exit codes: 0 success; 1 refused or failed (a broken profile rule, a held
//! data-dir lock, an unreachable database, a wrong root key); 2 unusable
//! command line or configuration file.

mod apikeys;
mod audit_cli;
mod backup;
mod data_dir;
mod doctor;
mod gauges;
mod healthcheck;
mod housekeeping_cli;
mod keys;
mod logging;
mod server;
mod users;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use strongroom_config::Config;

/// mimalloc instead of glibc's malloc: allocation and free were about 15 %
/// of a Tokio worker's samples on small transit requests (bench/README.md,
/// "Transit, 2026-12-02 (stop 13)"). Zeroizing secrets is unaffected: it
/// happens in their `Drop`, before the memory goes back to any allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Strongroom: keys, encryption, identity, authorization and audit for your applications.
#[derive(Debug, Parser)]
#[command(name = "strongroom", version, about)]
struct Cli {
    /// Configuration file (TOML). Without one, the embedded development
    /// defaults apply; `STRONGROOM_<SECTION>_<KEY>` variables override either.
    #[arg(long, global = true, env = "STRONGROOM_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP API (migrates the database first).
    Server,
    /// Check the configuration, database and root key; exit 1 if anything fails.
    Doctor,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Ask a running server's `/readyz` over loopback: exit 0 when it is
    /// ready, 1 when it is not or does not answer (the container health check).
    Healthcheck(healthcheck::HealthcheckArgs),
    /// Issue, list and revoke API keys for machines.
    Apikey {
        #[command(subcommand)]
        command: apikeys::ApiKeyCommand,
    },
    /// Manage the keyring: list, show, create, rotate, state, min-version.
    Key {
        #[command(subcommand)]
        command: keys::KeyCommand,
    },
    /// Create the first administrator of a new installation (refused once any user exists).
    Init {
        /// The administrator's login name.
        #[arg(long, default_value = "admin")]
        username: String,
        /// The administrator's e-mail address.
        #[arg(long, default_value = "admin@localhost.localdomain")]
        email: String,
        /// The password: from standard input or a file; without either, one is generated and printed once.
        #[command(flatten)]
        password: users::PasswordSource,
    },
    /// Manage users: create, list, lock, unlock, reset-password.
    User {
        #[command(subcommand)]
        command: users::UserCommand,
    },
    /// Print standard input with the personal data the built-in detectors find
    /// replaced by placeholders (`[PERSON]`, `[ORG]`, `[LOCATION]`, `[ADDRESS]`,
    /// `[EMAIL]`, `[PHONE]`, …): the rendition a `redacted` field gets.
    /// Offline; reads no configuration or data.
    Redact,
    /// Whole backups: create an encrypted archive of everything while the
    /// server serves, verify one, restore one into an empty installation
    /// (SQLite or PostgreSQL, either way).
    Backup {
        #[command(subcommand)]
        command: backup::BackupCommand,
    },
    /// Purge dead sessions, spent one-time tokens and finished key jobs now.
    Housekeeping {
        #[command(subcommand)]
        command: housekeeping_cli::HousekeepingCommand,
    },
    /// Export the audit log, or verify an export offline.
    Audit {
        #[command(subcommand)]
        command: audit_cli::AuditCommand,
    },
}

/// Buffered both ways: a line-buffered stdout would make a write per sentence.
fn redact_stdin() -> anyhow::Result<()> {
    use std::io::{BufRead, Write};
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    for line in std::io::stdin().lock().lines() {
        writeln!(out, "{}", strongroom_core::records::redact::redact(&line?))?;
    }
    out.flush()?;
    Ok(())
}

/// Keeps the process's memory out of core files and away from debuggers:
/// it holds unwrapped keys, decrypted fields and passwords being hashed.
/// The core-size limit (hard and soft) becomes 0, so no crash writes a core
/// file, and the process is marked not dumpable, so other processes of the
/// same user cannot attach with ptrace or read its memory through /proc.
/// Done first, before any secret is loaded, for every command.
fn keep_memory_private() {
    use rustix::process::{DumpableBehavior, Resource, Rlimit, set_dumpable_behavior, setrlimit};
    if let Err(error) = setrlimit(Resource::Core, Rlimit { current: Some(0), maximum: Some(0) }) {
        eprintln!("strongroom: warning: cannot turn core files off: {error}");
    }
    if let Err(error) = set_dumpable_behavior(DumpableBehavior::NotDumpable) {
        eprintln!("strongroom: warning: cannot mark the process not dumpable: {error}");
    }
}

fn main() -> ExitCode {
    keep_memory_private();
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref(), std::env::vars()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("strongroom: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("strongroom: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Server => runtime.block_on(server::run(config)),
        Command::Doctor => return runtime.block_on(doctor::run(&config, cli.config.as_deref())),
        Command::Migrate => runtime.block_on(server::migrate_only(config)),
        Command::Healthcheck(args) => runtime.block_on(healthcheck::run(&config, &args)),
        Command::Apikey { command } => runtime.block_on(apikeys::run(&config, command)),
        Command::Key { command } => runtime.block_on(keys::run(&config, command)),
        Command::Audit { command } => runtime.block_on(audit_cli::run(&config, command)),
        Command::Backup { command } => runtime.block_on(backup::run(&config, command)),
        Command::Housekeeping { command } => runtime.block_on(housekeeping_cli::run(&config, command)),
        Command::Init { username, email, password } => {
            runtime.block_on(users::init(&config, &username, &email, &password))
        }
        Command::User { command } => runtime.block_on(users::run(&config, command)),
        Command::Redact => redact_stdin(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("strongroom: {error:#}");
            ExitCode::FAILURE
        }
    }
}
