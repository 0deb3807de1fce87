//! `safemesh directive list|show|respond|review|remind` — directives (任务) for scripts and operators,
//! through the running node's HTTP API (`GET /api/v1/directives…`, `POST …/responses`, `…/reviews`
//! 审核, `…/reminders` 催办, docs/API.md): a table or
//! the text of a directive with each unit's state and the history of responses (times in China time),
//! the API's JSON with `--json`.

use clap::Subcommand;
use serde_json::{Value, json};

use super::remote::{NodeArgs, PageArgs, Remote, json_refusal, segment, with_query};
use crate::format::{self, china_time, table, text};

#[derive(Subcommand, Debug)]
pub enum DirectiveCmd {
    /// 任务列表（新下发的在前）/ the directives held here, newest first
    List {
        #[command(flatten)]
        node: NodeArgs,
        /// 下发单位代码 / issued by
        #[arg(long)]
        issuer: Option<String>,
        /// 承办节点代码 / sent to
        #[arg(long)]
        target: Option<String>,
        /// 类别 / category
        #[arg(long)]
        category: Option<String>,
        /// 仅有逾期单位的任务（--overdue false：没有逾期单位的）/ only directives with an overdue unit
        #[arg(long, num_args = 0..=1, default_missing_value = "true")]
        overdue: Option<String>,
        #[command(flatten)]
        page: PageArgs,
        /// 输出接口的 JSON / print the API's JSON
        #[arg(long)]
        json: bool,
    },
    /// 查看任务：内容、各承办单位进度、反馈记录 / one directive: its content, each unit, the responses
    Show {
        #[command(flatten)]
        node: NodeArgs,
        /// 任务 id（d-…）/ the directive's id
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// 签收、报告进展或完成（本级的反馈）/ receive, report progress or complete (this office's response)
    Respond {
        #[command(flatten)]
        node: NodeArgs,
        /// 任务 id（d-…）/ the directive's id
        id: String,
        /// receive 签收 | progress 进展 | complete 完成
        #[arg(long)]
        kind: String,
        /// 进展百分比（progress 必填）/ percent (required for progress)
        #[arg(long)]
        percent: Option<i64>,
        /// 说明 / note
        #[arg(long)]
        note: Option<String>,
        /// 本次报送完成的阶段节点 / the milestone this report meets
        #[arg(long)]
        milestone: Option<String>,
        /// 下发单位登记本级部门的进展：部门名称 / the issuer records one of its departments
        #[arg(long)]
        unit: Option<String>,
        /// 输出任务 JSON / print the directive as JSON
        #[arg(long)]
        json: bool,
    },
    /// 审核（下发单位）：审核通过或退回承办单位的完成 / the issuer approves or returns a unit's completion
    Review {
        #[command(flatten)]
        node: NodeArgs,
        /// 任务 id（d-…）/ the directive's id
        id: String,
        /// 承办单位：节点代码或部门名称 / the unit: a node code or a department's name
        #[arg(long)]
        unit: String,
        /// approve 审核通过 | return 退回
        #[arg(long)]
        decision: String,
        /// 退回原因（退回必填）/ the reason (required for return)
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// 催办（下发单位）：向指定承办单位催办 / the issuer reminds the units named
    Remind {
        #[command(flatten)]
        node: NodeArgs,
        /// 任务 id（d-…）/ the directive's id
        id: String,
        /// 被催办的承办单位（可重复）/ a unit reminded (repeatable)
        #[arg(long = "unit", required = true)]
        units: Vec<String>,
        /// 催办要求 / what is asked of them
        #[arg(long)]
        note: String,
        #[arg(long)]
        json: bool,
    },
}

/// The API's action for what the operator typed (the Chinese words too); anything else as typed, for
/// the API to refuse with its field path.
fn action(kind: &str) -> String {
    match kind.trim() {
        "签收" => "receive",
        "进展" | "报告进展" => "progress",
        "完成" => "complete",
        other => other,
    }
    .to_string()
}

/// What was done, for the line `respond` prints.
fn done_words(a: &str) -> &str {
    match a {
        "receive" => "已签收",
        "progress" => "进展已报送",
        "complete" => "已报告完成",
        other => other,
    }
}

fn action_label(a: &str) -> &str {
    safemesh_model::directive::ResponseAction::parse(a).map_or(a, |x| x.label_zh())
}

/// Runs a `safemesh directive` command.
pub async fn run(cmd: DirectiveCmd) -> anyhow::Result<()> {
    match cmd {
        DirectiveCmd::List {
            node,
            issuer,
            target,
            category,
            overdue,
            page,
            json,
        } => {
            let mut pairs = vec![
                ("issuer", issuer),
                ("target", target),
                ("category", category),
                ("overdue", overdue),
            ];
            pairs.extend(page.pairs());
            let path = with_query("/api/v1/directives", pairs);
            let page = Remote::from_args(&node)?
                .get(&path)
                .await
                .map_err(json_refusal(json))?;
            if json {
                println!("{page}");
            } else {
                print!("{}", list_table(&page));
            }
        }
        DirectiveCmd::Show { node, id, json } => {
            let d = Remote::from_args(&node)?
                .get(&format!("/api/v1/directives/{}", segment(id.trim())))
                .await
                .map_err(json_refusal(json))?;
            if json {
                println!("{d}");
            } else {
                print!("{}", directive_text(&d));
            }
        }
        DirectiveCmd::Respond {
            node,
            id,
            kind,
            percent,
            note,
            milestone,
            unit,
            json,
        } => {
            let mut body = json!({ "action": action(&kind) });
            for (k, v) in [
                ("percent", percent.map(Value::from)),
                ("note", note.map(Value::from)),
                ("milestone", milestone.map(Value::from)),
                ("unit", unit.clone().map(Value::from)),
            ] {
                if let Some(v) = v {
                    body[k] = v;
                }
            }
            let remote = Remote::from_args(&node)?;
            let d = remote
                .post(
                    &format!("/api/v1/directives/{}/responses", segment(id.trim())),
                    &body,
                )
                .await
                .map_err(json_refusal(json))?;
            if json {
                println!("{d}");
            } else {
                let who = match unit {
                    Some(u) => u,
                    None => remote.get("/api/v1/node").await?["code"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                };
                let state = d["units"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|u| u["unit"] == who.as_str())
                    .map(unit_state)
                    .unwrap_or_default();
                println!(
                    "{} / {}: {}（{}）{}，现为 / now: {state}",
                    done_words(body["action"].as_str().unwrap_or_default()),
                    body["action"].as_str().unwrap_or_default(),
                    text(&d["title"]),
                    text(&d["id"]),
                    format::office_name(&who),
                );
            }
        }
        DirectiveCmd::Review {
            node,
            id,
            unit,
            decision,
            reason,
            json,
        } => {
            let decision = match decision.trim() {
                "审核通过" | "通过" => "approve".to_string(),
                "退回" => "return".to_string(),
                other => other.to_string(),
            };
            let mut body = json!({ "unit": unit, "decision": decision });
            if let Some(r) = reason {
                body["reason"] = r.into();
            }
            let d = Remote::from_args(&node)?
                .post(
                    &format!("/api/v1/directives/{}/reviews", segment(id.trim())),
                    &body,
                )
                .await
                .map_err(json_refusal(json))?;
            if json {
                println!("{d}");
            } else {
                let state = d["units"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|u| u["unit"] == unit.as_str())
                    .map(unit_state)
                    .unwrap_or_default();
                println!(
                    "已审核 / reviewed: {}（{}）{}，现为 / now: {state}",
                    text(&d["title"]),
                    text(&d["id"]),
                    format::office_name(&unit),
                );
            }
        }
        DirectiveCmd::Remind {
            node,
            id,
            units,
            note,
            json,
        } => {
            let d = Remote::from_args(&node)?
                .post(
                    &format!("/api/v1/directives/{}/reminders", segment(id.trim())),
                    &json!({ "units": units, "note": note }),
                )
                .await
                .map_err(json_refusal(json))?;
            if json {
                println!("{d}");
            } else {
                println!(
                    "已催办 / reminded: {}（{}）{}",
                    text(&d["title"]),
                    text(&d["id"]),
                    units
                        .iter()
                        .map(|u| format::office_name(u))
                        .collect::<Vec<_>>()
                        .join("、"),
                );
            }
        }
    }
    Ok(())
}

/// The deadline in words: `deadline_text` where the API gives it, else the words of `deadline_spec`
/// (the list gives the stored directive), else the final day.
fn deadline(d: &Value) -> String {
    if let Some(t) = d["deadline_text"].as_str().filter(|t| !t.is_empty()) {
        return t.to_string();
    }
    if let Ok(spec) =
        serde_json::from_value::<safemesh_model::directive::Deadline>(d["deadline_spec"].clone())
    {
        return spec.describe_zh();
    }
    match &d["deadline"] {
        Value::String(s) if !s.is_empty() => s.clone(),
        _ => "-".into(),
    }
}

/// One page of directives as a table: id, 文号, 标题, 下发单位, 期限, 签收/完成/逾期 of the units.
pub fn list_table(page: &Value) -> String {
    let items = page["items"].as_array().cloned().unwrap_or_default();
    let mut rows = vec![
        [
            "id",
            "文号",
            "标题",
            "下发单位",
            "期限",
            "承办",
            "签收",
            "办结",
            "逾期",
        ]
        .map(String::from),
    ];
    for d in &items {
        let t = &d["totals"];
        let n = |k: &str| t[k].as_u64().unwrap_or(0).to_string();
        rows.push([
            text(&d["id"]),
            text(&d["doc_number"]),
            text(&d["title"]),
            format::office_name(d["issuer"].as_str().unwrap_or_default()),
            deadline(d),
            n("units"),
            n("received"),
            n("done"),
            n("overdue"),
        ]);
    }
    super::remote::paged(&rows, page, "项", "任务", "directives")
}

/// A unit's state in words: 未签收, 已签收，进度 40%, 待审核, 已办结, 已退回; with 逾期 or 临期.
fn unit_state(u: &Value) -> String {
    let mut s = if u["review"] == "pending" {
        "已完成，待审核".to_string()
    } else if u["done"] == true {
        "已办结".to_string()
    } else if u["review"] == "returned" {
        format!(
            "已退回（{}），进度 {}%",
            text(&u["last_review"]["reason"]),
            u["percent"].as_u64().unwrap_or(0)
        )
    } else if u["received"] == true {
        format!("已签收，进度 {}%", u["percent"].as_u64().unwrap_or(0))
    } else {
        "未签收".to_string()
    };
    if u["overdue"] == true {
        s.push_str("（逾期）");
    } else if u["due_soon"] == true {
        s.push_str("（临期）");
    }
    if let Some(n) = u["reminders"].as_array().map(Vec::len).filter(|n| *n > 0) {
        s.push_str(&format!("（催办 {n} 次）"));
    }
    s
}

/// One directive as text: its content, each unit's state, then every response in time order.
pub fn directive_text(d: &Value) -> String {
    let mut facts: Vec<[String; 2]> = Vec::new();
    let mut put = |k: &str, v: String| {
        if !v.is_empty() {
            facts.push([k.to_string(), v]);
        }
    };
    put("id", text(&d["id"]));
    put("文号", text(&d["doc_number"]));
    put(
        "下发单位",
        format::office(d["issuer"].as_str().unwrap_or_default()),
    );
    put(
        "下发时间",
        d["created"].as_str().map(china_time).unwrap_or_default(),
    );
    put("类别", text(&d["category"]));
    put("来源文件", text(&d["source_document"]));
    put("期限", deadline(d));
    put("报送", text(&d["reporting_text"]));
    if d["cascade"] == true {
        put("紧急通知", "是（下发至全辖区）".into());
    }
    if let Some(p) = d.get("parent").filter(|p| p.is_object()) {
        put(
            "转发自",
            format!(
                "{}（{}）",
                format::office(p["issuer"].as_str().unwrap_or_default()),
                text(&p["directive"])
            ),
        );
    }
    let t = &d["totals"];
    let n = |k: &str| t[k].as_u64().unwrap_or(0);
    put(
        "进度",
        format!(
            "承办 {}，已签收 {}，已办结 {}，待审核 {}，逾期 {}",
            n("units"),
            n("received"),
            n("done"),
            n("awaiting_review"),
            n("overdue")
        ),
    );
    let mut out = format!("任务 {}\n", text(&d["title"]));
    out.push_str(&table(&facts));
    if let Some(body) = d["body"].as_str().filter(|b| !b.trim().is_empty()) {
        out.push_str(&format!("\n{}\n", body.trim_end()));
    }

    let mut units = vec![
        [
            "单位",
            "角色",
            "状态",
            "期限",
            "下次报送",
            "签收时间（北京时间）",
        ]
        .map(String::from),
    ];
    for u in d["units"].as_array().into_iter().flatten() {
        let code = text(&u["unit"]);
        let name = u["name"].as_str().unwrap_or(&code);
        units.push([
            if name == code {
                code.clone()
            } else {
                format!("{name}（{code}）")
            },
            u["role_labels"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join("、")
                })
                .unwrap_or_default(),
            unit_state(u),
            u["due"].as_str().unwrap_or("-").to_string(),
            u["next_report_due"].as_str().unwrap_or("-").to_string(),
            u["received_at"]
                .as_str()
                .map(china_time)
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    out.push_str("\n承办单位 / units\n");
    out.push_str(&table(&units));

    // Every response of every unit, oldest first.
    let mut history: Vec<(String, [String; 5])> = Vec::new();
    for key in ["responses", "unit_responses"] {
        for (unit, r) in d[key].as_object().into_iter().flatten() {
            for u in r["updates"].as_array().into_iter().flatten() {
                let at = text(&u["at"]);
                let mut what = action_label(u["action"].as_str().unwrap_or_default()).to_string();
                if let Some(p) = u["percent"].as_u64() {
                    what.push_str(&format!(" {p}%"));
                }
                if let Some(m) = u["milestone"].as_str() {
                    what.push_str(&format!("（{m}）"));
                }
                history.push((
                    at.clone(),
                    [
                        china_time(&at),
                        format::office(unit),
                        text(&u["user"]),
                        what,
                        text(&u["note"]),
                    ],
                ));
            }
        }
    }
    history.sort_by(|a, b| a.0.cmp(&b.0));
    out.push_str("\n反馈记录 / responses\n");
    if history.is_empty() {
        out.push_str("（尚无 / none yet）\n");
    } else {
        let mut rows =
            vec![["时间（北京时间）", "单位", "操作人", "反馈", "说明"].map(String::from)];
        rows.extend(history.into_iter().map(|(_, r)| r));
        out.push_str(&table(&rows));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directive() -> Value {
        json!({
            "id": "d-01", "title": "深化非煤矿山安全专项治理", "doc_number": "安安办〔2026〕3号",
            "issuer": "530181", "created": "2026-12-01T02:00:00Z", "deadline": "2026-12-31",
            "deadline_text": "2026-12-31", "reporting_text": "每月17日前",
            "totals": {"units": 2, "received": 1, "done": 0, "overdue": 1},
            "units": [
                {"unit": "530181006", "name": "禄脿街道", "role_labels": ["牵头"], "received": true,
                 "received_at": "2026-12-01T16:10:00Z", "percent": 40, "done": false, "overdue": false,
                 "due": "2026-12-31", "next_report_due": "2026-12-17"},
                {"unit": "530181007", "name": "草铺街道", "role_labels": ["责任"], "received": false,
                 "done": false, "overdue": true, "due": "2026-12-31"},
            ],
            "responses": {"530181006": {"updates": [
                {"action": "progress", "at": "2026-12-03T01:00:00Z", "percent": 40, "note": "已排查 12 家", "user": "王五"},
                {"action": "receive", "at": "2026-12-01T16:10:00Z", "user": "王五"},
            ]}},
        })
    }

    #[test]
    fn a_directive_reads_as_content_units_and_responses_in_order() {
        let t = directive_text(&directive());
        assert!(t.starts_with("任务 深化非煤矿山安全专项治理\n"), "{t}");
        assert!(t.contains("安宁市（530181）"), "{t}");
        let town = t
            .lines()
            .find(|l| l.starts_with("禄脿街道（530181006）"))
            .unwrap();
        assert!(
            town.contains("已签收，进度 40%") && town.ends_with("2026-12-02 00:10"),
            "{t}"
        );
        let other = t.lines().find(|l| l.starts_with("草铺街道")).unwrap();
        assert!(other.contains("未签收（逾期）"), "{t}");
        // Responses oldest first, in China time.
        let receive = t.find("2026-12-02 00:10  禄脿街道").unwrap();
        let progress = t.find("2026-12-03 09:00  禄脿街道").unwrap();
        assert!(receive < progress, "{t}");
        assert!(t.contains("进展 40%"), "{t}");
    }

    #[test]
    fn the_list_names_each_directive_by_id_with_its_totals() {
        let page = json!({"items": [directive()], "total": 1, "limit": 50, "offset": 0});
        let t = list_table(&page);
        let row = t.lines().nth(1).unwrap();
        assert!(
            row.starts_with("d-01") && row.contains("安宁市") && row.contains("2026-12-31"),
            "{t}"
        );
        assert!(t.ends_with("共 1 项任务 / 1 directives\n"), "{t}");
    }

    #[test]
    fn a_units_state_names_its_review_due_soon_and_reminders() {
        let pending = json!({"received": true, "done": true, "review": "pending"});
        assert_eq!(unit_state(&pending), "已完成，待审核");
        let approved = json!({"received": true, "done": true, "review": "approved"});
        assert_eq!(unit_state(&approved), "已办结");
        let returned = json!({"received": true, "done": false, "review": "returned", "percent": 100,
            "last_review": {"reason": "台账缺少企业签字"}, "due_soon": true,
            "reminders": [{"units": ["530181006"], "note": "请报送"}]});
        assert_eq!(
            unit_state(&returned),
            "已退回（台账缺少企业签字），进度 100%（临期）（催办 1 次）"
        );
    }

    #[test]
    fn chinese_actions_are_the_api_words() {
        assert_eq!(action("签收"), "receive");
        assert_eq!(action("完成"), "complete");
        assert_eq!(action("progress"), "progress");
        assert_eq!(action("done"), "done");
    }
}
