//! 体检 — a SQLite store looked at from outside, read-only, while its node may be running: SQLite's
//! own `PRAGMA integrity_check` and the heads of every document held. Nothing is migrated or written
//! (the file is opened with `mode=ro`; WAL mode lets the node go on writing), so a test harness or an
//! operator's tool can compare stores across a mesh without stopping it.

use std::collections::BTreeMap;
use std::path::Path;

use sqlx::Row;
use sqlx::any::AnyPoolOptions;

use crate::Error;
use crate::sql::parse_heads;

/// What [`inspect_sqlite`] found in one store file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// The lines `PRAGMA integrity_check` answered: `["ok"]` for a sound file.
    pub integrity: Vec<String>,
    /// Each document held, by id, with its heads (sorted hex hashes).
    pub heads: BTreeMap<String, Vec<String>>,
}

impl Inspection {
    /// Whether SQLite found the file sound.
    pub fn sound(&self) -> bool {
        self.integrity == ["ok"]
    }
}

/// Opens the SQLite store at `path` read-only and inspects it (see the module header).
pub async fn inspect_sqlite(path: &Path) -> Result<Inspection, Error> {
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}?mode=ro", path.display());
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::query("PRAGMA busy_timeout = 10000")
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            })
        })
        .connect(&url)
        .await?;
    let integrity = sqlx::query("PRAGMA integrity_check")
        .fetch_all(&pool)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<Vec<_>, _>>()?;
    let mut heads = BTreeMap::new();
    for row in sqlx::query("SELECT id, heads FROM documents")
        .fetch_all(&pool)
        .await?
    {
        let mut h = parse_heads(row.try_get("heads")?);
        h.sort();
        heads.insert(row.try_get("id")?, h);
    }
    pool.close().await;
    Ok(Inspection { integrity, heads })
}
