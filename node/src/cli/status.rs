//! `safemesh status` and `safemesh rollup`: what a running node says, as a table for the operator
//! (times in China time) or as JSON for scripts; `status` answers with an exit code a monitoring
//! system can act on.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Value, json};

use super::remote::{AskError, NodeArgs, Remote, get_json, json_refusal, with_query};
use crate::format::{china_time, link_state_label, table};

/// 节点健康 — what `safemesh status` comes to, and its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// 0: every link is in sync (a node without links is too).
    InSync,
    /// 1: the node answers, but a link is connecting, catching up, cut off or refused.
    Degraded,
    /// 2: the node does not answer.
    Down,
}

impl Health {
    pub fn code(self) -> u8 {
        match self {
            Health::InSync => 0,
            Health::Degraded => 1,
            Health::Down => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Health::InSync => "in_sync",
            Health::Degraded => "degraded",
            Health::Down => "down",
        }
    }

    fn words(self) -> &'static str {
        match self {
            Health::InSync => "全部链路已同步 / all links in sync",
            Health::Degraded => "部分链路未同步 / degraded",
            Health::Down => "节点无响应 / node down",
        }
    }
}

/// The health of a node from its `GET /api/v1/sync/status` answer.
pub fn health(status: &Value) -> Health {
    let links = status["links"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if links.iter().all(|l| l["state"] == "in_sync") {
        Health::InSync
    } else {
        Health::Degraded
    }
}

/// `safemesh status`: once, or every `watch` until Ctrl-C. The exit code is the last health's.
pub async fn status(data_dir: &Path, json_out: bool, watch: Option<Duration>) -> ExitCode {
    loop {
        let (health, text) = match get_json(data_dir, "/api/v1/sync/status").await {
            Ok(v) => {
                let h = health(&v);
                let text = if json_out {
                    let mut v = v;
                    v["health"] = json!(h.as_str());
                    v.to_string()
                } else {
                    status_table(&v, h)
                };
                (h, text)
            }
            Err(e @ AskError::Unreachable(_)) => {
                let text = if json_out {
                    json!({ "health": "down", "error": e.to_string() }).to_string()
                } else {
                    format!("{}\n{e}", Health::Down.words())
                };
                (Health::Down, text)
            }
            Err(e) => {
                eprintln!("错误 / error: {e}");
                return ExitCode::from(Health::Down.code());
            }
        };
        let Some(every) = watch else {
            println!("{text}");
            return ExitCode::from(health.code());
        };
        // Clear the screen and draw again, as `watch` would.
        print!(
            "\x1b[2J\x1b[H{text}\n\n每 {} 秒刷新，Ctrl-C 退出 / every {} s, Ctrl-C to stop\n",
            every.as_secs(),
            every.as_secs()
        );
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = crate::signal::wait_for_signal() => return ExitCode::from(health.code()),
        }
    }
}

/// The status as the operator reads it: one line per link.
pub fn status_table(v: &Value, health: Health) -> String {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_string(),
        other => other.to_string(),
    };
    let mut rows = vec![[
        "对端".to_string(),
        "角色".to_string(),
        "状态".to_string(),
        "完成%".to_string(),
        "待发".to_string(),
        "待收".to_string(),
        "上次同步（北京时间）".to_string(),
        "收/发字节".to_string(),
        "最近错误".to_string(),
    ]];
    for l in v["links"].as_array().cloned().unwrap_or_default() {
        // While catching up, what is left to receive comes from the peer's batches.
        let incoming = match l["to_receive"]["docs"].as_u64() {
            Some(n) if n > 0 => n.to_string(),
            _ => text(&l["pending_in"]),
        };
        rows.push([
            text(&l["peer"]),
            match l["role"].as_str() {
                Some("parent") => "上级".to_string(),
                Some("child") => "下级".to_string(),
                _ => text(&l["role"]),
            },
            link_state_label(l["state"].as_str().unwrap_or("")).to_string(),
            text(&l["completion_pct"]),
            text(&l["pending_out"]),
            incoming,
            l["last_sync_at"]
                .as_str()
                .map(china_time)
                .unwrap_or_else(|| "-".into()),
            format!("{}/{}", text(&l["bytes_in"]), text(&l["bytes_out"])),
            l["last_error"].as_str().unwrap_or("").to_string(),
        ]);
    }
    let mut out = format!(
        "节点 {}  seq {}  {}\n",
        v["code"].as_str().unwrap_or(""),
        v["seq"],
        health.words()
    );
    out.push_str(&table(&rows));
    out
}

