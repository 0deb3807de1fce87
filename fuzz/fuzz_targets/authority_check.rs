//! The write-authority check on arbitrary change sets, as a receiver runs it on a batch.
//!
//! Three ways in, chosen by the input:
//! - `Ops`: a real base document (a general or major hazard, a directive, an accident, or nothing) and a
//!   sequence of
//!   edits by actors of various codes (and actors that name no office), on two concurrent replicas,
//!   each edit its own change; the new changes go to `check_and_apply`.
//! - `Raw`: arbitrary bytes as changes (`Change::from_bytes`) or as a snapshot (`AutoCommit::load`),
//!   each first through the bounded inflation scan a receiver runs (`safemesh_sync::inflate`), which
//!   must never refuse as undecodable what Automerge decodes,
//!   optionally with the chunk checksum made valid so the bytes reach Automerge's column decoders.
//! - `Mutated`: valid changes made as in `Ops`, then bytes of one flipped (checksum fixed up).
//!
//! Properties: nothing panics; when the check accepts, applying the same changes again to the result
//! is accepted with nothing new, and the result, sent on as a snapshot, passes the snapshot check (a
//! relay must be able to forward what it accepted).
//!
//! Automerge 0.12 panics on some inconsistent changes; `authority::check_and_apply` catches those
//! (`guarded`) and the receiving driver catches any other panic. libfuzzer-sys aborts on every panic,
//! caught or not, so a panic raised inside Automerge's source (or inside the standard library, where
//! Automerge's own calls end up, e.g. a sort) is let through to the guard (counted and reported on
//! stderr); a panic in safemesh's code, or one that escapes the guards, is a crash.
#![no_main]

use arbitrary::Arbitrary;
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{AutoCommit, Change, ObjId, ObjType, Prop, ROOT, ReadDoc, ScalarValue, Value};
use libfuzzer_sys::fuzz_target;
use safemesh_doc::authority::{Origin, check_and_apply, check_snapshot};
use safemesh_doc::accident::{self, AccidentCore};
use safemesh_doc::directive::{self, DirectiveCore};
use safemesh_doc::hazard::{self, Enterprise, HazardCore};
use safemesh_doc::{actor, heads_to_hex};
use safemesh_model::AdminCode;
use safemesh_model::evidence::Attachment;
use safemesh_model::hazard::{Channel, Grade};
use sha2::{Digest, Sha256};
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

const DOC: &str = "h-fuzz";
/// Offices the edits are made by (the township and its neighbours up to the province).
const CODES: [&str; 8] = [
    "530181006",
    "530181007",
    "530181",
    "530182",
    "5301",
    "5302",
    "53",
    "54",
];
/// Keys edits write under: the schema's own, and strangers.
const KEYS: [&str; 20] = [
    "kind",
    "by",
    "level",
    "at",
    "user",
    "note",
    "title",
    "grade",
    "owner",
    "header",
    "core",
    "events",
    "targets",
    "responses",
    "updates",
    "attachments",
    "sha256",
    "530181006",
    "530181007",
    "x",
];
/// String values: event kinds, codes, grades, junk.
const VALUES: [&str; 22] = [
    "registered",
    "plan",
    "progress",
    "rectified",
    "accept",
    "return",
    "close",
    "reopen",
    "supervise",
    "escalate",
    "notify",
    "comment",
    "review",
    "supplement",
    "bogus",
    "530181006",
    "530181",
    "5301",
    "53",
    "major",
    "general",
    "",
];

#[derive(Arbitrary, Debug)]
enum Base {
    None,
    GeneralHazard,
    MajorHazard,
    Directive,
    Accident,
}

