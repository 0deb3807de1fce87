//! 佐证材料 — the `blob_refs` rows of a document: one per blob its entries attach (the first name it
//! was attached under). References are only added (attachments are append-only), so the rows are
//! inserted and never replaced; what the collector, the link's blob scope and a record's file list
//! read.

use safemesh_model::evidence::Attachment;

use super::bind::Bind;
use super::kind::Rows;

/// The reference rows of document `id` for `attachments`, in the order they were attached.
pub(super) fn rows<'a>(
    id: &str,
    attachments: impl Iterator<Item = &'a Attachment>,
    rows: &mut Rows,
) {
    for a in attachments {
        rows.push((
            "INSERT INTO blob_refs (doc_id, sha256, size, media_type, name) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (doc_id, sha256) DO NOTHING",
            vec![
                Bind::from(id),
                Bind::from(&a.sha256),
                Bind::Int(a.size.min(i64::MAX as u64) as i64),
                Bind::from(&a.media_type),
                Bind::from(&a.name),
            ],
        ));
    }
}
