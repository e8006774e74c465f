//! A real PKCS#11 token: SoftHSM2 (installed by `scripts/peers.sh softhsm`)
//! with a fresh token and an AES-256 key, in a temporary token directory, for
//! tests of the `pkcs11` root-key provider.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// The variable naming SoftHSM2's PKCS#11 module.
pub const SOFTHSM_VARIABLE: &str = "STRONGROOM_TEST_SOFTHSM";

/// A SoftHSM2 token; its files disappear with this value.
#[derive(Debug)]
pub struct SoftHsm {
    dir: TempDir,
    module: PathBuf,
}

impl SoftHsm {
    /// The token's label.
    pub const TOKEN: &'static str = "strongroom-test";
    /// Its user PIN.
    pub const PIN: &'static str = "4711-test-pin";

    /// A fresh token, or `None` (printing why) when `STRONGROOM_TEST_SOFTHSM`
    /// is unset. Under CI an unset variable is a failure, never a silent skip.
    pub fn start() -> Option<Self> {
        let Ok(module) = std::env::var(SOFTHSM_VARIABLE) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must set {SOFTHSM_VARIABLE} (scripts/peers.sh softhsm): PKCS#11 tests may not be skipped in CI"
            );
            eprintln!("skipped: {SOFTHSM_VARIABLE} is not set, so this PKCS#11 test did not run");
            return None;
        };
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::create_dir(dir.path().join("tokens")).expect("token directory");
        let conf =
            format!("directories.tokendir = {}\nobjectstore.backend = file\n", dir.path().join("tokens").display());
        std::fs::write(dir.path().join("softhsm2.conf"), conf).expect("softhsm2.conf");
        let hsm = Self { dir, module: PathBuf::from(module) };
        hsm.run(
            "softhsm2-util",
            &["--init-token", "--free", "--label", Self::TOKEN, "--pin", Self::PIN, "--so-pin", "so-pin-5678"],
        );
        Some(hsm)
    }

    /// Creates a 256-bit AES key labelled `label` on the token.
    pub fn create_aes_key(&self, label: &str) {
        let module = self.module.display().to_string();
        self.run(
            "pkcs11-tool",
            &[
                "--module",
                &module,
                "--token-label",
                Self::TOKEN,
                "--login",
                "--pin",
                Self::PIN,
                "--keygen",
                "--key-type",
                "AES:32",
                "--label",
                label,
            ],
        );
    }

    /// The PKCS#11 module.
    pub fn module(&self) -> &Path {
        &self.module
    }

    /// The configuration file to give processes as `SOFTHSM2_CONF`.
    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("softhsm2.conf")
    }

    fn run(&self, program: &str, args: &[&str]) {
        let output = Command::new(program)
            .args(args)
            .env("SOFTHSM2_CONF", self.conf())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        assert!(output.status.success(), "{program} failed: {}", String::from_utf8_lossy(&output.stderr));
    }
}
