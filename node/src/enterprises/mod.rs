//! 企业台账 — registering enterprises by unified social credit code; hazards and accidents link to them
//! by that code.

use safemesh_doc::AutoCommit;
use safemesh_doc::enterprise;
use safemesh_store::Store;
use serde_json::Value;

use crate::clock::now_rfc3339;
use crate::records::{Actor, Page, Paging, RecordError, commit, store_change};

pub mod http;
mod input;

pub(crate) use input::credit_code;
pub use input::{EnterpriseRef, NewEnterprise};

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
    let core = input::core(sectors, input)?;
    let id = enterprise::doc_id(&core.credit_code);
    let mut w = store.writer().await?;
    if w.load(&id).await?.is_some() {
        return Err(RecordError::conflict(
            "credit_code",
            "该企业已登记 / this enterprise is already registered",
        ));
    }
    let mut doc = AutoCommit::new().with_actor(actor.actor_id.clone());
    enterprise::create(&mut doc, &actor.code, &now_rfc3339(), &core)?;
    safemesh_doc::put_owner_parent(&mut doc, &actor.chain())?;
    commit(&mut doc, actor);
    store_change(&mut w, &id, &mut doc, &[]).await?;
    w.commit().await?;
    get(store, &core.credit_code).await
}

/// The enterprise with its linked hazards and accidents.
pub async fn get(store: &Store, credit_code: &str) -> Result<Value, RecordError> {
    store
        .enterprise(&credit_code.to_uppercase())
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