#[derive(Arbitrary, Debug)]
enum Who {
    Code(u8),
    /// An actor id that names no office.
    Stranger(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Val {
    Str(u8),
    Int(i64),
    Null,
    Map,
    List,
}

#[derive(Arbitrary, Debug)]
enum Edit {
    /// Put under a key of a map, or at an index of a list.
    Put { obj: u8, key: u8, val: Val },
    /// Insert into a list.
    Insert { obj: u8, at: u16, val: Val },
    /// Delete a key or an element.
    Delete { obj: u8, key: u8 },
    /// A well-formed event appended at the end, as an honest node would (kind, by, level), with
    /// `files % 4` attachments.
    Event {
        kind: u8,
        by: u8,
        level: Option<u8>,
        files: u8,
    },
    /// A directive response by a code, as an honest node would, with `files % 4` attachments.
    Respond { code: u8, files: u8 },
}

#[derive(Arbitrary, Debug)]
struct Step {
    who: Who,
    /// Which of the two replicas (concurrency).
    replica: bool,
    edits: Vec<Edit>,
}

#[derive(Arbitrary, Debug)]
enum OriginSel {
    Child(u8),
    Parent,
    Local,
}

#[derive(Arbitrary, Debug)]
enum Input {
    Ops {
        base: Base,
        origin: OriginSel,
        steps: Vec<Step>,
    },
    Raw {
        base: Base,
        origin: OriginSel,
        snapshot: bool,
        fix_checksum: bool,
        chunks: Vec<Vec<u8>>,
    },
    Mutated {
        base: Base,
        origin: OriginSel,
        steps: Vec<Step>,
        which: u8,
        flips: Vec<(u16, u8)>,
    },
}

fn code(s: &str) -> AdminCode {
    AdminCode::parse(s).expect("code")
}

fn pick<'a>(list: &[&'a str], i: u8) -> &'a str {
    list[i as usize % list.len()]
}

fn commit(doc: &mut AutoCommit) {
    doc.commit_with(
        CommitOptions::default()
            .with_message("fuzz".to_string())
            .with_time(1),
    );
}

fn make_base(base: &Base) -> Option<AutoCommit> {
    let township = code("530181006");
    let county = code("530181");
    match base {
        Base::None => None,
        Base::GeneralHazard | Base::MajorHazard => {
            let mut doc = AutoCommit::new().with_actor(actor::actor_id(&township, b"t"));
            let core = HazardCore {
                title: "t".into(),
                sector: "s".into(),
                sector_detail: None,
                grade: if matches!(base, Base::MajorHazard) {
                    Grade::Major
                } else {
                    Grade::General
                },
                channel: Channel::Inspection,
                number: String::new(),
                inspection_mode: None,
                found_by_level: township.clone(),
                found_on: "2025-01-01".into(),
                stock: safemesh_model::hazard::facts::Stock::New,
                location: Default::default(),
                basis: Default::default(),
                subject: Default::default(),
                responsible_unit: String::new(),
                enterprise: Enterprise {
                    name: "e".into(),
                    credit_code: String::new(),
                    credit_code_override: None,
                },
                deadline: "2030-01-01".into(),
                description: String::new(),
            };
            hazard::create(&mut doc, &township, "u", "2025-01-01T00:00:00Z", &core).ok()?;
            commit(&mut doc);
            Some(doc)
        }
        Base::Directive => {
            let mut doc = AutoCommit::new().with_actor(actor::actor_id(&county, b"c"));
            let core = DirectiveCore {
                title: "t".into(),
                body: "b".into(),
                targets: vec![township, code("530181007")],
                deadline: "2030-01-01".into(),
            };
            directive::create(&mut doc, &county, "2025-01-01T00:00:00Z", &core).ok()?;
            commit(&mut doc);
            Some(doc)
        }
        Base::Accident => {
            let mut doc = AutoCommit::new().with_actor(actor::actor_id(&township, b"a"));
            let core = AccidentCore {
                title: "t".into(),
                occurred_at: "2025-01-01".into(),
                sector: "s".into(),
                deaths: 1,
                serious_injuries: 0,
                direct_loss_wan: 1.0,
                enterprise: None,
                description: String::new(),
                attachments: attachments(1),
            };
            accident::create(&mut doc, &township, "2025-01-01T00:00:00Z", &core).ok()?;
            commit(&mut doc);
            Some(doc)
        }
    }
}

thread_local! {
    /// The base documents, made once per fuzzing thread (they never change).
    static BASES: [Option<AutoCommit>; 5] = [
        make_base(&Base::None),
        make_base(&Base::GeneralHazard),
        make_base(&Base::MajorHazard),
        make_base(&Base::Directive),
        make_base(&Base::Accident),
    ];
}

