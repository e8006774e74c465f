//! `[root_key]`: which provider holds the key that wraps every other key,
//! and that provider's settings. One variant per provider, tagged by the
//! `provider` key; the adapters live in `strongroom-integrations`.
//!
//! Invariant: the file format is the one every release has read, a flat
//! `[root_key]` section. `provider` may be left out (it is `local`), and a
//! key of another provider is accepted and ignored, as it was when every
//! provider's keys sat in one struct; a key no provider has is an error.
//! [`KEYS`] lists them all: environment names and docs come from it.
//!
//! Adding a provider: a variant and its settings struct here, its keys in
//! [`KEYS`] (its secrets in [`SECRET_KEYS`]), its arm in
//! [`RootKeyConfig::check`], and the docs (`docs/keys.md`, "Adding a
//! root-key provider").

use std::path::{Path, PathBuf};

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::checks::{Outcome, production_rule};
use crate::{Profile, SecretString};

/// Every key of `[root_key]`, over all providers.
pub(crate) const KEYS: &[&str] = &[
    "provider",
    "key_file",
    "passphrase",
    "passphrase_file",
    "transit_address",
    "transit_token",
    "transit_mount",
    "transit_key",
    "aws_kms_key_id",
    "aws_kms_region",
    "aws_kms_endpoint",
    "pkcs11_module",
    "pkcs11_token_label",
    "pkcs11_key_label",
    "pkcs11_pin",
];

/// The secret keys of `[root_key]`, which may also come from a file named by
/// `STRONGROOM_ROOT_KEY_<KEY>_FILE`.
pub(crate) const SECRET_KEYS: &[&str] = &["passphrase", "transit_token", "pkcs11_pin"];

/// `[root_key]`: the key that wraps every other key, by provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
// The derived impls are inherent functions, wrapped by the trait impls below
// (which default the tag and drop other providers' keys).
#[serde(remote = "Self", tag = "provider")]
pub enum RootKeyConfig {
    /// A 32-byte key file, generated 0600 on first start. Development only.
    #[serde(rename = "local")]
    Local(LocalRootKey),
    /// A key derived with Argon2id from a passphrase (env or file) and a stored salt.
    #[serde(rename = "passphrase")]
    Passphrase(PassphraseRootKey),
    /// A HashiCorp Vault / OpenBao transit key: it wraps a random keyring
    /// key once, stored in the database, and is called only at start.
    #[serde(rename = "transit")]
    Transit(TransitRootKey),
    /// An AWS KMS key (or any KMS-compatible API), used the same way as `transit`.
    #[serde(rename = "aws-kms")]
    AwsKms(AwsKmsRootKey),
    /// An AES key in an HSM reached through PKCS#11, used the same way.
    #[serde(rename = "pkcs11")]
    Pkcs11(Pkcs11RootKey),
}

impl Default for RootKeyConfig {
    fn default() -> Self {
        Self::Local(LocalRootKey::default())
    }
}

/// `provider = "local"`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LocalRootKey {
    /// The key file. Unset: `<data_dir>/root.key`.
    pub key_file: Option<PathBuf>,
}

impl LocalRootKey {
    /// The key file in effect for a data dir.
    pub fn key_file(&self, data_dir: &Path) -> PathBuf {
        self.key_file.clone().unwrap_or_else(|| data_dir.join("root.key"))
    }
}

/// `provider = "passphrase"`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PassphraseRootKey {
    /// The passphrase itself. Give it through the environment
    /// (`STRONGROOM_ROOT_KEY_PASSPHRASE`), not in a file. At least 16 bytes.
    pub passphrase: Option<SecretString>,
    /// A file whose first line is the passphrase.
    pub passphrase_file: Option<PathBuf>,
}

/// `provider = "transit"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TransitRootKey {
    /// The Vault/OpenBao address, e.g. `https://vault:8200`.
    pub transit_address: Option<String>,
    /// The token (give it through `STRONGROOM_ROOT_KEY_TRANSIT_TOKEN`).
    pub transit_token: Option<SecretString>,
    /// The transit mount path.
    pub transit_mount: String,
    /// The name of the transit key that wraps Strongroom's keyring key.
    pub transit_key: Option<String>,
}

