//! 事故台账 — registering accidents, with their grade under Order 493, and reviews from levels above.

use safemesh_doc::AutoCommit;
use safemesh_doc::accident::{self, AccidentEvent};
use safemesh_store::Store;
use serde_json::Value;

use crate::clock::now_rfc3339;
use crate::records::{Actor, Page, Paging, RecordError, commit, store_change};

pub mod http;
mod input;

pub use input::{NewAccident, NewAccidentEvent};

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
    let core = input::core(sectors, input)?;
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
    input: NewAccidentEvent,
) -> Result<Value, RecordError> {
    let (kind, note) = input::event(input)?;
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
    };
    accident::append_event(&mut doc, &event)?;
    commit(&mut doc, actor);
    store_change(&mut w, id, &mut doc, &old).await?;
    w.commit().await?;
    get(store, id).await
}
