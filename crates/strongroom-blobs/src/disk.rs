//! Blobs in a local directory: one file per object, mode 0600 in 0700
//! directories, written as `<name>.part-<random>` and renamed when complete.
//!
//! A failed or aborted upload removes its part file and the directories it
//! made that stayed empty. What a killed process leaves (part files, empty
//! directories) goes at the next [`BlobStorage::sweep`], which the server
//! runs at start and hourly.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use strongroom_core::records::{BlobError, BlobReader, BlobStorage, BlobUpload};
use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufReader, BufWriter};

use crate::check_name;

/// Bytes gathered before a write to the file, and read at once.
const WRITE_BUFFER: usize = 1024 * 1024;

fn io(error: std::io::Error) -> BlobError {
    BlobError::from_io(error, None)
}

/// The marker in a part file's name: `<name>.part-<16 hex>`.
const PART_MARKER: &str = ".part-";

/// Objects as files under one directory.
#[derive(Debug, Clone)]
pub struct DiskBlobs {
    root: PathBuf,
}

impl DiskBlobs {
    /// Objects under `root`, created (0700) now if missing.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, BlobError> {
        let root = root.into();
        create_private_dir(&root)?;
        Ok(Self { root })
    }

    fn path(&self, name: &str) -> Result<PathBuf, BlobError> {
        check_name(name)?;
        Ok(self.root.join(name))
    }

    /// Removes the empty directories from `dir` up to (not including) the
    /// root: what a failed upload made and nothing else uses. A directory
    /// that is not empty stops the climb.
    async fn prune(root: &Path, dir: Option<&Path>) {
        let mut dir = dir;
        while let Some(current) = dir.filter(|d| d.starts_with(root) && *d != root) {
            if tokio::fs::remove_dir(current).await.is_err() {
                break;
            }
            dir = current.parent();
        }
    }

    async fn open_part(&self, target: &Path, part: &Path) -> Result<File, BlobError> {
        // A sweep may remove an empty directory between its creation and the
        // part file's: make it again, a few times at most.
        let mut attempts = 0;
        loop {
            if let Some(parent) = target.parent() {
                create_private_dir(parent)?;
            }
            match OpenOptions::new().write(true).create_new(true).mode(0o600).open(part).await {
                Err(error) if error.kind() == std::io::ErrorKind::NotFound && attempts < 3 => attempts += 1,
                opened => return opened.map_err(io),
            }
        }
    }
}

fn create_private_dir(path: &Path) -> Result<(), BlobError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(path).map_err(io)
}

