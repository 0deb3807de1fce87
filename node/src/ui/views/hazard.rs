//! 隐患详情 `/hazards/{id}` — all facts, the 五落实 plan, the timeline (who, when, which office), and
//! the action forms this person may use here: the role decides whether any are shown, and the same
//! rules the API applies (`crate::hazards::actions`: write authority, then the lifecycle) decide which.
//! A post goes through `crate::hazards::add_event`; a refusal comes back on the page, in words.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use safemesh_model::hazard::{ESCALATION_METHODS, EventKind, notify, plan::Funds, plan::PlanInput};
use serde::Deserialize;
use serde_json::Value;

use super::User;
use super::ledger::status_class;
use crate::format::chinese;
use crate::format::{self, china_date, china_time};
use crate::hazards::NewEvent;
use crate::http::ApiState;
use crate::records::RecordError;
use crate::ui::page::{Chrome, record_error, render};

/// The facts as the page shows them.
pub struct HazardFacts {
    pub id: String,
    pub number: String,
    pub title: String,
    pub owner: String,
    pub sector: String,
    pub major: bool,
    pub status: &'static str,
    pub status_class: &'static str,
    pub channel: &'static str,
    pub inspection_mode: String,
    pub found_by: String,
    pub found_on: String,
    pub stock: String,
    pub deadline: String,
    pub original_deadline: String,
    pub overdue_days: i64,
    pub enterprise: String,
    /// 隐患所在, when not an enterprise (empty for an enterprise's hazard).
    pub subject: String,
    /// 责任单位 (empty if none was given).
    pub responsible_unit: String,
    pub credit_code: String,
    /// 例外登记: why a credit code failing its check was accepted (empty if it passed).
    pub credit_code_override: String,
    pub location: String,
    pub basis: String,
    pub description: String,
    pub supervising: String,
    /// 挂牌督办 — the listing that decides: 督办编号, 督办要求, 督办期限, listed by whom and when (empty
    /// strings when not listed).
    pub listing_number: String,
    pub listing_requirements: String,
    pub listing_due: String,
    pub listing_by: String,
    pub notified: String,
    pub escalated: String,
    /// 临期 (due within the node's warning days, not overdue).
    pub due_soon: bool,
    /// While awaiting acceptance: when it was reported rectified, who accepts it and by when, and the
    /// acceptor's delay (验收超期) — in words; empty otherwise.
    pub awaiting: String,
    /// 验收超期 days (0 if none).
    pub acceptance_late: i64,
    /// 已延期次数.
    pub extended: u64,
    /// The extension request waiting for its decision, in words (empty if none).
    pub extension_pending: String,
    /// 书面回复 state of each escalation, in words.
    pub replies: String,
}

/// The 五落实 plan.
pub struct PlanView {
    pub responsible_unit: String,
    pub responsible_person: String,
    pub measures: String,
    pub funds: String,
    pub deadline: String,
    pub contingency_plan: String,
    pub complete: bool,
}

/// One entry of the timeline.
pub struct EventRow {
    pub kind: &'static str,
    pub label: &'static str,
    pub detail: String,
    pub note: String,
    pub at: String,
    pub office: String,
    pub user: String,
    /// Recorded by an office above the owner.
    pub superior: bool,
    /// 佐证材料 it attached.
    pub files: Vec<super::files::FileLink>,
}

/// One action form.
pub struct ActionForm {
    pub kind: &'static str,
    pub label: &'static str,
    pub button: &'static str,
    /// Why the last post of this form was refused, in words.
    pub error: String,
}

