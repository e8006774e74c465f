//! The rules each profile imposes. [`Config::checks`] evaluates all of them;
//! `strongroom server` refuses to start on any [`Outcome::Fail`] and
//! `strongroom doctor` prints every outcome with its reason.
//!
//! How strict each rule is per profile is a table in `docs/configuration.md`;
//! keep the two in step.

use std::net::SocketAddr;
use std::path::Path;

use crate::{Config, Profile};

/// The longest `database.cache_refresh_ms`: how late, at worst, another
/// instance's revocation may take effect here.
const MAX_CACHE_REFRESH_MS: u64 = 10_000;

/// The result of one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The rule holds; the text says how.
    Pass(String),
    /// Acceptable in this profile but would fail in a stricter one.
    Warn(String),
    /// Contradicts the profile: the server will not start.
    Fail(String),
}

/// One evaluated rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The key or subject the rule is about, e.g. `root_key.provider`.
    pub name: &'static str,
    /// What was found.
    pub outcome: Outcome,
}

impl Check {
    /// Whether the server may start with this outcome.
    pub fn is_failure(&self) -> bool {
        matches!(self.outcome, Outcome::Fail(_))
    }
}

/// A rule broken in production: fails in production/high_security, warns in
/// staging and passes (with the reason) in development.
pub(crate) fn production_rule(profile: Profile, ok: bool, pass: String, problem: String) -> Outcome {
    match (ok, profile) {
        (true, _) => Outcome::Pass(pass),
        (false, Profile::Production | Profile::HighSecurity) => Outcome::Fail(problem),
        (false, Profile::Staging) => Outcome::Warn(problem),
        (false, Profile::Development) => Outcome::Pass(format!("{problem} (allowed in development)")),
    }
}

impl Config {
    /// Evaluates every rule of the profile against this configuration and the
    /// file system (data dir permissions, TLS files).
    pub fn checks(&self) -> Vec<Check> {
        vec![
            Check { name: "profile", outcome: Outcome::Pass(format!("profile is {}", self.profile.as_str())) },
            self.check_listen(),
            self.check_tls(),
            self.check_http_redirect(),
            self.check_root_key(),
            self.check_data_dir(),
            self.check_database(),
            self.check_database_tls(),
            self.check_log_level(),
            self.check_limits(),
        ]
    }

    fn check_listen(&self) -> Check {
        let outcome = match self.server.listen.parse::<SocketAddr>() {
            Err(_) => Outcome::Fail(format!(
                "server.listen = {:?} is not an IP address and port such as 127.0.0.1:8080",
                self.server.listen
            )),
            Ok(addr) if !addr.ip().is_loopback() && !self.tls_enabled() && self.server.trusted_proxy.is_empty() => {
                let problem = format!("listening on {addr} beyond loopback over plain HTTP");
                match self.profile {
                    Profile::Development => Outcome::Warn(problem),
                    _ => Outcome::Pass(format!("listening on {addr}; TLS is judged by server.tls")),
                }
            }
            Ok(addr) => Outcome::Pass(format!("listening on {addr}")),
        };
        Check { name: "server.listen", outcome }
    }

    fn check_tls(&self) -> Check {
        let server = &self.server;
        let outcome = match (&server.tls_cert_file, &server.tls_key_file) {
            (Some(_), None) | (None, Some(_)) => {
                Outcome::Fail("server.tls_cert_file and server.tls_key_file must be set together".into())
            }
            (Some(cert), Some(key)) => match [cert, key].into_iter().find(|p| !p.is_file()) {
                Some(missing) => Outcome::Fail(format!("TLS file {} does not exist", missing.display())),
                None => Outcome::Pass("the listener terminates TLS 1.3".into()),
            },
            (None, None) => production_rule(
                self.profile,
                !server.trusted_proxy.is_empty(),
                format!(
                    "plain HTTP behind trusted proxy {} that terminates TLS",
                    server.trusted_proxy.join(", ")
                ),
                "no TLS: set server.tls_cert_file and server.tls_key_file, or server.trusted_proxy when a proxy terminates TLS".into(),
            ),
        };
        Check { name: "server.tls", outcome }
    }

