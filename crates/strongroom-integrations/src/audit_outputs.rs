//! Where the audit log reaches the outside world: the extra sinks (a
//! JSON-lines file, stdout, syslog), the checkpoint anchors (a file, a URL),
//! the alert webhook and the free-space monitor. Core defines the ports
//! (`AuditSink`, `CheckpointAnchor`, `AlertNotifier`); the I/O lives here.
//!
//! Invariant: none of these can block the log. Sinks run on their own tasks
//! from committed entries, anchors and the webhook have timeouts and only
//! warn when they fail.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use async_trait::async_trait;
use strongroom_config::Config;
use strongroom_core::audit::{
    AlertEvaluator, AlertGroup, AlertNotifier, AlertRecord, AlertRule, AuditLog, AuditSink, CheckpointAnchor,
    EventType, StoredEntry,
};
use tokio::io::AsyncWriteExt;

/// How long an anchor or webhook call may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// How much of a file's tail is read to find its last line.
const TAIL_BYTES: u64 = 64 * 1024;

/// The last non-empty line of `path`, reading only its tail.
fn last_line(path: &Path) -> std::io::Result<Option<String>> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let length = file.metadata()?.len();
    file.seek(SeekFrom::Start(length.saturating_sub(TAIL_BYTES)))?;
    let mut tail = String::new();
    file.read_to_string(&mut tail)?;
    Ok(tail.lines().rev().find(|line| !line.trim().is_empty()).map(str::to_owned))
}

/// Appends `line` and a newline to `path` (created 0600), durably.
async fn append_line(path: &Path, line: &str) -> std::io::Result<()> {
    let mut file = tokio::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path).await?;
    file.write_all(format!("{line}\n").as_bytes()).await?;
    file.sync_data().await
}

/// One JSON line per entry: `{"index": N, "event": {...}}`.
fn json_line(entry: &StoredEntry) -> String {
    let event: serde_json::Value = serde_json::from_slice(&entry.entry).unwrap_or(serde_json::Value::Null);
    serde_json::json!({ "index": entry.index, "event": event }).to_string()
}

/// A JSON-lines file sink; resumes after the index of its last line.
#[derive(Debug)]
pub struct FileSink {
    path: PathBuf,
}

#[async_trait]
impl AuditSink for FileSink {
    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }

    /// A new (or empty) file starts with the whole log; an existing one after its last line.
    async fn resume_from(&mut self) -> Option<u64> {
        let Some(line) = last_line(&self.path).ok().flatten() else { return Some(0) };
        let value: serde_json::Value = serde_json::from_str(&line).ok()?;
        value["index"].as_u64().map(|index| index + 1)
    }

    async fn deliver(&mut self, entries: &[StoredEntry]) -> Result<(), String> {
        let lines: Vec<String> = entries.iter().map(json_line).collect();
        append_line(&self.path, &lines.join("\n")).await.map_err(|e| e.to_string())
    }
}

/// Standard output, one JSON line per event.
#[derive(Debug)]
pub struct StdoutSink;

#[async_trait]
impl AuditSink for StdoutSink {
    fn describe(&self) -> String {
        "stdout".into()
    }

    async fn resume_from(&mut self) -> Option<u64> {
        None
    }

