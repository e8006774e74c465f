//! Environment overrides: `STRONGROOM_<SECTION>_<KEY>` sets `[section] key`,
//! `STRONGROOM_<KEY>` sets a top-level key. Values are typed by the key's
//! default: integers and booleans are parsed, lists are comma-separated,
//! everything else is a string.
//!
//! Variables that start with `STRONGROOM_` but match no section are left
//! alone (they may belong to tools such as the CLI client or the tests);
//! a variable that names a known section but an unknown key is an error.

use toml::{Table, Value};

use crate::{Config, ConfigError};

const PREFIX: &str = "STRONGROOM_";

/// Every key, by section (`""` for top-level keys). The single list from which
/// environment names are resolved; a test keeps it equal to the schema.
pub(crate) const KEYS: &[(&str, &[&str])] = &[
    ("", &["profile", "data_dir"]),
    (
        "server",
        &[
            "listen",
            "tls_cert_file",
            "tls_key_file",
            "http_redirect_listen",
            "trusted_proxy",
            "public_origin",
            "body_limit_bytes",
            "request_timeout_seconds",
            "header_read_timeout_seconds",
            "shutdown_grace_seconds",
        ],
    ),
    ("database", &["url", "max_connections", "cache_refresh_ms", "tls_mode", "tls_ca_file"]),
    ("root_key", crate::root_key::KEYS),
    ("log", &["level", "format"]),
    ("metrics", &["listen", "token", "token_file"]),
    (
        "audit",
        &[
            "origin",
            "checkpoint_interval_seconds",
            "verify_interval_seconds",
            "anchor_file",
            "anchor_url",
            "hash_ip",
            "min_free_bytes",
            "sink_file",
            "sink_stdout",
            "sink_syslog",
            "alert_failed_logins",
            "alert_failed_logins_window_seconds",
            "alert_reveals_per_hour",
            "alert_denials",
            "alert_denials_window_seconds",
            "alert_webhook_url",
            "alert_interval_seconds",
        ],
    ),
    (
        "identity",
        &[
            "password_memory_kib",
            "password_iterations",
            "password_parallelism",
            "password_min_length",
            "password_min_strength_bits",
            "hashing_concurrency",
            "access_token_seconds",
            "session_idle_seconds",
            "session_absolute_seconds",
            "max_sessions_per_user",
            "bind_session_to_ip",
            "bind_session_to_user_agent",
            "mfa_required_roles",
            "lockout_threshold",
            "account_lockout_threshold",
            "ip_lockout_threshold",
            "lockout_window_seconds",
            "lockout_base_seconds",
            "lockout_max_seconds",
            "reset_token_seconds",
            "issuer",
            "audience",
        ],
    ),
    (
        "authz",
        &["policy_dir", "purposes", "decrypt_mfa_max_age_seconds", "policy_refresh_seconds", "policy_invariants"],
    ),
    (
        "records",
        &[
            "retention_sweep_seconds",
            "key_job_batch_size",
            "key_job_pause_ms",
            "key_job_poll_seconds",
            "key_job_lease_seconds",
        ],
    ),
    (
        "housekeeping",
        &[
            "interval_seconds",
            "session_retention_seconds",
            "one_time_token_retention_seconds",
            "job_retention_seconds",
            "batch_size",
        ],
    ),
    ("blobs", &["backend", "dir", "s3_endpoint", "s3_bucket", "s3_region", "s3_prefix", "stale_upload_seconds"]),
    (
        "ratelimit",
        &[
            "per_address_per_second",
            "per_address_burst",
            "per_user_per_second",
            "per_user_burst",
            "redis_url",
            "redis_key_prefix",
        ],
    ),
];

/// The secret settings, which may also come from a file named by
/// `STRONGROOM_<SECTION>_<KEY>_FILE` (its first line), as container
/// platforms mount secrets. (`root_key.passphrase_file` and
/// `metrics.token_file` are settings of their own, with the same effect.)
const SECRET_KEYS: &[(&str, &str)] = &[("database", "url"), ("metrics", "token"), ("ratelimit", "redis_url")];