    fn check_http_redirect(&self) -> Check {
        let outcome = match &self.server.http_redirect_listen {
            None => Outcome::Pass("no plain-HTTP redirect listener".into()),
            Some(listen) => match listen.parse::<SocketAddr>() {
                Err(_) => Outcome::Fail(format!(
                    "server.http_redirect_listen = {listen:?} is not an IP address and port such as 0.0.0.0:80"
                )),
                Ok(_) if !self.tls_enabled() => Outcome::Fail(
                    "server.http_redirect_listen redirects to this server's HTTPS listener: \
                     set server.tls_cert_file and server.tls_key_file too"
                        .into(),
                ),
                Ok(addr) => Outcome::Pass(format!("plain HTTP on {addr} only redirects to HTTPS")),
            },
        };
        Check { name: "server.http_redirect_listen", outcome }
    }

    fn check_root_key(&self) -> Check {
        Check { name: "root_key.provider", outcome: self.root_key.check(self.profile, &self.data_dir) }
    }

    fn check_data_dir(&self) -> Check {
        let outcome = match data_dir_mode(&self.data_dir) {
            None => Outcome::Pass(format!("{} will be created with mode 0700", self.data_dir.display())),
            Some(Err(problem)) => Outcome::Fail(problem),
            Some(Ok(mode)) if mode & 0o077 != 0 => {
                let problem = format!(
                    "data dir {} has mode {:04o}: group or others can read it (chmod 700)",
                    self.data_dir.display(),
                    mode & 0o7777
                );
                match self.profile {
                    Profile::Development => Outcome::Warn(problem),
                    _ => Outcome::Fail(problem),
                }
            }
            Some(Ok(mode)) => Outcome::Pass(format!("{} has mode {:04o}", self.data_dir.display(), mode & 0o7777)),
        };
        Check { name: "data_dir", outcome }
    }

    fn check_database(&self) -> Check {
        let url = self.database_url();
        let outcome = if url.starts_with("sqlite:") {
            Outcome::Pass("SQLite (single instance)".into())
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Outcome::Pass("PostgreSQL".into())
        } else {
            // The URL itself may hold a password: name only its scheme.
            let scheme = url.split(':').next().unwrap_or_default();
            Outcome::Fail(format!("database.url has scheme {scheme:?}; expected sqlite://PATH or postgres://…"))
        };
        Check { name: "database.url", outcome }
    }

    fn check_database_tls(&self) -> Check {
        let outcome = match self.database_tls() {
            None => Outcome::Pass("SQLite: no connection to protect".into()),
            Some(Err(problem)) => Outcome::Fail(problem),
            Some(Ok(tls)) => match &tls.ca_file {
                Some(file) if !file.is_file() => {
                    Outcome::Fail(format!("database.tls_ca_file {} does not exist", file.display()))
                }
                _ if tls.local => Outcome::Pass(format!(
                    "PostgreSQL on this machine ({}), sslmode {}",
                    tls.hosts.join(", "),
                    tls.mode.as_str()
                )),
                _ if !tls.mode.always_encrypts() => production_rule(
                    self.profile,
                    false,
                    String::new(),
                    format!(
                        "sslmode {} to {} beyond loopback may send the database password and data unencrypted: \
                         set database.tls_mode = \"verify-full\" and database.tls_ca_file",
                        tls.mode.as_str(),
                        tls.hosts.join(", ")
                    ),
                ),
                _ if tls.mode == crate::DatabaseTlsMode::Require && self.profile != Profile::Development => {
                    Outcome::Warn(format!(
                        "sslmode require encrypts the connection to {} but does not check who answers: \
                         prefer verify-full with database.tls_ca_file",
                        tls.hosts.join(", ")
                    ))
                }
                _ => Outcome::Pass(format!(
                    "TLS to {} with sslmode {}{}",
                    tls.hosts.join(", "),
                    tls.mode.as_str(),
                    tls.ca_file.as_ref().map(|f| format!(", CA {}", f.display())).unwrap_or_default()
                )),
            },
        };
        Check { name: "database.tls", outcome }
    }

