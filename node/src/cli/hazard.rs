//! `safemesh hazard list|show|add|event` — the hazard ledger for scripts and operators, through the
//! running node's HTTP API (`GET/POST /api/v1/hazards…`, docs/API.md): a table or the text of a record
//! for people (times in China time), the API's JSON with `--json`. The API checks every input; its
//! refusal (field path and reason) is shown as it is.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::{Map, Value, json};

use super::HazardFilterArgs;
use super::remote::{AskError, NodeArgs, PageArgs, Remote, json_refusal, segment, with_query};
use crate::format::{self, china_time, table, text};

#[derive(Subcommand, Debug)]
pub enum HazardCmd {
    /// 隐患台账（筛选条件同台账页面）/ the hazard ledger, with the ledger's filters
    List {
        #[command(flatten)]
        node: NodeArgs,
        #[command(flatten)]
        filter: Box<HazardFilterArgs>,
        #[command(flatten)]
        page: PageArgs,
        /// 输出接口的 JSON / print the API's JSON
        #[arg(long)]
        json: bool,
    },
    /// 查看一条隐患及其全过程记录 / one hazard and its history
    Show {
        #[command(flatten)]
        node: NodeArgs,
        /// 隐患 id（h-…）或编号 / the hazard's id (h-…) or number
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// 登记隐患，输出新隐患的 id / register a hazard; prints its id
    Add {
        #[command(flatten)]
        node: NodeArgs,
        /// JSON 文件（字段同 POST /api/v1/hazards；- 为标准输入），命令行参数覆盖其中同名字段 /
        /// a JSON file with the fields of POST /api/v1/hazards (- for stdin); flags override it
        #[arg(long)]
        file: Option<PathBuf>,
        #[command(flatten)]
        fields: Box<HazardFields>,
        /// 输出登记后的隐患 JSON / print the registered hazard as JSON
        #[arg(long)]
        json: bool,
    },
    /// 添加事件（整改方案、进展、申请验收、验收、督办……）/ append a lifecycle event
    Event {
        #[command(flatten)]
        node: NodeArgs,
        /// 隐患 id（h-…）或编号 / the hazard's id (h-…) or number
        id: String,
        /// JSON 文件（字段同 POST /api/v1/hazards/{id}/events，如整改方案 plan；- 为标准输入）/ a JSON
        /// file with the fields of the events endpoint (e.g. a plan; - for stdin); flags override it
        #[arg(long)]
        file: Option<PathBuf>,
        #[command(flatten)]
        fields: Box<EventFields>,
        /// 输出加了事件的隐患 JSON / print the hazard as JSON
        #[arg(long)]
        json: bool,
    },
}

/// The common fields of a registration, as flags (`POST /api/v1/hazards`).
#[derive(clap::Args, Debug, Default)]
pub struct HazardFields {
    /// 隐患名称 / title
    #[arg(long)]
    pub title: Option<String>,
    /// 隐患描述 / description
    #[arg(long)]
    pub description: Option<String>,
    /// 行业领域（如 危化品、燃气）/ sector
    #[arg(long)]
    pub sector: Option<String>,
    /// 等级：一般、重大（general、major）/ grade
    #[arg(long)]
    pub grade: Option<String>,
    /// 发现渠道：企业自查上报、督导检查发现、群众举报查实 / channel
    #[arg(long)]
    pub channel: Option<String>,
    /// 检查方式（督导检查发现时必填，如 双随机、四不两直）/ inspection mode
    #[arg(long)]
    pub inspection_mode: Option<String>,
    /// 发现层级（代码或 县级 等）/ found by level
    #[arg(long)]
    pub found_by_level: Option<String>,
    /// 发现日期 YYYY-MM-DD（默认今天）/ found on
    #[arg(long)]
    pub found_on: Option<String>,
    /// 整改期限 YYYY-MM-DD / deadline
    #[arg(long)]
    pub deadline: Option<String>,
    /// 编号（默认由节点编排）/ number (default: the next one)
    #[arg(long)]
    pub number: Option<String>,
    /// 存量、增量 / stock or new
    #[arg(long)]
    pub stock: Option<String>,
    /// 隐患所在：生产经营单位（默认）、道路、自建房、公共场所、其他 / what the hazard is at
    #[arg(long)]
    pub subject: Option<String>,
    /// 责任单位（没有企业的隐患必填）/ the responsible unit (required without an enterprise)
    #[arg(long)]
    pub responsible_unit: Option<String>,
    /// 企业名称 / enterprise name
    #[arg(long)]
    pub enterprise: Option<String>,
    /// 统一社会信用代码 / credit code
    #[arg(long)]
    pub credit_code: Option<String>,
    /// 信用代码例外说明（仅用于校验位不符的早期试点代码）/ why a code failing its check is right
    #[arg(long)]
    pub credit_code_override: Option<String>,
    /// 隐患所在区划代码 / location division code
    #[arg(long)]
    pub division: Option<String>,
    /// 隐患地点 / address
    #[arg(long)]
    pub address: Option<String>,
    /// 判定依据（标准）/ basis standard
    #[arg(long)]
    pub standard: Option<String>,
    /// 判定条款 / basis clause
    #[arg(long)]
    pub clause: Option<String>,
}

impl HazardFields {
    /// Sets the given flags into the JSON body, over what the file had.
    fn apply(self, body: &mut Map<String, Value>) {
        let top = [
            ("title", self.title),
            ("description", self.description),
            ("sector", self.sector),
            ("grade", self.grade),
            ("channel", self.channel),
            ("inspection_mode", self.inspection_mode),
            ("found_by_level", self.found_by_level),
            ("found_on", self.found_on),
            ("deadline", self.deadline),
            ("number", self.number),
            ("stock", self.stock),
            ("subject", self.subject),
            ("responsible_unit", self.responsible_unit),
        ];
        for (k, v) in top {
            if let Some(v) = v {
                body.insert(k.into(), v.into());
            }
        }
        for (object, key, v) in [
            ("enterprise", "name", self.enterprise),
            ("enterprise", "credit_code", self.credit_code),
            (
                "enterprise",
                "credit_code_override",
                self.credit_code_override,
            ),
            ("location", "division", self.division),
            ("location", "address", self.address),
            ("basis", "standard", self.standard),
            ("basis", "clause", self.clause),
        ] {
            if let Some(v) = v {
                set_in(body, object, key, v.into());
            }
        }
    }
}

/// The fields of an event, as flags (`POST /api/v1/hazards/{id}/events`).
#[derive(clap::Args, Debug, Default)]
pub struct EventFields {
    /// 事件：plan 整改方案、progress 进展、rectified 申请验收、accept 验收通过、return 退回、close 销号、
    /// reopen 重开、supervise 挂牌督办、escalate 升级督办、notify 告知、comment 批注、extend_request
    /// 申请延期、extend_decision 延期审批、reply 书面回复 / the event kind
    #[arg(long)]
    pub kind: Option<String>,
    /// 说明 / note
    #[arg(long)]
    pub note: Option<String>,
    /// 进展百分比（progress）/ percent
    #[arg(long)]
    pub percent: Option<i64>,
    /// 告知方式（notify）或升级方式 函告、通报、约谈、曝光（escalate、reply）/ method
    #[arg(long)]
    pub method: Option<String>,
    /// 告知对象（notify），逗号分隔：法定代表人、主要负责人、实际控制人、实际负责人（分别记录，不相互代替）/
    /// the posts told, comma-separated
    #[arg(long, value_delimiter = ',')]
    pub recipients: Option<Vec<String>>,
    /// 被告知人姓名（notify），可重复：--recipient-name 主要负责人=王某 / the person told for a post
    #[arg(long = "recipient-name", value_parser = post_and_name)]
    pub recipient_names: Vec<(String, String)>,
    /// 书面回复期限（escalate）YYYY-MM-DD / reply by
    #[arg(long)]
    pub reply_by: Option<String>,
    /// 申请延期到（extend_request）YYYY-MM-DD / new deadline
    #[arg(long)]
    pub new_deadline: Option<String>,
    /// 延期审批（extend_decision）：true 同意 / false 不同意 / approved
    #[arg(long)]
    pub approved: Option<bool>,
    /// 书面回复的对象单位代码（reply）/ the escalating office a reply answers
    #[arg(long)]
    pub to: Option<String>,
    /// 督办编号（supervise，必填）/ the listing's number
    #[arg(long)]
    pub number: Option<String>,
    /// 督办要求（supervise，必填）/ the listing's requirements
    #[arg(long)]
    pub requirements: Option<String>,
    /// 督办期限（supervise）YYYY-MM-DD / the listing's due date
    #[arg(long)]
    pub due: Option<String>,
}

impl EventFields {
    fn apply(self, body: &mut Map<String, Value>) {
        let fields = [
            ("kind", self.kind.map(Value::from)),
            ("note", self.note.map(Value::from)),
            ("percent", self.percent.map(Value::from)),
            ("method", self.method.map(Value::from)),
            ("recipients", self.recipients.map(Value::from)),
            (
                "recipient_names",
                (!self.recipient_names.is_empty()).then(|| {
                    Value::Object(
                        self.recipient_names
                            .into_iter()
                            .map(|(k, v)| (k, Value::from(v)))
                            .collect(),
                    )
                }),
            ),
            ("reply_by", self.reply_by.map(Value::from)),
            ("new_deadline", self.new_deadline.map(Value::from)),
            ("approved", self.approved.map(Value::from)),
            ("to", self.to.map(Value::from)),
            ("number", self.number.map(Value::from)),
            ("requirements", self.requirements.map(Value::from)),
            ("due", self.due.map(Value::from)),
        ];
        for (k, v) in fields {
            if let Some(v) = v {
                body.insert(k.into(), v);
            }
        }
    }
}

/// `主要负责人=王某` → (post, person).
fn post_and_name(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((post, person)) if !post.trim().is_empty() => {
            Ok((post.trim().to_string(), person.trim().to_string()))
        }
        _ => Err("应为 职务=姓名，如 主要负责人=王某 / must be POST=NAME".to_string()),
    }
}

