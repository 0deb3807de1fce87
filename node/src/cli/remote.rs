//! Asking a running node over its HTTP API, with the data dir's admin token.

use std::path::Path;

use crate::config::{Config, TOKEN_FILE};

/// What went wrong asking the node: it did not answer at all (down), or it answered with an error.
#[derive(Debug)]
pub enum AskError {
    /// No answer: the node is not running, or not at the address its config names.
    Unreachable(anyhow::Error),
    /// An answer that is an error (or the data dir could not be read).
    Failed(anyhow::Error),
}

impl From<AskError> for anyhow::Error {
    fn from(e: AskError) -> anyhow::Error {
        match e {
            AskError::Unreachable(e) | AskError::Failed(e) => e,
        }
    }
}

/// `GET path` on the node of `data_dir`, as JSON.
pub async fn get_json(data_dir: &Path, path: &str) -> Result<serde_json::Value, AskError> {
    let cfg = Config::load(data_dir).map_err(|e| AskError::Failed(e.into()))?;
    let token = std::fs::read_to_string(data_dir.join(TOKEN_FILE))
        .map_err(|e| {
            AskError::Failed(anyhow::anyhow!(
                "读不到令牌文件 / cannot read {}: {e}",
                data_dir.join(TOKEN_FILE).display()
            ))
        })?
        .trim()
        .to_string();
    let url = format!("http://{}{}", cfg.http, path);
    let resp = reqwest::Client::new()
        .get(&url)
        .bearer_auth(token)
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| {
            AskError::Unreachable(anyhow::anyhow!(
                "无法连接节点 / cannot reach node at {url}: {e}"
            ))
        })?;
    let status = resp.status();
    let v: serde_json::Value = resp
        .json()
        .await
        .map_err(|e| AskError::Failed(anyhow::anyhow!("{url}: {e}")))?;
    if !status.is_success() {
        return Err(AskError::Failed(anyhow::anyhow!(
            "{}: {}",
            status,
            v["error"]["message"].as_str().unwrap_or("")
        )));
    }
    Ok(v)
}
