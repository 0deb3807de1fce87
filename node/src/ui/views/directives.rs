//! 任务 `/directives` — received and issued directives, and a directive's page: its content, this
//! office's 签收 / progress / completion and 转发/分解 forms (when it is a target), and the 挂图作战
//! battle map: every unit of the directive and of the directives forwarded from it, coloured by state,
//! with 签收率 and 完成率; for the issuer, 审核通过 / 退回 on a completion awaiting review and the 催办
//! form; for a target, its 审核 state (已退回 with the reason) and the reminders to it. Reads through `crate::directives` and writes through `crate::directives`, as the
//! API does.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::User;
use crate::clock::today;
use crate::directives::{Here, NewDirective, NewReminder, NewResponse, NewReview};
use crate::format::{self, china_time};
use crate::http::ApiState;
use crate::records::RecordError;
use crate::ui::page::{Chrome, record_error, render};

/// One directive in the list.
pub struct DirectiveRow {
    pub id: String,
    pub title: String,
    pub doc_number: String,
    pub category: String,
    pub issuer: String,
    pub deadline: String,
    pub cascade: bool,
    pub forwarded: bool,
    pub units: u64,
    pub received: u64,
    pub done: u64,
    /// 待审核
    pub awaiting_review: u64,
    pub overdue: u64,
    /// 临期 units (on the 收到的任务 tab: this office's own unit, 0 or 1).
    pub due_soon: u64,
    /// This office's own 审核 state, on the 收到的任务 tab (办理中, 待审核, 已办结, 已退回).
    pub my_state: String,
    /// Reminders (催办) to this office.
    pub my_reminders: usize,
    pub rate: String,
    pub rate_pct: u64,
}

#[derive(Template)]
#[template(path = "directives.html")]
pub struct DirectivesView {
    pub chrome: Chrome,
    pub tab: String,
    pub today: String,
    pub rows: Vec<DirectiveRow>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    tab: Option<String>,
}

use crate::format::text as s;

/// A deadline as stored (a date, or a described kind).
fn deadline_text(b: &Value) -> String {
    match &b["deadline"] {
        Value::String(d) => d.clone(),
        Value::Object(o) => o
            .get("date")
            .and_then(|d| d.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| s(&b["deadline_text"])),
        _ => s(&b["deadline_text"]),
    }
}

pub async fn list(
    State(st): State<Arc<ApiState>>,
    user: User,
    Query(q): Query<ListQuery>,
) -> Response {
    let tab = match q.tab.as_deref() {
        Some("issued") => "issued",
        Some("all") => "all",
        _ => "received",
    };
    let filter = crate::directives::ListFilter {
        issuer: (tab == "issued").then(|| st.code.to_string()),
        target: (tab == "received").then(|| st.code.to_string()),
        ..Default::default()
    };
    let items = match crate::directives::list(&st.store, &filter, st.hazards.due_soon_days).await {
        Ok(i) => i,
        Err(e) => return record_error(&e),
    };
    let rows = items
        .iter()
        .map(|b| {
            let t = &b["totals"];
            let n = |k: &str| t[k].as_u64().unwrap_or(0);
            let (units, done) = (n("units"), n("done"));
            let mine = &b["mine"];
            DirectiveRow {
                id: s(&b["id"]),
                title: s(&b["title"]),
                doc_number: s(&b["doc_number"]),
                category: s(&b["category"]),
                issuer: format::office_name(b["issuer"].as_str().unwrap_or_default()),
                deadline: deadline_text(b),
                cascade: b["cascade"].as_bool().unwrap_or(false),
                forwarded: b["parent"].is_string(),
                units,
                received: n("received"),
                done,
                awaiting_review: n("awaiting_review"),
                overdue: n("overdue"),
                due_soon: if mine.is_object() {
                    u64::from(mine["due_soon"] == true)
                } else {
                    n("due_soon")
                },
                my_state: s(&mine["review_label"]),
                my_reminders: mine["reminders"].as_array().map_or(0, Vec::len),
                rate: format::ratio(done, units),
                rate_pct: (done * 100).checked_div(units).unwrap_or(0),
            }
        })
        .collect();
    render(
        StatusCode::OK,
        &DirectivesView {
            chrome: Chrome::new(&st, &user, "directives"),
            tab: tab.to_string(),
            today: safemesh_model::hazard::format_date(today()),
            rows,
        },
    )
}

