//! 显示格式 — how the UI (and the workbooks and reports) write times, dates, amounts and the dictionary words a clerk reads.
//!
//! Times are stored as RFC 3339 in UTC; a clerk reads them in China time (UTC+8), as
//! `yyyy-MM-dd HH:mm`. Dates are `yyyy-MM-dd`; amounts in 万元; rates with one decimal.

use safemesh_model::AdminCode;
use safemesh_model::hazard::EventKind;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// China Standard Time.
pub const CST: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(o) => o,
    Err(_) => panic!("UTC+8 is an offset"),
};

/// An RFC 3339 time as `yyyy-MM-dd HH:mm` in China time; anything unreadable as it is.
pub fn china_time(rfc3339: &str) -> String {
    match OffsetDateTime::parse(rfc3339, &Rfc3339) {
        Ok(t) => {
            let t = t.to_offset(CST);
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}",
                t.year(),
                t.month() as u8,
                t.day(),
                t.hour(),
                t.minute()
            )
        }
        Err(_) => rfc3339.to_string(),
    }
}

/// The date part (`yyyy-MM-dd`) of a date or a time, in China time.
pub fn china_date(s: &str) -> String {
    if s.len() == 10 {
        return s.to_string();
    }
    china_time(s).chars().take(10).collect()
}

/// 万元 with up to two decimals, no trailing zeros.
pub fn wan(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// A percentage with one decimal.
pub fn pct(v: f64) -> String {
    format!("{v:.1}%")
}

/// `part` of `whole` as a percentage with one decimal (`—` when there is no whole).
pub fn ratio(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "—".into();
    }
    pct(part as f64 * 100.0 / whole as f64)
}

/// A JSON string field as text (empty when absent).
pub fn text(v: &serde_json::Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// A posted form field, trimmed; absent when missing or empty.
pub fn field(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// 隐患状态.
pub fn status_label(s: &str) -> &'static str {
    match s {
        "open" => "未整改",
        "rectifying" => "整改中",
        "pending_acceptance" => "待验收",
        "closed" => "已销号",
        _ => "未知",
    }
}

/// 隐患等级.
pub fn grade_label(s: &str) -> &'static str {
    match s {
        "major" => "重大事故隐患",
        "general" => "一般隐患",
        _ => "未知",
    }
}

/// 发现渠道.
pub fn channel_label(s: &str) -> &'static str {
    match safemesh_model::hazard::Channel::parse(s) {
        Ok(c) => c.label_zh(),
        Err(_) => "未知",
    }
}

/// 事故等级.
pub fn accident_grade_label(s: &str) -> &'static str {
    match s {
        "general" => "一般事故",
        "larger" => "较大事故",
        "major" => "重大事故",
        "especially_major" => "特别重大事故",
        _ => "未定级",
    }
}

/// 事件种类, as the timeline and the action forms name them.
pub fn event_label(k: EventKind) -> &'static str {
    match k {
        EventKind::Registered => "登记",
        EventKind::Plan => "制定整改方案（五落实）",
        EventKind::Progress => "报告整改进展",
        EventKind::Rectified => "整改完成，申请验收",
        EventKind::Accept => "验收通过",
        EventKind::Return => "验收退回",
        EventKind::Close => "销号",
        EventKind::Reopen => "反弹重开",
        EventKind::Supervise => "挂牌督办",
        EventKind::Escalate => "升级督办（函告/通报/约谈/曝光）",
        EventKind::Notify => "告知企业责任人",
        EventKind::Comment => "批注",
        EventKind::ExtendRequest => "申请延期",
        EventKind::ExtendDecision => "延期审批",
        EventKind::Reply => "书面回复",
        EventKind::Lift => "摘牌（撤销挂牌督办）",
    }
}

