//! 备份 — a consistent copy of a store while its node runs.
//!
//! SQLite: `VACUUM INTO` writes a new database file from one read transaction, so the copy is
//! consistent even while the node writes (WAL mode lets both go on), compact, and needs no WAL file
//! beside it. PostgreSQL is backed up with its own tool (`pg_dump`); [`Store::backup_into`] says so
//! rather than pretending.

use std::path::Path;

use crate::{Backend, Error, Store};

impl Store {
    /// Writes a consistent copy of this SQLite store to `path` (a new file: an existing one is never
    /// overwritten) and returns its size in bytes.
    pub async fn backup_into(&self, path: &Path) -> Result<u64, Error> {
        if self.backend() != Backend::Sqlite {
            return Err(Error::Invalid {
                field: "database_url".into(),
                reason:
                    "PostgreSQL 存储请用 pg_dump 备份 / back up a PostgreSQL store with pg_dump"
                        .into(),
            });
        }
        if path.exists() {
            return Err(Error::Invalid {
                field: "out".into(),
                reason: format!(
                    "{} 已存在，不覆盖 / exists already and is not overwritten",
                    path.display()
                ),
            });
        }
        let Some(target) = path.to_str() else {
            return Err(Error::Invalid {
                field: "out".into(),
                reason: "路径须为 UTF-8 / the path must be UTF-8".into(),
            });
        };
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(&self.inner.pool)
            .await?;
        Ok(std::fs::metadata(path).map(|m| m.len()).unwrap_or(0))
    }
}