/// The secret setting `variable` names with a `_FILE` suffix, and the file's
/// first line; `Ok(None)` when the variable is no such name.
fn secret_from_file(variable: &str, path: &str) -> Result<Option<(&'static str, &'static str, String)>, ConfigError> {
    let Some(base) = variable.strip_suffix("_FILE") else { return Ok(None) };
    let Ok(Some((section, key))) = locate(base) else { return Ok(None) };
    let secret =
        SECRET_KEYS.contains(&(section, key)) || (section == "root_key" && crate::root_key::SECRET_KEYS.contains(&key));
    if !secret {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Invalid {
        origin: variable.to_owned(),
        message: format!("cannot read the file it names ({path}): {error}"),
    })?;
    // The value never appears in an error: only its file's name does.
    Ok(Some((section, key, text.lines().next().unwrap_or_default().trim_end_matches('\r').to_owned())))
}

/// Every key as `(dotted name, environment variable)`, e.g.
/// `("server.listen", "STRONGROOM_SERVER_LISTEN")`, for docs and `doctor`.
pub fn keys() -> Vec<(String, String)> {
    KEYS.iter()
        .flat_map(|(section, keys)| {
            keys.iter().map(move |key| {
                let dotted = if section.is_empty() { (*key).to_owned() } else { format!("{section}.{key}") };
                (dotted, variable_name(section, key))
            })
        })
        .collect()
}

/// The environment variable that overrides `section.key`.
fn variable_name(section: &str, key: &str) -> String {
    if section.is_empty() {
        format!("{PREFIX}{}", key.to_uppercase())
    } else {
        format!("{PREFIX}{}_{}", section.to_uppercase(), key.to_uppercase())
    }
}

/// Applies overrides from `env` onto the parsed file `table`.
pub(crate) fn apply(table: &mut Table, env: impl IntoIterator<Item = (String, String)>) -> Result<(), ConfigError> {
    // Invariant: the default configuration always serialises to a table.
    let defaults = Table::try_from(Config::default()).expect("default config serialises");
    let mut overrides: Vec<(String, String)> = env.into_iter().filter(|(name, _)| name.starts_with(PREFIX)).collect();
    // Sorted, so that the result never depends on the environment's order.
    overrides.sort();
    for (variable, raw) in overrides {
        let (section, key, raw) = match locate(&variable) {
            Ok(Some((section, key))) => (section, key, raw),
            unknown => match secret_from_file(&variable, &raw)? {
                Some(from_file) => from_file,
                None => {
                    unknown?;
                    continue;
                }
            },
        };
        let default = if section.is_empty() {
            defaults.get(key)
        } else {
            defaults.get(section).and_then(Value::as_table).and_then(|t| t.get(key))
        };
        let value = typed(&variable, &raw, default)?;
        let target = if section.is_empty() {
            &mut *table
        } else {
            let entry = table.entry(section).or_insert_with(|| Value::Table(Table::new()));
            match entry {
                Value::Table(inner) => inner,
                _ => {
                    return Err(ConfigError::Invalid {
                        origin: String::new(),
                        message: format!("`{section}` must be a table"),
                    });
                }
            }
        };
        target.insert(key.to_owned(), value);
    }
    Ok(())
}

/// Finds the (section, key) a variable names; `None` if it names no section.
fn locate(variable: &str) -> Result<Option<(&'static str, &'static str)>, ConfigError> {
    let rest = variable[PREFIX.len()..].to_lowercase();
    let mut sections: Vec<_> = KEYS.iter().filter(|(section, _)| !section.is_empty()).collect();
    // Longest first, so that a section name that prefixes another never steals its keys.
    sections.sort_by_key(|(section, _)| std::cmp::Reverse(section.len()));
    for (section, keys) in sections {
        if let Some(key) = rest.strip_prefix(&format!("{section}_")) {
            return match keys.iter().find(|k| **k == key) {
                Some(found) => Ok(Some((section, found))),
                None => Err(ConfigError::UnknownVariable {
                    variable: variable.to_owned(),
                    hint: format!("[{section}] has: {}", keys.join(", ")),
                }),
            };
        }
    }
    let top = KEYS.iter().find(|(section, _)| section.is_empty()).map(|(_, keys)| *keys).unwrap_or(&[]);
    Ok(top.iter().find(|k| **k == rest).map(|key| ("", *key)))
}