    async fn deliver(&mut self, entries: &[StoredEntry]) -> Result<(), String> {
        use std::io::Write;
        let text: String = entries.iter().map(|entry| json_line(entry) + "\n").collect();
        // A blocked pipe must block only this sink's task, never a runtime thread.
        tokio::task::spawn_blocking(move || {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
    }
}

/// Syslog over UDP or a Unix datagram socket, RFC 5424 with the event as
/// the message (facility authpriv, severity from the event).
#[derive(Debug)]
pub struct SyslogSink {
    target: SyslogTarget,
    hostname: String,
}

#[derive(Debug)]
enum SyslogTarget {
    Udp(String),
    Unix(PathBuf),
}

impl SyslogSink {
    /// Parses `udp://HOST:PORT` or `unix:///path`.
    pub fn parse(address: &str) -> anyhow::Result<Self> {
        let target = if let Some(host) = address.strip_prefix("udp://") {
            SyslogTarget::Udp(host.to_owned())
        } else if let Some(path) = address.strip_prefix("unix://") {
            SyslogTarget::Unix(PathBuf::from(path))
        } else {
            bail!("audit.sink_syslog must be udp://HOST:PORT or unix:///path, not {address:?}");
        };
        let hostname = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_default();
        Ok(Self { target, hostname: if hostname.is_empty() { "-".into() } else { hostname } })
    }

    fn message(&self, entry: &StoredEntry) -> String {
        let event: serde_json::Value = serde_json::from_slice(&entry.entry).unwrap_or(serde_json::Value::Null);
        // authpriv (10) * 8 + severity: info 6, notice 5, warning 4, critical 2.
        let severity = match event["severity"].as_str() {
            Some("critical") => 2,
            Some("warning") => 4,
            Some("notice") => 5,
            _ => 6,
        };
        let time = event["time"].as_i64().map(strongroom_proto::time::rfc3339_from_ms).unwrap_or_else(|| "-".into());
        format!(
            "<{}>1 {time} {} strongroom {} audit - {}",
            80 + severity,
            self.hostname,
            std::process::id(),
            json_line(entry)
        )
    }
}

#[async_trait]
impl AuditSink for SyslogSink {
    fn describe(&self) -> String {
        match &self.target {
            SyslogTarget::Udp(host) => format!("syslog udp://{host}"),
            SyslogTarget::Unix(path) => format!("syslog unix://{}", path.display()),
        }
    }

    async fn resume_from(&mut self) -> Option<u64> {
        None
    }

    async fn deliver(&mut self, entries: &[StoredEntry]) -> Result<(), String> {
        match &self.target {
            SyslogTarget::Udp(host) => {
                let socket = tokio::net::UdpSocket::bind("0.0.0.0:0").await.map_err(|e| e.to_string())?;
                socket.connect(host).await.map_err(|e| e.to_string())?;
                for entry in entries {
                    socket.send(self.message(entry).as_bytes()).await.map_err(|e| e.to_string())?;
                }
            }
            SyslogTarget::Unix(path) => {
                let socket = tokio::net::UnixDatagram::unbound().map_err(|e| e.to_string())?;
                socket.connect(path).map_err(|e| e.to_string())?;
                for entry in entries {
                    socket.send(self.message(entry).as_bytes()).await.map_err(|e| e.to_string())?;
                }
            }
        }
        Ok(())
    }
}

/// The sinks the configuration asks for.
pub fn sinks(config: &Config) -> anyhow::Result<Vec<Box<dyn AuditSink>>> {
    let mut sinks: Vec<Box<dyn AuditSink>> = Vec::new();
    if let Some(path) = &config.audit.sink_file {
        sinks.push(Box::new(FileSink { path: path.clone() }));
    }
    if config.audit.sink_stdout {
        sinks.push(Box::new(StdoutSink));
    }
    if let Some(address) = &config.audit.sink_syslog {
        sinks.push(Box::new(SyslogSink::parse(address)?));
    }
    Ok(sinks)
}

/// A JSON-lines file of signed checkpoints: `{"note": "…"}` per line.
#[derive(Debug)]
pub struct FileAnchor {
    path: PathBuf,
}

impl FileAnchor {
    /// Every note in an anchor file, oldest first (for `strongroom audit verify`).
    pub fn read_all(path: &Path) -> anyhow::Result<Vec<String>> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        text.lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(line)?;
                value["note"].as_str().map(str::to_owned).context("an anchor line without a note")
            })
            .collect()
    }
}

#[async_trait]
impl CheckpointAnchor for FileAnchor {
    fn describe(&self) -> String {
        format!("the anchor file {}", self.path.display())
    }

