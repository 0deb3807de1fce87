/// Errors of the node, each with what the operator needs to act.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("配置错误 / config error: {0}")]
    Config(String),
    /// A listening address could not be bound (taken, or not an address of this machine).
    #[error("配置错误 / config error: 无法监听{what}地址 / cannot listen on {addr}: {source}")]
    Listen {
        /// `HTTP ` or `链路` (link), for the operator.
        what: &'static str,
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] safemesh_store::Error),
    #[error(transparent)]
    Tls(#[from] safemesh_gateway::tls::Error),
    #[error(transparent)]
    Domain(#[from] safemesh_model::Error),
    #[error(transparent)]
    Doc(#[from] safemesh_doc::Error),
    #[error("链路服务失败 / link server failed: {0}")]
    Transport(String),
}