fn typed(variable: &str, raw: &str, default: Option<&Value>) -> Result<Value, ConfigError> {
    let invalid = |expected: &str| ConfigError::Invalid {
        origin: format!(" in environment variable {variable}"),
        message: format!("expected {expected}"),
    };
    Ok(match default {
        Some(Value::Integer(_)) => Value::Integer(raw.trim().parse().map_err(|_| invalid("an integer"))?),
        Some(Value::Boolean(_)) => Value::Boolean(raw.trim().parse().map_err(|_| invalid("true or false"))?),
        Some(Value::Array(_)) => Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| Value::String(item.to_owned()))
                .collect(),
        ),
        _ => Value::String(raw.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_secret_setting_comes_from_the_file_its_file_variable_names() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("database-url");
        std::fs::write(&file, "postgres://app:s3cret@db/strongroom\nignored second line\n").unwrap();
        let mut table = Table::new();
        apply(&mut table, env(&[("STRONGROOM_DATABASE_URL_FILE", file.to_str().unwrap())])).unwrap();
        assert_eq!(table["database"]["url"].as_str(), Some("postgres://app:s3cret@db/strongroom"));

        let missing =
            apply(&mut Table::new(), env(&[("STRONGROOM_ROOT_KEY_TRANSIT_TOKEN_FILE", "/nonexistent/token")]));
        let message = missing.unwrap_err().to_string();
        assert!(message.contains("STRONGROOM_ROOT_KEY_TRANSIT_TOKEN_FILE") && message.contains("/nonexistent/token"));
        // Only secret settings read files; any other `_FILE` name stays unknown.
        let other = apply(&mut Table::new(), env(&[("STRONGROOM_SERVER_LISTEN_FILE", file.to_str().unwrap())]));
        assert!(matches!(other, Err(ConfigError::UnknownVariable { .. })), "{other:?}");
    }

    #[test]
    fn keys_list_matches_the_schema() {
        let mut full = Config::default();
        full.server.tls_cert_file = Some("c".into());
        full.server.tls_key_file = Some("k".into());
        full.server.http_redirect_listen = Some("127.0.0.1:80".into());
        full.server.public_origin = Some("https://vault.example.com".into());
        full.database.tls_mode = Some(crate::DatabaseTlsMode::VerifyFull);
        full.database.tls_ca_file = Some("ca".into());
        full.database.url = Some(crate::SecretString::new("u".into()));
        full.log.format = Some(crate::LogFormat::Json);
        full.audit.origin = Some("o".into());
        full.audit.anchor_file = Some("a".into());
        full.audit.anchor_url = Some("u".into());
        full.audit.sink_file = Some("s".into());
        full.audit.sink_syslog = Some("udp://h:1".into());
        full.audit.alert_webhook_url = Some("w".into());
        full.authz.policy_dir = Some("p".into());
        full.identity.audience = Some("a".into());
        full.blobs.dir = Some("b".into());
        full.blobs.s3_endpoint = Some("http://s".into());
        full.blobs.s3_bucket = Some("b".into());
        full.metrics.listen = Some("127.0.0.1:9464".into());
        full.metrics.token = Some(crate::SecretString::new("t".into()));
        full.metrics.token_file = Some("t".into());
        full.ratelimit.redis_url = Some(crate::SecretString::new("redis://r".into()));
        let secret = || Some(crate::SecretString::new("s".into()));
        // `[root_key]` holds one provider at a time: every provider's keys, together.
        let providers = [
            crate::RootKeyConfig::Local(crate::LocalRootKey { key_file: Some("f".into()) }),
            crate::RootKeyConfig::Passphrase(crate::PassphraseRootKey {
                passphrase: secret(),
                passphrase_file: Some("p".into()),
            }),
            crate::RootKeyConfig::Transit(crate::TransitRootKey {
                transit_address: Some("a".into()),
                transit_token: secret(),
                transit_mount: "m".into(),
                transit_key: Some("k".into()),
            }),
            crate::RootKeyConfig::AwsKms(crate::AwsKmsRootKey {
                aws_kms_key_id: Some("k".into()),
                aws_kms_region: Some("r".into()),
                aws_kms_endpoint: Some("e".into()),
            }),
            crate::RootKeyConfig::Pkcs11(crate::Pkcs11RootKey {
                pkcs11_module: Some("m".into()),
                pkcs11_token_label: Some("t".into()),
                pkcs11_key_label: Some("k".into()),
                pkcs11_pin: secret(),
            }),
        ];
        let mut from_schema: Vec<(String, String)> = Vec::new();
        for root_key in providers {
            let table = Table::try_from(Config { root_key, ..full.clone() }).unwrap();
            for (name, value) in &table {
                match value {
                    // A table inside a section (`authz.roles`) is set in the file only.
                    Value::Table(inner) => from_schema
                        .extend(inner.iter().filter(|(_, v)| !v.is_table()).map(|(k, _)| (name.clone(), k.clone()))),
                    _ => from_schema.push((String::new(), name.clone())),
                }
            }
        }
        let mut listed: Vec<(String, String)> =
            KEYS.iter().flat_map(|(s, keys)| keys.iter().map(move |k| (s.to_string(), k.to_string()))).collect();
        from_schema.sort();
        from_schema.dedup();
        listed.sort();
        assert_eq!(from_schema, listed);
    }

    #[test]
    fn overrides_are_typed_by_their_default() {
        let mut table = Table::new();
        apply(
            &mut table,
            env(&[
                ("STRONGROOM_SERVER_BODY_LIMIT_BYTES", "42"),
                ("STRONGROOM_SERVER_TRUSTED_PROXY", "10.0.0.1, 10.0.0.2"),
                ("STRONGROOM_ROOT_KEY_PROVIDER", "passphrase"),
                ("STRONGROOM_PROFILE", "staging"),
                ("STRONGROOM_AUTHZ_POLICY_INVARIANTS", "warn"),
                ("STRONGROOM_TEST_POSTGRES_URL", "ignored: names no section"),
                ("HOME", "/root"),
            ]),
        )
        .unwrap();
        let config: Config = table.try_into().unwrap();
        assert_eq!(config.server.body_limit_bytes, 42);
        assert_eq!(config.server.trusted_proxy, vec!["10.0.0.1", "10.0.0.2"]);
        assert_eq!(config.root_key.provider(), "passphrase");
        assert_eq!(config.profile, crate::Profile::Staging);
        assert_eq!(config.authz.policy_invariants, crate::PolicyInvariants::Warn);
    }

    #[test]
    fn every_key_is_documented_with_its_variable() {
        let docs = include_str!("../../../docs/configuration.md");
        for (dotted, variable) in keys() {
            assert!(docs.contains(&format!("`{dotted}`")), "docs/configuration.md lacks `{dotted}`");
            assert!(docs.contains(&variable), "docs/configuration.md lacks {variable}");
        }
    }

    #[test]
    fn fail_unknown_key_in_known_section() {
        let error = apply(&mut Table::new(), env(&[("STRONGROOM_SERVER_LISTN", "x")])).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("STRONGROOM_SERVER_LISTN") && message.contains("listen"), "{message}");
    }

    #[test]
    fn fail_non_integer_for_integer_key() {
        let error = apply(&mut Table::new(), env(&[("STRONGROOM_DATABASE_MAX_CONNECTIONS", "many")])).unwrap_err();
        assert!(error.to_string().contains("STRONGROOM_DATABASE_MAX_CONNECTIONS"));
    }
}
