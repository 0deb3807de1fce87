//! 隐患台账 — registering hazards, adding lifecycle events, the ledger with its filters and the
//! escalation candidates. The rules live in `safemesh_model::hazard` (lifecycle, overdue, notify,
//! candidates) and `safemesh_doc::authority` (who may write); this module checks input, applies them
//! in that order (400 → 403 → 409) and writes one change per operation.

use std::sync::Arc;

use safemesh_doc::{AutoCommit, hazard};
use safemesh_model::hazard::facts::{self, DEFAULT_STOCK_CUTOFF};
use safemesh_model::hazard::{self as mh, Grade, HazardEvent};
use safemesh_model::{AdminCode, SectorDictionary};
use safemesh_store::{HazardFilter, Store};
use serde_json::{Value, json};
use time::Date;

use crate::Config;
use crate::records::{Actor, RecordError, commit, now, store_change, today};

pub mod http;
mod input;

pub use input::{HazardQuery, NewBasis, NewEvent, NewHazard, NewLocation};

/// A node's hazard settings, from its config: the sector dictionary and the 存量/增量 cut-off.
#[derive(Debug, Clone)]
pub struct HazardSettings {
    pub sectors: SectorDictionary,
    pub stock_cutoff: Date,
}

impl Default for HazardSettings {
    fn default() -> Self {
        HazardSettings {
            sectors: SectorDictionary::default(),
            stock_cutoff: mh::parse_date("stock_cutoff", DEFAULT_STOCK_CUTOFF)
                .expect("the default cut-off is a date"),
        }
    }
}

impl HazardSettings {
    pub fn from_config(cfg: &Config) -> Result<HazardSettings, crate::Error> {
        let sectors = SectorDictionary::with_extra(&cfg.sectors).map_err(|e| {
            crate::Error::Config(format!("行业领域配置错误 / invalid sectors: {e}"))
        })?;
        let stock_cutoff = mh::parse_date("hazards.stock_cutoff", &cfg.hazards.stock_cutoff)
            .map_err(|e| crate::Error::Config(e.to_string()))?;
        Ok(HazardSettings {
            sectors,
            stock_cutoff,
        })
    }
}

/// Shared settings as the API holds them.
pub type Settings = Arc<HazardSettings>;

/// 登记隐患 — registers a hazard owned by this node, numbering it unless a number is given.
pub async fn create_hazard(
    store: &Store,
    settings: &HazardSettings,
    actor: &Actor,
    input: NewHazard,
) -> Result<Value, RecordError> {
    let day = today();
    let (mut core, given) = input::core(settings, &actor.code, day, input)?;
    if core.enterprise.name.is_empty() {
        // A known enterprise may be named by its credit code alone.
        let known = match core.enterprise.credit_code.as_str() {
            "" => None,
            c => store.enterprise(c).await?,
        };
        core.enterprise.name = known
            .and_then(|e| e["name"].as_str().map(str::to_string))
            .ok_or_else(|| {
                RecordError::bad(
                    "enterprise.name",
                    "企业名称必填（本级未登记该信用代码的企业） / enterprise.name is required (no enterprise with this credit code here)",
                )
            })?;
    }
    let mut w = store.writer().await?;
    let owner = actor.code.as_str();
    core.number = match given {
        Some(n) => {
            if let Some(other) = w.hazard_with_number(owner, &n).await? {
                return Err(RecordError::conflict(
                    "number",
                    format!(
                        "编号 {n} 已被隐患 {other} 使用 / number {n} is already used by {other}"
                    ),
                ));
            }
            n
        }
        None => {
            let year = day.year();
            let prefix = facts::number_prefix(&actor.code, year);
            let seq = w.max_hazard_seq(owner, &prefix).await? + 1;
            facts::format_number(&actor.code, year, seq)
        }
    };
    let id = format!("h-{}", uuid::Uuid::now_v7().simple());
    let mut doc = AutoCommit::new().with_actor(actor.actor_id.clone());
    hazard::create(&mut doc, &actor.code, &actor.user, &now(), &core)?;
    commit(&mut doc, actor);
    store_change(&mut w, &id, &mut doc, &[]).await?;
    w.commit().await?;
    get_hazard(store, &id).await
}

