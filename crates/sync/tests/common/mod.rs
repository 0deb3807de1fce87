//! Document builders for the sync crate's tests: test hazards written outside any store. (The
//! in-memory mesh, which needs a store, is the harness's: `testkit/src/mesh`, which includes this file
//! as `mesh::docs` rather than keeping a copy — this crate cannot depend on the harness.)
#![allow(dead_code)]

use automerge::transaction::CommitOptions;
use safemesh_doc::hazard::{self, Enterprise, HazardCore};
use safemesh_doc::{AutoCommit, actor};
use safemesh_model::AdminCode;
use safemesh_model::hazard::{Channel, EventKind, Grade, HazardEvent};

fn commit(doc: &mut AutoCommit, code: &AdminCode) {
    doc.commit_with(
        CommitOptions::default()
            .with_message(format!("tester@{code}"))
            .with_time(1_750_000_000),
    );
}

/// The core of a test hazard registered at `owner`.
pub fn test_core(owner: &AdminCode, grade: Grade, title: &str) -> HazardCore {
    HazardCore {
        title: title.into(),
        sector: "危险化学品".into(),
        sector_detail: None,
        grade,
        channel: Channel::Inspection,
        number: String::new(),
        inspection_mode: None,
        found_by_level: owner.clone(),
        found_on: "2025-01-01".into(),
        stock: safemesh_model::hazard::facts::Stock::New,
        location: Default::default(),
        basis: Default::default(),
        subject: Default::default(),
        responsible_unit: String::new(),
        enterprise: Enterprise {
            name: "某化工有限公司".into(),
            credit_code: String::new(),
            credit_code_override: None,
        },
        deadline: "2030-12-31".into(),
        description: String::new(),
    }
}

/// A general hazard as office `owner` writes it, outside any store: registration, then `events`
/// progress events, one change each, under the actor `<owner>.t1`.
pub fn hazard_doc(owner: &AdminCode, title: &str, events: usize) -> AutoCommit {
    let mut doc = AutoCommit::new().with_actor(actor::actor_id(owner, b"t1"));
    let core = test_core(owner, Grade::General, title);
    hazard::create(&mut doc, owner, "t", "2025-06-01T00:00:00Z", &core).expect("create hazard");
    commit(&mut doc, owner);
    for i in 0..events {
        progress(&mut doc, owner, &format!("第 {i} 次整改进展"));
    }
    doc
}

/// One progress event by office `by` on `doc` (one change, under the document's current actor).
pub fn progress(doc: &mut AutoCommit, by: &AdminCode, note: &str) {
    let ev = HazardEvent {
        note: Some(note.to_string()),
        percent: Some(50),
        user: "t".into(),
        ..HazardEvent::new(EventKind::Progress, by.clone(), "2025-06-02T00:00:00Z")
    };
    hazard::append_event(doc, &ev).expect("append");
    commit(doc, by);
}