fn set_in(body: &mut Map<String, Value>, object: &str, key: &str, v: Value) {
    let slot = body.entry(object.to_string()).or_insert_with(|| json!({}));
    if !slot.is_object() {
        *slot = json!({});
    }
    if let Some(o) = slot.as_object_mut() {
        o.insert(key.into(), v);
    }
}

/// A JSON object read from `file` (`-`: stdin), or an empty one.
pub(super) fn body_from(file: Option<&Path>) -> anyhow::Result<Map<String, Value>> {
    let Some(file) = file else {
        return Ok(Map::new());
    };
    let text = if file == Path::new("-") {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(file)
            .map_err(|e| anyhow::anyhow!("读不到 / cannot read {}: {e}", file.display()))?
    };
    match serde_json::from_str(&text) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => anyhow::bail!(
            "{} 应为一个 JSON 对象 / {} must hold one JSON object",
            file.display(),
            file.display()
        ),
        Err(e) => anyhow::bail!(
            "{} 不是有效的 JSON（{e}）/ {} is not valid JSON: {e}",
            file.display(),
            file.display()
        ),
    }
}

/// Runs a `safemesh hazard` command.
pub async fn run(cmd: HazardCmd) -> anyhow::Result<()> {
    match cmd {
        HazardCmd::List {
            node,
            filter,
            page,
            json,
        } => {
            let remote = Remote::from_args(&node)?;
            let mut pairs = filter.pairs();
            pairs.extend(page.pairs());
            let page = remote
                .get(&with_query("/api/v1/hazards", pairs))
                .await
                .map_err(json_refusal(json))?;
            if json {
                println!("{page}");
            } else {
                print!("{}", ledger_table(&page));
            }
        }
        HazardCmd::Show { node, id, json } => {
            let remote = Remote::from_args(&node)?;
            let h = async {
                let id = resolve(&remote, &id).await?;
                remote
                    .get(&format!("/api/v1/hazards/{}", segment(&id)))
                    .await
            }
            .await
            .map_err(json_refusal(json))?;
            if json {
                println!("{h}");
            } else {
                print!("{}", hazard_text(&h));
            }
        }
        HazardCmd::Add {
            node,
            file,
            fields,
            json,
        } => {
            let mut body = body_from(file.as_deref())?;
            fields.apply(&mut body);
            let remote = Remote::from_args(&node)?;
            let h = remote
                .post("/api/v1/hazards", &Value::Object(body))
                .await
                .map_err(json_refusal(json))?;
            if json {
                println!("{h}");
            } else {
                eprintln!(
                    "已登记隐患 {}（{}）/ hazard registered",
                    text(&h["number"]),
                    text(&h["title"])
                );
                println!("{}", text(&h["id"]));
            }
        }
        HazardCmd::Event {
            node,
            id,
            file,
            fields,
            json,
        } => {
            let mut body = body_from(file.as_deref())?;
            fields.apply(&mut body);
            let remote = Remote::from_args(&node)?;
            let h = async {
                let id = resolve(&remote, &id).await?;
                remote
                    .post(
                        &format!("/api/v1/hazards/{}/events", segment(&id)),
                        &Value::Object(body),
                    )
                    .await
            }
            .await
            .map_err(json_refusal(json))?;
            if json {
                println!("{h}");
            } else {
                let last = h["events"]
                    .as_array()
                    .and_then(|e| e.last())
                    .cloned()
                    .unwrap_or_default();
                let kind = last["kind"]
                    .as_str()
                    .and_then(|k| safemesh_model::hazard::EventKind::parse(k).ok())
                    .map(format::event_label)
                    .unwrap_or("");
                println!(
                    "已添加“{kind}” / event added: {} {}，现状态 / status now: {}",
                    text(&h["number"]),
                    text(&h["id"]),
                    state_words(&h)
                );
            }
        }
    }
    Ok(())
}

