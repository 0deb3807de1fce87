//! Small typed readers over Automerge values.

use automerge::{AutoCommit, ObjId, ObjType, ReadDoc, Value};

use crate::Error;

pub(crate) fn obj(doc: &AutoCommit, parent: &ObjId, key: &str, path: &str) -> Result<ObjId, Error> {
    match doc.get(parent, key)? {
        Some((Value::Object(_), id)) => Ok(id),
        _ => Err(Error::Malformed {
            path: path.to_string(),
        }),
    }
}

pub(crate) fn opt_obj(doc: &AutoCommit, parent: &ObjId, key: &str) -> Result<Option<ObjId>, Error> {
    Ok(match doc.get(parent, key)? {
        Some((Value::Object(_), id)) => Some(id),
        _ => None,
    })
}

pub(crate) fn opt_str(
    doc: &AutoCommit,
    parent: &ObjId,
    key: &str,
) -> Result<Option<String>, Error> {
    Ok(doc
        .get(parent, key)?
        .and_then(|(v, _)| v.as_str().map(str::to_string)))
}

pub(crate) fn string(
    doc: &AutoCommit,
    parent: &ObjId,
    key: &str,
    path: &str,
) -> Result<String, Error> {
    opt_str(doc, parent, key)?.ok_or_else(|| Error::Malformed {
        path: path.to_string(),
    })
}

pub(crate) fn opt_i64(doc: &AutoCommit, parent: &ObjId, key: &str) -> Result<Option<i64>, Error> {
    Ok(doc.get(parent, key)?.and_then(|(v, _)| v.as_i64()))
}

pub(crate) fn str_list(doc: &AutoCommit, parent: &ObjId, key: &str) -> Result<Vec<String>, Error> {
    let Some(list) = opt_obj(doc, parent, key)? else {
        return Ok(Vec::new());
    };
    if doc.object_type(&list)? != ObjType::List {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for i in 0..doc.length(&list) {
        if let Some((v, _)) = doc.get(&list, i)?
            && let Some(s) = v.as_str()
        {
            out.push(s.to_string());
        }
    }
    Ok(out)
}

pub(crate) fn list_items(doc: &AutoCommit, list: &ObjId) -> Result<Vec<ObjId>, Error> {
    let mut out = Vec::new();
    for i in 0..doc.length(list) {
        if let Some((Value::Object(_), id)) = doc.get(list, i)? {
            out.push(id);
        }
    }
    Ok(out)
}