#[derive(Template)]
#[template(path = "hazard.html")]
pub struct HazardPage {
    pub chrome: Chrome,
    pub h: HazardFacts,
    pub plan: Option<PlanView>,
    pub events: Vec<EventRow>,
    pub actions: Vec<ActionForm>,
    pub escalation_methods: Vec<&'static str>,
    /// The notify form's posts: (post, ticked by default, the person's name from the enterprise
    /// record held here, if any). The four posts are told apart (seed 002 #6).
    pub notify_posts: Vec<(&'static str, bool, String)>,
    /// The escalations waiting for a written reply: (`{office}|{method}`, as a clerk reads it).
    pub awaiting_reply: Vec<(String, String)>,
    /// The deadline an extension form proposes (30 days after the deadline in force).
    pub extend_default: String,
    /// The reply deadline an escalation form proposes (15 days on).
    pub reply_by_default: String,
    pub notice: String,
    pub error: String,
}

use crate::format::text;

fn facts(b: &Value) -> HazardFacts {
    let status = b["status"].as_str().unwrap_or_default();
    let loc = &b["location"];
    let location = [text(&loc["address"]), text(&loc["division"])]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" · ");
    let basis = [text(&b["basis"]["standard"]), text(&b["basis"]["clause"])]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    HazardFacts {
        id: text(&b["id"]),
        number: text(&b["number"]),
        title: text(&b["title"]),
        owner: format::office(b["owner"].as_str().unwrap_or_default()),
        sector: text(&b["sector"]),
        major: b["grade"] == "major",
        status: format::status_label(status),
        status_class: status_class(status),
        channel: format::channel_label(b["channel"].as_str().unwrap_or_default()),
        inspection_mode: text(&b["inspection_mode"]),
        found_by: format::office(b["found_by_level"].as_str().unwrap_or_default()),
        found_on: china_date(b["found_on"].as_str().unwrap_or_default()),
        stock: text(&b["stock_label"]),
        deadline: b["effective_deadline"]
            .as_str()
            .or_else(|| b["deadline"].as_str())
            .unwrap_or_default()
            .to_string(),
        original_deadline: text(&b["deadline"]),
        overdue_days: b["days_overdue"].as_i64().unwrap_or(0),
        enterprise: text(&b["enterprise"]["name"]),
        subject: b["subject"]
            .as_str()
            .and_then(|s| safemesh_model::hazard::facts::Subject::parse_as("subject", s).ok())
            .filter(|k| !k.is_enterprise())
            .map(|k| k.label_zh().to_string())
            .unwrap_or_default(),
        responsible_unit: text(&b["responsible_unit"]),
        credit_code: text(&b["enterprise"]["credit_code"]),
        credit_code_override: text(&b["enterprise"]["credit_code_override"]),
        location,
        basis,
        description: text(&b["description"]),
        supervising: b["supervising"]
            .as_str()
            .map(format::office)
            .unwrap_or_default(),
        listing_number: text(&b["listing"]["number"]),
        listing_requirements: text(&b["listing"]["requirements"]),
        listing_due: text(&b["listing"]["due"]),
        listing_by: b["listing"]["at"]
            .as_str()
            .map(|at| {
                format!(
                    "{} {}",
                    format::office(b["listing"]["by"].as_str().unwrap_or_default()),
                    china_time(at)
                )
            })
            .unwrap_or_default(),
        notified: format::told(&b["notified"], &b["notified_names"]),
        escalated: b["escalated"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        let reply = e["reply_by"]
                            .as_str()
                            .map(|r| format!("，{r} 前书面回复"))
                            .unwrap_or_default();
                        format!(
                            "{}{}{}",
                            format::office_name(e["by"].as_str().unwrap_or_default()),
                            text(&e["method"]),
                            reply
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("；")
            })
            .unwrap_or_default(),
        due_soon: b["due_soon"].as_bool().unwrap_or(false),
        awaiting: match b["rectified_on"].as_str() {
            Some(r) => {
                let who = format::office_name(b["acceptor"].as_str().unwrap_or_default());
                let on_time = b["overdue"] != true;
                let late = b["acceptance_days_overdue"].as_i64().unwrap_or(0);
                format!(
                    "{r} 报告整改完成{}，待{who}验收（{} 前）{}",
                    if on_time { "（按期）" } else { "" },
                    text(&b["acceptance_due"]),
                    if late > 0 {
                        format!("，验收超期 {late} 天")
                    } else {
                        String::new()
                    }
                )
            }
            None => String::new(),
        },
        acceptance_late: b["acceptance_days_overdue"].as_i64().unwrap_or(0),
        extended: b["extended"].as_u64().unwrap_or(0),
        extension_pending: b
            .get("extension_pending")
            .filter(|p| p.is_object())
            .map(|p| {
                format!(
                    "申请延期至 {}，{} 提出，待审批",
                    text(&p["new_deadline"]),
                    china_time(p["at"].as_str().unwrap_or_default())
                )
            })
            .unwrap_or_default(),
        replies: b["escalated"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        let who = format!(
                            "{}{}",
                            format::office_name(e["by"].as_str().unwrap_or_default()),
                            text(&e["method"])
                        );
                        let state = match (e["replied_at"].as_str(), e["reply_late"].as_bool()) {
                            (Some(at), _) => format!("已于 {} 书面回复", china_time(at)),
                            (None, Some(true)) => format!(
                                "书面回复已逾期 {} 天",
                                e["reply_days_late"].as_i64().unwrap_or(0)
                            ),
                            (None, _) => match e["reply_by"].as_str() {
                                Some(r) => format!("待书面回复（{r} 前）"),
                                None => "待书面回复".to_string(),
                            },
                        };
                        format!("{who}：{state}")
                    })
                    .collect::<Vec<_>>()
                    .join("；")
            })
            .unwrap_or_default(),
    }
}