fn base_doc(base: &Base) -> Option<AutoCommit> {
    let i = match base {
        Base::None => 0,
        Base::GeneralHazard => 1,
        Base::MajorHazard => 2,
        Base::Directive => 3,
        Base::Accident => 4,
    };
    BASES.with(|b| b[i].clone())
}

fn origin(o: &OriginSel) -> Origin {
    match o {
        OriginSel::Child(i) => Origin::Child(code(pick(&CODES, *i))),
        OriginSel::Parent => Origin::Parent(code("5301")),
        OriginSel::Local => Origin::Local,
    }
}

/// Every object of the document (maps and lists, breadth first, bounded).
fn objects(doc: &AutoCommit) -> Vec<(ObjId, ObjType)> {
    let mut out = vec![(ROOT, ObjType::Map)];
    let mut i = 0;
    while i < out.len() && out.len() < 64 {
        let (obj, ty) = out[i].clone();
        i += 1;
        let props: Vec<Prop> = match ty {
            ObjType::Map | ObjType::Table => doc.keys(&obj).map(Prop::Map).collect(),
            ObjType::List | ObjType::Text => (0..doc.length(&obj).min(16)).map(Prop::Seq).collect(),
        };
        for p in props {
            if let Ok(Some((Value::Object(t), id))) = doc.get(&obj, p) {
                out.push((id, t));
            }
        }
    }
    out
}

fn put_val(doc: &mut AutoCommit, obj: &ObjId, prop: Prop, val: &Val) {
    let _ = match val {
        Val::Str(i) => doc.put(obj, prop, pick(&VALUES, *i)),
        Val::Int(n) => doc.put(obj, prop, ScalarValue::Int(*n)),
        Val::Null => doc.put(obj, prop, ScalarValue::Null),
        Val::Map => doc.put_object(obj, prop, ObjType::Map).map(|_| ()),
        Val::List => doc.put_object(obj, prop, ObjType::List).map(|_| ()),
    };
}

fn insert_val(doc: &mut AutoCommit, obj: &ObjId, at: usize, val: &Val) {
    let _ = match val {
        Val::Str(i) => doc.insert(obj, at, pick(&VALUES, *i)),
        Val::Int(n) => doc.insert(obj, at, ScalarValue::Int(*n)),
        Val::Null => doc.insert(obj, at, ScalarValue::Null),
        Val::Map => doc.insert_object(obj, at, ObjType::Map).map(|_| ()),
        Val::List => doc.insert_object(obj, at, ObjType::List).map(|_| ()),
    };
}

/// `files % 4` well-formed attachment references.
fn attachments(files: u8) -> Vec<Attachment> {
    (0..files % 4)
        .map(|i| Attachment {
            sha256: format!("{:02x}", i).repeat(32),
            size: 1 + i as u64,
            media_type: "application/pdf".into(),
            name: format!("f{i}.pdf"),
        })
        .collect()
}

