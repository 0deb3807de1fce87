//! 修订记录 — what an owner's correction of a record it registered changed: the 补报 of an accident's
//! casualty figures, the 变更 of an enterprise's particulars. The new values are written over the
//! record's `core` (what the record says now); the event that made the correction keeps each field
//! with its value before and after, so the history shows every correction and nothing is replaced
//! silently. Stored in the event map as one JSON text (`changes`), so an event stays a flat map.

use automerge::{AutoCommit, ObjId, transaction::Transactable};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::read::tree;

/// One field an owner's correction changed, with its value before and after, as written for people
/// (a count, an amount, a name; empty when there was none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    /// The field's name in the record (`deaths`, `principal`, …).
    pub field: String,
    pub from: String,
    pub to: String,
}

impl FieldChange {
    pub fn new(field: &str, from: impl Into<String>, to: impl Into<String>) -> FieldChange {
        FieldChange {
            field: field.to_string(),
            from: from.into(),
            to: to.into(),
        }
    }
}

/// The changes among `(field, before, after)` triples: the ones whose value differs, in order.
pub fn diff<'a>(fields: impl IntoIterator<Item = (&'a str, String, String)>) -> Vec<FieldChange> {
    fields
        .into_iter()
        .filter(|(_, from, to)| from != to)
        .map(|(f, from, to)| FieldChange::new(f, from, to))
        .collect()
}

/// Writes `changes` into the event map `m` (nothing when there are none).
pub(crate) fn write(doc: &mut AutoCommit, m: &ObjId, changes: &[FieldChange]) -> Result<(), Error> {
    if changes.is_empty() {
        return Ok(());
    }
    let text = serde_json::to_string(changes)
        .map_err(|e| Error::Corrupt(format!("changes not serialisable: {e}")))?;
    doc.put(m, "changes", text)?;
    Ok(())
}

/// The changes an event map holds; none when it has none or they cannot be read (an event from a
/// newer build is shown without them rather than hidden).
pub(crate) fn read(m: &automerge::hydrate::Map) -> Vec<FieldChange> {
    tree::opt_str(m, "changes")
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_keeps_only_the_fields_that_changed_in_order() {
        let d = diff([
            ("deaths", "1".to_string(), "3".to_string()),
            ("serious_injuries", "0".to_string(), "0".to_string()),
            ("grade", "一般".to_string(), "较大".to_string()),
        ]);
        assert_eq!(
            d,
            vec![
                FieldChange::new("deaths", "1", "3"),
                FieldChange::new("grade", "一般", "较大")
            ]
        );
    }
}