/// The escalations still waiting for a written reply, as the reply form offers them.
fn awaiting_reply(b: &Value) -> Vec<(String, String)> {
    b["escalated"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| !e["replied_at"].is_string())
        .map(|e| {
            let by = e["by"].as_str().unwrap_or_default();
            let m = text(&e["method"]);
            let due = e["reply_by"]
                .as_str()
                .map(|r| format!("（{r} 前回复）"))
                .unwrap_or_default();
            (
                format!("{by}|{m}"),
                format!("{}{m}{due}", format::office_name(by)),
            )
        })
        .collect()
}

fn plan(b: &Value) -> Option<PlanView> {
    let p = b.get("plan").filter(|p| p.is_object())?;
    Some(PlanView {
        responsible_unit: text(&p["responsible_unit"]),
        responsible_person: text(&p["responsible_person"]),
        measures: text(&p["measures"]),
        funds: format::wan(p["funds_wan"].as_f64().unwrap_or(0.0)),
        deadline: text(&p["deadline"]),
        contingency_plan: text(&p["contingency_plan"]),
        complete: b["plan_complete"].as_bool().unwrap_or(false),
    })
}

fn events(b: &Value) -> Vec<EventRow> {
    let owner = b["owner"].as_str().unwrap_or_default();
    b["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let kind = EventKind::parse(e["kind"].as_str()?).ok()?;
            let by = e["by"].as_str().unwrap_or_default();
            Some(EventRow {
                kind: kind.as_str(),
                label: format::event_label(kind),
                detail: format::event_detail(e),
                note: text(&e["note"]),
                at: china_time(e["at"].as_str().unwrap_or_default()),
                office: format::office(by),
                user: text(&e["user"]),
                superior: by != owner && owner.starts_with(by),
                files: super::files::of_event(e),
            })
        })
        .collect()
}

fn button(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Plan => "提交整改方案",
        EventKind::Progress => "报告进展",
        EventKind::Rectified => "申请验收",
        EventKind::Accept => "验收通过",
        EventKind::Return => "退回整改",
        EventKind::Close => "销号",
        EventKind::Reopen => "重新打开",
        EventKind::Supervise => "挂牌督办",
        EventKind::Escalate => "升级督办",
        EventKind::Notify => "记录告知",
        EventKind::Comment => "添加批注",
        EventKind::Registered => "登记",
        EventKind::ExtendRequest => "申请延期",
        EventKind::ExtendDecision => "提交审批意见",
        EventKind::Reply => "提交书面回复",
        EventKind::Lift => "摘牌",
    }
}

/// The field paths of an event's input, as a clerk names them.
fn field_label(field: &str) -> &'static str {
    match field {
        "plan.responsible_unit" => "责任单位",
        "plan.responsible_person" => "责任人",
        "plan.measures" => "整改措施",
        "plan.funds_wan" => "整改资金",
        "plan.deadline" => "整改时限",
        "plan.contingency_plan" => "应急预案",
        "percent" => "完成进度",
        "method" => "方式",
        "reply_by" => "书面回复期限",
        "recipients" => "告知对象",
        "new_deadline" => "申请延期至",
        "approved" => "审批意见",
        "to" => "回复的督办",
        "number" => "督办编号",
        "requirements" => "督办要求",
        "due" => "督办期限",
        "note" => "说明",
        _ => "",
    }
}

