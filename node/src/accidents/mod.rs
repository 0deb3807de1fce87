//! 事故台账 — registering accidents, with their grade under Order 493, and reviews from levels above.

use safemesh_doc::AutoCommit;
use safemesh_doc::accident::{self, AccidentEvent, Figures};
use safemesh_doc::revision::FieldChange;
use safemesh_model::accident::AccidentGrade;
use safemesh_store::Store;
use serde_json::Value;

use crate::clock::{now_rfc3339, today};
use crate::records::{Actor, Page, Paging, RecordError, commit, store_change};

pub mod http;
mod input;

pub use input::{NewAccident, NewAccidentEvent, NewSupplement};

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
    mut input: NewAccident,
) -> Result<Value, RecordError> {
    let files = input.attachments.take();
    let mut core = input::core(sectors, input)?;
    core.attachments = files_of(store, files).await?;
    let id = format!("a-{}", uuid::Uuid::now_v7().simple());
    let mut doc = AutoCommit::new().with_actor(actor.actor_id.clone());
    accident::create(&mut doc, &actor.code, &now_rfc3339(), &core)?;
    safemesh_doc::put_owner_parent(&mut doc, &actor.chain())?;
    commit(&mut doc, actor);
    let mut w = store.writer().await?;
    store_change(&mut w, &id, &mut doc, &[]).await?;
    w.commit().await?;
    get(store, &id).await
}

/// The files an input's `attachments` names (400s naming `attachments[i]`), resolved from the
/// store outside the write lock.
async fn files_of(
    store: &Store,
    files: Option<Vec<crate::evidence::AttachmentInput>>,
) -> Result<Vec<safemesh_model::evidence::Attachment>, RecordError> {
    match files {
        Some(list) => crate::evidence::resolve(store, "attachments", list).await,
        None => Ok(Vec::new()),
    }
}

/// One accident with its events.
pub async fn get(store: &Store, id: &str) -> Result<Value, RecordError> {
    store
        .accident(id)
        .await?
        .ok_or_else(|| RecordError::not_found(&format!("accident {id}")))
}

/// Every accident this node holds.
pub async fn list(store: &Store) -> Result<Vec<Value>, RecordError> {
    Ok(store.accidents(None).await?)
}

/// One page of the accidents this node holds: newest `occurred_at` first, then `id`.
pub async fn page(store: &Store, paging: Paging) -> Result<Page, RecordError> {
    let (items, total) = store
        .accidents_page(None, paging.limit, paging.offset)
        .await?;
    Ok(paging.page(items, total))
}

/// 复核/批注 — a review (only from a level above) or a comment.
pub async fn add_event(
    store: &Store,
    actor: &Actor,
    id: &str,
    mut input: NewAccidentEvent,
) -> Result<Value, RecordError> {
    let files = input.attachments.take();
    let (kind, note) = input::event(input)?;
    let attachments = files_of(store, files).await?;
    let mut w = store.writer().await?;
    let mut doc = w
        .load(id)
        .await?
        .ok_or_else(|| RecordError::not_found(&format!("accident {id}")))?;
    let view =
        accident::read(&doc).map_err(|_| RecordError::not_found(&format!("accident {id}")))?;
    let me = &actor.code;
    // Superiors along the owner's chain (a functional zone's configured parent and its ancestors).
    let chain = safemesh_model::Chain {
        code: view.owner.clone(),
        parent: view.owner_parent.clone(),
    };
    if kind == "review" && !chain.has_superior(me) {
        return Err(RecordError::forbidden(
            "superior_only",
            "复核由上级作出 / a review comes from a level above",
        ));
    }
    if me != &view.owner && !chain.has_superior(me) {
        return Err(RecordError::forbidden(
            "owner_or_superior",
            "本级无权处理该事故 / this office may not act on this accident",
        ));
    }
    let old = doc.get_heads();
    doc.set_actor(actor.actor_id.clone());
    let event = AccidentEvent {
        kind,
        at: now_rfc3339(),
        by: me.clone(),
        user: actor.user.clone(),
        note,
        changes: Vec::new(),
        attachments,
    };
    accident::append_event(&mut doc, &event)?;
    commit(&mut doc, actor);
    store_change(&mut w, id, &mut doc, &old).await?;
    w.commit().await?;
    get(store, id).await
}

/// 补报 — the registering office corrects an accident's casualty figures within its window (30 days
/// after the accident, 7 for fire and road traffic: STANDARDS §3.1). The grade follows the new
/// figures; the event keeps each figure, and the grade if it changed, before and after.
pub async fn supplement(
    store: &Store,
    actor: &Actor,
    id: &str,
    mut input: NewSupplement,
) -> Result<Value, RecordError> {
    let attachments = files_of(store, input.attachments.take()).await?;
    let mut w = store.writer().await?;
    let mut doc = w
        .load(id)
        .await?
        .ok_or_else(|| RecordError::not_found(&format!("accident {id}")))?;
    let view =
        accident::read(&doc).map_err(|_| RecordError::not_found(&format!("accident {id}")))?;
    if actor.code != view.owner {
        return Err(RecordError::forbidden(
            "owner_only",
            "补报由事故登记单位作出 / only the office that registered the accident corrects it",
        ));
    }
    let day =
        safemesh_model::directive::deadline::day_of(&view.core.occurred_at).ok_or_else(|| {
            RecordError::bad(
                "occurred_at",
                "事故发生时间无法识别 / unreadable occurred_at",
            )
        })?;
    safemesh_model::accident::supplement_open(&view.core.sector, day, today())?;
    let before = view.core.figures();
    let (after, note) = input::supplement(before, input)?;
    let grade = |f: Figures| AccidentGrade::of(f.deaths, f.serious_injuries, f.direct_loss_wan);
    let mut changes = safemesh_doc::revision::diff([
        (
            "deaths",
            before.deaths.to_string(),
            after.deaths.to_string(),
        ),
        (
            "serious_injuries",
            before.serious_injuries.to_string(),
            after.serious_injuries.to_string(),
        ),
        (
            "direct_loss_wan",
            before.direct_loss_wan.to_string(),
            after.direct_loss_wan.to_string(),
        ),
    ]);
    if grade(before) != grade(after) {
        changes.push(FieldChange::new(
            "grade",
            grade(before).label(),
            grade(after).label(),
        ));
    }
    let old = doc.get_heads();
    doc.set_actor(actor.actor_id.clone());
    let event = AccidentEvent {
        kind: accident::SUPPLEMENT.to_string(),
        at: now_rfc3339(),
        by: actor.code.clone(),
        user: actor.user.clone(),
        note: Some(note),
        changes,
        attachments,
    };
    accident::supplement(&mut doc, before, after, &event)?;
    commit(&mut doc, actor);
    store_change(&mut w, id, &mut doc, &old).await?;
    w.commit().await?;
    get(store, id).await
}