pub async fn get_hazard(store: &Store, id: &str) -> Result<Value, RecordError> {
    let row = store
        .hazard(id)
        .await?
        .ok_or_else(|| RecordError::not_found(id))?;
    Ok(decorate(row.body, today()))
}

pub async fn list_hazards(store: &Store, filter: &HazardFilter) -> Result<Vec<Value>, RecordError> {
    let t = today();
    Ok(store
        .hazards(filter)
        .await?
        .into_iter()
        .map(|r| decorate(r.body, t))
        .collect())
}

/// Adds what depends on today (`overdue`, `days_overdue`) and the Chinese labels a clerk reads to a
/// stored hazard body.
pub fn decorate(mut body: Value, today: Date) -> Value {
    let status = body["status"]
        .as_str()
        .and_then(|s| mh::Status::parse(s).ok());
    let due = body["effective_deadline"]
        .as_str()
        .or_else(|| body["deadline"].as_str())
        .and_then(|d| mh::parse_date("deadline", d).ok());
    let days = match (status, due) {
        (Some(s), Some(d)) => mh::days_overdue(s, d, today),
        _ => None,
    };
    let grade = body["grade"].as_str().and_then(|g| Grade::parse(g).ok());
    let channel = body["channel"]
        .as_str()
        .and_then(|c| mh::Channel::parse(c).ok());
    let stock = body["stock"]
        .as_str()
        .and_then(|s| facts::Stock::parse_as("stock", s).ok());
    let found_by = body["found_by_level"]
        .as_str()
        .and_then(|c| AdminCode::parse(c).ok());
    if let Some(o) = body.as_object_mut() {
        o.insert("overdue".into(), days.is_some().into());
        o.insert("days_overdue".into(), days.into());
        o.insert(
            "grade_label".into(),
            grade
                .map(|g| match g {
                    Grade::Major => "重大事故隐患",
                    Grade::General => "一般隐患",
                })
                .into(),
        );
        o.insert("channel_label".into(), channel.map(|c| c.label_zh()).into());
        o.insert("stock_label".into(), stock.map(|s| s.label_zh()).into());
        o.insert(
            "found_by_level_kind".into(),
            found_by.map(|c| c.level().as_str()).into(),
        );
    }
    body
}

/// Appends a lifecycle event to a hazard this node holds: input (400), then who may (403), then
/// whether it fits the lifecycle (409).
pub async fn add_event(
    store: &Store,
    actor: &Actor,
    id: &str,
    input: NewEvent,
) -> Result<Value, RecordError> {
    let mut w = store.writer().await?;
    let mut doc = w
        .load(id)
        .await?
        .ok_or_else(|| RecordError::not_found(id))?;
    let view = hazard::read(&doc).map_err(|_| RecordError::not_found(&format!("hazard {id}")))?;
    let day = today();
    let mut event: HazardEvent = input::event(&view, day, input)?;
    let kind = event.kind;
    let derived = view.derived();
    // Who may: the owner for its own events; a level above for supervision (only the parent for a
    // general hazard); the supervising level for acceptance of a listed hazard.
    let me = &actor.code;
    let superior = match view.core.grade {
        Grade::General => view.owner.parent().as_ref() == Some(me),
        Grade::Major => me.is_ancestor_of(&view.owner),
    };
    if me != &view.owner && !superior {
        return Err(RecordError::forbidden(
            "owner_or_superior",
            "本级无权处理该隐患 / this office may not act on this hazard",
        ));
    }
    mh::may_add_event(kind, &view.owner, me, derived.supervising.as_ref()).map_err(|rule| {
        RecordError::forbidden(
            rule,
            format!(
                "{} 事件无权由 {me} 添加 / {me} may not add {} (rule {rule})",
                kind.as_str(),
                kind.as_str()
            ),
        )
    })?;
    event.at = now();
    event.by = me.clone();
    event.user = actor.user.clone();
    event.level = (kind == mh::EventKind::Supervise).then(|| me.clone());
    let mut check = derived.clone();
    mh::apply(&mut check, &event).map_err(|e| match &e {
        safemesh_model::Error::Invalid { reason, .. } => {
            RecordError::conflict("kind", reason.clone())
        }
        _ => RecordError::from(e),
    })?;
    let old = doc.get_heads();
    doc.set_actor(actor.actor_id.clone());
    hazard::append_event(&mut doc, &event)?;
    commit(&mut doc, actor);
    store_change(&mut w, id, &mut doc, &old).await?;
    w.commit().await?;
    get_hazard(store, id).await
}