/// A refusal in words: the rule for a 403, the field and reason otherwise.
pub fn refusal(e: &RecordError) -> String {
    if let Some(rule) = &e.rule {
        return format::rule_words(rule).to_string();
    }
    let reason = chinese(&e.message);
    match e
        .field
        .as_deref()
        .map(field_label)
        .filter(|l| !l.is_empty())
    {
        Some(label) => format!("{label}：{reason}"),
        None => reason.to_string(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    done: Option<String>,
}

async fn build(
    st: &ApiState,
    user: &User,
    id: &str,
    notice: String,
    refused: Option<(EventKind, String)>,
) -> Result<HazardPage, RecordError> {
    let b = crate::hazards::get(&st.store, &st.hazards, id).await?;
    let kinds = if user.caller.role >= safemesh_store::TokenRole::Editor {
        crate::hazards::actions(&st.store, id, &st.code).await?
    } else {
        Vec::new()
    };
    let mut actions: Vec<ActionForm> = kinds
        .into_iter()
        .map(|k| ActionForm {
            kind: k.as_str(),
            label: format::event_label(k),
            button: button(k),
            error: String::new(),
        })
        .collect();
    let mut error = String::new();
    if let Some((kind, why)) = refused {
        match actions.iter_mut().find(|a| a.kind == kind.as_str()) {
            Some(a) => a.error = why,
            None => error = why,
        }
    }
    let held = match b["enterprise"]["credit_code"]
        .as_str()
        .filter(|c| !c.is_empty())
    {
        Some(c) => st.store.enterprise(c, st.code.as_str()).await?,
        None => None,
    };
    let notify_posts = notify::ROLES
        .iter()
        .map(|(post, code)| {
            // The enterprise record names each post in its own field.
            let field = match *code {
                "actual_controller" => "controller",
                other => other,
            };
            let person = held.as_ref().map(|e| text(&e[field])).unwrap_or_default();
            (*post, notify::REQUIRED_RECIPIENTS.contains(post), person)
        })
        .collect();
    let mut events = events(&b);
    super::files::mark_held(st, events.iter_mut().flat_map(|e| e.files.iter_mut())).await?;
    Ok(HazardPage {
        chrome: Chrome::new(st, user, "hazards"),
        notify_posts,
        h: facts(&b),
        plan: plan(&b),
        events,
        actions,
        escalation_methods: ESCALATION_METHODS.to_vec(),
        awaiting_reply: awaiting_reply(&b),
        extend_default: safemesh_model::hazard::parse_date(
            "deadline",
            b["effective_deadline"].as_str().unwrap_or_default(),
        )
        .map(|d| {
            safemesh_model::hazard::format_date(
                d.max(crate::clock::today()) + time::Duration::days(30),
            )
        })
        .unwrap_or_default(),
        reply_by_default: safemesh_model::hazard::format_date(
            crate::clock::today() + time::Duration::days(15),
        ),
        notice,
        error,
    })
}

pub async fn page(
    State(st): State<Arc<ApiState>>,
    user: User,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let notice = match q.done.as_deref().map(EventKind::parse) {
        Some(Ok(EventKind::Registered)) => "隐患已登记。".to_string(),
        Some(Ok(k)) => format!("已办理：{}。", format::event_label(k)),
        _ => String::new(),
    };
    match build(&st, &user, &id, notice, None).await {
        Ok(p) => render(StatusCode::OK, &p),
        Err(e) => record_error(&e),
    }
}

/// The action forms' fields (every form sends `kind`; the rest by kind).
#[derive(Debug, Default)]
pub struct EventForm {
    kind: String,
    note: String,
    method: String,
    percent: String,
    reply_by: String,
    recipients: Vec<String>,
    /// The name typed beside each post (`recipient_name.主要负责人`); only those of posts ticked go.
    recipient_names: std::collections::BTreeMap<String, String>,
    new_deadline: String,
    /// 同意 `true` / 不同意 `false`.
    approved: String,
    /// The escalation a reply answers: `{office}|{method}`.
    escalation: String,
    responsible_unit: Option<String>,
    responsible_person: Option<String>,
    measures: Option<String>,
    funds_wan: Option<String>,
    deadline: Option<String>,
    contingency_plan: Option<String>,
    /// 挂牌督办: 督办编号, 督办要求, 督办期限.
    number: String,
    requirements: String,
    due: String,
}

fn some(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

impl EventForm {
    /// The API's input for this form.
    fn into_input(self) -> Result<NewEvent, RecordError> {
        let percent = match some(self.percent) {
            Some(p) => Some(p.parse::<i64>().map_err(|_| {
                RecordError::bad("percent", "应为 0 到 100 的整数 / must be a whole number")
            })?),
            None => None,
        };
        let plan = (self.kind == "plan").then(|| PlanInput {
            responsible_unit: self.responsible_unit,
            responsible_person: self.responsible_person,
            measures: self.measures,
            funds_wan: self.funds_wan.map(Funds::Text),
            deadline: self.deadline,
            contingency_plan: self.contingency_plan,
        });
        let approved = match some(self.approved).as_deref() {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(_) => {
                return Err(RecordError::bad(
                    "approved",
                    "请选择同意或不同意 / choose 同意 or 不同意",
                ));
            }
        };
        let (to, reply_method) = match some(self.escalation) {
            Some(e) => match e.split_once('|') {
                Some((to, m)) => (Some(to.to_string()), Some(m.to_string())),
                None => (Some(e), None),
            },
            None => (None, None),
        };
        Ok(NewEvent {
            kind: some(self.kind),
            note: some(self.note),
            method: some(self.method).or(reply_method),
            percent,
            plan,
            recipient_names: {
                let names: std::collections::BTreeMap<String, String> = self
                    .recipient_names
                    .into_iter()
                    .filter(|(post, person)| {
                        !person.trim().is_empty() && self.recipients.contains(post)
                    })
                    .collect();
                (!names.is_empty()).then_some(names)
            },
            recipients: (!self.recipients.is_empty()).then_some(self.recipients),
            reply_by: some(self.reply_by),
            new_deadline: some(self.new_deadline),
            approved,
            to,
            number: some(self.number),
            requirements: some(self.requirements),
            due: some(self.due),
            attachments: None,
        })
    }
}

/// `POST /hazards/{id}/events` — one action form, with any files it uploads (`multipart/form-data`;
/// the files are stored first, then attached to the event).
pub async fn add_event(
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
        Err(e) => {
            return refused_page(&st, &user, &id, EventKind::Comment, e).await;
        }
    };
    let form = parse_event_form(&pairs);
    let kind = EventKind::parse(&form.kind).ok();
    let result = match form.into_input() {
        Ok(mut input) => {
            input.attachments = (!files.is_empty()).then_some(files);
            let actor = user.actor(&st);
            crate::hazards::add_event(&st.store, &st.hazards, &actor, &id, input).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => {
            let done = kind.map(|k| k.as_str()).unwrap_or("comment");
            Redirect::to(&format!("/hazards/{id}?done={done}")).into_response()
        }
        Err(e) => refused_page(&st, &user, &id, kind.unwrap_or(EventKind::Comment), e).await,
    }
}

/// The page again with the refusal of a `kind` form, in words (a 404 as the error page).
async fn refused_page(
    st: &ApiState,
    user: &User,
    id: &str,
    kind: EventKind,
    e: RecordError,
) -> Response {
    if e.status == 404 {
        return record_error(&e);
    }
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let why = refusal(&e);
    tracing::info!(%id, status = e.status, rule = ?e.rule, "ui action refused");
    match build(st, user, id, String::new(), Some((kind, why))).await {
        Ok(p) => render(status, &p),
        Err(e) => record_error(&e),
    }
}

/// Reads the form's pairs (repeated `recipients` included) into an [`EventForm`].
fn parse_event_form(pairs: &[(String, String)]) -> EventForm {
    let mut f = EventForm::default();
    for (k, v) in pairs {
        let v = v.clone();
        match k.as_str() {
            "kind" => f.kind = v,
            "note" => f.note = v,
            "method" => f.method = v,
            "percent" => f.percent = v,
            "reply_by" => f.reply_by = v,
            "recipients" => f.recipients.push(v),
            k if k.starts_with("recipient_name.") => {
                f.recipient_names
                    .insert(k["recipient_name.".len()..].to_string(), v);
            }
            "new_deadline" => f.new_deadline = v,
            "approved" => f.approved = v,
            "escalation" => f.escalation = v,
            "number" => f.number = v,
            "requirements" => f.requirements = v,
            "due" => f.due = v,
            "plan.responsible_unit" => f.responsible_unit = Some(v),
            "plan.responsible_person" => f.responsible_person = Some(v),
            "plan.measures" => f.measures = Some(v),
            "plan.funds_wan" => f.funds_wan = Some(v),
            "plan.deadline" => f.deadline = Some(v),
            "plan.contingency_plan" => f.contingency_plan = Some(v),
            _ => {}
        }
    }
    f
}
