//! 密钥与证书成对替换 — the node's key and certificate are replaced as a pair (issue 19 #11): a crash
//! between writing one and the other must not leave a key that does not match its certificate (the
//! node could then neither start nor link). Both are written beside their files as `.new` and
//! synced, then the key is renamed over, then the certificate. At the next load,
//! [`finish_replacement`] completes a replacement cut between the renames, or discards one cut before
//! them (the old pair is then whole).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::Error;
use super::profile::{NODE_CERT_FILE, NODE_KEY_FILE};

fn pending(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.new"))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn write_synced(path: &Path, contents: &[u8], secret: bool) -> Result<(), Error> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut f = options.open(path).map_err(io(path))?;
    f.write_all(contents).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

fn remove_if_present(path: &Path) -> Result<(), Error> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Replaces `dir/node.key` (mode 0600) and `dir/node.pem` as a pair.
pub fn replace_pair(dir: &Path, key_pem: &str, cert_pem: &str) -> Result<(), Error> {
    let (key_new, cert_new) = (pending(dir, NODE_KEY_FILE), pending(dir, NODE_CERT_FILE));
    write_synced(&key_new, key_pem.as_bytes(), true)?;
    write_synced(&cert_new, cert_pem.as_bytes(), false)?;
    let key = dir.join(NODE_KEY_FILE);
    fs::rename(&key_new, &key).map_err(io(&key))?;
    let cert = dir.join(NODE_CERT_FILE);
    fs::rename(&cert_new, &cert).map_err(io(&cert))?;
    Ok(())
}

/// Completes or discards a replacement a crash cut short. Returns whether one was completed.
pub fn finish_replacement(dir: &Path) -> Result<bool, Error> {
    let (key_new, cert_new) = (pending(dir, NODE_KEY_FILE), pending(dir, NODE_CERT_FILE));
    if key_new.exists() {
        // Cut before the key was renamed: the old pair is whole; the new one may be half-written.
        remove_if_present(&key_new)?;
        remove_if_present(&cert_new)?;
        return Ok(false);
    }
    if cert_new.exists() {
        // Cut between the renames: the new key is in place, its certificate is waiting.
        let cert = dir.join(NODE_CERT_FILE);
        fs::rename(&cert_new, &cert).map_err(io(&cert))?;
        tracing::warn!(dir = %dir.display(),
            "补全了中断的证书替换 / completed a certificate replacement cut short");
        return Ok(true);
    }
    Ok(false)
}

/// Replaces one file atomically: written beside it as `.new`, synced, renamed over it (a reader
/// sees the old file or the new one, never half of one).
pub(crate) fn replace_file(path: &Path, contents: &[u8]) -> Result<(), Error> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".new");
    let new = path.with_file_name(name);
    write_synced(&new, contents, false)?;
    fs::rename(&new, path).map_err(io(path))
}