/// 升级督办候选 — overdue major hazards in this office's jurisdiction, below it, that this office has
/// not escalated yet; most overdue first.
pub async fn escalation_candidates(
    store: &Store,
    office: &AdminCode,
) -> Result<Vec<Value>, RecordError> {
    let day = today();
    let rows = store
        .hazards(&HazardFilter {
            grade: Some(Grade::Major.as_str().into()),
            within: Some(office.to_string()),
            overdue: Some(true),
            today: Some(mh::format_date(day)),
            ..Default::default()
        })
        .await?;
    let mut out = Vec::new();
    for r in rows {
        let Ok(owner) = AdminCode::parse(&r.owner) else {
            continue;
        };
        let events: Vec<HazardEvent> =
            serde_json::from_value(r.body["events"].clone()).unwrap_or_default();
        let d = mh::fold(Grade::Major, &events);
        let Ok(due) = mh::parse_date("deadline", &r.deadline) else {
            continue;
        };
        if let Some(days) = mh::escalation_candidate(&d, &owner, due, office, day) {
            let b = &r.body;
            out.push((
                days,
                json!({
                    "id": r.id, "number": b["number"], "title": b["title"], "owner": r.owner,
                    "sector": b["sector"], "status": r.status, "effective_deadline": r.deadline,
                    "days_overdue": days, "supervising": b["supervising"], "escalated": b["escalated"],
                    "enterprise": b["enterprise"],
                }),
            ));
        }
    }
    out.sort_by_key(|(days, _)| std::cmp::Reverse(*days));
    Ok(out.into_iter().map(|(_, v)| v).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
code = "530181006"
name = "禄脿街道"
listen = "127.0.0.1:7001"
http = "127.0.0.1:8001"
"#;

    #[test]
    fn node_config_sets_the_cutoff_and_extends_the_sector_dictionary() {
        let text = format!(
            "{BASE}\n[hazards]\nstock_cutoff = \"2025-01-01\"\n\n[[sectors]]\nname = \"冶金工贸\"\naliases = [\"有色\"]\n\n[[sectors]]\nname = \"民爆\"\n"
        );
        let cfg: Config = toml::from_str(&text).unwrap();
        cfg.validate().unwrap();
        let s = HazardSettings::from_config(&cfg).unwrap();
        assert_eq!(mh::format_date(s.stock_cutoff), "2025-01-01");
        assert_eq!(s.sectors.canonical("有色").unwrap(), "冶金工贸");
        assert_eq!(s.sectors.canonical("民爆").unwrap(), "民爆");
        assert_eq!(s.sectors.canonical("尾矿库").unwrap(), "非煤矿山");
        // Saved and read back, the config keeps both.
        let again: Config = toml::from_str(&toml::to_string_pretty(&cfg).unwrap()).unwrap();
        assert_eq!(
            (again.hazards, again.sectors),
            (cfg.hazards.clone(), cfg.sectors.clone())
        );
    }

    #[test]
    fn defaults_are_the_seed_dictionary_and_2024_01_01() {
        let cfg: Config = toml::from_str(BASE).unwrap();
        let s = HazardSettings::from_config(&cfg).unwrap();
        assert_eq!(mh::format_date(s.stock_cutoff), DEFAULT_STOCK_CUTOFF);
        assert_eq!(s.sectors.names().len(), 19);
        assert!(!toml::to_string_pretty(&cfg).unwrap().contains("hazards"));
    }

    #[test]
    fn an_ambiguous_alias_or_a_bad_cutoff_is_a_config_error() {
        let clash = format!("{BASE}\n[[sectors]]\nname = \"消防\"\naliases = [\"燃气\"]\n");
        let cfg: Config = toml::from_str(&clash).unwrap();
        assert!(matches!(cfg.validate(), Err(crate::Error::Config(m)) if m.contains("燃气")));
        let bad = format!("{BASE}\n[hazards]\nstock_cutoff = \"2024/01/01\"\n");
        let cfg: Config = toml::from_str(&bad).unwrap();
        assert!(matches!(cfg.validate(), Err(crate::Error::Config(_))));
    }
}
