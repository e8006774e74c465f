//! `strongroom init` and `strongroom user …`: users from the command line, on
//! the server's database (the server may be running). Passwords come from
//! standard input or a file, never from the command line (where other users
//! see it in the process list); a generated one is printed once.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Args, Subcommand};
use strongroom_config::Config;
use strongroom_core::identity::{Grantor, NewPassword, NewUser, Role, UserRecord};
use zeroize::Zeroizing;

use crate::server::{cli_context, open_services, open_services_creating};

/// Where a password comes from.
#[derive(Debug, Args)]
pub struct PasswordSource {
    /// Read the password from the first line of standard input.
    #[arg(long, conflicts_with = "password_file")]
    password_stdin: bool,
    /// Read the password from the first line of this file.
    #[arg(long)]
    password_file: Option<PathBuf>,
}

impl PasswordSource {
    /// The password given, if any.
    fn read(&self) -> anyhow::Result<Option<Zeroizing<String>>> {
        let text = if self.password_stdin {
            let mut text = Zeroizing::new(String::new());
            std::io::stdin().read_to_string(&mut text).context("cannot read the password from standard input")?;
            text
        } else if let Some(file) = &self.password_file {
            Zeroizing::new(std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?)
        } else {
            return Ok(None);
        };
        let line = Zeroizing::new(text.lines().next().unwrap_or_default().to_owned());
        if line.is_empty() {
            bail!("the password given is empty");
        }
        Ok(Some(line))
    }
}

/// User commands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Create {
        /// Login name.
        #[arg(long)]
        username: String,
        /// E-mail address.
        #[arg(long)]
        email: String,
        /// Full name.
        #[arg(long, default_value = "")]
        full_name: String,
        /// A role (repeat for more): reader, analyst, admin, system.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        #[command(flatten)]
        password: PasswordSource,
        /// Import a password hash instead ($argon2id$… or bcrypt $2b$…) from this file's first line.
        #[arg(long, conflicts_with_all = ["password_stdin", "password_file"])]
        password_hash_file: Option<PathBuf>,
    },
    /// List users.
    List,
    /// Lock a user: no login, every session ends.
    Lock {
        /// Username or id.
        user: String,
        /// Why (kept in the audit log).
        #[arg(long, default_value = "locked by an operator")]
        reason: String,
    },
    /// Unlock a user and forget their failed logins.
    Unlock {
        /// Username or id.
        user: String,
    },
    /// Issue a single-use password-reset token (printed once) for `POST /v1/auth/reset-password`.
    ResetPassword {
        /// Username or id.
        user: String,
    },
}

fn parse_roles(names: &[String]) -> anyhow::Result<Vec<Role>> {
    names
        .iter()
        .map(|name| {
            Role::parse(name).with_context(|| {
                format!("no role {name:?}: reader, analyst, admin, system or one defined in /v1/roles or [authz.roles]")
            })
        })
        .collect()
}

fn generated_password() -> anyhow::Result<Zeroizing<String>> {
    Ok(Zeroizing::new(URL_SAFE_NO_PAD.encode(strongroom_crypto::random_bytes::<18>()?)))
}

fn read_first_line(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text.lines().next().unwrap_or_default().trim().to_owned())
}

fn print_user(user: &UserRecord) {
    let roles: Vec<_> = user.roles.iter().map(|r| r.as_str()).collect();
    println!("{:<34} {:<24} {:<18} {}", user.id, user.username, roles.join(","), status(user));
}

fn status(user: &UserRecord) -> &'static str {
    match (user.disabled, user.locked) {
        (true, _) => "disabled",
        (false, true) => "locked",
        (false, false) => "active",
    }
}

/// `strongroom init`: the first admin of a new installation; refuses when
/// any user exists.
pub async fn init(config: &Config, username: &str, email: &str, password: &PasswordSource) -> anyhow::Result<()> {
    // A new installation is created as a server's first start would; an
    // existing one (a server may be running on it) is opened as other commands do.
    let fresh = crate::server::is_new_installation(config).await?;
    let (database, services) =
        if fresh { open_services_creating(config).await? } else { open_services(config).await? };
    let result = async {
        if services.identity.any_user().await? {
            bail!("this installation has users already: `strongroom init` runs once; use `strongroom user create`");
        }
        let (password, generated) = match password.read()? {
            Some(password) => (password, false),
            None => (generated_password()?, true),
        };
        let new = NewUser {
            username: username.to_owned(),
            email: email.to_owned(),
            full_name: "Administrator".into(),
            roles: vec![Role::Admin],
            password: NewPassword::Plain(password.clone()),
        };
        let user = services.identity.create_user(new, &Grantor::Operator, &cli_context()).await?;
        println!("created the first administrator {:?} ({})", user.username, user.id);
        let collections = services.records.ensure_templates(&cli_context()).await?;
        if !collections.is_empty() {
            println!("created the built-in collections: {}", collections.join(", "));
        }
        if generated {
            println!("password (shown once, store it now): {}", password.as_str());
        }
        anyhow::Ok(())
    }
    .await;
    database.close().await;
    result
}

/// Runs a user command.
pub async fn run(config: &Config, command: UserCommand) -> anyhow::Result<()> {
    let (database, services) = open_services(config).await?;
    let identity = &services.identity;
    let context = cli_context();
    // The command line on the server's own machine is the operator.
    let operator = &Grantor::Operator;
    let result = async {
        match command {
            UserCommand::Create { username, email, full_name, roles, password, password_hash_file } => {
                let roles = parse_roles(&roles)?;
                services.authz.check_roles_exist(&roles)?;
                let (password, generated) = match (password.read()?, password_hash_file) {
                    (_, Some(file)) => (NewPassword::ImportedHash(read_first_line(&file)?), None),
                    (Some(password), None) => (NewPassword::Plain(password), None),
                    (None, None) if roles == [Role::System] => (NewPassword::None, None),
                    (None, None) => {
                        let password = generated_password()?;
                        (NewPassword::Plain(password.clone()), Some(password))
                    }
                };
                let user = identity
                    .create_user(NewUser { username, email, full_name, roles, password }, operator, &context)
                    .await?;
                print_user(&user);
                if let Some(password) = generated {
                    println!("password (shown once, store it now): {}", password.as_str());
                }
            }
            UserCommand::List => {
                println!("{:<34} {:<24} {:<18} STATUS", "ID", "USERNAME", "ROLES");
                for user in identity.users().await? {
                    print_user(&user);
                }
            }
            UserCommand::Lock { user, reason } => {
                let user = identity.find_user(&user).await?;
                print_user(&identity.lock(&user.id, &reason, operator, &context).await?);
            }
            UserCommand::Unlock { user } => {
                let user = identity.find_user(&user).await?;
                print_user(&identity.unlock(&user.id, operator, &context).await?);
            }
            UserCommand::ResetPassword { user } => {
                let user = identity.find_user(&user).await?;
                let (token, expires_at) = identity.issue_password_reset(&user.id, operator, &context).await?;
                println!("{}", token.expose());
                eprintln!(
                    "reset token for {:?}, single use, valid until {} (Unix seconds): POST /v1/auth/reset-password",
                    user.username, expires_at
                );
            }
        }
        anyhow::Ok(())
    }
    .await;
    database.close().await;
    result
}