impl Default for TransitRootKey {
    fn default() -> Self {
        Self { transit_address: None, transit_token: None, transit_mount: "transit".into(), transit_key: None }
    }
}

/// `provider = "aws-kms"`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AwsKmsRootKey {
    /// The key id or ARN (or `alias/…`). Credentials come from the standard
    /// AWS chain: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
    /// AWS_SESSION_TOKEN, web identity (IRSA), ECS/EKS container or EC2 instance roles.
    pub aws_kms_key_id: Option<String>,
    /// The region, e.g. `eu-central-1`.
    pub aws_kms_region: Option<String>,
    /// Another endpoint (a VPC endpoint, or a local KMS for tests).
    /// Unset: `https://kms.<region>.amazonaws.com`.
    pub aws_kms_endpoint: Option<String>,
}

/// `provider = "pkcs11"`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Pkcs11RootKey {
    /// The PKCS#11 module (shared library) of the HSM.
    pub pkcs11_module: Option<PathBuf>,
    /// The label of the token holding the key.
    pub pkcs11_token_label: Option<String>,
    /// The label of the AES key (CKK_AES, 256 bits) that wraps the keyring key.
    pub pkcs11_key_label: Option<String>,
    /// The user PIN (give it through `STRONGROOM_ROOT_KEY_PKCS11_PIN`).
    pub pkcs11_pin: Option<SecretString>,
}

impl Serialize for RootKeyConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RootKeyConfig::serialize(self, serializer)
    }
}

impl<'de> Deserialize<'de> for RootKeyConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut table = toml::Table::deserialize(deserializer)?;
        if let Some(unknown) = table.keys().find(|key| !KEYS.contains(&key.as_str())) {
            return Err(D::Error::unknown_field(unknown, KEYS));
        }
        table.entry("provider").or_insert_with(|| toml::Value::String("local".into()));
        // The variants' structs ignore keys they lack: another provider's keys.
        RootKeyConfig::deserialize(toml::Value::Table(table)).map_err(D::Error::custom)
    }
}

