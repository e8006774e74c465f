//! Running the real binary. A [`TestServer`] owns a temporary directory
//! holding its data dir and its stderr log; the child is killed when the
//! value is dropped, so a failing test leaves no process behind.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tempfile::TempDir;

const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Configures a server before starting it.
#[derive(Debug)]
pub struct ServerBuilder {
    bin: PathBuf,
    env: Vec<(String, String)>,
    config_file: Option<String>,
    data_dir: Option<PathBuf>,
}

/// A running `strongroom server`.
#[derive(Debug)]
pub struct TestServer {
    child: Option<Child>,
    base_url: String,
    data_dir: PathBuf,
    stderr_path: PathBuf,
    _home: TempDir,
}

/// What a finished command printed.
#[derive(Debug)]
pub struct CliOutput {
    /// Exit status (`None` if it had to be killed after the timeout).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl TestServer {
    /// A builder for the binary at `bin` (use `env!("CARGO_BIN_EXE_strongroom")`).
    pub fn builder(bin: impl Into<PathBuf>) -> ServerBuilder {
        ServerBuilder { bin: bin.into(), env: Vec::new(), config_file: None, data_dir: None }
    }

    /// `http://127.0.0.1:PORT` (or `https://…`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The base URL joined with `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The server's process id, to look at it from outside (`/proc`).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server still running").id()
    }

    /// The server's data dir.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Everything the server has logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Kills the process with SIGKILL, as a crash or a power cut would stop
    /// it: nothing it was doing gets to finish.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("server still running");
        child.kill().expect("kill the server");
        let _ = child.wait();
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server still running");
        let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        assert!(status.is_ok_and(|s| s.success()), "could not signal the server");
        child.wait().expect("wait for the server")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl ServerBuilder {
    /// Sets an environment variable (`STRONGROOM_SERVER_BODY_LIMIT_BYTES`, …).
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Uses `database.url` (from a [`crate::TestDatabase`]).
    pub fn database(self, url: &str) -> Self {
        self.env("STRONGROOM_DATABASE_URL", url)
    }

    /// Writes `text` as the configuration file and passes `--config`.
    pub fn config_file(mut self, text: impl Into<String>) -> Self {
        self.config_file = Some(text.into());
        self
    }

    /// Uses an existing data dir instead of a fresh one.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Starts the server and waits for it to listen; panics with its output if it does not.
    pub fn start(self) -> TestServer {
        match self.try_start() {
            Ok(server) => server,
            Err(output) => panic!("strongroom server did not start: {output:#?}"),
        }
    }

    /// Starts the server; if it exits before listening, returns what it printed.
    pub fn try_start(self) -> Result<TestServer, CliOutput> {
        let home = tempfile::tempdir().expect("temporary directory");
        let data_dir = self.data_dir.clone().unwrap_or_else(|| home.path().join("data"));
        let stderr_path = home.path().join("stderr.log");
        let mut command = self.command(home.path(), &data_dir, &["server"]);
        command.stdout(Stdio::piped()).stderr(File::create(&stderr_path).expect("stderr log"));
        let mut child = command.spawn().expect("spawn strongroom");
        let stdout = child.stdout.take().expect("piped stdout");
        let (lines_tx, lines_rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    // Nobody listens any more: keep draining so the child never blocks.
                    continue;
                }
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        let mut printed = String::new();
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match lines_rx.recv_timeout(remaining) {
                Ok(line) => {
                    printed.push_str(&line);
                    printed.push('\n');
                    if let Some(base_url) = listening_url(&line) {
                        return Ok(TestServer { child: Some(child), base_url, data_dir, stderr_path, _home: home });
                    }
                }
                Err(_) => {
                    // Closed stdout (the process exited) or the timeout.
                    let code = match child.try_wait() {
                        Ok(Some(status)) => status.code(),
                        _ => {
                            let _ = child.kill();
                            child.wait().ok().and_then(|s| s.code())
                        }
                    };
                    let code = code.or_else(|| child.wait().ok().and_then(|s| s.code()));
                    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                    return Err(CliOutput { code, stdout: printed, stderr });
                }
            }
        }
    }

    /// Runs another subcommand (`doctor`, `migrate`, …) with this configuration.
    pub fn run(self, args: &[&str]) -> CliOutput {
        let home = tempfile::tempdir().expect("temporary directory");
        let data_dir = self.data_dir.clone().unwrap_or_else(|| home.path().join("data"));
        let command = self.command(home.path(), &data_dir, args);
        collect(command)
    }

    /// Runs another subcommand with `input` on its standard input (passwords).
    pub fn run_with_input(self, args: &[&str], input: &str) -> CliOutput {
        use std::io::Write;
        let home = tempfile::tempdir().expect("temporary directory");
        let data_dir = self.data_dir.clone().unwrap_or_else(|| home.path().join("data"));
        let mut command = self.command(home.path(), &data_dir, args);
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("run strongroom");
        child.stdin.take().expect("piped stdin").write_all(input.as_bytes()).expect("write stdin");
        let output = child.wait_with_output().expect("wait for strongroom");
        CliOutput {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn command(&self, home: &Path, data_dir: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(&self.bin);
        // The child sees only the configuration this builder gives it.
        for (name, _) in std::env::vars() {
            if name.starts_with("STRONGROOM_") {
                command.env_remove(name);
            }
        }
        command
            .args(args)
            .env("STRONGROOM_DATA_DIR", data_dir)
            .env("STRONGROOM_SERVER_LISTEN", "127.0.0.1:0")
            .env("STRONGROOM_SERVER_SHUTDOWN_GRACE_SECONDS", "5")
            // Tests send requests as fast as they can from one address and
            // user; the tests of rate limits set their own.
            .env("STRONGROOM_RATELIMIT_PER_ADDRESS_PER_SECOND", "0")
            .env("STRONGROOM_RATELIMIT_PER_USER_PER_SECOND", "0")
            .stdin(Stdio::null());
        if let Some(text) = &self.config_file {
            let path = home.join("strongroom.toml");
            std::fs::write(&path, text).expect("write config file");
            command.arg("--config").arg(path);
        }
        for (name, value) in &self.env {
            command.env(name, value);
        }
        command
    }
}

/// Runs `bin` with `args` and no configuration beyond the environment given.
pub fn run_cli(bin: impl AsRef<Path>, args: &[&str], env: &[(&str, &str)]) -> CliOutput {
    let mut builder = TestServer::builder(bin.as_ref());
    for (name, value) in env {
        builder = builder.env(*name, *value);
    }
    builder.run(args)
}

fn collect(mut command: Command) -> CliOutput {
    let output = command.stdout(Stdio::piped()).stderr(Stdio::piped()).output().expect("run strongroom");
    CliOutput {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn listening_url(line: &str) -> Option<String> {
    let rest = line.split_once(" listening on ")?.1;
    Some(rest.split_whitespace().next()?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::listening_url;

    #[test]
    fn finds_the_url_in_the_banner() {
        let line = "Strongroom 0.1.0 listening on http://127.0.0.1:4321 (profile development)";
        assert_eq!(listening_url(line).as_deref(), Some("http://127.0.0.1:4321"));
        assert_eq!(listening_url("something else"), None);
    }
}