/// The hazard id an operator typed: an id (`h-…`) as it is, or a number (编号) looked up in the
/// ledger (exact match).
async fn resolve(remote: &Remote, given: &str) -> Result<String, AskError> {
    let given = given.trim();
    if given.starts_with("h-") {
        return Ok(given.to_string());
    }
    let page = remote
        .get(&with_query(
            "/api/v1/hazards",
            [
                ("q", Some(given.to_string())),
                ("limit", Some("500".into())),
            ],
        ))
        .await?;
    page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|h| h["number"] == given)
        .and_then(|h| h["id"].as_str())
        .map(str::to_string)
        .ok_or_else(|| {
            AskError::Failed(anyhow::anyhow!(
                "本节点没有编号为 {given} 的隐患 / no hazard numbered {given} here"
            ))
        })
}

/// The status in words, with 逾期 or 临期 when it applies: `整改中（逾期 3 天）`.
fn state_words(h: &Value) -> String {
    let status = format::status_label(h["status"].as_str().unwrap_or_default());
    let mut out = match (h["days_overdue"].as_i64(), h["due_soon"] == true) {
        (Some(d), _) => format!("{status}（逾期 {d} 天）"),
        (None, true) => format!("{status}（临期）"),
        _ => status.to_string(),
    };
    // The acceptor's delay, not the owner's 逾期.
    if let Some(d) = h["acceptance_days_overdue"].as_i64() {
        out.push_str(&format!("（验收超期 {d} 天）"));
    }
    out
}