/// What an event carries besides its kind and note, in words (`完成 60%`, `函告，2026-12-15 前书面回复`,
/// `告知 主要负责人、实际控制人`, the plan's person, funds and 时限), for the timeline and `hazard show`.
pub fn event_detail(e: &serde_json::Value) -> String {
    let mut detail = Vec::new();
    if let Some(p) = e["percent"].as_u64() {
        detail.push(format!("完成 {p}%"));
    }
    if let Some(m) = e["method"].as_str() {
        detail.push(m.to_string());
    }
    if let Some(l) = e["level"].as_str() {
        detail.push(format!("督办单位 {}", office_name(l)));
    }
    if let Some(n) = e["number"].as_str() {
        detail.push(format!("督办编号 {n}"));
    }
    if let Some(r) = e["requirements"].as_str() {
        detail.push(format!("督办要求：{r}"));
    }
    if let Some(d) = e["due"].as_str() {
        detail.push(format!("督办期限 {d}"));
    }
    if let Some(r) = e["reply_by"].as_str() {
        detail.push(format!("{r} 前书面回复"));
    }
    if let Some(d) = e["new_deadline"].as_str() {
        detail.push(format!("申请延期至 {d}"));
    }
    if let Some(a) = e["approved"].as_bool() {
        detail.push(if a { "同意延期" } else { "不同意延期" }.to_string());
    }
    if let Some(t) = e["to"].as_str() {
        detail.push(format!("回复{}", office_name(t)));
    }
    if e["recipients"].as_array().is_some_and(|r| !r.is_empty()) {
        detail.push(format!(
            "告知 {}",
            told(&e["recipients"], &e["recipient_names"])
        ));
    }
    if let Some(p) = e.get("plan").filter(|p| p.is_object()) {
        detail.push(format!(
            "责任人 {}，资金 {} 万元，时限 {}",
            text(&p["responsible_person"]),
            wan(p["funds_wan"].as_f64().unwrap_or(0.0)),
            text(&p["deadline"])
        ));
    }
    detail.join("，")
}

/// The posts told, each with the person's name when one was given: `主要负责人（王某）、实际控制人`.
pub fn told(posts: &serde_json::Value, names: &serde_json::Value) -> String {
    posts
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str())
        .map(|p| match names[p].as_str() {
            Some(n) => format!("{p}（{n}）"),
            None => p.to_string(),
        })
        .collect::<Vec<_>>()
        .join("、")
}

/// 单位 as a ledger shows it: the enterprise's name; for a hazard no enterprise runs, what it is at and
/// its responsible unit (`道路 · 安宁市交通运输局`).
pub fn hazard_unit(b: &serde_json::Value) -> String {
    let subject = b["subject"]
        .as_str()
        .and_then(|s| safemesh_model::hazard::facts::Subject::parse_as("subject", s).ok())
        .unwrap_or_default();
    let name = text(&b["enterprise"]["name"]);
    if subject.is_enterprise() || (name.is_empty() && text(&b["responsible_unit"]).is_empty()) {
        return name;
    }
    let unit = text(&b["responsible_unit"]);
    [subject.label_zh().to_string(), unit, name]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" · ")
}

/// 层级.
pub fn level_label(code: &AdminCode) -> &'static str {
    match code.level().as_str() {
        "province" => "省级",
        "city" => "市级",
        "county" => "县级",
        "township" => "乡镇（街道）",
        _ => "",
    }
}

/// An office's name and code as a clerk reads it: `禄脿街道（530181006）`.
pub fn office(code: &str) -> String {
    match AdminCode::parse(code)
        .ok()
        .and_then(|c| safemesh_model::division::name_of(&c))
    {
        Some(n) => format!("{n}（{code}）"),
        None => code.to_string(),
    }
}

/// An office's name alone, or its code when the name is unknown.
pub fn office_name(code: &str) -> String {
    AdminCode::parse(code)
        .ok()
        .and_then(|c| safemesh_model::division::name_of(&c))
        .map(str::to_string)
        .unwrap_or_else(|| code.to_string())
}

/// A record field's name in Chinese, as a correction's history shows it (`deaths` → 死亡人数); the
/// field itself when it has no name here.
pub fn field_name(field: &str) -> &str {
    match field {
        "deaths" => "死亡人数",
        "serious_injuries" => "重伤人数",
        "direct_loss_wan" => "直接经济损失（万元）",
        "grade" => "事故等级",
        "name" => "企业名称",
        "legal_representative" => "法定代表人",
        "principal" => "主要负责人",
        "controller" => "实际控制人",
        "actual_manager" => "实际负责人",
        "sector" => "行业领域",
        "standardisation_level" => "标准化等级",
        "address" => "生产经营地址",
        "division" => "所在区划",
        "risk_grade" => "安全风险等级",
        "above_scale" => "规模以上",
        "major_hazard_source_grade" => "重大危险源等级",
        "dust_explosion" => "粉尘涉爆",
        "ammonia_refrigeration" => "涉氨制冷",
        "key_unit" => "重点监管单位",
        "licences" => "证照",
        "note" => "说明",
        "occurred_at" => "发生时间",
        f => f,
    }
}