/// `safemesh rollup`: the roll-up of the node (or of a descendant) as a table, or its JSON.
pub async fn rollup(node: &NodeArgs, scope: Option<&str>, json_out: bool) -> anyhow::Result<()> {
    let path = with_query("/api/v1/rollup", [("scope", scope.map(str::to_string))]);
    let v = Remote::from_args(node)?
        .get(&path)
        .await
        .map_err(json_refusal(json_out))?;
    if json_out {
        println!("{v}");
    } else {
        print!("{}", rollup_table(&v));
    }
    Ok(())
}

/// The roll-up as a clerk reads it: the totals, then one line per direct subordinate office.
pub fn rollup_table(v: &Value) -> String {
    let n = |v: &Value| v.as_u64().unwrap_or(0).to_string();
    let h = &v["hazards"];
    let d = &v["directives"];
    let a = &v["accidents"];
    let mut out = format!(
        "{}（{}）汇总，截至 {}\n",
        v["name"].as_str().unwrap_or(""),
        v["scope"].as_str().unwrap_or(""),
        v["as_of"].as_str().map(china_time).unwrap_or_default()
    );
    out.push_str(&format!(
        "隐患：共 {}，未销号 {}，已销号 {}，重大 {}，逾期 {}，临期 {}，挂牌督办 {}，本月新增 {}\n",
        n(&h["total"]),
        n(&h["unclosed"]),
        n(&h["closed"]),
        n(&h["major"]),
        n(&h["overdue"]),
        n(&h["due_soon"]),
        n(&h["supervised"]),
        n(&h["this_month"])
    ));
    out.push_str(&format!(
        "任务：下发 {}，承办 {}，已签收 {}，已完成 {}，逾期 {}\n",
        n(&d["issued"]),
        n(&d["assignments"]),
        n(&d["received"]),
        n(&d["completed"]),
        n(&d["overdue"])
    ));
    out.push_str(&format!(
        "事故：{}年 {} 起 {} 人死亡，去年同期 {} 起 {} 人死亡{}\n",
        match a["year"].as_i64() {
            Some(y) if y > 0 => y.to_string(),
            _ => "今".to_string(),
        },
        n(&a["this_year"]["count"]),
        n(&a["this_year"]["deaths"]),
        n(&a["last_year_same_period"]["count"]),
        n(&a["last_year_same_period"]["deaths"]),
        if v["double_decline"] == true {
            "，双下降"
        } else {
            ""
        }
    ));
    let children = v["children"].as_array().cloned().unwrap_or_default();
    if !children.is_empty() {
        let mut rows = vec![
            [
                "代码",
                "单位",
                "隐患",
                "未销号",
                "逾期",
                "临期",
                "重大",
                "上报时间（北京时间）",
            ]
            .map(String::from),
        ];
        for c in &children {
            let reported = c["reported"] == true;
            rows.push([
                c["code"].as_str().unwrap_or("").to_string(),
                c["name"].as_str().unwrap_or("").to_string(),
                n(&c["hazards"]["total"]),
                n(&c["hazards"]["unclosed"]),
                n(&c["hazards"]["overdue"]),
                n(&c["hazards"]["due_soon"]),
                n(&c["hazards"]["major"]),
                if reported {
                    c["last_seen"].as_str().map(china_time).unwrap_or_default()
                } else {
                    "未上报".to_string()
                },
            ]);
        }
        out.push_str(&table(&rows));
    }
    let missing: Vec<&str> = v["not_reported"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !missing.is_empty() {
        out.push_str(&format!("未上报：{}\n", missing.join("、")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_is_in_sync_only_when_every_link_is() {
        assert_eq!(health(&json!({ "links": [] })), Health::InSync);
        let one = |s: &str| json!({ "links": [{ "state": "in_sync" }, { "state": s }] });
        assert_eq!(health(&one("in_sync")), Health::InSync);
        for s in ["catching_up", "connecting", "disconnected", "rejected"] {
            assert_eq!(health(&one(s)), Health::Degraded, "{s}");
        }
        assert_eq!(
            [Health::InSync, Health::Degraded, Health::Down].map(Health::code),
            [0, 1, 2]
        );
    }

    #[test]
    fn the_status_table_shows_china_time_and_chinese_states_aligned() {
        let v = json!({ "code": "530181", "seq": 42, "links": [
            { "peer": "5301", "role": "parent", "state": "in_sync", "completion_pct": 100,
              "pending_out": 0, "pending_in": 0, "last_sync_at": "2026-12-07T01:02:03Z",
              "bytes_in": 10, "bytes_out": 20, "last_error": null },
            { "peer": "530181006", "role": "child", "state": "disconnected", "completion_pct": 80,
              "pending_out": 3, "pending_in": 0, "last_sync_at": null,
              "bytes_in": 0, "bytes_out": 0, "last_error": "连接被拒绝 / refused" },
        ]});
        let t = status_table(&v, health(&v));
        assert!(t.contains("部分链路未同步"), "{t}");
        assert!(t.contains("2026-12-07 09:02"), "UTC+8: {t}");
        assert!(
            t.contains("已断开") && t.contains("上级") && t.contains("下级"),
            "{t}"
        );
        // Columns line up: the state column starts at the same terminal column on every line.
        let lines: Vec<&str> = t.lines().skip(1).collect();
        let col = |l: &str| {
            let i = ["状态", "已同步", "已断开"]
                .iter()
                .find_map(|w| l.find(w))
                .unwrap();
            crate::format::columns(&l[..i])
        };
        assert!(lines.iter().all(|l| col(l) == col(lines[0])), "{t}");
    }

    #[test]
    fn the_rollup_table_lists_each_child_and_who_has_not_reported() {
        let v = json!({
            "scope": "530181", "name": "安宁市", "as_of": "2026-12-07T00:00:00Z",
            "hazards": { "total": 5, "unclosed": 3, "closed": 2, "major": 1, "overdue": 1, "due_soon": 1,
                         "supervised": 1, "this_month": 2 },
            "directives": { "issued": 1, "assignments": 2, "received": 2, "completed": 1, "overdue": 0 },
            "accidents": { "year": 2026, "this_year": { "count": 1, "deaths": 0 },
                           "last_year_same_period": { "count": 2, "deaths": 1 } },
            "double_decline": true,
            "children": [
                { "code": "530181006", "name": "禄脿街道", "reported": true,
                  "hazards": { "total": 5, "unclosed": 3, "overdue": 1, "due_soon": 1, "major": 1 },
                  "last_seen": "2026-12-06T16:30:00Z" },
                { "code": "530181007", "name": "草铺街道", "reported": false, "hazards": {} },
            ],
            "not_reported": ["530181007"],
        });
        let t = rollup_table(&v);
        assert!(
            t.contains("安宁市（530181）汇总，截至 2026-12-07 08:00"),
            "{t}"
        );
        assert!(t.contains("隐患：共 5，未销号 3"), "{t}");
        assert!(t.contains("双下降"), "{t}");
        assert!(t.contains("事故：2026年 1 起 0 人死亡"), "{t}");
        assert!(
            t.contains("2026-12-07 00:30"),
            "the child's report in China time: {t}"
        );
        assert!(t.contains("未上报：530181007"), "{t}");
    }
}
