//! Small typed readers over Automerge values.

use automerge::{AutoCommit, ObjId, ReadDoc, Value};

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

/// Readers over a hydrated tree (`ReadDoc::hydrate`): one pass over the document instead of one
/// lookup per field, which is what reading whole records wants.
pub(crate) mod tree {
    use automerge::ScalarValue;
    use automerge::hydrate::{List, Map, Value};

    use crate::Error;

    pub(crate) fn as_map(v: &Value) -> Option<&Map> {
        match v {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub(crate) fn map<'a>(m: &'a Map, key: &str, path: &str) -> Result<&'a Map, Error> {
        m.get(key).and_then(as_map).ok_or_else(|| Error::Malformed {
            path: path.to_string(),
        })
    }

    pub(crate) fn opt_map<'a>(m: &'a Map, key: &str) -> Option<&'a Map> {
        m.get(key).and_then(as_map)
    }

    pub(crate) fn list<'a>(m: &'a Map, key: &str) -> Option<&'a List> {
        match m.get(key) {
            Some(Value::List(l)) => Some(l),
            _ => None,
        }
    }

    pub(crate) fn opt_str(m: &Map, key: &str) -> Option<String> {
        match m.get(key) {
            Some(Value::Scalar(ScalarValue::Str(s))) => Some(s.to_string()),
            _ => None,
        }
    }

    pub(crate) fn string(m: &Map, key: &str, path: &str) -> Result<String, Error> {
        opt_str(m, key).ok_or_else(|| Error::Malformed {
            path: path.to_string(),
        })
    }

    pub(crate) fn opt_i64(m: &Map, key: &str) -> Option<i64> {
        match m.get(key) {
            Some(Value::Scalar(ScalarValue::Int(i))) => Some(*i),
            Some(Value::Scalar(ScalarValue::Uint(u))) => i64::try_from(*u).ok(),
            _ => None,
        }
    }

    pub(crate) fn str_items(l: &List) -> Vec<String> {
        l.iter()
            .filter_map(|v| match &v.value {
                Value::Scalar(ScalarValue::Str(s)) => Some(s.to_string()),
                _ => None,
            })
            .collect()
    }

    pub(crate) fn map_items(l: &List) -> impl Iterator<Item = &Map> {
        l.iter().filter_map(|v| as_map(&v.value))
    }
}