    async fn last(&self) -> Result<Option<String>, String> {
        let Some(line) = last_line(&self.path).map_err(|e| e.to_string())? else { return Ok(None) };
        let value: serde_json::Value = serde_json::from_str(&line).map_err(|e| e.to_string())?;
        value["note"].as_str().map(|note| Some(note.to_owned())).ok_or_else(|| "a line without a note".into())
    }

    async fn publish(&self, note: &str) -> Result<(), String> {
        append_line(&self.path, &serde_json::json!({ "note": note }).to_string()).await.map_err(|e| e.to_string())
    }
}

/// POSTs each checkpoint to a URL (write-only: it cannot be read back here).
#[derive(Debug)]
pub struct UrlAnchor {
    url: String,
    http: reqwest::Client,
}

#[async_trait]
impl CheckpointAnchor for UrlAnchor {
    fn describe(&self) -> String {
        format!("the anchor URL {}", self.url)
    }

    async fn last(&self) -> Result<Option<String>, String> {
        Ok(None)
    }

    async fn publish(&self, note: &str) -> Result<(), String> {
        let response = self
            .http
            .post(&self.url)
            .header("content-type", "text/plain; charset=utf-8")
            .body(note.to_owned())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if response.status().is_success() { Ok(()) } else { Err(format!("answered {}", response.status())) }
    }
}

fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder().timeout(HTTP_TIMEOUT).build()?)
}

/// The anchors the configuration asks for.
pub fn anchors(config: &Config) -> anyhow::Result<Vec<Arc<dyn CheckpointAnchor>>> {
    let mut anchors: Vec<Arc<dyn CheckpointAnchor>> = Vec::new();
    if let Some(path) = config.audit_anchor_file() {
        anchors.push(Arc::new(FileAnchor { path }));
    }
    if let Some(url) = &config.audit.anchor_url {
        anchors.push(Arc::new(UrlAnchor { url: http_url("audit.anchor_url", url)?, http: http_client()? }));
    }
    Ok(anchors)
}

fn http_url(key: &str, url: &str) -> anyhow::Result<String> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        bail!("{key} must be an http:// or https:// URL, not {url:?}");
    }
    Ok(url.to_owned())
}

/// POSTs each alert as JSON.
#[derive(Debug)]
pub struct WebhookNotifier {
    url: String,
    http: reqwest::Client,
}

#[async_trait]
impl AlertNotifier for WebhookNotifier {
    async fn notify(&self, alert: &AlertRecord) -> Result<(), String> {
        let body = serde_json::json!({
            "id": alert.id,
            "rule": alert.rule,
            "group_key": alert.group_key,
            "count": alert.count,
            "raised_at": strongroom_proto::time::rfc3339_from_ms(alert.created_ms),
            "message": alert.message,
        });
        let response = self.http.post(&self.url).json(&body).send().await.map_err(|e| e.to_string())?;
        if response.status().is_success() { Ok(()) } else { Err(format!("answered {}", response.status())) }
    }
}

