//! Blobs in a local directory: one file per object, mode 0600 in 0700
//! directories, written as `<name>.part-<random>` and renamed when complete.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use strongroom_core::StoreError;
use strongroom_core::records::{BlobReader, BlobStorage, BlobUpload};
use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufReader, BufWriter};

use crate::check_name;

/// Bytes gathered before a write to the file, and read at once.
const WRITE_BUFFER: usize = 1024 * 1024;

fn io(error: std::io::Error) -> StoreError {
    StoreError::Backend(error.into())
}

/// Objects as files under one directory.
#[derive(Debug, Clone)]
pub struct DiskBlobs {
    root: PathBuf,
}

impl DiskBlobs {
    /// Objects under `root`, created (0700) now if missing.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        create_private_dir(&root)?;
        Ok(Self { root })
    }

    fn path(&self, name: &str) -> Result<PathBuf, StoreError> {
        check_name(name)?;
        Ok(self.root.join(name))
    }
}

fn create_private_dir(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(path).map_err(io)
}

struct DiskUpload {
    /// Written in 1 MiB pieces: each write of a tokio file is a hop to the
    /// blocking pool, too many for 64 KiB segments at disk speed.
    file: Option<BufWriter<File>>,
    part: PathBuf,
    target: PathBuf,
}

#[async_trait]
impl BlobUpload for DiskUpload {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        match &mut self.file {
            Some(file) => file.write_all(bytes).await.map_err(io),
            None => Err(StoreError::Backend("the upload is closed".into())),
        }
    }

    async fn finish(mut self: Box<Self>) -> Result<u64, StoreError> {
        let mut file = self.file.take().ok_or_else(|| StoreError::Backend("the upload is closed".into()))?;
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
            let _ = tokio::fs::remove_file(&self.part).await;
        }
        outcome
    }

    async fn abort(mut self: Box<Self>) {
        self.file.take();
        let _ = tokio::fs::remove_file(&self.part).await;
    }
}

#[async_trait]
impl BlobStorage for DiskBlobs {
    async fn begin(&self, name: &str) -> Result<Box<dyn BlobUpload>, StoreError> {
        let target = self.path(name)?;
        if let Some(parent) = target.parent() {
            create_private_dir(parent)?;
        }
        let suffix: String = strongroom_crypto::random_bytes::<8>()
            .map_err(|e| StoreError::Backend(e.into()))?
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let part = target.with_file_name(format!(
            "{}.part-{suffix}",
            target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
        ));
        let file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&part).await.map_err(io)?;
        Ok(Box::new(DiskUpload { file: Some(BufWriter::with_capacity(WRITE_BUFFER, file)), part, target }))
    }

    async fn read_range(&self, name: &str, start: u64, end: u64) -> Result<BlobReader, StoreError> {
        let mut file = File::open(self.path(name)?).await.map_err(io)?;
        file.seek(SeekFrom::Start(start)).await.map_err(io)?;
        // Read in 1 MiB pieces, for the same reason as writes.
        Ok(Box::pin(BufReader::with_capacity(WRITE_BUFFER, file.take(end.saturating_sub(start)))))
    }

    async fn delete(&self, name: &str) -> Result<(), StoreError> {
        match tokio::fs::remove_file(self.path(name)?).await {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(io(error)),
            _ => Ok(()),
        }
    }

    async fn check(&self) -> Result<(), StoreError> {
        let metadata = tokio::fs::metadata(&self.root).await.map_err(io)?;
        if metadata.is_dir() {
            Ok(())
        } else {
            Err(StoreError::Backend("the blob directory is not a directory".into()))
        }
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
        let left: Vec<_> = std::fs::read_dir(dir.path().join("c/r/f")).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
        assert!(blobs.begin("../escape").await.is_err());
    }
}
