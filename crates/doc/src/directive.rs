//! 任务文档 — the directive document: `header`, `core` (the issuer's), `responses[code]` (each target's own).

use std::collections::BTreeMap;

use automerge::{AutoCommit, ObjType, ROOT, ReadDoc, ScalarValue, transaction::Transactable};
use safemesh_model::AdminCode;
use safemesh_model::directive::{Response, ResponseAction, ResponseUpdate};
use serde::{Deserialize, Serialize};

use crate::read::tree;
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
    let root = doc.hydrate(ROOT, None)?;
    let root = tree::as_map(&root).ok_or(Error::Malformed {
        path: "(root)".into(),
    })?;
    let header = Header::from_tree(root)?;
    if header.kind != Kind::Directive {
        return Err(Error::Malformed {
            path: "header.kind".into(),
        });
    }
    let c = tree::map(root, "core", "core")?;
    let targets = tree::list(c, "targets")
        .map(tree::str_items)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|s| AdminCode::parse(&s).ok())
        .collect();
    let core = DirectiveCore {
        title: tree::string(c, "title", "core.title")?,
        body: tree::opt_str(c, "body").unwrap_or_default(),
        targets,
        deadline: tree::string(c, "deadline", "core.deadline")?,
    };
    let mut responses = BTreeMap::new();
    if let Some(rs) = tree::opt_map(root, "responses") {
        for (key, v) in rs.iter() {
            if let Some(r) = tree::as_map(&v.value) {
                responses.insert(key.clone(), read_response(r));
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

fn read_response(r: &automerge::hydrate::Map) -> Response {
    let updates = tree::list(r, "updates")
        .map(|l| {
            tree::map_items(l)
                .filter_map(|u| {
                    Some(ResponseUpdate {
                        action: ResponseAction::parse(&tree::opt_str(u, "action")?).ok()?,
                        at: tree::opt_str(u, "at").unwrap_or_default(),
                        percent: tree::opt_i64(u, "percent").map(|p| p.clamp(0, 100) as u8),
                        note: tree::opt_str(u, "note"),
                        user: tree::opt_str(u, "user").unwrap_or_default(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Response {
        received_at: tree::opt_str(r, "received_at"),
        percent: tree::opt_i64(r, "percent").map(|p| p.clamp(0, 100) as u8),
        note: tree::opt_str(r, "note"),
        completed_at: tree::opt_str(r, "completed_at"),
        updated_at: tree::opt_str(r, "updated_at"),
        updates,
    }
}