fn edit(doc: &mut AutoCommit, e: &Edit) {
    let objs = objects(doc);
    let sel = |i: u8| objs[i as usize % objs.len()].clone();
    match e {
        Edit::Put { obj, key, val } => {
            let (o, t) = sel(*obj);
            let prop = match t {
                ObjType::Map | ObjType::Table => Prop::Map(pick(&KEYS, *key).into()),
                _ => {
                    let len = doc.length(&o);
                    if len == 0 {
                        return;
                    }
                    Prop::Seq(*key as usize % len)
                }
            };
            put_val(doc, &o, prop, val);
        }
        Edit::Insert { obj, at, val } => {
            let (o, t) = sel(*obj);
            if matches!(t, ObjType::List | ObjType::Text) {
                let at = *at as usize % (doc.length(&o) + 1);
                insert_val(doc, &o, at, val);
            }
        }
        Edit::Delete { obj, key } => {
            let (o, t) = sel(*obj);
            let _ = match t {
                ObjType::Map | ObjType::Table => doc.delete(&o, pick(&KEYS, *key)),
                _ => {
                    let len = doc.length(&o);
                    if len == 0 {
                        return;
                    }
                    doc.delete(&o, *key as usize % len)
                }
            };
        }
        Edit::Event {
            kind,
            by,
            level,
            files,
        } => {
            let Ok(Some((Value::Object(ObjType::List), events))) = doc.get(ROOT, "events") else {
                return;
            };
            let at = doc.length(&events);
            let Ok(m) = doc.insert_object(&events, at, ObjType::Map) else {
                return;
            };
            let _ = doc.put(&m, "kind", pick(&VALUES, *kind));
            let _ = doc.put(&m, "at", "2025-01-02T00:00:00Z");
            let _ = doc.put(&m, "by", pick(&CODES, *by));
            let _ = doc.put(&m, "user", "u");
            if let Some(l) = level {
                let _ = doc.put(&m, "level", pick(&CODES, *l));
            }
            if *files % 4 > 0
                && let Ok(l) = doc.put_object(&m, "attachments", ObjType::List)
            {
                for (i, a) in attachments(*files).iter().enumerate() {
                    if let Ok(f) = doc.insert_object(&l, i, ObjType::Map) {
                        let _ = doc.put(&f, "sha256", a.sha256.as_str());
                        let _ = doc.put(&f, "size", ScalarValue::Int(a.size as i64));
                        let _ = doc.put(&f, "media_type", a.media_type.as_str());
                        let _ = doc.put(&f, "name", a.name.as_str());
                    }
                }
            }
        }
        Edit::Respond { code: c, files } => {
            let target = code(pick(&CODES, *c));
            let update = safemesh_model::directive::ResponseUpdate {
                action: safemesh_model::directive::ResponseAction::Receive,
                at: "2025-01-02T00:00:00Z".into(),
                percent: None,
                note: None,
                user: "u".into(),
                attachments: attachments(*files),
            };
            let _ = directive::respond(doc, &target, &update);
        }
    }
}

/// Applies the steps to two forks of `base` (or of an empty document) and returns the changes new to
/// `base`, in an order that respects their dependencies.
fn changes_from(base: Option<&AutoCommit>, steps: &[Step]) -> Vec<Change> {
    let mut start = base.cloned().unwrap_or_default();
    let base_heads = start.get_heads();
    let mut replicas = [start.fork(), start.fork()];
    for (n, step) in steps.iter().take(24).enumerate() {
        let r = &mut replicas[step.replica as usize];
        let nonce = format!("n{n}");
        let actor = match &step.who {
            Who::Code(i) => actor::actor_id(&code(pick(&CODES, *i)), nonce.as_bytes()),
            Who::Stranger(bytes) => {
                let mut b = bytes.clone();
                b.truncate(16);
                b.extend_from_slice(nonce.as_bytes());
                automerge::ActorId::from(b)
            }
        };
        r.set_actor(actor);
        for e in step.edits.iter().take(8) {
            edit(r, e);
        }
        commit(r);
    }
    let [mut a, mut b] = replicas;
    let _ = a.merge(&mut b);
    a.get_changes(&base_heads)
}

/// Makes a chunk's checksum valid for its type and data, so the bytes get past the header check.
fn fix_checksum(bytes: &mut [u8]) {
    if bytes.len() < 10 || bytes[..4] != [0x85, 0x6f, 0x4a, 0x83] {
        return;
    }
    // Header: magic (4), checksum (4), type (1), data length (uleb128), data.
    let mut len: u64 = 0;
    let mut shift = 0;
    let mut i = 9;
    while i < bytes.len() && shift < 63 {
        let b = bytes[i];
        len |= u64::from(b & 0x7f) << shift;
        shift += 7;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
    }
    let end = (i as u64).saturating_add(len);
    if end > bytes.len() as u64 {
        return;
    }
    let hash = Sha256::digest(&bytes[8..end as usize]);
    bytes[4..8].copy_from_slice(&hash[..4]);
}

/// The receiver's check, and the properties of an accepted result.
fn check(base: Option<AutoCommit>, changes: Vec<Change>, origin: &Origin) {
    let mut stored = base;
    let Ok(mut checked) = check_and_apply(DOC, stored.as_mut(), changes.clone(), origin) else {
        return;
    };
    // The same changes again: accepted, nothing new, same heads.
    let heads = checked.doc.get_heads();
    let again = check_and_apply(DOC, Some(&mut checked.doc), changes, origin)
        .unwrap_or_else(|e| panic!("re-check of an accepted batch failed: {e}"));
    assert_eq!(again.applied, 0, "re-applied changes were new");
    assert_eq!(
        heads_to_hex(&again.doc.clone().get_heads()),
        heads_to_hex(&heads)
    );
    // A relay forwards what it accepted as a snapshot: the next hop must accept it too.
    let bytes = checked.doc.save();
    let loaded = AutoCommit::load(&bytes).expect("saved document loads");
    if let Err(e) = check_snapshot(DOC, loaded, &Origin::Parent(code("5301"))) {
        panic!("accepted incrementally but refused as a snapshot: {e}");
    }
}

