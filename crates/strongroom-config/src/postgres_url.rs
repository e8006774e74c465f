//! TLS to PostgreSQL: which `sslmode` and CA file are in effect, from the
//! settings and the URL, and whether the host is on this machine.
//!
//! Precedence: `database.tls_mode` and `database.tls_ca_file` and the URL's
//! own `sslmode` and `sslrootcert` may each be given; when both name one
//! thing they must agree (a contradiction is a failed check, not a silent
//! choice). When neither does, the default is `verify-full` for a host
//! beyond loopback and `prefer` for loopback or a Unix socket.
//!
//! The URL is parsed here only as far as those three things need (hosts,
//! `sslmode`, `sslrootcert`, `host`); the driver parses it in full.

use std::net::IpAddr;
use std::path::PathBuf;

use crate::{Config, DatabaseTlsMode};

/// The TLS in effect for a PostgreSQL URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseTls {
    /// The mode in effect.
    pub mode: DatabaseTlsMode,
    /// The CA file in effect, if any.
    pub ca_file: Option<PathBuf>,
    /// Whether every host the URL names is loopback or a Unix socket.
    pub local: bool,
    /// The hosts, for messages (never the URL, which may hold a password).
    pub hosts: Vec<String>,
}

impl Config {
    /// The TLS to PostgreSQL in effect; `None` on SQLite. `Err` says which
    /// setting contradicts the URL or cannot be read.
    pub fn database_tls(&self) -> Option<Result<DatabaseTls, String>> {
        let url = self.database_url();
        let rest = url.strip_prefix("postgres://").or_else(|| url.strip_prefix("postgresql://"))?;
        Some(self.resolve_tls(rest))
    }

    fn resolve_tls(&self, rest: &str) -> Result<DatabaseTls, String> {
        let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
        let authority = before_query.split('/').next().unwrap_or_default();
        let host_list = authority.rsplit_once('@').map_or(authority, |(_, hosts)| hosts);
        let mut hosts: Vec<String> = host_list.split(',').map(host_of).collect();
        let mut url_mode = None;
        let mut url_ca = None;
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value);
            match name {
                "sslmode" => {
                    url_mode = Some(value.parse::<DatabaseTlsMode>().map_err(|e| format!("database.url: {e}"))?)
                }
                "sslrootcert" => url_ca = Some(PathBuf::from(value)),
                "host" => hosts = value.split(',').map(str::to_owned).collect(),
                _ => {}
            }
        }
        let database = &self.database;
        let mode = match (database.tls_mode, url_mode) {
            (Some(set), Some(in_url)) if set != in_url => {
                return Err(format!(
                    "database.tls_mode is {} but database.url says sslmode={}: set one of them",
                    set.as_str(),
                    in_url.as_str()
                ));
            }
            (Some(mode), _) | (None, Some(mode)) => Some(mode),
            (None, None) => None,
        };
        let ca_file = match (&database.tls_ca_file, url_ca) {
            (Some(set), Some(in_url)) if *set != in_url => {
                return Err(format!(
                    "database.tls_ca_file is {} but database.url says sslrootcert={}: set one of them",
                    set.display(),
                    in_url.display()
                ));
            }
            (Some(file), _) => Some(file.clone()),
            (None, in_url) => in_url,
        };
        let local = hosts.iter().all(|host| is_local(host));
        let mode = mode.unwrap_or(if local { DatabaseTlsMode::Prefer } else { DatabaseTlsMode::VerifyFull });
        Ok(DatabaseTls { mode, ca_file, local, hosts })
    }
}

/// The host of one `host[:port]` of the authority, brackets of IPv6 removed.
fn host_of(entry: &str) -> String {
    let entry = percent_decode(entry);
    if let Some(inner) = entry.strip_prefix('[') {
        return inner.split(']').next().unwrap_or_default().to_owned();
    }
    entry.split(':').next().unwrap_or_default().to_owned()
}

/// Loopback addresses, `localhost` and Unix sockets (a path, or no host at all).
fn is_local(host: &str) -> bool {
    host.is_empty()
        || host.starts_with('/')
        || host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `%2F` and the like; a malformed escape stays as it is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SecretString;

    fn tls(url: &str, mode: Option<DatabaseTlsMode>, ca: Option<&str>) -> Result<DatabaseTls, String> {
        let mut config = Config::default();
        config.database.url = Some(SecretString::new(url.into()));
        config.database.tls_mode = mode;
        config.database.tls_ca_file = ca.map(PathBuf::from);
        config.database_tls().expect("a PostgreSQL URL")
    }

    #[test]
    fn defaults_verify_full_beyond_loopback_and_prefer_on_it() {
        let remote = tls("postgres://app:pw@db.example:5432/strongroom", None, None).unwrap();
        assert_eq!((remote.mode, remote.local), (DatabaseTlsMode::VerifyFull, false));
        assert_eq!(remote.hosts, ["db.example"]);
        for url in [
            "postgres://postgres@127.0.0.1:5432/test",
            "postgresql://u@localhost/db",
            "postgres://u@[::1]:5433/db",
            "postgres:///db?host=%2Fvar%2Frun%2Fpostgresql",
        ] {
            let local = tls(url, None, None).unwrap();
            assert_eq!((local.mode, local.local), (DatabaseTlsMode::Prefer, true), "{url}");
        }
        assert!(Config::default().database_tls().is_none(), "SQLite has no TLS");
    }

    #[test]
    fn the_url_and_the_settings_combine_and_must_agree() {
        let from_url = tls("postgres://u@db/x?sslmode=require&sslrootcert=/etc/ca.pem", None, None).unwrap();
        assert_eq!(from_url.mode, DatabaseTlsMode::Require);
        assert_eq!(from_url.ca_file, Some(PathBuf::from("/etc/ca.pem")));
        let from_settings = tls("postgres://u@db/x", Some(DatabaseTlsMode::VerifyCa), Some("/ca.pem")).unwrap();
        assert_eq!((from_settings.mode, from_settings.ca_file), (DatabaseTlsMode::VerifyCa, Some("/ca.pem".into())));
        let same = tls("postgres://u@db/x?sslmode=verify-full", Some(DatabaseTlsMode::VerifyFull), None);
        assert_eq!(same.unwrap().mode, DatabaseTlsMode::VerifyFull);
    }

    #[test]
    fn fail_contradicting_or_unknown_modes_without_echoing_the_url() {
        let contradiction =
            tls("postgres://u:hunter2@db/x?sslmode=disable", Some(DatabaseTlsMode::VerifyFull), None).unwrap_err();
        assert!(contradiction.contains("sslmode=disable") && !contradiction.contains("hunter2"), "{contradiction}");
        let other_ca = tls("postgres://u@db/x?sslrootcert=a.pem", None, Some("b.pem")).unwrap_err();
        assert!(other_ca.contains("a.pem") && other_ca.contains("b.pem"), "{other_ca}");
        let unknown = tls("postgres://u:hunter2@db/x?sslmode=allow", None, None).unwrap_err();
        assert!(unknown.contains("allow") && !unknown.contains("hunter2"), "{unknown}");
    }
}