/// The deadline in force (整改期限).
fn deadline(h: &Value) -> String {
    h["effective_deadline"]
        .as_str()
        .or_else(|| h["deadline"].as_str())
        .unwrap_or("-")
        .to_string()
}

/// One page of the ledger as a table: 编号, 名称, 等级, 状态, 整改期限, 单位; then how many there are.
pub fn ledger_table(page: &Value) -> String {
    let items = page["items"].as_array().cloned().unwrap_or_default();
    let mut rows = vec![["编号", "名称", "等级", "状态", "整改期限", "单位"].map(String::from)];
    for h in &items {
        rows.push([
            text(&h["number"]),
            text(&h["title"]),
            format::grade_label(h["grade"].as_str().unwrap_or_default()).to_string(),
            state_words(h),
            deadline(h),
            format::hazard_unit(h),
        ]);
    }
    super::remote::paged(&rows, page, "条", "", "hazards")
}

/// One hazard as text: its facts, then its history (times in China time).
pub fn hazard_text(h: &Value) -> String {
    let mut facts: Vec<[String; 2]> = Vec::new();
    let mut put = |k: &str, v: String| {
        if !v.is_empty() {
            facts.push([k.to_string(), v]);
        }
    };
    put("id", text(&h["id"]));
    put("状态", state_words(h));
    put(
        "等级",
        format::grade_label(h["grade"].as_str().unwrap_or_default()).into(),
    );
    put("行业领域", text(&h["sector"]));
    let channel = format::channel_label(h["channel"].as_str().unwrap_or_default());
    put(
        "发现渠道",
        match h["inspection_mode"].as_str() {
            Some(m) => format!("{channel}（{m}）"),
            None => channel.to_string(),
        },
    );
    put(
        "发现",
        format!(
            "{}，{}",
            text(&h["found_on"]),
            format::office(h["found_by_level"].as_str().unwrap_or_default())
        ),
    );
    put("存量/增量", text(&h["stock_label"]));
    let subject = h["subject"]
        .as_str()
        .and_then(|s| safemesh_model::hazard::facts::Subject::parse_as("subject", s).ok())
        .unwrap_or_default();
    if !subject.is_enterprise() {
        put("隐患所在", subject.label_zh().to_string());
    }
    put("责任单位", text(&h["responsible_unit"]));
    let ent = &h["enterprise"];
    put(
        "单位",
        match ent["credit_code"].as_str().filter(|c| !c.is_empty()) {
            Some(c) => format!("{}（{c}）", text(&ent["name"])),
            None => text(&ent["name"]),
        },
    );
    let loc = [
        text(&h["location"]["address"]),
        text(&h["location"]["division"]),
    ];
    put(
        "地点",
        loc.into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" · "),
    );
    put(
        "判定依据",
        [text(&h["basis"]["standard"]), text(&h["basis"]["clause"])]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
    );
    let mut due = deadline(h);
    if h["deadline"].as_str().is_some_and(|d| d != due) {
        due.push_str(&format!("（原定 {}）", text(&h["deadline"])));
    }
    if let Some(n) = h["extended"].as_u64().filter(|n| *n > 0) {
        due.push_str(&format!("，已延期 {n} 次"));
    }
    if let Some(p) = h.get("extension_pending").filter(|p| p.is_object()) {
        due.push_str(&format!("，申请延期至 {} 待审批", text(&p["new_deadline"])));
    }
    put("整改期限", due);
    put(
        "登记单位",
        format::office(h["owner"].as_str().unwrap_or_default()),
    );
    put(
        "挂牌督办",
        h["supervising"]
            .as_str()
            .map(format::office)
            .unwrap_or_default(),
    );
    put(
        "升级督办",
        h["escalated"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        let reply = match (e["replied_at"].as_str(), e["reply_late"] == true) {
                            (Some(at), _) => format!("，已于 {} 书面回复", china_time(at)),
                            (None, true) => format!(
                                "，书面回复已逾期 {} 天",
                                e["reply_days_late"].as_i64().unwrap_or(0)
                            ),
                            (None, false) => e["reply_by"]
                                .as_str()
                                .map(|r| format!("，{r} 前书面回复"))
                                .unwrap_or_default(),
                        };
                        format!(
                            "{}{}{reply}",
                            format::office_name(e["by"].as_str().unwrap_or_default()),
                            text(&e["method"])
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("；")
            })
            .unwrap_or_default(),
    );
    put("已告知", format::told(&h["notified"], &h["notified_names"]));
    if let Some(p) = h.get("plan").filter(|p| p.is_object()) {
        put(
            "整改方案",
            format!(
                "责任单位 {}；责任人 {}；措施 {}；资金 {} 万元；时限 {}{}{}",
                text(&p["responsible_unit"]),
                text(&p["responsible_person"]),
                text(&p["measures"]),
                format::wan(p["funds_wan"].as_f64().unwrap_or(0.0)),
                text(&p["deadline"]),
                p["contingency_plan"]
                    .as_str()
                    .filter(|c| !c.is_empty())
                    .map(|c| format!("；预案 {c}"))
                    .unwrap_or_default(),
                if h["plan_complete"] == true {
                    "（五落实）"
                } else {
                    ""
                }
            ),
        );
    }
    put("描述", text(&h["description"]));

    let mut out = format!("隐患 {}  {}\n", text(&h["number"]), text(&h["title"]));
    out.push_str(&table(&facts));
    let mut events =
        vec![["时间（北京时间）", "单位", "操作人", "事件", "详情", "说明"].map(String::from)];
    for e in h["events"].as_array().into_iter().flatten() {
        let kind = e["kind"]
            .as_str()
            .and_then(|k| safemesh_model::hazard::EventKind::parse(k).ok());
        events.push([
            china_time(e["at"].as_str().unwrap_or_default()),
            format::office(e["by"].as_str().unwrap_or_default()),
            text(&e["user"]),
            kind.map(format::event_label)
                .unwrap_or_else(|| e["kind"].as_str().unwrap_or("?"))
                .to_string(),
            format::event_detail(e),
            text(&e["note"]),
        ]);
    }
    out.push_str("\n全过程记录 / history\n");
    out.push_str(&table(&events));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hazard() -> Value {
        json!({
            "id": "h-0190", "number": "530181006-2026-0001", "title": "加油站静电接地报警仪损坏",
            "owner": "530181006", "grade": "general", "status": "rectifying", "sector": "危险化学品",
            "channel": "inspection", "inspection_mode": "双随机一公开", "found_by_level": "530181",
            "found_on": "2026-11-20", "stock_label": "增量",
            "enterprise": {"name": "安宁某某加油站", "credit_code": "91530181850111647K"},
            "location": {"division": "530181006", "address": "卸油区"},
            "basis": {"standard": "", "clause": ""},
            "deadline": "2026-12-01", "effective_deadline": "2026-12-15", "extended": 1,
            "overdue": true, "days_overdue": 3, "due_soon": false,
            "events": [
                {"kind": "registered", "at": "2026-11-20T01:00:00Z", "by": "530181006", "user": "张三"},
                {"kind": "progress", "at": "2026-11-21T17:30:00Z", "by": "530181006", "user": "李四",
                 "percent": 60, "note": "已更换探头"},
            ],
        })
    }

    #[test]
    fn the_ledger_table_shows_chinese_words_and_the_count() {
        let page = json!({"items": [hazard()], "total": 3, "limit": 1, "offset": 0});
        let t = ledger_table(&page);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("编号"), "{t}");
        assert!(
            lines[1].contains("一般隐患") && lines[1].contains("整改中（逾期 3 天）"),
            "{t}"
        );
        assert!(
            lines[1].contains("2026-12-15") && lines[1].ends_with("安宁某某加油站"),
            "{t}"
        );
        assert!(lines[2].contains("共 3 条，本页第 1–1 条"), "{t}");
        let empty = ledger_table(&json!({"items": [], "total": 0, "limit": 50, "offset": 0}));
        assert_eq!(empty, "共 0 条 / 0 hazards\n");
    }

    #[test]
    fn a_hazard_reads_as_facts_then_its_history_in_china_time() {
        let t = hazard_text(&hazard());
        assert!(
            t.starts_with("隐患 530181006-2026-0001  加油站静电接地报警仪损坏\n"),
            "{t}"
        );
        let due = t.lines().find(|l| l.starts_with("整改期限")).unwrap();
        assert!(
            due.ends_with(" 2026-12-15（原定 2026-12-01），已延期 1 次"),
            "{t}"
        );
        assert!(t.contains("督导检查发现（双随机一公开）"), "{t}");
        assert!(t.contains("安宁某某加油站（91530181850111647K）"), "{t}");
        // 2026-11-21T17:30Z is the 22nd, 01:30 in China.
        let progress = t.lines().find(|l| l.contains("报告整改进展")).unwrap();
        assert!(progress.starts_with("2026-11-22 01:30"), "{t}");
        assert!(
            progress.contains("完成 60%") && progress.ends_with("已更换探头"),
            "{t}"
        );
        assert!(t.contains("2026-11-20 09:00"), "{t}");
    }

    #[test]
    fn flags_fill_and_override_the_file() {
        let mut body = serde_json::from_value::<Map<String, Value>>(json!({
            "title": "文件中的名称", "enterprise": {"name": "某企业", "credit_code": "X"}, "deadline": "2026-12-31"
        }))
        .unwrap();
        HazardFields {
            title: Some("命令行名称".into()),
            credit_code: Some("91530181850111647K".into()),
            division: Some("530181006".into()),
            ..Default::default()
        }
        .apply(&mut body);
        let v = Value::Object(body);
        assert_eq!(v["title"], "命令行名称");
        assert_eq!(v["enterprise"]["name"], "某企业");
        assert_eq!(v["enterprise"]["credit_code"], "91530181850111647K");
        assert_eq!(v["location"]["division"], "530181006");
        assert_eq!(v["deadline"], "2026-12-31");
        let mut e = Map::new();
        EventFields {
            kind: Some("notify".into()),
            recipients: Some(vec!["主要负责人".into(), "实际控制人".into()]),
            recipient_names: vec![post_and_name("主要负责人=王某").unwrap()],
            approved: Some(false),
            ..Default::default()
        }
        .apply(&mut e);
        assert_eq!(
            Value::Object(e),
            json!({"kind": "notify", "recipients": ["主要负责人", "实际控制人"],
                   "recipient_names": {"主要负责人": "王某"}, "approved": false})
        );
        assert!(post_and_name("王某").is_err());
    }
}
