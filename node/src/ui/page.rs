//! 页面框架 — what every page shares: the header with the office, the person logged in and the
//! navigation ([`Chrome`]), rendering a view to a response, and the error page.

use askama::Template;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use safemesh_store::TokenRole as Role;

use super::user::UiUser;
use crate::http::ApiState;
use crate::records::RecordError;

/// The page frame: who and where.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// This office's name (禄脿街道).
    pub office: String,
    pub code: String,
    /// 省级 / 市级 / 县级 / 乡镇（街道）.
    pub level: String,
    /// The person (token name) logged in.
    pub user: String,
    /// 查看 / 编辑 / 管理员.
    pub role: String,
    pub csrf: String,
    /// Which navigation entry is current.
    pub nav: &'static str,
    /// Whether this person may write (editor or admin).
    pub can_edit: bool,
}

impl Chrome {
    pub fn new(st: &ApiState, user: &UiUser, nav: &'static str) -> Chrome {
        Chrome {
            office: st.name.clone(),
            code: st.code.to_string(),
            level: crate::format::level_label(&st.code).to_string(),
            user: user.caller.name.clone(),
            role: role_label(user.caller.role).to_string(),
            csrf: user.csrf.clone(),
            nav,
            can_edit: user.caller.role >= Role::Editor,
        }
    }

    /// Whether `entry` is the current navigation entry (for the template).
    pub fn is(&self, entry: &str) -> bool {
        self.nav == entry
    }
}

/// 角色.
pub fn role_label(r: Role) -> &'static str {
    match r {
        Role::Metrics => "监控",
        Role::Viewer => "查看",
        Role::Editor => "编辑",
        Role::Admin => "管理员",
    }
}

/// Whether the request came from htmx (a partial is wanted, and only then served).
pub fn is_htmx(headers: &HeaderMap) -> bool {
    headers.get("hx-request").is_some_and(|v| v == "true")
}

/// Renders a view with a status.
pub fn render<T: Template>(status: StatusCode, view: &T) -> Response {
    match view.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!("template failed: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html(format!("页面生成失败 / rendering failed: {e}")),
            )
                .into_response()
        }
    }
}

/// `/login`.
#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginView {
    pub office: String,
    pub code: String,
    pub next: String,
    pub error: String,
}

/// A page that only says what went wrong.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorView {
    pub status: u16,
    pub title: &'static str,
    pub message: String,
}

fn title_of(status: u16) -> &'static str {
    match status {
        400 => "输入有误",
        401 => "请先登录",
        403 => "无权操作",
        404 => "未找到",
        409 => "当前状态下不能进行此操作",
        413 => "内容过大",
        _ => "系统错误",
    }
}

/// A whole error page (no frame: it may be shown before anyone is known).
pub fn error_page(status: u16, message: &str) -> Response {
    render(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &ErrorView {
            status,
            title: title_of(status),
            message: message.to_string(),
        },
    )
}

/// A record operation's error as a page: the Chinese part of its message, and for a refusal the rule in
/// words.
pub fn record_error(e: &RecordError) -> Response {
    let msg = match &e.rule {
        Some(rule) => crate::format::rule_words(rule).to_string(),
        None => crate::format::chinese(&e.message).to_string(),
    };
    error_page(e.status, &msg)
}

/// A record's history as its page shows it: (what, when · office · person, note, what it changed) —
/// the events of an accident or an enterprise (reviews, comments, 补报, 变更) as the API gives them.
pub type History = Vec<(String, String, String, String)>;

/// [`History`] of the `events` of a record's JSON.
pub fn history(events: &serde_json::Value) -> History {
    use crate::format::{self, text};
    events
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                format::record_event_label(e["kind"].as_str().unwrap_or_default()).to_string(),
                format!(
                    "{} · {} · {}",
                    format::china_time(e["at"].as_str().unwrap_or_default()),
                    format::office(e["by"].as_str().unwrap_or_default()),
                    text(&e["user"])
                ),
                text(&e["note"]),
                format::changes(&e["changes"]),
            )
        })
        .collect()
}

/// A refused form in words for the clerk: the field's name (of a path like `licences[0].number`, the
/// list's) and the reason, Chinese only.
pub fn form_refusal(e: &RecordError) -> String {
    use crate::format::{chinese, field_name};
    match &e.field {
        Some(f) => {
            let base = f.split(['[', '.']).next().unwrap_or(f);
            format!("{}：{}", field_name(base), chinese(&e.message))
        }
        None => chinese(&e.message).to_string(),
    }
}

/// The `?done=` of a page a form redirected to after it succeeded.
#[derive(Debug, Default, serde::Deserialize)]
pub struct DoneQuery {
    pub done: Option<String>,
}
