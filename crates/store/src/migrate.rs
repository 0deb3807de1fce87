//! The stored format and its migrations: the version this build writes, the refusal of a database
//! written by a newer build, and the versioned migrations of each backend (`migrations/sqlite`,
//! `migrations/postgres`). Kept apart from opening so the format rules are read in one place.

use sqlx::AnyPool;

use crate::error::Error;
use crate::store::Backend;

/// Version of the stored format this build writes (stored in `meta.format`): the number of the
/// newest migration.
pub const FORMAT_VERSION: i64 = 17;

/// Refuses a database written by a newer build, then runs the migrations it lacks and records the
/// format this build writes.
pub(crate) async fn run(pool: &AnyPool, backend: Backend) -> Result<(), Error> {
    // Refuse a database written by a newer build before touching it.
    let has_meta: Option<(String,)> = match backend {
        Backend::Sqlite => {
            sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'meta'")
                .fetch_optional(pool)
                .await?
        }
        Backend::Postgres => {
            sqlx::query_as("SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'meta'")
                .fetch_optional(pool)
                .await?
        }
    };
    if has_meta.is_some() {
        let found: Option<(String,)> =
            sqlx::query_as("SELECT value FROM meta WHERE key = 'format'")
                .fetch_optional(pool)
                .await?;
        if let Some((v,)) = found {
            let v: i64 = v.parse().unwrap_or(i64::MAX);
            if v > FORMAT_VERSION {
                return Err(Error::TooNew {
                    found: v,
                    supported: FORMAT_VERSION,
                });
            }
        }
    }
    match backend {
        Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
        Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(pool).await?,
    }
    // The format this build wrote last: an older build refuses the database with a clear message
    // instead of tripping over a migration it does not know.
    sqlx::query(
        "INSERT INTO meta (key, value) VALUES ('format', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(FORMAT_VERSION.to_string())
    .execute(pool)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Each backend's migrations end at the format this build writes (a migration added without
    /// bumping it would let an older build open a database it cannot read).
    #[test]
    fn the_format_version_is_the_number_of_the_newest_migration() {
        let sqlite = sqlx::migrate!("./migrations/sqlite");
        let postgres = sqlx::migrate!("./migrations/postgres");
        // A migration's version is `YYYYMMDD` then its number in six digits.
        let newest =
            |m: &sqlx::migrate::Migrator| m.migrations.iter().map(|m| m.version % 1_000_000).max();
        assert_eq!(newest(&sqlite), Some(super::FORMAT_VERSION));
        assert_eq!(newest(&postgres), Some(super::FORMAT_VERSION));
    }
}
