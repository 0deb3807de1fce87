//! The CPU pool for checks: Automerge work runs on blocking threads, never more at once in the
//! process than there are cores, whatever the number of links.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use safemesh_doc::AutoCommit;
use safemesh_doc::authority::{Checked, Origin};
use safemesh_sync::check::{Decoded, decode_and_check, panic_text};
use safemesh_sync::frame::{ErrorFrame, Item};
use safemesh_sync::inflate::Budget;

/// One item of a batch on its way through [`apply`].
pub(crate) enum Job {
    Doc(Box<DocJob>),
    Summary(Item),
}

pub(crate) struct DocJob {
    pub(crate) id: String,
    pub(crate) seq: i64,
    pub(crate) snapshot: Option<Vec<u8>>,
    pub(crate) changes: Vec<Vec<u8>>,
    pub(crate) heads: Vec<String>,
    /// Bytes of its snapshot or changes, as received (what a child's byte quota counts).
    pub(crate) payload: u64,
    /// The stored version, if this node holds the document.
    pub(crate) base: Option<AutoCommit>,
}

/// Automerge work running at once in this process, whatever the number of links: one per core.
pub(crate) fn automerge_permits() -> &'static Arc<tokio::sync::Semaphore> {
    static PERMITS: std::sync::OnceLock<Arc<tokio::sync::Semaphore>> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| {
        let n = std::thread::available_parallelism().map_or(2, |n| n.get());
        Arc::new(tokio::sync::Semaphore::new(n))
    })
}

/// Decodes and checks every document job on blocking threads, split in up to one chunk per core,
/// each chunk holding a permit of [`automerge_permits`]. Returns, in job order, each document's
/// verdict and the heads its stored version had. Jobs give up their bytes and base.
pub(crate) async fn check_all(
    jobs: &mut [Job],
    origin: &Origin,
    budget: &Arc<Budget>,
) -> Result<Vec<Verdict>, String> {
    let mut work: Vec<CheckWork> = Vec::new();
    for job in jobs.iter_mut() {
        if let Job::Doc(d) = job {
            work.push((
                d.id.clone(),
                d.snapshot.take(),
                std::mem::take(&mut d.changes),
                d.base.take(),
            ));
        }
    }
    if work.is_empty() {
        return Ok(Vec::new());
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let per = work.len().div_ceil(cores).max(8);
    let mut handles = Vec::new();
    while !work.is_empty() {
        let rest = work.split_off(per.min(work.len()));
        let chunk = std::mem::replace(&mut work, rest);
        let origin = origin.clone();
        let budget = budget.clone();
        let permits = automerge_permits().clone();
        handles.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await;
            tokio::task::spawn_blocking(move || {
                chunk
                    .into_iter()
                    .map(|(id, snapshot, changes, mut base)| {
                        let old = base.as_mut().map(|b| b.get_heads()).unwrap_or_default();
                        let decoded = decode_and_check(
                            &id,
                            snapshot,
                            changes,
                            base.as_mut(),
                            &origin,
                            &budget,
                        );
                        // A document new here is projected on this thread too, so the writer
                        // only executes its rows.
                        let projection = match &decoded {
                            Ok((Ok(checked), Some(_))) if checked.applied > 0 => {
                                Some(project(&id, checked))
                            }
                            _ => None,
                        };
                        (decoded, old, projection)
                    })
                    .collect::<Vec<_>>()
            })
            .await
        }));
    }
    let mut out = Vec::new();
    for h in handles {
        match h.await {
            Ok(Ok(results)) => out.extend(results),
            // decode_and_check catches Automerge's panics itself, so this is a bug of ours or a
            // runtime going down; run_link's guard turns a panic into a rejected batch.
            Ok(Err(e)) | Err(e) => match e.try_into_panic() {
                Ok(p) => std::panic::resume_unwind(p),
                Err(e) => return Err(format!("check task ended: {e}")),
            },
        }
    }
    Ok(out)
}

/// One document to check: id, snapshot, changes, stored version.
type CheckWork = (String, Option<Vec<u8>>, Vec<Vec<u8>>, Option<AutoCommit>);

/// A document's verdict, the heads its stored version had, and (new documents) its projection.
pub(crate) type Verdict = (
    Result<Decoded, ErrorFrame>,
    Vec<automerge::ChangeHash>,
    Option<Result<safemesh_store::Projection, safemesh_store::Error>>,
);

/// The projection of a checked document, with a panic while reading it taken as unreadable.
fn project(
    id: &str,
    checked: &Checked,
) -> Result<safemesh_store::Projection, safemesh_store::Error> {
    std::panic::catch_unwind(AssertUnwindSafe(|| {
        safemesh_store::compute_projection(id, &checked.header, &checked.doc)
    }))
    .unwrap_or_else(|p| {
        Err(safemesh_store::Error::Invalid {
            field: id.to_string(),
            reason: format!("reading it panicked: {}", panic_text(&p)),
        })
    })
}
