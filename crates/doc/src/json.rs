//! Typed values stored as Automerge maps, lists and scalars through their JSON form: what the directive
//! document's nested fields (assignments, deadline kinds, cadence, parent link) are written and read with.

use automerge::{AutoCommit, ObjType, ScalarValue, transaction::Transactable};
use serde::Serialize;
use serde_json::Value as Json;

use crate::Error;

/// The detail types as JSON (plain data: serialising cannot fail).
pub(crate) fn json<T: Serialize>(v: &T) -> Json {
    serde_json::to_value(v).unwrap_or_default()
}

/// Writes a JSON value as Automerge maps, lists and scalars.
pub(crate) fn put_json(
    doc: &mut AutoCommit,
    obj: &automerge::ObjId,
    key: &str,
    v: &Json,
) -> Result<(), Error> {
    match v {
        Json::Object(m) => {
            let o = doc.put_object(obj, key, ObjType::Map)?;
            for (k, v) in m {
                put_json(doc, &o, k, v)?;
            }
        }
        Json::Array(items) => {
            let l = doc.put_object(obj, key, ObjType::List)?;
            for (i, v) in items.iter().enumerate() {
                insert_json(doc, &l, i, v)?;
            }
        }
        Json::Null => {}
        s => {
            doc.put(obj, key, scalar(s))?;
        }
    }
    Ok(())
}

fn insert_json(
    doc: &mut AutoCommit,
    list: &automerge::ObjId,
    i: usize,
    v: &Json,
) -> Result<(), Error> {
    match v {
        Json::Object(m) => {
            let o = doc.insert_object(list, i, ObjType::Map)?;
            for (k, v) in m {
                put_json(doc, &o, k, v)?;
            }
        }
        Json::Array(items) => {
            let l = doc.insert_object(list, i, ObjType::List)?;
            for (j, v) in items.iter().enumerate() {
                insert_json(doc, &l, j, v)?;
            }
        }
        s => {
            doc.insert(list, i, scalar(s))?;
        }
    }
    Ok(())
}

fn scalar(v: &Json) -> ScalarValue {
    match v {
        Json::Bool(b) => ScalarValue::Boolean(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => ScalarValue::Int(i),
            None => ScalarValue::F64(n.as_f64().unwrap_or_default()),
        },
        Json::String(s) => ScalarValue::Str(s.as_str().into()),
        _ => ScalarValue::Null,
    }
}

/// A hydrated Automerge value as JSON.
fn to_json(v: &automerge::hydrate::Value) -> Json {
    use automerge::hydrate::Value as H;
    match v {
        H::Map(m) => Json::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), to_json(&v.value)))
                .collect(),
        ),
        H::List(l) => Json::Array(l.iter().map(|v| to_json(&v.value)).collect()),
        H::Text(t) => Json::String(t.to_string()),
        H::Scalar(s) => match s {
            ScalarValue::Str(s) => Json::String(s.to_string()),
            ScalarValue::Int(i) => (*i).into(),
            ScalarValue::Uint(u) => (*u).into(),
            ScalarValue::F64(f) => {
                serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number)
            }
            ScalarValue::Boolean(b) => Json::Bool(*b),
            _ => Json::Null,
        },
    }
}

/// Reads a typed field stored with [`put_json`]; a value this build cannot read is `None`.
pub(crate) fn get_typed<T: serde::de::DeserializeOwned>(
    m: &automerge::hydrate::Map,
    key: &str,
) -> Option<T> {
    m.get(key)
        .and_then(|v| serde_json::from_value(to_json(v)).ok())
}

/// Appends a typed value at the end of a list, written as [`put_json`] writes it.
pub(crate) fn append_json(
    doc: &mut AutoCommit,
    list: &automerge::ObjId,
    v: &Json,
) -> Result<(), Error> {
    let at = automerge::ReadDoc::length(doc, list);
    insert_json(doc, list, at, v)
}

/// Reads the items of a list of typed values; an item this build cannot read is skipped.
pub(crate) fn typed_items<T: serde::de::DeserializeOwned>(
    m: &automerge::hydrate::Map,
    key: &str,
) -> Vec<T> {
    match m.get(key) {
        Some(automerge::hydrate::Value::List(l)) => l
            .iter()
            .filter_map(|v| serde_json::from_value(to_json(&v.value)).ok())
            .collect(),
        _ => Vec::new(),
    }
}