impl RootKeyConfig {
    /// The provider's name as configured: `"local"`, `"aws-kms"`, ….
    pub fn provider(&self) -> &'static str {
        match self {
            Self::Local(_) => "local",
            Self::Passphrase(_) => "passphrase",
            Self::Transit(_) => "transit",
            Self::AwsKms(_) => "aws-kms",
            Self::Pkcs11(_) => "pkcs11",
        }
    }

    /// The `root_key.provider` rule: every setting the provider needs is
    /// there, and production profiles get neither a local key nor plain HTTP.
    pub(crate) fn check(&self, profile: Profile, data_dir: &Path) -> Outcome {
        match self {
            Self::Local(local) => production_rule(
                profile,
                false,
                String::new(),
                format!(
                    "root_key.provider = \"local\" keeps the root key in a file ({}) beside the data",
                    local.key_file(data_dir).display()
                ),
            ),
            Self::Passphrase(root) => match (&root.passphrase, &root.passphrase_file) {
                (Some(_), Some(_)) => {
                    Outcome::Fail("set either root_key.passphrase or root_key.passphrase_file, not both".into())
                }
                (None, None) => Outcome::Fail(
                    "root_key.provider = \"passphrase\" needs STRONGROOM_ROOT_KEY_PASSPHRASE or root_key.passphrase_file".into(),
                ),
                (None, Some(file)) if !file.is_file() => {
                    Outcome::Fail(format!("root_key.passphrase_file {} does not exist", file.display()))
                }
                _ => Outcome::Pass("root key derived from a passphrase with Argon2id".into()),
            },
            Self::Transit(root) => match (&root.transit_address, &root.transit_token, &root.transit_key) {
                (Some(address), Some(_), Some(key)) => {
                    if !(address.starts_with("http://") || address.starts_with("https://")) {
                        Outcome::Fail(format!("root_key.transit_address {address:?} must start with http:// or https://"))
                    } else if address.starts_with("http://") && profile.is_production_grade() {
                        Outcome::Fail("root_key.transit_address must use https:// in production profiles".into())
                    } else {
                        Outcome::Pass(format!("root key is transit key {key:?} at {address}"))
                    }
                }
                _ => Outcome::Fail(
                    "root_key.provider = \"transit\" needs transit_address, transit_key and STRONGROOM_ROOT_KEY_TRANSIT_TOKEN".into(),
                ),
            },
            Self::AwsKms(root) => match (&root.aws_kms_key_id, &root.aws_kms_region, &root.aws_kms_endpoint) {
                (Some(_), Some(_), Some(endpoint))
                    if endpoint.starts_with("http://") && profile.is_production_grade() =>
                {
                    Outcome::Fail("root_key.aws_kms_endpoint must use https:// in production profiles".into())
                }
                (Some(key), Some(region), _) => Outcome::Pass(format!("root key is KMS key {key:?} in {region}")),
                _ => Outcome::Fail("root_key.provider = \"aws-kms\" needs aws_kms_key_id and aws_kms_region".into()),
            },
            Self::Pkcs11(root) => {
                match (&root.pkcs11_module, &root.pkcs11_token_label, &root.pkcs11_key_label, &root.pkcs11_pin) {
                    (Some(module), Some(_), Some(_), Some(_)) if !module.is_file() => {
                        Outcome::Fail(format!("root_key.pkcs11_module {} does not exist", module.display()))
                    }
                    (Some(_), Some(token), Some(key), Some(_)) => {
                        Outcome::Pass(format!("root key is HSM key {key:?} on token {token:?}"))
                    }
                    _ => Outcome::Fail(
                        "root_key.provider = \"pkcs11\" needs pkcs11_module, pkcs11_token_label, pkcs11_key_label and STRONGROOM_ROOT_KEY_PKCS11_PIN".into(),
                    ),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    fn load(toml: &str, env: &[(&str, &str)]) -> Result<Config, crate::ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("strongroom.toml");
        std::fs::write(&path, toml).unwrap();
        Config::load(Some(&path), env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
    }

    /// One file per provider as docs/configuration.md has described them
    /// since before the section was split by provider: each still loads.
    #[test]
    fn files_written_for_the_flat_root_key_section_still_load() {
        let local = load("[root_key]\nkey_file = \"/etc/strongroom/root.key\"\n", &[]).unwrap();
        let RootKeyConfig::Local(local) = local.root_key else { panic!("{:?}", local.root_key) };
        assert_eq!(local.key_file.as_deref(), Some(Path::new("/etc/strongroom/root.key")));

        let passphrase = load(
            "[root_key]\nprovider = \"passphrase\"\npassphrase_file = \"/run/secrets/strongroom-root-passphrase\"\n",
            &[],
        )
        .unwrap();
        let RootKeyConfig::Passphrase(passphrase) = passphrase.root_key else { panic!("{:?}", passphrase.root_key) };
        assert_eq!(passphrase.passphrase_file.as_deref(), Some(Path::new("/run/secrets/strongroom-root-passphrase")));

        let transit = load(
            "[root_key]\nprovider = \"transit\"\ntransit_address = \"https://vault:8200\"\ntransit_key = \"strongroom-root\"\n",
            &[("STRONGROOM_ROOT_KEY_TRANSIT_TOKEN", "s.token")],
        )
        .unwrap();
        let RootKeyConfig::Transit(transit) = transit.root_key else { panic!("{:?}", transit.root_key) };
        assert_eq!(
            (transit.transit_address.as_deref(), transit.transit_key.as_deref(), transit.transit_mount.as_str()),
            (Some("https://vault:8200"), Some("strongroom-root"), "transit")
        );
        assert_eq!(transit.transit_token.map(|t| t.expose().to_owned()).as_deref(), Some("s.token"));

        let kms = load(
            "[root_key]\nprovider = \"aws-kms\"\naws_kms_key_id = \"alias/strongroom\"\naws_kms_region = \"eu-central-1\"\naws_kms_endpoint = \"https://gw.example:8443/kms\"\n",
            &[],
        )
        .unwrap();
        let RootKeyConfig::AwsKms(kms) = kms.root_key else { panic!("{:?}", kms.root_key) };
        assert_eq!(
            (kms.aws_kms_key_id.as_deref(), kms.aws_kms_region.as_deref(), kms.aws_kms_endpoint.as_deref()),
            (Some("alias/strongroom"), Some("eu-central-1"), Some("https://gw.example:8443/kms"))
        );

        let pkcs11 = load(
            "[root_key]\nprovider = \"pkcs11\"\npkcs11_module = \"/usr/lib/softhsm/libsofthsm2.so\"\npkcs11_token_label = \"strongroom\"\npkcs11_key_label = \"strongroom-root\"\n",
            &[("STRONGROOM_ROOT_KEY_PKCS11_PIN", "1234")],
        )
        .unwrap();
        let RootKeyConfig::Pkcs11(pkcs11) = pkcs11.root_key else { panic!("{:?}", pkcs11.root_key) };
        assert_eq!(
            (pkcs11.pkcs11_module.as_deref(), pkcs11.pkcs11_token_label.as_deref(), pkcs11.pkcs11_key_label.as_deref()),
            (Some(Path::new("/usr/lib/softhsm/libsofthsm2.so")), Some("strongroom"), Some("strongroom-root"))
        );
        assert_eq!(pkcs11.pkcs11_pin.map(|p| p.expose().to_owned()).as_deref(), Some("1234"));
    }

    #[test]
    fn the_provider_comes_from_the_environment_and_the_secrets_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "s.from-a-file\n").unwrap();
        let config = load(
            "[root_key]\ntransit_address = \"https://vault:8200\"\n",
            &[
                ("STRONGROOM_ROOT_KEY_PROVIDER", "transit"),
                ("STRONGROOM_ROOT_KEY_TRANSIT_KEY", "k"),
                ("STRONGROOM_ROOT_KEY_TRANSIT_MOUNT", "kms/transit"),
                ("STRONGROOM_ROOT_KEY_TRANSIT_TOKEN_FILE", token.to_str().unwrap()),
            ],
        )
        .unwrap();
        let RootKeyConfig::Transit(transit) = config.root_key else { panic!("{:?}", config.root_key) };
        assert_eq!(transit.transit_mount, "kms/transit");
        assert_eq!(transit.transit_token.unwrap().expose(), "s.from-a-file");
    }

    /// A file that kept a local key file's setting after moving to another
    /// provider loaded before the split and still does.
    #[test]
    fn another_providers_key_is_ignored() {
        let config = load(
            "[root_key]\nprovider = \"passphrase\"\nkey_file = \"old.key\"\npassphrase_file = \"p\"\n",
            &[("STRONGROOM_ROOT_KEY_TRANSIT_MOUNT", "elsewhere")],
        )
        .unwrap();
        assert_eq!(config.root_key.provider(), "passphrase");
    }

    #[test]
    fn fail_a_key_no_provider_has_or_an_unknown_provider() {
        let message =
            load("[root_key]\nprovider = \"transit\"\ntransit_adress = \"x\"\n", &[]).unwrap_err().to_string();
        assert!(message.contains("strongroom.toml") && message.contains("transit_adress"), "{message}");
        let message = load("[root_key]\nprovider = \"gcp\"\n", &[]).unwrap_err().to_string();
        assert!(message.contains("gcp"), "{message}");
    }

    #[test]
    fn dumps_name_the_provider_and_mask_its_secrets() {
        let config = RootKeyConfig::Pkcs11(Pkcs11RootKey {
            pkcs11_pin: Some(SecretString::new("987654".into())),
            ..Pkcs11RootKey::default()
        });
        let dumped = toml::to_string(&config).unwrap();
        assert!(dumped.contains("provider = \"pkcs11\"") && !dumped.contains("987654"), "{dumped}");
    }
}
