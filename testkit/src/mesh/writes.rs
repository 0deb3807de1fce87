//! A node's local writes, as its API makes them (the same calls as `node`'s record operations):
//! register, add an event, issue, respond, publish a summary — and one forgery a hostile node makes.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ObjType, ROOT, ReadDoc};
use safemesh_doc::AutoCommit;
use safemesh_doc::authority::check_local;
use safemesh_doc::directive::{self, DirectiveCore};
use safemesh_doc::hazard;
use safemesh_model::AdminCode;
use safemesh_model::directive::{ResponseAction, ResponseUpdate};
use safemesh_model::hazard::{EventKind, Grade, HazardEvent};

use super::docs::test_core;
use super::{Mesh, code};

impl Mesh {
    /// A fresh document id `<prefix>-<c>-<n>`.
    pub fn next_id(&mut self, prefix: &str, c: &str) -> String {
        self.ids += 1;
        format!("{prefix}-{c}-{:04}", self.ids)
    }

    /// Registers a hazard at node `c`; returns its id.
    pub async fn register_hazard(&mut self, c: &str, grade: Grade, title: &str) -> String {
        let id = self.next_id("h", c);
        let node = self.node(c);
        let core = test_core(&node.code, grade, title);
        let mut doc = AutoCommit::new().with_actor(node.actor());
        hazard::create(&mut doc, &node.code, "tester", &now(), &core).expect("create hazard");
        commit(&mut doc, &node.code);
        let mut w = node.store().writer().await.expect("writer");
        check_local(&id, &mut doc, &[]).expect("local authority");
        w.put_doc(&id, &mut doc, &[]).await.expect("put_doc");
        w.commit().await.expect("commit");
        id
    }

    /// Appends a lifecycle event at node `c` (supervise names `c` as the level; escalate uses 函告;
    /// notify tells both 主要负责人 and 实际控制人).
    pub async fn add_event(&self, c: &str, id: &str, kind: EventKind, note: &str) {
        self.add_event_with_files(c, id, kind, note, Vec::new())
            .await
    }

    /// Stores `bytes` at node `c` as an uploaded file (a JPEG by its type) and attaches it to a new
    /// event of `kind`; returns the file's SHA-256.
    pub async fn attach_file(
        &self,
        c: &str,
        id: &str,
        kind: EventKind,
        name: &str,
        bytes: &[u8],
    ) -> String {
        let meta = self
            .store(c)
            .put_blob("image/jpeg", bytes)
            .await
            .expect("put_blob");
        let a = safemesh_model::evidence::Attachment {
            sha256: meta.sha256.clone(),
            size: bytes.len() as u64,
            media_type: "image/jpeg".into(),
            name: name.into(),
        };
        self.add_event_with_files(c, id, kind, "", vec![a]).await;
        meta.sha256
    }

    /// [`Mesh::add_event`] with files attached.
    pub async fn add_event_with_files(
        &self,
        c: &str,
        id: &str,
        kind: EventKind,
        note: &str,
        attachments: Vec<safemesh_model::evidence::Attachment>,
    ) {
        let node = self.node(c);
        let event = HazardEvent {
            kind,
            at: now(),
            by: node.code.clone(),
            user: "tester".into(),
            note: (!note.is_empty()).then(|| note.to_string()),
            method: match kind {
                EventKind::Escalate => Some("函告".to_string()),
                EventKind::Notify => Some("书面告知".to_string()),
                _ => None,
            },
            level: (kind == EventKind::Supervise).then(|| node.code.clone()),
            number: None,
            requirements: None,
            due: None,
            percent: (kind == EventKind::Progress).then_some(50),
            // A plan event carries a complete plan (a major hazard is reported rectified only with one).
            plan: (kind == EventKind::Plan).then(|| safemesh_model::hazard::Plan {
                responsible_unit: "某化工有限公司".into(),
                responsible_person: "李四".into(),
                measures: "增设紧急切断阀".into(),
                funds_wan: 12.5,
                deadline: "2026-12-31".into(),
                contingency_plan: "限量储存，专人巡检".into(),
            }),
            recipients: if kind == EventKind::Notify {
                vec!["主要负责人".into(), "实际控制人".into()]
            } else {
                Vec::new()
            },
            reply_by: None,
            new_deadline: None,
            approved: None,
            to: None,
            recipient_names: Default::default(),
            attachments,
        };
        let mut w = node.store().writer().await.expect("writer");
        let mut doc = w
            .load(id)
            .await
            .expect("load")
            .unwrap_or_else(|| panic!("{c} does not hold {id}"));
        let old = doc.get_heads();
        doc.set_actor(node.actor());
        hazard::append_event(&mut doc, &event).expect("append");
        commit(&mut doc, &node.code);
        check_local(id, &mut doc, &old).expect("local authority");
        w.put_doc(id, &mut doc, &old).await.expect("put_doc");
        w.commit().await.expect("commit");
    }