/// What an owner's correction changed, in words: `死亡人数 2 → 3；事故等级 一般 → 较大` (`changes`
/// as the API gives them; an empty value shows as 空).
pub fn changes(changes: &serde_json::Value) -> String {
    let shown = |v: &serde_json::Value| match v.as_str() {
        Some("") | None => "空".to_string(),
        Some(s) => s.to_string(),
    };
    changes
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            format!(
                "{} {} → {}",
                field_name(c["field"].as_str().unwrap_or_default()),
                shown(&c["from"]),
                shown(&c["to"])
            )
        })
        .collect::<Vec<_>>()
        .join("；")
}

/// The kind of an accident's or an enterprise's event in words.
pub fn record_event_label(kind: &str) -> &str {
    match kind {
        "review" => "复核",
        "comment" => "批注",
        "supplement" => "补报",
        "update" => "变更",
        k => k,
    }
}

/// A refusal's rule in words a clerk understands (the API's `rule` names stay out of the text).
pub fn rule_words(rule: &str) -> &'static str {
    match rule {
        "superior_only" => {
            "升级督办和延期审批只能由上级安委办进行；挂牌督办由上级进行，登记单位只能对本级的重大事故隐患挂牌"
        }
        "listing_office_lifts" => "只有挂牌督办该隐患的单位可以摘牌",
        "listing_fields_on_supervise_only" => "督办编号、督办要求和督办期限只能写在挂牌督办事件中",
        "supervising_level_decides" => "该隐患已挂牌督办，延期申请须由挂牌督办单位审批",
        "parent_decides" => "未挂牌督办的隐患，延期申请由登记单位的直接上级审批",
        "owner_only" => "此项操作只能由登记该隐患的单位进行",
        "supervising_level_accepts" => "该隐患已挂牌督办，验收和销号须由挂牌督办单位进行",
        "owner_accepts" => "未挂牌督办的隐患由登记单位自行验收、销号",
        "owner_or_superior" => "只有登记单位或其上级可以处理该隐患",
        "own_response_only" => "只有该任务的承办单位可以签收、报告本单位的进展",
        "issuer_only" => "只有下发该任务的单位可以进行此项操作",
        "role_viewer" => {
            "您的账号是只读（查看）角色，不能修改记录；如需办理请向本级管理员申请编辑权限"
        }
        _ => "本级无权进行此项操作",
    }
}

/// 链路状态 — a link's state in the words of the 同步状态 page (`in_sync` → 已同步).
pub fn link_state_label(s: &str) -> &'static str {
    match s {
        "in_sync" => "已同步",
        "catching_up" => "同步中",
        "connecting" => "连接中",
        "disconnected" => "已断开",
        "rejected" => "被拒绝",
        _ => "未知",
    }
}

/// Columns a text takes in a terminal (a Chinese character takes two), for tables the CLI prints.
pub fn columns(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// Rows as aligned columns for a terminal (Chinese text counted two columns wide), two spaces apart,
/// one line each, without trailing spaces.
pub fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N)
        .map(|i| rows.iter().map(|r| columns(&r[i])).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w.saturating_sub(columns(c)))))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The Chinese half of a bilingual message (`中文 / English`).
pub fn chinese(message: &str) -> &str {
    message.split(" / ").next().unwrap_or(message).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_china_time() {
        assert_eq!(china_time("2026-12-06T17:30:00Z"), "2026-12-07 01:30");
        assert_eq!(china_date("2026-12-06T17:30:00Z"), "2026-12-07");
        assert_eq!(china_date("2026-01-05"), "2026-01-05");
        assert_eq!(china_time("not a time"), "not a time");
    }

    #[test]
    fn amounts_and_rates() {
        assert_eq!(wan(12.5), "12.5");
        assert_eq!(wan(3.0), "3");
        assert_eq!(ratio(1, 3), "33.3%");
        assert_eq!(ratio(0, 0), "—");
    }
}