    fn check_log_level(&self) -> Check {
        let level = self.log.level.to_ascii_lowercase();
        let verbose = level.contains("debug") || level.contains("trace");
        let outcome = production_rule(
            self.profile,
            !verbose,
            format!("log level {}", self.log.level),
            format!(
                "log.level = {:?} enables debug logging, where dependencies may log request details",
                self.log.level
            ),
        );
        Check { name: "log.level", outcome }
    }

    fn check_limits(&self) -> Check {
        let server = &self.server;
        let outcome = if server.body_limit_bytes == 0
            || server.request_timeout_seconds == 0
            || server.header_read_timeout_seconds == 0
        {
            Outcome::Fail("server.body_limit_bytes, server.request_timeout_seconds and server.header_read_timeout_seconds must be above 0".into())
        } else if self.database.max_connections == 0 {
            Outcome::Fail("database.max_connections must be above 0".into())
        } else if self.database.cache_refresh_ms > MAX_CACHE_REFRESH_MS {
            Outcome::Fail(format!(
                "database.cache_refresh_ms above {MAX_CACHE_REFRESH_MS} would let a key disabled or an API key \
                 revoked elsewhere keep working here for that long"
            ))
        } else {
            Outcome::Pass(format!(
                "bodies up to {} bytes, requests up to {} s",
                server.body_limit_bytes, server.request_timeout_seconds
            ))
        };
        Check { name: "server.limits", outcome }
    }
}