/// The directive's facts.
pub struct DirectiveFacts {
    pub id: String,
    pub title: String,
    pub doc_number: String,
    pub category: String,
    pub issuer: String,
    pub source: String,
    pub deadline: String,
    pub reporting: String,
    pub created: String,
    pub body: String,
    pub cascade: bool,
}

/// One row of the battle map.
pub struct BoardRow {
    pub unit: String,
    pub name: String,
    pub indent: String,
    pub roles: String,
    pub via: String,
    pub received: bool,
    pub percent: u64,
    pub done: bool,
    pub overdue: bool,
    pub due_soon: bool,
    /// 审核 state: `open`, `pending`, `approved`, `returned`, and its label.
    pub review: String,
    pub review_label: String,
    /// A row of this directive (not of one forwarded from it): the issuer reviews and reminds it.
    pub own: bool,
    pub due: String,
    pub next_report: String,
    pub last_report: String,
    /// The colour of the row's state cells.
    pub class: &'static str,
}

/// The battle map's totals, as shown.
pub struct BoardTotals {
    pub units: u64,
    pub received: u64,
    pub done: u64,
    pub awaiting_review: u64,
    pub overdue: u64,
    pub due_soon: u64,
    pub received_rate: String,
    pub completion_rate: String,
}

#[derive(Template)]
#[template(path = "directive.html")]
pub struct DirectivePage {
    pub chrome: Chrome,
    pub d: DirectiveFacts,
    pub is_issuer: bool,
    pub mine_is_target: bool,
    pub my_received: bool,
    pub my_done: bool,
    pub my_percent: u64,
    pub my_state: String,
    /// 退回原因, when this office's completion was returned.
    pub my_return_reason: String,
    /// 临期: this office's next due day is within the warning days.
    pub my_due_soon: bool,
    /// 催办 — the issuer's reminders to this office: (when, note).
    pub my_reminders: Vec<(String, String)>,
    /// 催办 — the units the issuer may remind (its own units not 办结): (unit, name).
    pub remindable: Vec<(String, String)>,
    /// This office's children, for forwarding.
    pub children: Vec<(String, String)>,
    pub board: Vec<BoardRow>,
    pub totals: BoardTotals,
    pub missing: usize,
    /// 报送材料 — the files the responses attach, each with the unit and update that attached it.
    pub record_files: Vec<super::files::RecordFileRow>,
    pub today: String,
    pub notice: String,
    pub error: String,
}

fn board_row(r: &Value) -> BoardRow {
    let received = r["received"].as_bool().unwrap_or(false);
    let done = r["done"].as_bool().unwrap_or(false);
    let overdue = r["overdue"].as_bool().unwrap_or(false);
    let percent = r["percent"].as_u64().unwrap_or(if done { 100 } else { 0 });
    let review = s(&r["review"]);
    let class = if overdue {
        "cell-overdue"
    } else if review == "returned" {
        "cell-progress"
    } else if done {
        "cell-done"
    } else if percent > 0 {
        "cell-progress"
    } else if received {
        "cell-received"
    } else {
        "cell-none"
    };
    let depth = r["depth"].as_u64().unwrap_or(0) as usize;
    let last = &r["last_report"];
    BoardRow {
        unit: s(&r["unit"]),
        name: r["name"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| s(&r["unit"])),
        indent: "　".repeat(depth),
        roles: r["role_labels"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join("、")
            })
            .unwrap_or_default(),
        via: r["via"]
            .as_str()
            .map(format::office_name)
            .unwrap_or_default(),
        received,
        percent,
        done,
        overdue,
        due_soon: r["due_soon"].as_bool().unwrap_or(false),
        review_label: s(&r["review_label"]),
        review,
        own: r["depth"].as_u64().unwrap_or(0) == 0,
        due: s(&r["due"]),
        next_report: s(&r["next_report_due"]),
        last_report: last["at"]
            .as_str()
            .map(china_time)
            .or_else(|| last.as_str().map(china_time))
            .unwrap_or_default(),
        class,
    }
}