    /// Issues a directive at node `c` to `targets`; returns its id.
    pub async fn issue_directive(&mut self, c: &str, targets: &[&str], title: &str) -> String {
        let id = self.next_id("d", c);
        let node = self.node(c);
        let core = DirectiveCore {
            title: title.into(),
            body: "按期完成".into(),
            targets: targets.iter().map(|t| code(t)).collect(),
            deadline: "2030-06-30".into(),
        };
        let mut doc = AutoCommit::new().with_actor(node.actor());
        directive::create(&mut doc, &node.code, &now(), &core).expect("create directive");
        commit(&mut doc, &node.code);
        let mut w = node.store().writer().await.expect("writer");
        check_local(&id, &mut doc, &[]).expect("local authority");
        w.put_doc(&id, &mut doc, &[]).await.expect("put_doc");
        w.commit().await.expect("commit");
        id
    }

    /// Records node `c`'s own response to a directive.
    pub async fn respond(&self, c: &str, id: &str, action: ResponseAction) {
        let node = self.node(c);
        let mut w = node.store().writer().await.expect("writer");
        let mut doc = w
            .load(id)
            .await
            .expect("load")
            .unwrap_or_else(|| panic!("{c} does not hold {id}"));
        let old = doc.get_heads();
        doc.set_actor(node.actor());
        let percent = (action == ResponseAction::Progress).then_some(40);
        let update = ResponseUpdate {
            action,
            at: now(),
            percent,
            note: None,
            user: "tester".into(),
            attachments: Vec::new(),
        };
        directive::respond(&mut doc, &node.code, &update).expect("respond");
        commit(&mut doc, &node.code);
        check_local(id, &mut doc, &old).expect("local authority");
        w.put_doc(id, &mut doc, &old).await.expect("put_doc");
        w.commit().await.expect("commit");
    }

    /// Writes a change node `c` is NOT allowed to make (rewrites a document's `core.title`),
    /// bypassing the local check, as a buggy or hostile node would.
    pub async fn forge_title(&self, c: &str, id: &str, title: &str) {
        let node = self.node(c);
        let mut w = node.store().writer().await.expect("writer");
        let mut doc = w
            .load(id)
            .await
            .expect("load")
            .unwrap_or_else(|| panic!("{c} does not hold {id}"));
        let old = doc.get_heads();
        doc.set_actor(node.actor());
        let core = match doc.get(ROOT, "core").expect("get core") {
            Some((automerge::Value::Object(ObjType::Map), obj)) => obj,
            other => panic!("core is {other:?}"),
        };
        doc.put(&core, "title", title).expect("put");
        commit(&mut doc, &node.code);
        assert!(
            check_local(id, &mut doc, &old).is_err(),
            "the forged change should break the rules"
        );
        w.put_doc(id, &mut doc, &old).await.expect("put_doc");
        w.commit().await.expect("commit");
    }

    /// Publishes node `c`'s own summary.
    pub async fn put_summary(&self, c: &str, version: i64, body: &str) {
        let node = self.node(c);
        let mut w = node.store().writer().await.expect("writer");
        let stored = w
            .put_summary(&node.code, version, "2025-06", &now(), body)
            .await
            .expect("put_summary");
        assert!(
            stored,
            "summary v{version} of {c} not newer than the one held"
        );
        w.commit().await.expect("commit");
    }
}

/// Now, as the node's API stamps a write.
pub fn now() -> String {
    safemesh_store::now_rfc3339()
}

/// Commits `doc` as a node's API does, in the name of user `tester` at `code`.
pub fn commit(doc: &mut AutoCommit, code: &AdminCode) {
    doc.commit_with(
        CommitOptions::default()
            .with_message(format!("tester@{code}"))
            .with_time(1_750_000_000),
    );
}
