//! 就绪 — whether the store answers and holds this build's format (for `/readyz`).

use crate::migrate::FORMAT_VERSION;
use crate::{Error, Store};

impl Store {
    /// Reads the stored format back from the database: it answers, and its migrations are the ones
    /// this build made (opening a store migrates it, so anything else means the database changed
    /// under the node). Returns the format version.
    pub async fn ready(&self) -> Result<i64, Error> {
        let (value,): (String,) = sqlx::query_as("SELECT value FROM meta WHERE key = 'format'")
            .fetch_one(&self.inner.pool)
            .await?;
        let found: i64 = value.parse().map_err(|_| Error::Invalid {
            field: "meta.format".into(),
            reason: format!("不是数字 / not a number: {value:?}"),
        })?;
        if found != FORMAT_VERSION {
            return Err(Error::Invalid {
                field: "meta.format".into(),
                reason: format!(
                    "存储格式 {found}，本程序为 {FORMAT_VERSION} / stored format {found}, this build {FORMAT_VERSION}"
                ),
            });
        }
        Ok(found)
    }
}
