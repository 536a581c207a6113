//! File-system safety: who may read the vault and its directory.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::VaultError;

/// The files SQLite keeps beside the vault (write-ahead log, shared memory).
pub(crate) fn companions(path: &Path) -> [PathBuf; 2] {
    let with = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    [with("-wal"), with("-shm")]
}

/// The directory holding `path` ("." for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Refuses `path` when any of the `forbidden` mode bits is set; the fix is
/// `chmod {fix_mode}`.
fn check_mode(path: &Path, forbidden: u32, fix_mode: &str) -> Result<(), VaultError> {
    let metadata = std::fs::metadata(path)
        .map_err(|e| VaultError::io(format!("reading {}", path.display()), e))?;
    let mode = metadata.mode() & 0o7777;
    if mode & forbidden != 0 {
        return Err(VaultError::InsecurePermissions {
            path: path.to_owned(),
            mode,
            fix: format!("chmod {fix_mode} '{}'", path.display()),
        });
    }
    Ok(())
}

/// Refuses a vault file (or companion, or key file) that other users may read or
/// write.
pub(crate) fn check_file(path: &Path) -> Result<(), VaultError> {
    check_mode(path, 0o077, "600")
}

/// Refuses a directory other users may write to (they could replace the vault or
/// plant its write-ahead log).
pub(crate) fn check_dir(dir: &Path) -> Result<(), VaultError> {
    check_mode(dir, 0o022, "700")
}

/// Checks the vault, its companions and its directory before opening.
pub(crate) fn check_existing(path: &Path) -> Result<(), VaultError> {
    check_dir(parent_dir(path))?;
    check_file(path)?;
    for companion in companions(path) {
        if companion.exists() {
            check_file(&companion)?;
        }
    }
    Ok(())
}

/// Creates the directory (0700) if needed and an empty vault file (0600).
pub(crate) fn create_new(path: &Path) -> Result<(), VaultError> {
    let dir = parent_dir(path);
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| VaultError::io(format!("creating {}", dir.display()), e))?;
    }
    check_dir(dir)?;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                VaultError::AlreadyExists {
                    path: path.to_owned(),
                }
            } else {
                VaultError::io(format!("creating {}", path.display()), e)
            }
        })?;
    Ok(())
}

/// Removes a half-created vault and its companions (best effort).
pub(crate) fn remove_partial(path: &Path) {
    let _ = std::fs::remove_file(path);
    for companion in companions(path) {
        let _ = std::fs::remove_file(companion);
    }
}
