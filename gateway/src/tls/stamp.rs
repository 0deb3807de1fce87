//! 文件版本 — telling one version of a file from the next, so a file is re-read when, and only when,
//! it was replaced.
//!
//! The node's own certificate (`identity.rs`) and the revocation list (`revocation.rs`) are both
//! taken up without a restart. At each handshake they compare a [`FileStamp`] instead of reading
//! the file, which keeps the handshake cheap. What they read sits behind a mutex taken with
//! [`lock`] — the same helper guards what the connection observer (`observe.rs`) records.

use std::io;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

/// Locks a mutex, ignoring poisoning: every value guarded here stays consistent between statements.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What identifies a version of a file: modification time, size, and (on Unix) inode, so an atomic
/// replacement (rename) is seen even within one mtime tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    ino: u64,
}

impl FileStamp {
    /// `Ok(None)` if the file does not exist.
    pub(super) fn of(path: &Path) -> io::Result<Option<FileStamp>> {
        match std::fs::metadata(path) {
            Ok(m) => {
                #[cfg(unix)]
                let ino = std::os::unix::fs::MetadataExt::ino(&m);
                #[cfg(not(unix))]
                let ino = 0;
                Ok(Some(FileStamp {
                    modified: m.modified().ok(),
                    len: m.len(),
                    ino,
                }))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}
