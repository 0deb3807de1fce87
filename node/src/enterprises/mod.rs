//! 企业台账 — registering enterprises by unified social credit code; hazards and accidents link to them
//! by that code.

use safemesh_doc::AutoCommit;
use safemesh_doc::enterprise;
use safemesh_model::AdminCode;
use safemesh_store::Store;
use serde_json::Value;

use crate::clock::now_rfc3339;
use crate::records::{Actor, Page, Paging, RecordError, commit, store_change};

pub mod http;
mod input;

pub(crate) use input::credit_code;
pub use input::{EnterpriseRef, EnterpriseUpdate, LicenceInput, NewEnterprise};

/// Registers an enterprise at this office. Its credit code must pass the GB 32100 and GB 11714 checks
/// and must not be registered here already.
pub async fn create(
    store: &Store,
    actor: &Actor,
    input: NewEnterprise,
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
    input: NewEnterprise,
) -> Result<Value, RecordError> {
    let core = input::core(sectors, &actor.code, input)?;
    let id = enterprise::doc_id(&actor.code, &core.credit_code);
    let mut w = store.writer().await?;
    let mine = own_registration(store, actor, &core.credit_code).await?;
    if mine.is_some() || w.load(&id).await?.is_some() {
        return Err(RecordError::conflict(
            "credit_code",
            "本级已登记该企业 / this office has already registered this enterprise",
        ));
    }
    let mut doc = AutoCommit::new().with_actor(actor.actor_id.clone());
    enterprise::create(&mut doc, &actor.code, &now_rfc3339(), &core)?;
    safemesh_doc::put_owner_parent(&mut doc, &actor.chain())?;
    commit(&mut doc, actor);
    store_change(&mut w, &id, &mut doc, &[]).await?;
    w.commit().await?;
    get(store, &actor.code, &core.credit_code).await
}

/// 变更 — the registering office updates an enterprise's particulars (address and division, the
/// people, risk grade, licences, 重点 flags). Only the fields that change are written; the event keeps
/// each before and after, so the history shows every change, and the hazards and accidents already
/// registered keep the enterprise as it was when they were (their own copy).
pub async fn update(
    store: &Store,
    sectors: &safemesh_model::SectorDictionary,
    actor: &Actor,
    credit_code: &str,
    input: EnterpriseUpdate,
) -> Result<Value, RecordError> {
    let credit_code = credit_code.trim().to_uppercase();
    let Some(id) = own_registration(store, actor, &credit_code).await? else {
        // Not registered here: unknown (404), or another office's (403).
        if store
            .enterprise_registrations(&credit_code)
            .await?
            .is_empty()
        {
            return Err(RecordError::not_found(&format!("enterprise {credit_code}")));
        }
        return Err(RecordError::forbidden(
            "owner_only",
            "企业信息由登记单位变更 / only the office that registered the enterprise updates it",
        ));
    };
    let mut w = store.writer().await?;
    let mut doc = w
        .load(&id)
        .await?
        .ok_or_else(|| RecordError::not_found(&format!("enterprise {credit_code}")))?;
    let view = enterprise::read(&doc)
        .map_err(|_| RecordError::not_found(&format!("enterprise {credit_code}")))?;
    if actor.code != view.owner {
        return Err(RecordError::forbidden(
            "owner_only",
            "企业信息由登记单位变更 / only the office that registered the enterprise updates it",
        ));
    }
    let (after, note) = input::update(sectors, &view.owner, &view.core, input)?;
    let old = doc.get_heads();
    doc.set_actor(actor.actor_id.clone());
    let event = safemesh_doc::accident::AccidentEvent {
        kind: enterprise::UPDATE.to_string(),
        at: now_rfc3339(),
        by: actor.code.clone(),
        user: actor.user.clone(),
        note: Some(note),
        changes: enterprise::changes(&view.core, &after),
        attachments: Vec::new(),
    };
    enterprise::update(&mut doc, &view.core, &after, &event)?;
    commit(&mut doc, actor);
    store_change(&mut w, &id, &mut doc, &old).await?;
    w.commit().await?;
    get(store, &actor.code, &credit_code).await
}

/// The document id of this office's own registration of `credit_code`, if it has one.
async fn own_registration(
    store: &Store,
    actor: &Actor,
    credit_code: &str,
) -> Result<Option<String>, RecordError> {
    Ok(store
        .enterprise_registrations(credit_code)
        .await?
        .into_iter()
        .find(|(_, owner)| owner == actor.code.as_str())
        .map(|(id, _)| id))
}

/// The enterprise with its linked hazards and accidents: as office `here` registered it if it did,
/// else as the earliest registration this node holds.
pub async fn get(store: &Store, here: &AdminCode, credit_code: &str) -> Result<Value, RecordError> {
    store
        .enterprise(&credit_code.to_uppercase(), here.as_str())
        .await?
        .ok_or_else(|| RecordError::not_found(&format!("enterprise {credit_code}")))
}

/// Every enterprise this node holds.
pub async fn list(store: &Store) -> Result<Vec<Value>, RecordError> {
    Ok(store.enterprises().await?)
}

/// One page of the enterprises this node holds: by `name`, then document id.
pub async fn page(store: &Store, paging: Paging) -> Result<Page, RecordError> {
    let (items, total) = store.enterprises_page(paging.limit, paging.offset).await?;
    Ok(paging.page(items, total))
}
