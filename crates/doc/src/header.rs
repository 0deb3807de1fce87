//! The header every document carries, and the audience a document replicates to.

use automerge::{AutoCommit, ObjType, ROOT, ScalarValue, transaction::Transactable};
use safemesh_model::{AdminCode, Chain};
use serde::{Deserialize, Serialize};

use crate::{Error, read};

/// Version of the document layout written by this build; readers accept this and older.
pub const SCHEMA_VERSION: i64 = 1;

/// Document kinds (`header.kind`). A new kind is a variant here and its line in [`crate::registry`],
/// which gives each its name ([`Kind::as_str`]) and its type ([`Kind::dispatch`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// 隐患
    Hazard,
    /// 任务
    Directive,
    /// 事故
    Accident,
    /// 企业
    Enterprise,
}

/// `header` of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub kind: Kind,
    pub schema: i64,
    /// The office that owns the record (registering node, issuing node).
    pub owner: AdminCode,
    /// RFC 3339 creation time.
    pub created: String,
    /// 功能区的上级 — the owner's configured parent when it is not the owner's prefix parent (a
    /// functional zone's `parent_code`, see [`safemesh_model::Chain`]); absent for an ordinary office.
    /// Written once with the rest of the header, by the creating node from its config; the audience
    /// and the superiors of the record follow it on every hop.
    pub owner_parent: Option<AdminCode>,
}

impl Header {
    pub fn read(doc: &AutoCommit) -> Result<Header, Error> {
        let h = read::obj(doc, &ROOT, "header", "header")?;
        let kind = read::string(doc, &h, "kind", "header.kind")?;
        let kind = Kind::parse(&kind).ok_or(Error::Malformed {
            path: "header.kind".into(),
        })?;
        let schema = read::opt_i64(doc, &h, "schema")?.ok_or(Error::Malformed {
            path: "header.schema".into(),
        })?;
        if schema > SCHEMA_VERSION {
            return Err(Error::Malformed {
                path: format!("header.schema (version {schema} is newer than this build)"),
            });
        }
        let owner = read::string(doc, &h, "owner", "header.owner")?;
        let owner = AdminCode::parse(&owner).map_err(|_| Error::Malformed {
            path: "header.owner".into(),
        })?;
        let created = read::string(doc, &h, "created", "header.created")?;
        let owner_parent = read::opt_str(doc, &h, "owner_parent")?;
        let owner_parent = owner_parent_of(&owner, owner_parent.as_deref())?;
        Ok(Header {
            kind,
            schema,
            owner,
            created,
            owner_parent,
        })
    }

    /// Reads the header from a hydrated root.
    pub(crate) fn from_tree(root: &automerge::hydrate::Map) -> Result<Header, Error> {
        use crate::read::tree;
        let h = tree::map(root, "header", "header")?;
        let kind = tree::string(h, "kind", "header.kind")?;
        let kind = Kind::parse(&kind).ok_or(Error::Malformed {
            path: "header.kind".into(),
        })?;
        let schema = tree::opt_i64(h, "schema").ok_or(Error::Malformed {
            path: "header.schema".into(),
        })?;
        if schema > SCHEMA_VERSION {
            return Err(Error::Malformed {
                path: format!("header.schema (version {schema} is newer than this build)"),
            });
        }
        let owner = tree::string(h, "owner", "header.owner")?;
        let owner = AdminCode::parse(&owner).map_err(|_| Error::Malformed {
            path: "header.owner".into(),
        })?;
        let created = tree::string(h, "created", "header.created")?;
        let owner_parent = tree::opt_str(h, "owner_parent");
        let owner_parent = owner_parent_of(&owner, owner_parent.as_deref())?;
        Ok(Header {
            kind,
            schema,
            owner,
            created,
            owner_parent,
        })
    }

    pub(crate) fn write(&self, doc: &mut AutoCommit) -> Result<(), Error> {
        let h = doc.put_object(ROOT, "header", ObjType::Map)?;
        doc.put(&h, "kind", self.kind.as_str())?;
        doc.put(&h, "schema", ScalarValue::Int(self.schema))?;
        doc.put(&h, "owner", self.owner.as_str())?;
        doc.put(&h, "created", self.created.as_str())?;
        if let Some(p) = &self.owner_parent {
            doc.put(&h, "owner_parent", p.as_str())?;
        }
        Ok(())
    }

    /// The owner's chain: the offices above it ([`safemesh_model::Chain`]).
    pub fn chain(&self) -> Chain {
        Chain {
            code: self.owner.clone(),
            parent: self.owner_parent.clone(),
        }
    }
}

/// Names the owner's configured parent in the header of a document being created (in its first,
/// uncommitted change: the header is written once). Nothing for an ordinary office.
pub fn put_owner_parent(doc: &mut AutoCommit, chain: &Chain) -> Result<(), Error> {
    if let Some(p) = &chain.parent {
        let h = read::obj(doc, &ROOT, "header", "header")?;
        doc.put(&h, "owner_parent", p.as_str())?;
    }
    Ok(())
}

/// `header.owner_parent` as read: a code, not the owner's prefix parent (that is no zone: one
/// spelling per chain), not within the owner (the chain would loop).
fn owner_parent_of(owner: &AdminCode, raw: Option<&str>) -> Result<Option<AdminCode>, Error> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let bad = || Error::Malformed {
        path: "header.owner_parent".into(),
    };
    let p = AdminCode::parse(raw).map_err(|_| bad())?;
    if owner.parent().as_ref() == Some(&p) || p.is_within(owner) {
        return Err(bad());
    }
    Ok(Some(p))
}

/// Who holds a document: a set of offices, each optionally with its whole subtree. A document is sent
/// over a link iff the peer is in its audience; audiences are path-connected in the tree, so relays
/// hold what they pass on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audience {
    pub entries: Vec<(AdminCode, bool)>,
}

impl Audience {
    pub fn add(&mut self, code: AdminCode, subtree: bool) {
        if !self
            .entries
            .iter()
            .any(|(c, s)| *c == code && *s == subtree)
        {
            self.entries.push((code, subtree));
        }
    }

    pub fn contains(&self, code: &AdminCode) -> bool {
        self.entries
            .iter()
            .any(|(c, subtree)| c == code || (*subtree && code.is_within(c)))
    }
}
