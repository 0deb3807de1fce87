//! 私密文件 — the data dir's files that hold secrets: `admin.token` (the admin's bearer token) and
//! `safemesh.toml` (which may hold a database password). Written mode 0600 and atomically (a
//! temporary file renamed over), and a token file others can read is refused at start (issue 19 #11).

use std::io::Write;
use std::path::Path;

use crate::Error;

/// Writes `path` with `text`, mode 0600, replacing it atomically.
pub fn write_private(path: &Path, text: &str) -> Result<(), Error> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(&tmp)?;
    // An existing temporary file keeps its mode: set it again.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Refuses a secret file that anyone but its owner may read or write (group or others), saying how
/// to fix it.
pub fn check_private(path: &Path) -> Result<(), Error> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            // Missing: whoever reads it says so.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(Error::Config(format!(
                "{p} 的权限为 {mode:o}，其他用户可读写；请执行 chmod 600 {p} / {p} is mode {mode:o}, \
                 open to other users: run chmod 600 {p}",
                p = path.display()
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
