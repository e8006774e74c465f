//! `strongroom audit export|verify`: the audit log leaves the server as a
//! JSON-lines file (format in docs/audit.md), and is checked offline, without
//! the server or its database, against its signed checkpoints.
//!
//! The verifier trusts only the keys it is given (`--key`, e.g. the line
//! `GET /v1/audit/public-key` returned earlier); without one it falls back to
//! the keys written in the export itself and says so, since whoever could
//! edit the file could replace those too.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clap::Subcommand;
use serde::{Deserialize, Serialize};
use strongroom_config::Config;
use strongroom_core::audit::{EventType, LogVerifier, TreeHead};
use strongroom_core::{CoreError, Services};
use strongroom_crypto::note::NoteVerifier;
use strongroom_store::Database;

use crate::server::{cli_context, open_services};
use strongroom_integrations::audit_outputs::FileAnchor;

/// The `format` of an export's first line.
const EXPORT_FORMAT: &str = "strongroom-audit-export";
const EXPORT_VERSION: u32 = 1;
const PAGE: u32 = 5000;

/// Audit-log commands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Write the whole log (events, signed checkpoints, verifier keys) to a new
    /// file (0600, never overwritten), after signing a checkpoint that covers it
    /// (a damaged log is exported too, without a new checkpoint).
    Export {
        /// The file to create.
        #[arg(long)]
        out: PathBuf,
    },
    /// After a rollback or fork was found (audited actions are refused), accept
    /// the log as it is now: records `audit.rollback_accepted` with what is
    /// abandoned and why, signs and anchors a checkpoint of the tree, and
    /// audited actions resume (a running server resumes at its next
    /// checkpoint, within `audit.checkpoint_interval_seconds`). Restoring the
    /// newer database instead needs no command.
    AcceptRollback {
        /// Why this state is accepted (at least 20 characters), for the record.
        #[arg(long)]
        reason: String,
    },
    /// Check an export offline: recompute the tree and compare it with every
    /// signed checkpoint; report any edited, missing, inserted, reordered or
    /// truncated entry with its index. Exit 1 if anything is wrong.
    Verify {
        /// The export file.
        file: PathBuf,
        /// A trusted note verifier key (`name+id+base64`); repeat for more.
        /// Without one, the keys inside the export are used, with a warning.
        #[arg(long = "key")]
        keys: Vec<String>,
        /// A checkpoint anchor file (`audit.anchor_file`) whose checkpoints the
        /// export must also match; repeat for more.
        #[arg(long)]
        anchor: Vec<PathBuf>,
    },
}

/// The first line of an export.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
    origin: String,
    verifier_keys: Vec<String>,
    tree_size: u64,
    root_hash: String,
}

/// Every later line: a checkpoint or an entry.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Line {
    Checkpoint { checkpoint: String },
    Entry { index: u64, entry: String, leaf_hash: Option<String> },
}

/// Runs an audit command.
pub async fn run(config: &Config, command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Export { out } => export(config, &out).await,
        AuditCommand::Verify { file, keys, anchor } => verify(&file, &keys, &anchor),
        AuditCommand::AcceptRollback { reason } => accept_rollback(config, &reason).await,
    }
}

async fn accept_rollback(config: &Config, reason: &str) -> anyhow::Result<()> {
    let (database, services) = open_services(config).await?;
    let result = services.checkpointer.accept_rollback(reason, &cli_context()).await;
    database.close().await;
    let checkpoint = result?;
    println!(
        "accepted the audit log as it is (size {}); a checkpoint of it is signed and anchored, and audited actions resume",
        checkpoint.size
    );
    Ok(())
}

async fn export(config: &Config, out: &Path) -> anyhow::Result<()> {
    let (database, services) = open_services(config).await?;
    let result = write_export(&database, &services, out).await;
    database.close().await;
    result
}

async fn write_export(database: &Database, services: &Services, out: &Path) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .with_context(|| format!("cannot create {} (an existing file is never overwritten)", out.display()))?;
    let audit = &services.audit;
    // A damaged or rolled-back log is exported too (that is when it is needed
    // most), without a new signature over it: first find out whether it is.
    let report = services.checkpointer.verify_stored().await?;
    if let Some(problem) = report.problems.first() {
        eprintln!(
            "warning: the stored log does not verify ({} problem(s)); first: {}",
            report.problems.len(),
            problem.message
        );
    }
    let _ = services.checkpointer.current().await;
    match audit.record(&audit.event(EventType::AuditExport, &cli_context())).await {
        Ok(_) => {}
        // Appending to a rolled-back tree would fork it: the export is still
        // written, for the investigation, but cannot be recorded in the log.
        Err(CoreError::AuditRolledBack(why)) => eprintln!("warning: this export is not recorded in the log: {why}"),
        Err(other) => return Err(other.into()),
    }
    let head = match services.checkpointer.current().await {
        Ok(checkpoint) => TreeHead { size: checkpoint.size, root: checkpoint.root },
        Err(error) => {
            eprintln!("warning: no checkpoint signed for this export: {error}");
            audit.head().await?
        }
    };
    let header = Header {
        format: EXPORT_FORMAT.into(),
        version: EXPORT_VERSION,
        origin: services.checkpointer.origin().to_owned(),
        verifier_keys: services.checkpointer.verifiers().await?.iter().map(NoteVerifier::encode).collect(),
        tree_size: head.size,
        root_hash: STANDARD.encode(head.root),
    };
    let mut writer = std::io::BufWriter::new(&mut file);
    writeln!(writer, "{}", serde_json::to_string(&header)?)?;
    // Every checkpoint up to the export's is written, not only the newest: a
    // reader sees the whole signing history, and an edit is located between
    // the two checkpoints around it.
    let checkpoints = database.audit_store().checkpoints().await?;
    for stored in checkpoints.iter().filter(|c| c.size <= head.size) {
        writeln!(writer, "{}", serde_json::to_string(&Line::Checkpoint { checkpoint: stored.note.clone() })?)?;
    }
    let mut next = 0;
    while next < head.size {
        let page = audit.entries(next, PAGE).await?;
        let Some(last) = page.last() else { break };
        next = last.index + 1;
        for entry in page.iter().filter(|e| e.index < head.size) {
            let line = Line::Entry {
                index: entry.index,
                entry: STANDARD.encode(&entry.entry),
                leaf_hash: entry.leaf_hash.map(|h| STANDARD.encode(h)),
            };
            writeln!(writer, "{}", serde_json::to_string(&line)?)?;
        }
    }
    writer.flush()?;
    drop(writer);
    file.sync_all()?;
    println!(
        "exported {} audit events and {} checkpoints to {} (root {})",
        head.size,
        checkpoints.len(),
        out.display(),
        header.root_hash
    );
    Ok(())
}

