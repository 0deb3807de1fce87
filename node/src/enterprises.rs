//! 企业台账 — registering enterprises by unified social credit code; hazards and accidents link to them
//! by that code.

use safemesh_doc::AutoCommit;
use safemesh_doc::enterprise::{self, EnterpriseCore};
use safemesh_store::Store;
use serde::Deserialize;
use serde_json::Value;

use crate::records::{Actor, RecordError, bounded, commit, now, required, store_change};

/// Input of `POST /api/v1/enterprises`.
#[derive(Debug, Clone, Deserialize)]
pub struct NewEnterprise {
    pub credit_code: Option<String>,
    pub name: Option<String>,
    #[serde(default)]
    pub principal: String,
    #[serde(default)]
    pub controller: String,
    pub sector: Option<String>,
    #[serde(default)]
    pub above_scale: bool,
    pub major_hazard_source_grade: Option<i64>,
    #[serde(default)]
    pub dust_explosion: bool,
    #[serde(default)]
    pub ammonia_refrigeration: bool,
    #[serde(default)]
    pub standardisation_level: String,
}

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
    let credit_code = required("credit_code", input.credit_code)?.to_uppercase();
    safemesh_model::credit::validate(&credit_code)
        .map_err(|e| RecordError::bad("credit_code", e.to_string()))?;
    let name = required("name", input.name)?;
    bounded("name", &name, 200)?;
    bounded("principal", &input.principal, 50)?;
    bounded("controller", &input.controller, 50)?;
    bounded("standardisation_level", &input.standardisation_level, 20)?;
    let sector = sectors.canonical(&required("sector", input.sector)?)?;
    let major_hazard_source_grade = match input.major_hazard_source_grade {
        None => None,
        Some(g @ 1..=4) => Some(g as u8),
        Some(_) => {
            return Err(RecordError::bad(
                "major_hazard_source_grade",
                "重大危险源等级应为 1 到 4 / must be 1 to 4",
            ));
        }
    };
    let id = enterprise::doc_id(&credit_code);
    let core = EnterpriseCore {
        credit_code,
        name,
        principal: input.principal,
        controller: input.controller,
        sector,
        above_scale: input.above_scale,
        major_hazard_source_grade,
        dust_explosion: input.dust_explosion,
        ammonia_refrigeration: input.ammonia_refrigeration,
        standardisation_level: input.standardisation_level,
    };
    let mut w = store.writer().await?;
    if w.load(&id).await?.is_some() {
        return Err(RecordError::conflict(
            "credit_code",
            "该企业已登记 / this enterprise is already registered",
        ));
    }
    let mut doc = AutoCommit::new().with_actor(actor.actor_id.clone());
    enterprise::create(&mut doc, &actor.code, &now(), &core)?;
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

pub async fn list(store: &Store) -> Result<Vec<Value>, RecordError> {
    Ok(store.enterprises().await?)
}