/// The alert rules and webhook the configuration asks for.
pub fn alert_evaluator(config: &Config, log: Arc<AuditLog>) -> anyhow::Result<AlertEvaluator> {
    let audit = &config.audit;
    let seconds = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    let failed_logins = vec![EventType::LoginFailure, EventType::MfaFailure, EventType::AuthFailure];
    let rule = |name: &str, event_types: Vec<EventType>, group, threshold, window_seconds| AlertRule {
        name: name.into(),
        event_types,
        group,
        threshold,
        window_seconds,
    };
    let rules = vec![
        rule(
            "failed_logins_per_account",
            failed_logins.clone(),
            AlertGroup::Target,
            audit.alert_failed_logins,
            seconds(audit.alert_failed_logins_window_seconds),
        ),
        rule(
            "failed_logins_per_address",
            failed_logins,
            AlertGroup::Ip,
            audit.alert_failed_logins,
            seconds(audit.alert_failed_logins_window_seconds),
        ),
        rule(
            "reveals_per_actor",
            vec![EventType::RecordDecrypt, EventType::RecordExport, EventType::SubjectExport],
            AlertGroup::Actor,
            audit.alert_reveals_per_hour,
            3600,
        ),
        rule(
            "denied_access_spike",
            vec![EventType::PermissionDenied],
            AlertGroup::All,
            audit.alert_denials,
            seconds(audit.alert_denials_window_seconds),
        ),
        // Data loss: every missing blob object, once a day per record.
        rule("blob_missing", vec![EventType::BlobMissing], AlertGroup::Target, 1, 86_400),
    ];
    let notifier: Option<Arc<dyn AlertNotifier>> = match &audit.alert_webhook_url {
        Some(url) => {
            Some(Arc::new(WebhookNotifier { url: http_url("audit.alert_webhook_url", url)?, http: http_client()? }))
        }
        None => None,
    };
    Ok(AlertEvaluator::new(log, rules, notifier))
}

/// Free bytes for unprivileged users on the filesystem holding `path`.
pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
    let stats = rustix::fs::statvfs(path)?;
    Ok(stats.f_bavail.saturating_mul(stats.f_frsize))
}

/// Checks the data dir's free space every 2 s (one `statvfs`), so
/// `/readyz` follows a disk filling up or freed within seconds: below
/// `min_free_bytes` the audit health reports it (so `/readyz` fails) and an
/// alert is raised once per hour while it lasts.
pub async fn watch_free_space(data_dir: PathBuf, min_free_bytes: u64, log: Arc<AuditLog>, alerts: Arc<AlertEvaluator>) {
    let mut ticker = tokio::time::interval(Duration::from_secs(2));
    let mut raised_in_hour = None;
    loop {
        ticker.tick().await;
        let free = match free_bytes(&data_dir) {
            Ok(free) => free,
            Err(error) => {
                tracing::warn!(%error, dir = %data_dir.display(), "cannot read the free space of the data dir");
                continue;
            }
        };
        let low = free < min_free_bytes;
        let message = low.then(|| {
            format!(
                "only {free} bytes free for the audit store in {} (audit.min_free_bytes is {min_free_bytes})",
                data_dir.display()
            )
        });
        log.update_health(|health| health.storage_low = message.clone());
        let now = log.now_ms();
        let hour = now / 3_600_000;
        if let Some(message) = message
            && raised_in_hour != Some(hour)
        {
            let alert = AlertRecord {
                id: format!("audit_storage_low:{hour}"),
                rule: "audit_storage_low".into(),
                group_key: "*".into(),
                count: 1,
                window_start_ms: now,
                created_ms: now,
                message,
            };
            match alerts.raise(alert).await {
                Ok(_) => raised_in_hour = Some(hour),
                Err(error) => tracing::error!(%error, "cannot raise the low-space alert"),
            }
        }
    }
}

/// Evaluates the alert rules every `interval`.
pub async fn evaluate_alerts(alerts: Arc<AlertEvaluator>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval.max(Duration::from_secs(1)));
    loop {
        ticker.tick().await;
        if let Err(error) = alerts.evaluate().await {
            tracing::warn!(%error, "alert evaluation failed; retrying");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_line_skips_trailing_blank_lines_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        assert_eq!(last_line(&path).unwrap(), None);
        std::fs::write(&path, "one\ntwo\n\n").unwrap();
        assert_eq!(last_line(&path).unwrap().as_deref(), Some("two"));
    }

    #[test]
    fn syslog_addresses_must_name_a_scheme() {
        assert!(SyslogSink::parse("udp://127.0.0.1:514").is_ok());
        assert!(SyslogSink::parse("unix:///dev/log").is_ok());
        assert!(SyslogSink::parse("127.0.0.1:514").is_err());
    }
}