/// Panics raised inside Automerge that a guard caught.
static GUARDED: AtomicU64 = AtomicU64::new(0);

/// Lets panics from Automerge's source unwind to the guards; everything else aborts as before.
fn let_automerge_panics_reach_the_guards() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // Raised in Automerge's source, or in the standard library called from it (e.g. a sort
            // whose comparator Automerge feeds with inconsistent ops). Panics in safemesh's code
            // report safemesh's own file and still abort.
            let in_automerge = info.location().is_some_and(|l| {
                l.file().contains("/automerge-0.") || l.file().starts_with("/rustc/")
            });
            if in_automerge {
                let n = GUARDED.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_power_of_two() {
                    eprintln!("guarded Automerge panic #{n}: {info}");
                }
            } else {
                abort(info);
            }
        }));
    });
}

/// `decode(bytes)` as a receiver runs it: only once the bounded pre-scan of what `bytes` inflate to
/// (`safemesh_sync::inflate::scan`) has passed. Property: bytes the scan cannot walk, Automerge
/// cannot decode either (the scan never refuses what Automerge would take).
fn scanned<T>(bytes: &[u8], decode: impl FnOnce() -> Option<T>) -> Option<T> {
    use safemesh_sync::inflate::{Budget, Refusal, scan};
    match scan(&Budget::new(1 << 20, 1 << 20), [bytes]) {
        Ok(_) => decode(),
        Err(Refusal::Undecodable(why)) => {
            assert!(
                decode().is_none(),
                "the inflation scan refused bytes Automerge decodes: {why}"
            );
            None
        }
        Err(_) => None,
    }
}

fuzz_target!(|input: Input| {
    let_automerge_panics_reach_the_guards();
    match input {
        Input::Ops {
            base,
            origin: o,
            steps,
        } => {
            let b = base_doc(&base);
            let changes = changes_from(b.as_ref(), &steps);
            check(b, changes, &origin(&o));
        }
        Input::Raw {
            base,
            origin: o,
            snapshot,
            fix_checksum: fix,
            chunks,
        } => {
            let o = origin(&o);
            if snapshot {
                let mut bytes: Vec<u8> = chunks.concat();
                if fix {
                    fix_checksum(&mut bytes);
                }
                if let Some(mut doc) = scanned(&bytes, || AutoCommit::load(&bytes).ok()) {
                    let all = doc.get_changes(&[]);
                    let _ = check_snapshot(DOC, doc, &o);
                    check(base_doc(&base), all, &o);
                }
            } else {
                let mut changes = Vec::new();
                for mut c in chunks {
                    if fix {
                        fix_checksum(&mut c);
                    }
                    let bytes = c.clone();
                    if let Some(c) = scanned(&bytes, || Change::from_bytes(c).ok()) {
                        changes.push(c);
                    }
                }
                check(base_doc(&base), changes, &o);
            }
        }
        Input::Mutated {
            base,
            origin: o,
            steps,
            which,
            flips,
        } => {
            let b = base_doc(&base);
            let mut raw: Vec<Vec<u8>> = changes_from(b.as_ref(), &steps)
                .into_iter()
                .map(|c| c.raw_bytes().to_vec())
                .collect();
            if raw.is_empty() {
                return;
            }
            let n = which as usize % raw.len();
            let target = &mut raw[n];
            for (pos, x) in flips.iter().take(8) {
                let p = *pos as usize % target.len();
                target[p] ^= *x;
            }
            fix_checksum(target);
            let changes: Vec<Change> = raw
                .into_iter()
                .filter_map(|c| Change::from_bytes(c).ok())
                .collect();
            check(b, changes, &origin(&o));
        }
    }
});
