//! Asking a running node over its HTTP API: `GET` and `POST` as JSON, with a bearer token — the one
//! given (`--token`, `SAFEMESH_TOKEN`) or else the data dir's admin token — at the HTTP address of the
//! data dir's config. Writes go through the node's own writer, so they wake its links like any other.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::config::{Config, DEFAULT_DATA_DIR, TOKEN_FILE};

/// Which node to ask and as whom: what every command that talks to a running node takes.
#[derive(clap::Args, Debug, Clone)]
pub struct NodeArgs {
    /// 节点数据目录（读取其中的 HTTP 地址和令牌）/ the node's data directory (its HTTP address and token)
    #[arg(long, env = "SAFEMESH_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// API 令牌（默认用数据目录中的管理员令牌 admin.token）；用本人的编辑令牌，修改记录里写的就是本人 /
    /// API token (default: the data dir's admin token); with a person's editor token, changes carry
    /// that person's name
    #[arg(long, env = "SAFEMESH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// Which page of a list to ask for: what every `list` command takes.
#[derive(clap::Args, Debug, Clone)]
pub struct PageArgs {
    /// 每页条数 1–500（默认 50）/ rows per page
    #[arg(long)]
    pub limit: Option<u32>,
    /// 跳过条数 / rows to skip
    #[arg(long)]
    pub offset: Option<u64>,
}

/// A page of a list as text: the table of its `rows` (none when empty), then the count — all of it, or
/// which rows of how many, with how to turn the page. `counter` is the Chinese measure word (条, 项…),
/// `zh`/`en` what the rows are (`任务`/`directives`; `zh` may be empty).
pub fn paged<const N: usize>(
    rows: &[[String; N]],
    page: &serde_json::Value,
    counter: &str,
    zh: &str,
    en: &str,
) -> String {
    let shown = rows.len().saturating_sub(1) as u64;
    let total = page["total"].as_u64().unwrap_or(shown);
    let offset = page["offset"].as_u64().unwrap_or(0);
    let mut out = if shown == 0 {
        String::new()
    } else {
        crate::format::table(rows)
    };
    if shown == total {
        out.push_str(&format!("共 {total} {counter}{zh} / {total} {en}\n"));
    } else {
        let (from, to) = (offset + 1, offset + shown);
        out.push_str(&format!(
            "共 {total} {counter}{zh}，本页第 {from}–{to} {counter}（--limit、--offset 翻页）/ {total} {en}, {from}–{to} shown\n"
        ));
    }
    out
}

impl PageArgs {
    /// The query parameters of the page.
    pub fn pairs(&self) -> [(&'static str, Option<String>); 2] {
        [
            ("limit", self.limit.map(|n| n.to_string())),
            ("offset", self.offset.map(|n| n.to_string())),
        ]
    }
}

/// What went wrong asking the node.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    /// No answer: the node is not running, or not at the address its config names.
    #[error("{0:#}")]
    Unreachable(anyhow::Error),
    /// The node answered with an error body (a 4xx or 5xx of `/api/v1`).
    #[error("{0}")]
    Refused(Refusal),
    /// Anything else: the data dir could not be read, or the answer was not JSON.
    #[error("{0:#}")]
    Failed(anyhow::Error),
}

impl AskError {
    /// Whether the node did not answer at all (the commands exit with 2 then, as `status` does).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, AskError::Unreachable(_))
    }
}

/// An error answer of the API: its status and the body's `field`, `rule` and `message`.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub status: u16,
    pub field: Option<String>,
    pub rule: Option<String>,
    pub message: String,
    /// The whole error body, as the API sent it (for `--json`).
    pub body: Value,
}

impl Refusal {
    fn from_body(status: u16, body: Value) -> Refusal {
        let e = &body["error"];
        let text = |v: &Value| v.as_str().map(str::to_string);
        Refusal {
            status,
            field: text(&e["field"]),
            rule: text(&e["rule"]),
            message: text(&e["message"]).unwrap_or_default(),
            body,
        }
    }
}

/// The refusal as an operator reads it: status, then the field and the reason, then the rule.
impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let reason = reqwest::StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        write!(
            f,
            "节点拒绝了请求 / the node refused the request: {} {reason}",
            self.status
        )?;
        if let Some(field) = &self.field {
            write!(f, "\n  字段 / field: {field}")?;
        }
        write!(f, "\n  原因 / reason: {}", self.message)?;
        if let Some(rule) = &self.rule {
            write!(
                f,
                "\n  规则 / rule: {rule}（{}）",
                crate::format::rule_words(rule)
            )?;
        }
        Ok(())
    }
}