async fn build(
    st: &ApiState,
    user: &User,
    id: &str,
    notice: String,
    error: String,
) -> Result<DirectivePage, RecordError> {
    let days = st.hazards.due_soon_days;
    let d = crate::directives::get(&st.store, id, days).await?;
    let b = crate::directives::board(&st.store, id, days).await?;
    let me = st.code.as_str();
    let mine = d["units"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|u| u["unit"] == me)
        .cloned();
    let my_received = mine.as_ref().is_some_and(|u| u["received"] == true);
    let my_done = mine.as_ref().is_some_and(|u| u["done"] == true);
    let my_percent = mine
        .as_ref()
        .and_then(|u| u["percent"].as_u64())
        .unwrap_or(0);
    let my_review = mine.as_ref().map(|u| s(&u["review"])).unwrap_or_default();
    let my_state = match (&mine, my_received, my_done) {
        (None, _, _) => String::new(),
        (_, _, true) if my_review == "pending" => "已报告完成，待审核".into(),
        (_, _, true) => "已办结（审核通过）".into(),
        _ if my_review == "returned" => format!("已退回，重新办理中，进度 {my_percent}%"),
        (_, true, false) => format!("已签收，进度 {my_percent}%"),
        (_, false, false) => "未签收".into(),
    };
    let my_return_reason = mine
        .as_ref()
        .filter(|_| my_review == "returned")
        .map(|u| s(&u["last_review"]["reason"]))
        .unwrap_or_default();
    let my_due_soon = mine.as_ref().is_some_and(|u| u["due_soon"] == true);
    let my_reminders = mine
        .as_ref()
        .and_then(|u| u["reminders"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|m| {
            (
                china_time(m["at"].as_str().unwrap_or_default()),
                s(&m["note"]),
            )
        })
        .collect();
    let remindable = d["units"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|u| u["review"] != "approved")
        .map(|u| {
            (
                s(&u["unit"]),
                u["name"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| s(&u["unit"])),
            )
        })
        .collect();
    let t = &b["totals"];
    let n = |k: &str| t[k].as_u64().unwrap_or(0);
    let rate = |k: &str| format::pct(t[k].as_f64().unwrap_or(0.0) * 100.0);
    let mut children: Vec<(String, String)> = safemesh_model::division::children_of(&st.code)
        .into_iter()
        .chain(st.extra_children.iter().cloned())
        .map(|c| (c.to_string(), format::office_name(c.as_str())))
        .collect();
    children.dedup();
    let record_files =
        super::files::record_rows(crate::evidence::directive_files(&st.store, id).await?);
    Ok(DirectivePage {
        chrome: Chrome::new(st, user, "directives"),
        d: DirectiveFacts {
            id: id.to_string(),
            title: s(&d["title"]),
            doc_number: s(&d["doc_number"]),
            category: s(&d["category"]),
            issuer: format::office(d["issuer"].as_str().unwrap_or_default()),
            source: s(&d["source_document"]),
            deadline: s(&d["deadline_text"]),
            reporting: s(&d["reporting_text"]),
            created: china_time(d["created"].as_str().unwrap_or_default()),
            body: s(&d["body"]),
            cascade: d["cascade"].as_bool().unwrap_or(false),
        },
        is_issuer: d["issuer"] == me,
        mine_is_target: mine.is_some(),
        my_received,
        my_done,
        my_percent,
        my_state,
        my_return_reason,
        my_due_soon,
        my_reminders,
        remindable,
        children,
        board: b["rows"]
            .as_array()
            .into_iter()
            .flatten()
            .map(board_row)
            .collect(),
        totals: BoardTotals {
            units: n("units"),
            received: n("received"),
            done: n("done"),
            awaiting_review: n("awaiting_review"),
            overdue: n("overdue"),
            due_soon: n("due_soon"),
            received_rate: rate("received_rate"),
            completion_rate: rate("completion_rate"),
        },
        missing: b["forwarded_not_held"].as_array().map_or(0, Vec::len),
        record_files,
        today: s(&b["today"]),
        notice,
        error,
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    done: Option<String>,
}

pub async fn page(
    State(st): State<Arc<ApiState>>,
    user: User,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let notice = match q.done.as_deref() {
        Some("receive") => "已签收。",
        Some("progress") => "进展已报送。",
        Some("complete") => "已报告完成。",
        Some("forward") => "已转发到下级。",
        Some("approve") => "已审核通过。",
        Some("return") => "已退回，承办单位重新办理。",
        Some("remind") => "已催办。",
        _ => "",
    };
    match build(&st, &user, &id, notice.to_string(), String::new()).await {
        Ok(p) => render(StatusCode::OK, &p),
        Err(e) => record_error(&e),
    }
}

async fn after(
    st: &ApiState,
    user: &User,
    id: &str,
    done: &str,
    r: Result<Value, RecordError>,
) -> Response {
    match r {
        Ok(_) => Redirect::to(&format!("/directives/{id}?done={done}")).into_response(),
        Err(e) if e.status == 404 => record_error(&e),
        Err(e) => {
            let why = super::hazard::refusal(&e);
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            match build(st, user, id, String::new(), why).await {
                Ok(p) => render(status, &p),
                Err(e) => record_error(&e),
            }
        }
    }
}

/// `POST /directives/{id}/respond` — 签收, progress or completion, with any 报送材料 it uploads
/// (`multipart/form-data`: the files are stored first, then attached to the update).
pub async fn respond(
    State(st): State<Arc<ApiState>>,
    user: User,
    Path(id): Path<String>,
    req: axum::extract::Request,
) -> Response {
    let read = match crate::http::check_role(user.caller.clone(), safemesh_store::TokenRole::Editor)
    {
        Err(e) => Err(e),
        Ok(_) => super::files::read_event_form(&st, req).await,
    };
    let (pairs, files) = match read {
        Ok(r) => r,
        Err(e) => return after(&st, &user, &id, "respond", Err(e)).await,
    };
    let get = |k: &str| crate::format::field(&pairs, k);
    let action = get("action").unwrap_or_default();
    let r = async {
        let actor = user.editor(&st)?;
        let percent = match get("percent").map(|p| p.parse::<i64>()) {
            Some(Ok(p)) => Some(p),
            Some(Err(_)) => return Err(RecordError::bad("percent", "应为 0 到 100 的整数")),
            None => None,
        };
        let input = NewResponse {
            action: Some(action.clone()),
            percent,
            note: get("note"),
            milestone: get("milestone"),
            unit: None,
            attachments: (!files.is_empty()).then_some(files),
        };
        crate::directives::respond(&st.store, &actor, &id, input, st.hazards.due_soon_days).await
    }
    .await;
    after(&st, &user, &id, &action, r).await
}

/// `POST /directives/{id}/forward` — 转发/分解 to this office's children.
pub async fn forward(
    State(st): State<Arc<ApiState>>,
    user: User,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let get = |k: &str| crate::format::field(&pairs, k);
    let targets: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "targets")
        .map(|(_, v)| v.clone())
        .collect();
    let r = async {
        let actor = user.editor(&st)?;
        let input = NewDirective {
            title: get("title"),
            body: get("body").unwrap_or_default(),
            targets: (!targets.is_empty()).then_some(targets),
            deadline: get("deadline").map(|d| json!(d)),
            ..Default::default()
        };
        let here = Here {
            extra_children: &st.extra_children,
            unit_groups: &st.unit_groups,
        };
        let days = st.hazards.due_soon_days;
        crate::directives::forward(&st.store, &actor, here, &id, input, days).await
    }
    .await;
    after(&st, &user, &id, "forward", r).await
}

/// `POST /directives/{id}/review` — 审核通过 or 退回 (with a reason) of a unit's completion, by the issuer.
pub async fn review(
    State(st): State<Arc<ApiState>>,
    user: User,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let get = |k: &str| crate::format::field(&pairs, k);
    let decision = get("decision").unwrap_or_default();
    let r = async {
        let actor = user.editor(&st)?;
        let input = NewReview {
            unit: get("unit"),
            decision: Some(decision.clone()),
            reason: get("reason"),
        };
        crate::directives::review(&st.store, &actor, &id, input, st.hazards.due_soon_days).await
    }
    .await;
    after(&st, &user, &id, &decision, r).await
}

/// `POST /directives/{id}/remind` — 催办 the units ticked, by the issuer.
pub async fn remind(
    State(st): State<Arc<ApiState>>,
    user: User,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let units: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "units")
        .map(|(_, v)| v.clone())
        .collect();
    let r = async {
        let actor = user.editor(&st)?;
        let input = NewReminder {
            units: Some(units),
            note: crate::format::field(&pairs, "note"),
        };
        crate::directives::remind(&st.store, &actor, &id, input, st.hazards.due_soon_days).await
    }
    .await;
    after(&st, &user, &id, "remind", r).await
}
