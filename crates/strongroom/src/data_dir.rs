//! The data directory: created private (0700), and locked while a server uses
//! its embedded SQLite database, so a second server on the same directory
//! exits with a clear message instead of corrupting anything.

use std::fs::{DirBuilder, File, OpenOptions, TryLockError};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use anyhow::{Context, bail};

/// Creates `dir` (and parents) with mode 0700 if it does not exist.
pub fn ensure(dir: &Path) -> anyhow::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create data dir {}", dir.display()))
}

/// An exclusive lock on the data dir, released when dropped (or when the
/// process dies: the OS drops `flock` locks with the process).
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// Takes the data-dir lock, or fails naming the directory and what to do.
pub fn lock(dir: &Path) -> anyhow::Result<DataDirLock> {
    let path = dir.join("strongroom.lock");
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot open lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => bail!(
            "data dir {} is in use by another strongroom process (lock {} is held); \
             stop that server or give this one another data_dir",
            dir.display(),
            path.display()
        ),
        Err(TryLockError::Error(error)) => {
            return Err(error).with_context(|| format!("cannot lock {}", path.display()));
        }
    }
    // The pid is for the operator's eyes only; the lock itself is what counts.
    file.set_len(0)?;
    writeln!(file, "{}", std::process::id())?;
    Ok(DataDirLock { _file: file })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn creates_private_dir_and_refuses_a_second_lock() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("a/b");
        ensure(&dir).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        let first = lock(&dir).unwrap();
        let second = lock(&dir).unwrap_err().to_string();
        assert!(second.contains("in use by another strongroom process"), "{second}");
        drop(first);
        lock(&dir).unwrap();
    }
}
