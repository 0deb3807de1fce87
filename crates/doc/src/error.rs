use safemesh_model::AdminCode;

/// Errors of the document layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bytes are not a valid Automerge document or change.
    #[error("文档数据损坏 / corrupt document data: {0}")]
    Corrupt(String),
    /// The document lacks a required field or has one of the wrong type.
    #[error("文档缺少字段或类型错误 / document field {path} is missing or malformed")]
    Malformed { path: String },
    /// A write that the authority table (DESIGN §4) forbids.
    #[error("无权写入 / write refused: document {doc}, path {path}, actor {actor}, rule {rule}")]
    Forbidden {
        doc: String,
        path: String,
        actor: String,
        rule: &'static str,
    },
    /// Changes depend on history the receiver does not have.
    #[error("缺少依赖的变更 / changes depend on {missing} unknown change(s)")]
    MissingDeps { missing: usize },
    #[error(transparent)]
    Domain(#[from] safemesh_model::Error),
    #[error("automerge: {0}")]
    Automerge(#[from] automerge::AutomergeError),
}

impl Error {
    pub(crate) fn forbidden(doc: &str, path: &str, actor: &AdminCode, rule: &'static str) -> Self {
        Error::Forbidden {
            doc: doc.to_string(),
            path: path.to_string(),
            actor: actor.to_string(),
            rule,
        }
    }
}
