//! 事故台账 — registering accidents, with their grade under Order 493, and reviews from levels above.

use safemesh_doc::AutoCommit;
use safemesh_doc::accident::{self, AccidentCore, AccidentEvent};
use safemesh_doc::hazard::Enterprise;
use safemesh_model::accident::validate_figures;
use safemesh_store::Store;
use serde::Deserialize;
use serde_json::Value;

use crate::records::{Actor, RecordError, bounded, commit, now, required, store_change};

/// Input of `POST /api/v1/accidents`.
#[derive(Debug, Clone, Deserialize)]
pub struct NewAccident {
    pub title: Option<String>,
    /// `YYYY-MM-DD` or RFC 3339.
    pub occurred_at: Option<String>,
    pub sector: Option<String>,
    pub deaths: Option<i64>,
    pub serious_injuries: Option<i64>,
    pub direct_loss_wan: Option<f64>,
    pub enterprise: Option<crate::records::NewEnterprise>,
    #[serde(default)]
    pub description: String,
}

/// Input of `POST /api/v1/accidents/{id}/events`.
#[derive(Debug, Clone, Deserialize)]
pub struct NewAccidentEvent {
    pub kind: Option<String>,
    pub note: Option<String>,
}

fn occurred_at(s: &str) -> Result<String, RecordError> {
    let s = s.trim();
    let date_ok =
        safemesh_model::hazard::parse_date("occurred_at", s.get(..10).unwrap_or(s)).is_ok();
    let rest_ok = s.len() == 10
        || time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok();
    if !date_ok || !rest_ok {
        return Err(RecordError::bad(
            "occurred_at",
            "应为 YYYY-MM-DD 或 RFC 3339 时间 / must be YYYY-MM-DD or an RFC 3339 time",
        ));
    }
    if s.get(..10).unwrap_or("") > crate::records::today().to_string().as_str() {
        return Err(RecordError::bad(
            "occurred_at",
            "不能晚于今天 / cannot be in the future",
        ));
    }
    Ok(s.to_string())
}

/// 事故登记 — registers an accident owned by this node; its grade follows from the figures.
pub async fn create(
    store: &Store,
    actor: &Actor,
    input: NewAccident,
) -> Result<Value, RecordError> {
    create_with(
        store,
        &safemesh_model::SectorDictionary::default(),
        actor,
        input,
    )
    .await
}

/// Like [`create`], checking the sector against the node's dictionary (seed names plus its config).
pub async fn create_with(
    store: &Store,
    sectors: &safemesh_model::SectorDictionary,
    actor: &Actor,
    input: NewAccident,
) -> Result<Value, RecordError> {
    let title = required("title", input.title)?;
    bounded("title", &title, 200)?;
    bounded("description", &input.description, 5000)?;
    let occurred = occurred_at(&required("occurred_at", input.occurred_at)?)?;
    let sector = sectors.canonical(&required("sector", input.sector)?)?;
    let (deaths, serious_injuries, direct_loss_wan) = validate_figures(
        input
            .deaths
            .ok_or_else(|| RecordError::bad("deaths", "deaths 必填 / deaths is required"))?,
        input.serious_injuries.unwrap_or(0),
        input.direct_loss_wan.unwrap_or(0.0),
    )?;
    let enterprise = match input.enterprise {
        Some(e) => {
            let name = required("enterprise.name", e.name)?;
            let credit_code = match e.credit_code.map(|c| c.trim().to_uppercase()) {
                Some(c) if !c.is_empty() => {
                    safemesh_model::credit::validate(&c).map_err(|err| {
                        RecordError::bad("enterprise.credit_code", err.to_string())
                    })?;
                    c
                }
                _ => String::new(),
            };
            Some(Enterprise { name, credit_code })
        }
        None => None,
    };
    let core = AccidentCore {
        title,
        occurred_at: occurred,
        sector,
        deaths,
        serious_injuries,
        direct_loss_wan,
        enterprise,
        description: input.description,
    };
    let id = format!("a-{}", uuid::Uuid::now_v7().simple());
    let mut doc = AutoCommit::new().with_actor(actor.actor_id.clone());
    accident::create(&mut doc, &actor.code, &now(), &core)?;
    commit(&mut doc, actor);
    let mut w = store.writer().await?;
    store_change(&mut w, &id, &mut doc, &[]).await?;
    w.commit().await?;
    get(store, &id).await
}

pub async fn get(store: &Store, id: &str) -> Result<Value, RecordError> {
    store
        .accident(id)
        .await?
        .ok_or_else(|| RecordError::not_found(&format!("accident {id}")))
}

pub async fn list(store: &Store) -> Result<Vec<Value>, RecordError> {
    Ok(store.accidents(None).await?)
}

/// 复核/批注 — a review (only from a level above) or a comment.
pub async fn add_event(
    store: &Store,
    actor: &Actor,
    id: &str,
    input: NewAccidentEvent,
) -> Result<Value, RecordError> {
    let kind = required("kind", input.kind)?;
    if kind != "review" && kind != "comment" {
        return Err(RecordError::bad(
            "kind",
            "应为 review 或 comment / must be review or comment",
        ));
    }
    if let Some(n) = &input.note {
        bounded("note", n, 5000)?;
    }
    let mut w = store.writer().await?;
    let mut doc = w
        .load(id)
        .await?
        .ok_or_else(|| RecordError::not_found(&format!("accident {id}")))?;
    let view =
        accident::read(&doc).map_err(|_| RecordError::not_found(&format!("accident {id}")))?;
    let me = &actor.code;
    if kind == "review" && !me.is_ancestor_of(&view.owner) {
        return Err(RecordError::forbidden(
            "superior_only",
            "复核由上级作出 / a review comes from a level above",
        ));
    }
    if me != &view.owner && !me.is_ancestor_of(&view.owner) {
        return Err(RecordError::forbidden(
            "owner_or_superior",
            "本级无权处理该事故 / this office may not act on this accident",
        ));
    }
    let old = doc.get_heads();
    doc.set_actor(actor.actor_id.clone());
    let event = AccidentEvent {
        kind,
        at: now(),
        by: me.clone(),
        user: actor.user.clone(),
        note: input.note.filter(|n| !n.trim().is_empty()),
    };
    accident::append_event(&mut doc, &event)?;
    commit(&mut doc, actor);
    store_change(&mut w, id, &mut doc, &old).await?;
    w.commit().await?;
    get(store, id).await
}