/// Whether `name` is a part file's (`<name>.part-<16 hex>`).
fn is_part_file(name: &str) -> bool {
    name.rsplit_once(PART_MARKER).is_some_and(|(object, suffix)| {
        !object.is_empty() && suffix.len() == 16 && suffix.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// Removes part files older than `cutoff` under `dir`, then the directories
/// left empty (not `dir` itself when `keep` is set); counts what went.
fn sweep_dir(dir: &Path, cutoff: SystemTime, keep: bool) -> std::io::Result<u64> {
    // Only directories old enough before the sweep touched them: a fresh one
    // may be an upload's, about to get its part file (and `open_part`
    // makes it again if it went anyway).
    let old = std::fs::metadata(dir)?.modified()? < cutoff;
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let file_type = entry.file_type()?;
        let path = entry.path();
        if file_type.is_dir() {
            // Gone meanwhile (an upload's failure pruned it): nothing to sweep.
            match sweep_dir(&path, cutoff, false) {
                Ok(count) => removed += count,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
        } else if file_type.is_file()
            && entry.file_name().to_str().is_some_and(is_part_file)
            // No time: renamed or removed meanwhile by its upload.
            && entry.metadata().and_then(|m| m.modified()).is_ok_and(|time| time < cutoff)
        {
            match std::fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
        }
    }
    if !keep && old && std::fs::remove_dir(dir).is_ok() {
        removed += 1;
    }
    Ok(removed)
}

struct DiskUpload {
    /// Written in 1 MiB pieces: each write of a tokio file is a hop to the
    /// blocking pool, too many for 64 KiB segments at disk speed.
    file: Option<BufWriter<File>>,
    part: PathBuf,
    target: PathBuf,
    /// The store's root, where pruning empty directories stops.
    root: PathBuf,
}

#[async_trait]
impl BlobUpload for DiskUpload {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), BlobError> {
        match &mut self.file {
            Some(file) => file.write_all(bytes).await.map_err(io),
            None => Err(BlobError::Failed("the upload is closed".into())),
        }
    }

    async fn finish(mut self: Box<Self>) -> Result<u64, BlobError> {
        let mut file = self.file.take().ok_or_else(|| BlobError::Failed("the upload is closed".into()))?;
        let outcome = async {
            file.flush().await.map_err(io)?;
            let file = file.into_inner();
            file.sync_all().await.map_err(io)?;
            let size = file.metadata().await.map_err(io)?.len();
            drop(file);
            tokio::fs::rename(&self.part, &self.target).await.map_err(io)?;
            Ok(size)
        }
        .await;
        if outcome.is_err() {
            self.discard().await;
        }
        outcome
    }

    async fn abort(mut self: Box<Self>) {
        self.file.take();
        self.discard().await;
    }
}

impl DiskUpload {
    /// Removes the part file and the directories left empty by it.
    async fn discard(&self) {
        let _ = tokio::fs::remove_file(&self.part).await;
        DiskBlobs::prune(&self.root, self.part.parent()).await;
    }
}

#[async_trait]
impl BlobStorage for DiskBlobs {
    async fn begin(&self, name: &str) -> Result<Box<dyn BlobUpload>, BlobError> {
        let target = self.path(name)?;
        let suffix = strongroom_crypto::to_hex(
            &strongroom_crypto::random_bytes::<8>().map_err(|e| BlobError::Failed(e.into()))?,
        );
        let part = target.with_file_name(format!(
            "{}{PART_MARKER}{suffix}",
            target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
        ));
        match self.open_part(&target, &part).await {
            Ok(file) => Ok(Box::new(DiskUpload {
                file: Some(BufWriter::with_capacity(WRITE_BUFFER, file)),
                part,
                target,
                root: self.root.clone(),
            })),
            Err(error) => {
                // A full disk can fail between directories: leave none empty.
                Self::prune(&self.root, target.parent()).await;
                Err(error)
            }
        }
    }

    async fn read_range(&self, name: &str, start: u64, end: u64) -> Result<BlobReader, BlobError> {
        let mut file = File::open(self.path(name)?).await.map_err(|e| BlobError::from_io(e, Some(name)))?;
        file.seek(SeekFrom::Start(start)).await.map_err(io)?;
        // Read in 1 MiB pieces, for the same reason as writes.
        Ok(Box::pin(BufReader::with_capacity(WRITE_BUFFER, file.take(end.saturating_sub(start)))))
    }

    async fn delete(&self, name: &str) -> Result<(), BlobError> {
        match tokio::fs::remove_file(self.path(name)?).await {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(io(error)),
            _ => Ok(()),
        }
    }

    async fn check(&self) -> Result<(), BlobError> {
        let metadata = tokio::fs::metadata(&self.root).await.map_err(io)?;
        if metadata.is_dir() { Ok(()) } else { Err(BlobError::Failed("the blob directory is not a directory".into())) }
    }

    async fn sweep(&self, older_than: Duration) -> Result<u64, BlobError> {
        let cutoff = SystemTime::now().checked_sub(older_than).unwrap_or(SystemTime::UNIX_EPOCH);
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || sweep_dir(&root, cutoff, true))
            .await
            .map_err(|e| BlobError::Failed(e.into()))?
            .map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use tokio::io::AsyncReadExt;

    use super::*;

    #[tokio::test]
    async fn objects_appear_only_when_finished_and_read_back_by_range() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = DiskBlobs::new(dir.path().join("blobs")).unwrap();
        let mut upload = blobs.begin("c/r/audio/01").await.unwrap();
        upload.write(b"hello ").await.unwrap();
        upload.write(b"world").await.unwrap();
        assert!(blobs.read_range("c/r/audio/01", 0, 5).await.is_err(), "not visible before finish");
        assert_eq!(upload.finish().await.unwrap(), 11);
        let mut text = String::new();
        blobs.read_range("c/r/audio/01", 6, 11).await.unwrap().read_to_string(&mut text).await.unwrap();
        assert_eq!(text, "world");
        let mode = std::fs::metadata(dir.path().join("blobs/c/r/audio/01")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        blobs.delete("c/r/audio/01").await.unwrap();
        blobs.delete("c/r/audio/01").await.unwrap();
    }

    #[tokio::test]
    async fn an_aborted_upload_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = DiskBlobs::new(dir.path()).unwrap();
        let mut upload = blobs.begin("c/r/f/02").await.unwrap();
        upload.write(b"partial").await.unwrap();
        upload.abort().await;
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "the part file and its directories stay: {left:?}");
        assert!(blobs.begin("../escape").await.is_err());
    }

    fn age(path: &Path, seconds: u64) {
        let file = std::fs::File::open(path).unwrap();
        file.set_modified(SystemTime::now() - Duration::from_secs(seconds)).unwrap();
    }

    #[tokio::test]
    async fn a_sweep_removes_stale_part_files_and_empty_directories_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = DiskBlobs::new(dir.path()).unwrap();
        let mut kept = blobs.begin("c/r/audio/01").await.unwrap();
        kept.write(b"done").await.unwrap();
        kept.finish().await.unwrap();
        // What a killed upload leaves: a part file nobody writes any more.
        std::fs::create_dir_all(dir.path().join("c/r2/audio")).unwrap();
        let stale = dir.path().join("c/r2/audio/02.part-0123456789abcdef");
        std::fs::write(&stale, vec![0u8; 1024]).unwrap();
        age(&stale, 7200);
        let fresh = dir.path().join("c/r/audio/03.part-fedcba9876543210");
        std::fs::write(&fresh, b"uploading").unwrap();
        let old_object = dir.path().join("c/r/audio/04");
        std::fs::write(&old_object, b"an object, not a part").unwrap();
        age(&old_object, 7200);
        for empty in ["c/r2/audio", "c/r2"] {
            age(&dir.path().join(empty), 7200);
        }

        let removed = blobs.sweep(Duration::from_secs(3600)).await.unwrap();

        assert!(!stale.exists(), "the stale part file went");
        assert!(!dir.path().join("c/r2").exists(), "its emptied directories went");
        assert!(fresh.exists(), "an upload in progress stays");
        assert!(old_object.exists(), "objects stay, however old");
        assert!(dir.path().join("c/r/audio/01").exists());
        assert!(dir.path().exists(), "the root stays");
        assert_eq!(removed, 3, "the part file and two directories");
    }

    #[test]
    fn only_names_ending_in_part_and_sixteen_hex_are_part_files() {
        assert!(is_part_file("01ab.part-0123456789abcdef"));
        for name in ["01ab", ".part-0123456789abcdef", "01ab.part-0123", "01ab.part-0123456789abcdeg", "x.part-"] {
            assert!(!is_part_file(name), "{name}");
        }
    }

    #[tokio::test]
    async fn a_missing_object_is_named_as_missing() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = DiskBlobs::new(dir.path()).unwrap();
        let error = blobs.read_range("c/r/f/05", 0, 10).await.err().unwrap();
        assert!(matches!(error, BlobError::Missing(name) if name == "c/r/f/05"));
    }
}