/// A running node's API, and the token to ask it with.
#[derive(Debug, Clone)]
pub struct Remote {
    base: String,
    token: String,
    client: reqwest::Client,
}

impl Remote {
    /// The node of `data_dir`, asked with `token` or else the data dir's admin token.
    pub fn open(data_dir: &Path, token: Option<&str>) -> Result<Remote, AskError> {
        let cfg = Config::load(data_dir).map_err(|e| AskError::Failed(e.into()))?;
        let token = match token.map(str::trim).filter(|t| !t.is_empty()) {
            Some(t) => t.to_string(),
            None => std::fs::read_to_string(data_dir.join(TOKEN_FILE))
                .map_err(|e| {
                    AskError::Failed(anyhow::anyhow!(
                        "读不到令牌文件 / cannot read {}: {e} (或用 --token / or give --token)",
                        data_dir.join(TOKEN_FILE).display()
                    ))
                })?
                .trim()
                .to_string(),
        };
        Ok(Remote {
            base: format!("http://{}", cfg.http),
            token,
            client: reqwest::Client::new(),
        })
    }

    /// The node that `args` name.
    pub fn from_args(args: &NodeArgs) -> Result<Remote, AskError> {
        Remote::open(&args.data_dir, args.token.as_deref())
    }

    /// `GET path` (with its query), as JSON.
    pub async fn get(&self, path: &str) -> Result<Value, AskError> {
        self.send(self.client.get(self.url(path)), path).await
    }

    /// `POST path` with a JSON body, as JSON.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, AskError> {
        self.send(self.client.post(self.url(path)).json(body), path)
            .await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(&self, req: reqwest::RequestBuilder, path: &str) -> Result<Value, AskError> {
        let url = self.url(path);
        let resp = req
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| {
                AskError::Unreachable(anyhow::anyhow!(
                    "无法连接节点 / cannot reach node at {url}: {e}"
                ))
            })?;
        let status = resp.status();
        let v: Value = resp
            .json()
            .await
            .map_err(|e| AskError::Failed(anyhow::anyhow!("{url}: {status}: {e}")))?;
        if !status.is_success() {
            return Err(AskError::Refused(Refusal::from_body(status.as_u16(), v)));
        }
        Ok(v)
    }
}

/// `GET path` on the node of `data_dir` with its admin token, as JSON.
pub async fn get_json(data_dir: &Path, path: &str) -> Result<Value, AskError> {
    Remote::open(data_dir, None)?.get(path).await
}

/// For `--json`: an API refusal's body is printed on stdout as well (the message still goes to
/// stderr), so a script reads `error.field` as it would from the API.
pub fn json_refusal(json: bool) -> impl FnOnce(AskError) -> AskError {
    move |e| {
        if let (true, AskError::Refused(r)) = (json, &e) {
            println!("{}", r.body);
        }
        e
    }
}

/// A path with its query: the pairs whose value is given, URL-encoded.
pub fn with_query<'a>(
    path: &str,
    pairs: impl IntoIterator<Item = (&'a str, Option<String>)>,
) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (k, v) in pairs {
        if let Some(v) = v {
            q.append_pair(k, &v);
            any = true;
        }
    }
    if any {
        format!("{path}?{}", q.finish())
    } else {
        path.to_string()
    }
}

/// A path segment (a record id or number typed by the operator), percent-encoded.
pub fn segment(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_refusal_names_the_field_the_reason_and_the_rule() {
        let r = Refusal::from_body(
            400,
            json!({"error": {"status": 400, "field": "enterprise.credit_code", "rule": null,
                   "message": "credit_code: 校验位错误，应为 A / wrong check character, expected A"}}),
        );
        let t = r.to_string();
        assert!(t.contains("400 Bad Request"), "{t}");
        assert!(t.contains("字段 / field: enterprise.credit_code"), "{t}");
        assert!(t.contains("校验位错误"), "{t}");
        assert!(!t.contains("规则"), "{t}");
        let r = Refusal::from_body(
            403,
            json!({"error": {"status": 403, "field": null, "rule": "superior_only", "message": "无权 / no"}}),
        );
        let t = r.to_string();
        assert!(t.contains("规则 / rule: superior_only（升级督办"), "{t}");
    }

    #[test]
    fn queries_keep_only_given_values_encoded() {
        assert_eq!(with_query("/x", [("a", None)]), "/x");
        assert_eq!(
            with_query(
                "/api/v1/hazards",
                [
                    ("grade", Some("重大".to_string())),
                    ("q", None),
                    ("limit", Some("5".into()))
                ]
            ),
            "/api/v1/hazards?grade=%E9%87%8D%E5%A4%A7&limit=5"
        );
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
    }
}
