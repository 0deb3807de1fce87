//! 佐证材料 in a document: an `attachments` list of maps (`sha256`, `size`, `media_type`, `name`)
//! inside the entry that carries them — a hazard event, a directive response's update, an accident's
//! event. Written with that entry, in the change that makes it, never replaced: the kinds' authority
//! rules allow the list and its maps only inside an object made in the same change
//! ([`is_attachment_item`]), so the history says who attached what, when, at which office.

use automerge::hydrate::Map;
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ObjType, ScalarValue};
use safemesh_model::evidence::Attachment;

use crate::Error;
use crate::authority::op::Seg;
use crate::read::tree;

/// Writes `list` as the `attachments` of the entry `entry` (nothing when empty).
pub(crate) fn put_attachments(
    doc: &mut AutoCommit,
    entry: &ObjId,
    list: &[Attachment],
) -> Result<(), Error> {
    if list.is_empty() {
        return Ok(());
    }
    let l = doc.put_object(entry, "attachments", ObjType::List)?;
    for (i, a) in list.iter().enumerate() {
        let m = doc.insert_object(&l, i, ObjType::Map)?;
        doc.put(&m, "sha256", a.sha256.as_str())?;
        doc.put(
            &m,
            "size",
            ScalarValue::Int(a.size.min(i64::MAX as u64) as i64),
        )?;
        doc.put(&m, "media_type", a.media_type.as_str())?;
        doc.put(&m, "name", a.name.as_str())?;
    }
    Ok(())
}

/// The `attachments` of an entry as read back; entries this build cannot read are skipped.
pub(crate) fn read_attachments(entry: &Map) -> Vec<Attachment> {
    tree::list(entry, "attachments")
        .map(|l| {
            tree::map_items(l)
                .filter_map(|m| {
                    Some(Attachment {
                        sha256: tree::opt_str(m, "sha256")?,
                        size: u64::try_from(tree::opt_i64(m, "size")?).ok()?,
                        media_type: tree::opt_str(m, "media_type")?,
                        name: tree::opt_str(m, "name").unwrap_or_default(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether making an object of type `t` at `path` is inserting one attachment's map into an
/// entry's `attachments` list (the caller has checked the entry was made in this change).
pub(crate) fn is_attachment_item(path: &[Seg], t: &ObjType) -> bool {
    matches!(t, ObjType::Map)
        && path.len() >= 2
        && path[path.len() - 2].is("attachments")
        && path[path.len() - 1] == Seg::Index
}
