//! 任务文档 — the directive document: `header`, `core` (the issuer's), `responses[code]` (each target's own).

use std::collections::BTreeMap;

use automerge::{
    AutoCommit, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, transaction::Transactable,
};
use safemesh_model::AdminCode;
use safemesh_model::directive::{Response, ResponseAction, ResponseUpdate};
use serde::{Deserialize, Serialize};

use crate::{Audience, Error, Header, Kind, SCHEMA_VERSION, read};

/// The issuer's fields of a directive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectiveCore {
    pub title: String,
    pub body: String,
    /// Direct children the directive is sent to.
    pub targets: Vec<AdminCode>,
    /// `YYYY-MM-DD` 完成时限.
    pub deadline: String,
}

/// A directive as read from its document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirectiveView {
    pub issuer: AdminCode,
    pub created: String,
    #[serde(flatten)]
    pub core: DirectiveCore,
    pub responses: BTreeMap<String, Response>,
}

impl DirectiveView {
    /// The issuer and each target.
    pub fn audience(&self) -> Audience {
        audience(&self.issuer, &self.core.targets)
    }
}

pub fn audience(issuer: &AdminCode, targets: &[AdminCode]) -> Audience {
    let mut a = Audience::default();
    a.add(issuer.clone(), false);
    for t in targets {
        a.add(t.clone(), false);
    }
    a
}

/// Creates a directive document issued by `issuer`. The caller commits.
pub fn create(
    doc: &mut AutoCommit,
    issuer: &AdminCode,
    now: &str,
    core: &DirectiveCore,
) -> Result<(), Error> {
    Header {
        kind: Kind::Directive,
        schema: SCHEMA_VERSION,
        owner: issuer.clone(),
        created: now.to_string(),
    }
    .write(doc)?;
    let c = doc.put_object(ROOT, "core", ObjType::Map)?;
    doc.put(&c, "title", core.title.as_str())?;
    doc.put(&c, "body", core.body.as_str())?;
    doc.put(&c, "deadline", core.deadline.as_str())?;
    let t = doc.put_object(&c, "targets", ObjType::List)?;
    for (i, code) in core.targets.iter().enumerate() {
        doc.insert(&t, i, code.as_str())?;
    }
    doc.put_object(ROOT, "responses", ObjType::Map)?;
    Ok(())
}

/// Records `target`'s own response. The caller checks that `target` is a target.
pub fn respond(
    doc: &mut AutoCommit,
    target: &AdminCode,
    update: &ResponseUpdate,
) -> Result<(), Error> {
    let responses = read::obj(doc, &ROOT, "responses", "responses")?;
    let r = match read::opt_obj(doc, &responses, target.as_str())? {
        Some(r) => r,
        None => {
            let r = doc.put_object(&responses, target.as_str(), ObjType::Map)?;
            doc.put_object(&r, "updates", ObjType::List)?;
            r
        }
    };
    match update.action {
        ResponseAction::Receive => {
            if read::opt_str(doc, &r, "received_at")?.is_none() {
                doc.put(&r, "received_at", update.at.as_str())?;
            }
        }
        ResponseAction::Progress => {
            if read::opt_str(doc, &r, "received_at")?.is_none() {
                doc.put(&r, "received_at", update.at.as_str())?;
            }
        }
        ResponseAction::Complete => {
            if read::opt_str(doc, &r, "received_at")?.is_none() {
                doc.put(&r, "received_at", update.at.as_str())?;
            }
            doc.put(&r, "completed_at", update.at.as_str())?;
            doc.put(&r, "percent", ScalarValue::Int(100))?;
        }
    }
    if let Some(p) = update.percent
        && update.action != ResponseAction::Complete
    {
        doc.put(&r, "percent", ScalarValue::Int(p as i64))?;
    }
    if let Some(n) = &update.note {
        doc.put(&r, "note", n.as_str())?;
    }
    doc.put(&r, "updated_at", update.at.as_str())?;
    let updates = match read::opt_obj(doc, &r, "updates")? {
        Some(u) => u,
        None => doc.put_object(&r, "updates", ObjType::List)?,
    };
    let at = doc.length(&updates);
    let u = doc.insert_object(&updates, at, ObjType::Map)?;
    doc.put(&u, "action", update.action.as_str())?;
    doc.put(&u, "at", update.at.as_str())?;
    doc.put(&u, "user", update.user.as_str())?;
    if let Some(p) = update.percent {
        doc.put(&u, "percent", ScalarValue::Int(p as i64))?;
    }
    if let Some(n) = &update.note {
        doc.put(&u, "note", n.as_str())?;
    }
    Ok(())
}

pub fn read(doc: &AutoCommit) -> Result<DirectiveView, Error> {
    let header = Header::read(doc)?;
    if header.kind != Kind::Directive {
        return Err(Error::Malformed {
            path: "header.kind".into(),
        });
    }
    let c = read::obj(doc, &ROOT, "core", "core")?;
    let targets = read::str_list(doc, &c, "targets")?
        .into_iter()
        .filter_map(|s| AdminCode::parse(&s).ok())
        .collect();
    let core = DirectiveCore {
        title: read::string(doc, &c, "title", "core.title")?,
        body: read::opt_str(doc, &c, "body")?.unwrap_or_default(),
        targets,
        deadline: read::string(doc, &c, "deadline", "core.deadline")?,
    };
    let mut responses = BTreeMap::new();
    if let Some(rs) = read::opt_obj(doc, &ROOT, "responses")? {
        for key in doc.keys(&rs).collect::<Vec<_>>() {
            if let Some(r) = read::opt_obj(doc, &rs, &key)? {
                responses.insert(key, read_response(doc, &r)?);
            }
        }
    }
    Ok(DirectiveView {
        issuer: header.owner,
        created: header.created,
        core,
        responses,
    })
}

fn read_response(doc: &AutoCommit, r: &ObjId) -> Result<Response, Error> {
    let mut updates = Vec::new();
    if let Some(list) = read::opt_obj(doc, r, "updates")? {
        for u in read::list_items(doc, &list)? {
            let Some(action) =
                read::opt_str(doc, &u, "action")?.and_then(|a| ResponseAction::parse(&a).ok())
            else {
                continue;
            };
            updates.push(ResponseUpdate {
                action,
                at: read::opt_str(doc, &u, "at")?.unwrap_or_default(),
                percent: read::opt_i64(doc, &u, "percent")?.map(|p| p.clamp(0, 100) as u8),
                note: read::opt_str(doc, &u, "note")?,
                user: read::opt_str(doc, &u, "user")?.unwrap_or_default(),
            });
        }
    }
    Ok(Response {
        received_at: read::opt_str(doc, r, "received_at")?,
        percent: read::opt_i64(doc, r, "percent")?.map(|p| p.clamp(0, 100) as u8),
        note: read::opt_str(doc, r, "note")?,
        completed_at: read::opt_str(doc, r, "completed_at")?,
        updated_at: read::opt_str(doc, r, "updated_at")?,
        updates,
    })
}
