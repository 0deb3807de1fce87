//! What a document projects to: the statements that write its query rows (its kind's
//! [`ProjectKind`]) and the audience it is sent to, computed from the document alone so the receiver
//! can do it on the thread that checked the document. The `match` below is the store's list of kinds.

use safemesh_doc::accident::Accidents;
use safemesh_doc::directive::Directives;
use safemesh_doc::enterprise::Enterprises;
use safemesh_doc::hazard::Hazards;
use safemesh_doc::{Audience, AutoCommit, Header, Kind};

use super::bind::Bind;
use super::kind::ProjectKind;
use crate::error::Error;

/// What a document projects to — its audience and the statements that write its query rows —
/// computed from the document alone (CPU only, no store): the receiver computes it on the thread
/// that checked the document, and the writer only executes it.
#[derive(Debug, Clone)]
pub struct Projection {
    pub audience: Audience,
    pub(super) rows: Vec<(&'static str, Vec<Bind>)>,
}

/// The projection of document `id`. Fails when the document cannot be read into records.
pub fn compute_projection(
    id: &str,
    header: &Header,
    doc: &AutoCommit,
) -> Result<Projection, Error> {
    match header.kind {
        Kind::Hazard => project::<Hazards>(id, header, doc),
        Kind::Directive => project::<Directives>(id, header, doc),
        Kind::Accident => project::<Accidents>(id, header, doc),
        Kind::Enterprise => project::<Enterprises>(id, header, doc),
    }
}

fn project<K: ProjectKind>(
    id: &str,
    header: &Header,
    doc: &AutoCommit,
) -> Result<Projection, Error> {
    let view = K::read(doc)?;
    let mut rows = Vec::new();
    K::rows(id, &view, &mut rows);
    Ok(Projection {
        audience: K::audience(header, &view),
        rows,
    })
}
