//! A PostgreSQL cluster of a test's own, started with `initdb` and `pg_ctl`
//! on a free port with TLS on and a certificate the test gives, for tests
//! of TLS to PostgreSQL. It never touches the shared cluster: it lives in a
//! temporary directory, listens on another port, keeps its socket in that
//! directory, and is stopped (immediately) when the value is dropped.
//!
//! `pg_hba.conf` admits TCP connections over TLS only (`hostssl`), so a
//! connection that gets in was encrypted.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// A running cluster; its files disappear with this value.
#[derive(Debug)]
pub struct PostgresCluster {
    dir: TempDir,
    bin: PathBuf,
    port: u16,
}

impl PostgresCluster {
    /// Starts a cluster serving TLS with `cert_pem` (the chain) and
    /// `key_pem`, or `None` (printing why) when no `initdb` is installed
    /// under `/usr/lib/postgresql/*/bin`. As root, the PostgreSQL tools run
    /// as the `postgres` user (initdb refuses root).
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> Option<Self> {
        let Some(bin) = postgres_bin() else {
            eprintln!("skipped: no initdb under /usr/lib/postgresql/*/bin, so this PostgreSQL TLS test did not run");
            return None;
        };
        let dir = tempfile::Builder::new().prefix("strongroom-pg-").tempdir().expect("temporary directory");
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("port").port();
        let cluster = Self { dir, bin, port };
        let data = cluster.data();
        let owner = as_root().then(postgres_ids).flatten();
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(cluster.dir.path(), Some(uid), Some(gid)).expect("chown the cluster directory");
        }
        cluster.run("initdb", &["-D", path(&data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
        std::fs::write(data.join("server.crt"), cert_pem).expect("server.crt");
        std::fs::write(data.join("server.key"), key_pem).expect("server.key");
        {
            use std::os::unix::fs::PermissionsExt;
            let private = std::fs::Permissions::from_mode(0o600);
            std::fs::set_permissions(data.join("server.key"), private).expect("chmod server.key");
        }
        let conf = format!(
            "\nport = {}\nlisten_addresses = 'localhost'\nunix_socket_directories = '{}'\nssl = on\n\
             ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nfsync = off\n\
             shared_buffers = 16MB\nmax_connections = 40\n",
            port,
            cluster.dir.path().display()
        );
        append(&data.join("postgresql.conf"), &conf);
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n",
        )
        .expect("pg_hba.conf");
        if let Some((uid, gid)) = owner {
            for file in ["server.crt", "server.key", "pg_hba.conf"] {
                std::os::unix::fs::chown(data.join(file), Some(uid), Some(gid)).expect("chown");
            }
        }
        let log = cluster.dir.path().join("postgres.log");
        cluster.run("pg_ctl", &["-D", path(&data), "-l", path(&log), "-w", "-t", "60", "start"]);
        Some(cluster)
    }

    /// The port it listens on (on `localhost`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://postgres@HOST:PORT/postgres`, for `host` such as
    /// `localhost` or `127.0.0.1`.
    pub fn url(&self, host: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres", self.port)
    }

    /// What the server logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `tool` of the cluster's PostgreSQL, as the `postgres` user when we are
    /// root (PostgreSQL refuses to run as root).
    fn command(&self, tool: &str) -> Command {
        let program = self.bin.join(tool);
        if as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&program);
            command
        } else {
            Command::new(&program)
        }
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let mut command = self.command(tool);
        let output = command.args(args).output().unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
        assert!(
            output.status.success(),
            "{tool} failed: {}{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            self.log()
        );
    }
}

impl Drop for PostgresCluster {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self.command("pg_ctl").args(["-D", path(&data), "-m", "immediate", "stop"]).output();
    }
}

/// The newest installed PostgreSQL's `bin` directory that has `initdb`.
fn postgres_bin() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// Whether this process is root (asked of `id`, to need no libc binding).
fn as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// The `postgres` user's uid and gid.
fn postgres_ids() -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, "postgres"]).output().ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

fn append(file: &Path, text: &str) {
    use std::io::Write;
    let mut handle = std::fs::OpenOptions::new().append(true).open(file).expect("open postgresql.conf");
    handle.write_all(text.as_bytes()).expect("append to postgresql.conf");
}

fn path(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}