/// Every line after the header, numbered from 1, parsed.
fn body_lines(file: &Path) -> anyhow::Result<impl Iterator<Item = anyhow::Result<(usize, Line)>>> {
    let reader = BufReader::new(std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?);
    Ok(reader.lines().enumerate().skip(1).filter_map(|(number, line)| match line {
        Ok(line) if line.trim().is_empty() => None,
        Ok(line) => Some(
            serde_json::from_str::<Line>(&line)
                .map(|parsed| (number + 1, parsed))
                .with_context(|| format!("line {} is malformed", number + 1)),
        ),
        Err(error) => Some(Err(error.into())),
    }))
}

fn verify(file: &Path, keys: &[String], anchors: &[PathBuf]) -> anyhow::Result<()> {
    let reader = BufReader::new(std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?);
    let first = reader.lines().next().context("the export is empty")??;
    let header: Header = serde_json::from_str(&first).context("the first line is not an export header")?;
    if header.format != EXPORT_FORMAT || header.version != EXPORT_VERSION {
        bail!("not a {EXPORT_FORMAT} version {EXPORT_VERSION} file");
    }
    let parse_keys = |keys: &[String]| -> anyhow::Result<Vec<NoteVerifier>> {
        keys.iter().map(|k| NoteVerifier::parse(k).with_context(|| format!("bad verifier key {k:?}"))).collect()
    };
    let trusted = if keys.is_empty() {
        eprintln!(
            "warning: no --key given: trusting the verifier keys written in the export itself; \
             pin the key from GET /v1/audit/public-key with --key"
        );
        parse_keys(&header.verifier_keys)?
    } else {
        parse_keys(keys)?
    };
    let mut verifier = LogVerifier::new();
    for anchor in anchors {
        for note in FileAnchor::read_all(anchor)? {
            verifier.add_signed_checkpoint(&note, &trusted, &header.origin);
        }
    }
    // Two passes: checkpoints first (wherever they stand in the file), then
    // the entries streamed, so an export of any size verifies in little memory.
    let mut checkpoints = 0;
    for line in body_lines(file)? {
        if let (_, Line::Checkpoint { checkpoint }) = line? {
            verifier.add_signed_checkpoint(&checkpoint, &trusted, &header.origin);
            checkpoints += 1;
        }
    }
    for line in body_lines(file)? {
        let (number, Line::Entry { index, entry, leaf_hash }) = line? else { continue };
        let bytes = STANDARD.decode(&entry).with_context(|| format!("line {number}: the entry is not base64"))?;
        match leaf_hash {
            Some(hash) => {
                let hash = STANDARD
                    .decode(&hash)
                    .ok()
                    .and_then(|h| <[u8; 32]>::try_from(h).ok())
                    .with_context(|| format!("line {number}: the leaf hash is not 32 bytes of base64"))?;
                verifier.feed(index, &bytes, Some(hash), None);
            }
            None => verifier.feed_unhashed(index, &bytes),
        }
    }
    let root = STANDARD
        .decode(&header.root_hash)
        .ok()
        .and_then(|h| <[u8; 32]>::try_from(h).ok())
        .context("the header's root hash is not 32 bytes of base64")?;
    let report = verifier.finish(Some(TreeHead { size: header.tree_size, root }));
    if report.verified() {
        println!(
            "verified: {} entries, {} signed checkpoints checked ({} in the file), root {}",
            report.entries_checked,
            report.checkpoints_checked,
            checkpoints,
            STANDARD.encode(report.root)
        );
        if report.checkpoints_checked == 0 {
            bail!("no signed checkpoint covers these entries: nothing vouches for them");
        }
        return Ok(());
    }
    eprintln!("the audit log does NOT verify:");
    for problem in &report.problems {
        match problem.index {
            Some(index) => eprintln!("  at index {index}: {}", problem.message),
            None => eprintln!("  {}", problem.message),
        }
    }
    bail!("{} problem(s) found", report.problems.len())
}
