/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("数据库错误 / database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("数据库迁移失败 / migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(
        "数据格式版本 {found} 比本程序支持的 {supported} 新 / stored format {found} is newer than this build supports ({supported})"
    )]
    TooNew { found: i64, supported: i64 },
    #[error("存储的文档 {id} 已损坏 / stored document {id} is corrupt: {reason}")]
    Corrupt { id: String, reason: String },
    #[error("不支持的数据库地址 / unsupported database URL {0:?} (use sqlite:// or postgres://)")]
    Unsupported(String),
    #[error("无法连接数据库 / cannot reach the database at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error(transparent)]
    Doc(#[from] safemesh_doc::Error),
}
