//! 写入 — how every record operation ends: one Automerge change naming the person, checked with the
//! same authority rules links apply, then written to the store with its projection.

use automerge::transaction::CommitOptions;
use safemesh_doc::authority::check_local;
use safemesh_doc::{AutoCommit, ChangeHash};

use tracing::Instrument;

use super::{Actor, RecordError};

/// Commits `doc`'s pending operations as one change whose message names the person and the office
/// (`张三@530181006`), so the history says who wrote what.
pub(crate) fn commit(doc: &mut AutoCommit, actor: &Actor) {
    let msg = format!("{}@{}", actor.user, actor.code);
    let ts = time::OffsetDateTime::now_utc().unix_timestamp();
    doc.commit_with(CommitOptions::default().with_message(msg).with_time(ts));
}

/// Writes a change made by `actor` to the store, after the same authority check links apply.
pub(crate) async fn store_change(
    w: &mut safemesh_store::Writer,
    id: &str,
    doc: &mut AutoCommit,
    old: &[ChangeHash],
) -> Result<(), RecordError> {
    let span = tracing::info_span!("record.write", id);
    async {
        check_local(id, doc, old)?;
        w.put_doc(id, doc, old).await?;
        Ok::<_, RecordError>(())
    }
    .instrument(span.clone())
    .await?;
    // The links that send this document on continue the request's trace (`safemesh_link::trace`).
    safemesh_link::trace::note(w.store(), &span, [id]);
    Ok(())
}
