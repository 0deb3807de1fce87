//! `safemesh backup --out FILE`: a consistent copy of a node's store while it runs.
//!
//! SQLite: `VACUUM INTO` (see `safemesh_store::Store::backup_into`). PostgreSQL is backed up with
//! `pg_dump`: the command is printed for the operator (or the backup job) to run, and nothing is
//! claimed done. Restoring: docs/OPERATIONS.md, "备份与恢复".

use std::path::Path;

use crate::config::Config;

/// What a backup came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backup {
    /// The copy was written: its size in bytes.
    Written(u64),
    /// The store is PostgreSQL: run this command.
    PgDump(String),
}

/// Backs up the store of the node at `data_dir` to `out`.
pub async fn backup(data_dir: &Path, out: &Path) -> anyhow::Result<Backup> {
    let cfg = Config::load(data_dir)?;
    if let Some(url) = cfg.database_url.as_deref()
        && (url.starts_with("postgres:") || url.starts_with("postgresql:"))
    {
        return Ok(Backup::PgDump(pg_dump_command(url, out)));
    }
    // The store refuses an existing file (never overwritten).
    let store = cfg.open_store(data_dir).await?;
    let done = store.backup_into(out).await;
    store.close().await;
    Ok(Backup::Written(done?))
}

/// `safemesh after-restore`: run once on a store restored from a backup, before the node starts: a
/// new install id and no link cursors, so its peers compare digests with it and send only what
/// differs. Returns the new install id.
pub async fn after_restore(data_dir: &Path) -> anyhow::Result<String> {
    let cfg = Config::load(data_dir)?;
    let store = cfg.open_store(data_dir).await?;
    let id = store.new_install().await;
    store.close().await;
    Ok(id?)
}

/// The `pg_dump` command that backs up the database at `url` into `out` (custom format, for
/// `pg_restore`). The URL is quoted for a POSIX shell.
pub fn pg_dump_command(url: &str, out: &Path) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    format!(
        "pg_dump --format=custom --no-owner --file={} {}",
        quote(&out.display().to_string()),
        quote(url)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pg_dump_command_is_quoted_for_the_shell() {
        assert_eq!(
            pg_dump_command("postgres://u:p'q@h/db", Path::new("/b/x y.dump")),
            r"pg_dump --format=custom --no-owner --file='/b/x y.dump' 'postgres://u:p'\''q@h/db'"
        );
    }
}