/// The permission bits of an existing data dir; `None` if it does not exist yet.
fn data_dir_mode(path: &Path) -> Option<Result<u32, String>> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => Some(Err(format!("cannot inspect data dir {}: {e}", path.display()))),
        Ok(meta) if !meta.is_dir() => Some(Err(format!("data dir {} is not a directory", path.display()))),
        Ok(meta) => Some(Ok(meta.permissions().mode())),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn failures(config: &Config) -> Vec<&'static str> {
        config.checks().into_iter().filter(Check::is_failure).map(|c| c.name).collect()
    }

    fn private_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        dir
    }

    #[test]
    fn development_defaults_pass() {
        let dir = private_dir();
        let config = Config { data_dir: dir.path().into(), ..Config::default() };
        assert_eq!(failures(&config), Vec::<&str>::new());
    }

    #[test]
    fn production_refuses_local_root_key_plain_http_and_debug_logs() {
        let dir = private_dir();
        let mut config = Config { profile: Profile::Production, data_dir: dir.path().into(), ..Config::default() };
        config.log.level = "strongroom=debug".into();
        assert_eq!(failures(&config), vec!["server.tls", "root_key.provider", "log.level"]);
    }

    /// A production configuration that passes: a passphrase root key and a
    /// trusted proxy terminating TLS, with its data in `dir`.
    fn passing_production(dir: &tempfile::TempDir) -> Config {
        let mut config = Config { profile: Profile::Production, data_dir: dir.path().into(), ..Config::default() };
        config.root_key = crate::RootKeyConfig::Passphrase(crate::PassphraseRootKey {
            passphrase: Some(crate::SecretString::new("a long enough passphrase".into())),
            passphrase_file: None,
        });
        config.server.trusted_proxy = vec!["10.0.0.1".into()];
        config
    }

    #[test]
    fn production_passes_with_passphrase_and_trusted_proxy() {
        let dir = private_dir();
        assert_eq!(failures(&passing_production(&dir)), Vec::<&str>::new());
    }

    #[test]
    fn staging_warns_where_production_fails() {
        let dir = private_dir();
        let config = Config { profile: Profile::Staging, data_dir: dir.path().into(), ..Config::default() };
        assert_eq!(failures(&config), Vec::<&str>::new());
        let warnings = config.checks().into_iter().filter(|c| matches!(c.outcome, Outcome::Warn(_))).count();
        assert_eq!(warnings, 2);
    }

    #[test]
    fn fail_group_readable_data_dir_outside_development() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o750)).unwrap();
        let config = Config { profile: Profile::Staging, data_dir: dir.path().into(), ..Config::default() };
        assert_eq!(failures(&config), vec!["data_dir"]);
        let dev = Config { data_dir: dir.path().into(), ..Config::default() };
        assert_eq!(failures(&dev), Vec::<&str>::new());
    }

    #[test]
    fn fail_half_configured_tls_and_bad_listen_address() {
        let mut config = Config::default();
        config.server.tls_cert_file = Some("cert.pem".into());
        config.server.listen = "localhost".into();
        let failed = failures(&config);
        assert!(failed.contains(&"server.tls") && failed.contains(&"server.listen"), "{failed:?}");
    }

    #[test]
    fn production_refuses_unencrypted_postgres_beyond_loopback_only() {
        let dir = private_dir();
        let config = passing_production(&dir);
        let with_url = |url: &str, mode| {
            let mut config = config.clone();
            config.database.url = Some(crate::SecretString::new(url.into()));
            config.database.tls_mode = mode;
            config
        };
        use crate::DatabaseTlsMode::{Disable, Prefer, Require, VerifyFull};
        for (url, mode) in
            [("postgres://u@db.example/x?sslmode=disable", None), ("postgres://u@10.0.0.5/x", Some(Prefer))]
        {
            assert_eq!(failures(&with_url(url, mode)), vec!["database.tls"], "{url} {mode:?}");
        }
        let staging = Config { profile: Profile::Staging, ..with_url("postgres://u@db.example/x", Some(Disable)) };
        assert_eq!(failures(&staging), Vec::<&str>::new());
        // Loopback needs no TLS; the default beyond it is verify-full.
        assert_eq!(failures(&with_url("postgres://u@127.0.0.1/x?sslmode=disable", None)), Vec::<&str>::new());
        assert_eq!(failures(&with_url("postgres://u@db.example/x", None)), Vec::<&str>::new());
        let require = with_url("postgres://u@db.example/x", Some(Require));
        let check = require.checks().into_iter().find(|c| c.name == "database.tls").unwrap();
        assert!(matches!(check.outcome, Outcome::Warn(_)), "{check:?}");
        let contradiction = with_url("postgres://u@db.example/x?sslmode=require", Some(VerifyFull));
        assert_eq!(failures(&contradiction), vec!["database.tls"]);
        let mut missing_ca = with_url("postgres://u@db.example/x", None);
        missing_ca.database.tls_ca_file = Some(dir.path().join("no-such-ca.pem"));
        assert_eq!(failures(&missing_ca), vec!["database.tls"]);
    }

    #[test]
    fn fail_redirect_listener_without_tls() {
        let mut config = Config::default();
        config.server.http_redirect_listen = Some("127.0.0.1:0".into());
        assert!(failures(&config).contains(&"server.http_redirect_listen"));
        config.server.http_redirect_listen = Some("port 80".into());
        assert!(failures(&config).contains(&"server.http_redirect_listen"));
    }

    #[test]
    fn fail_unknown_database_scheme_without_echoing_the_url() {
        let mut config = Config::default();
        config.database.url = Some(crate::SecretString::new("mysql://root:hunter2@db/x".into()));
        let check = config.checks().into_iter().find(|c| c.name == "database.url").unwrap();
        let Outcome::Fail(text) = check.outcome else { panic!("expected a failure") };
        assert!(text.contains("mysql") && !text.contains("hunter2"));
    }
}
