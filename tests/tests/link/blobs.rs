//! 佐证材料 over the link (issue 16), on the deterministic mesh: a file attached at the township
//! reaches its record's audience byte for byte and nowhere else; a transfer cut mid-way resumes from
//! the last chunk received; a document event overtakes a large file in flight; a forged, unwanted or
//! out-of-scope blob is refused with a typed error frame and nothing of it is stored.

use safemesh_model::hazard::{EventKind, Grade};
use safemesh_store::{BLOB_CHUNK, sha256_hex};
use safemesh_sync::blob::BlobChunk;
use safemesh_sync::{ErrorCode, ErrorFrame, Frame, Hello, PROTOCOL_VERSION, Role};
use safemesh_testkit::bytes::incompressible;
use safemesh_testkit::mesh::{Mesh, Scripted};

const PROVINCE: &str = "53";
const CITY: &str = "5301";
const COUNTY: &str = "530181";
const TOWNSHIP: &str = "530181006";

#[tokio::test]
async fn township_photo_of_a_major_hazard_reaches_the_province_with_the_same_hash() {
    let all = [PROVINCE, CITY, COUNTY, TOWNSHIP];
    // 1. Four levels, connected; the township registers a major hazard.
    let mut m = Mesh::new(&all).await;
    m.connect_chain(&all);
    let id = m
        .register_hazard(TOWNSHIP, Grade::Major, "液氨储罐区未设置泄漏报警")
        .await;
    // 2. It reports the rectification with a 300 KB photo (整改后照片).
    let bytes = incompressible(300_000, 1);
    let sha = m
        .attach_file(TOWNSHIP, &id, EventKind::Progress, "整改后.jpg", &bytes)
        .await;
    m.run_until_quiet().await;
    // 3. Every ancestor holds the record and the file, byte for byte.
    m.assert_same_heads(&all, &id).await;
    for c in [CITY, COUNTY, PROVINCE] {
        let got = m.store(c).read_blob(&sha).await.unwrap();
        let got = got.unwrap_or_else(|| panic!("{c} lacks the photo"));
        assert_eq!(sha256_hex(&got), sha, "{c}");
        assert_eq!(got, bytes, "{c}");
    }
    // 4. The history says who attached it, at which office.
    let h = m.hazard(PROVINCE, &id).await.unwrap();
    let e = h.events.iter().find(|e| !e.attachments.is_empty()).unwrap();
    assert_eq!(e.by.as_str(), TOWNSHIP);
    assert_eq!(e.attachments[0].name, "整改后.jpg");
}

#[tokio::test]
async fn a_general_hazards_file_reaches_the_county_and_nowhere_else() {
    let all = [CITY, COUNTY, TOWNSHIP];
    let mut m = Mesh::new(&all).await;
    m.connect_chain(&all);
    let id = m
        .register_hazard(TOWNSHIP, Grade::General, "消防通道堵塞")
        .await;
    let sha = m
        .attach_file(
            TOWNSHIP,
            &id,
            EventKind::Rectified,
            "整改后.jpg",
            &incompressible(5000, 2),
        )
        .await;
    m.run_until_quiet().await;
    assert!(m.store(COUNTY).read_blob(&sha).await.unwrap().is_some());
    assert!(m.store(CITY).blob_meta(&sha).await.unwrap().is_none());
    assert_eq!(m.store(CITY).blob_bytes().await.unwrap(), 0);
}

#[tokio::test]
async fn a_transfer_cut_mid_way_resumes_from_the_last_chunk_received() {
    // 1. County and township; a 20-chunk photo attached at the township.
    let mut m = Mesh::new(&[COUNTY, TOWNSHIP]).await;
    m.connect(COUNTY, TOWNSHIP);
    let id = m
        .register_hazard(TOWNSHIP, Grade::General, "配电箱未接地")
        .await;
    m.run_until_quiet().await;
    m.cut(COUNTY, TOWNSHIP).await;
    let bytes = incompressible(20 * BLOB_CHUNK - 100, 3);
    let sha = m
        .attach_file(TOWNSHIP, &id, EventKind::Progress, "现场.jpg", &bytes)
        .await;
    // 2. The next stream is cut after 7 chunks have crossed it.
    m.cut_after(COUNTY, TOWNSHIP, "blob_chunk", 7);
    m.heal(COUNTY, TOWNSHIP);
    m.wait_closed(COUNTY, TOWNSHIP).await;
    let held = m.store(COUNTY).blob_received(&sha).await.unwrap() as usize;
    assert_eq!(
        held,
        7 * BLOB_CHUNK,
        "the county kept the 7 chunks it received"
    );
    assert!(
        m.store(COUNTY).read_blob(&sha).await.unwrap().is_none(),
        "not usable yet"
    );
    // 3. Healed: the township sends only what the county lacks, and the file completes.
    let traffic = m.heal(COUNTY, TOWNSHIP);
    m.run_until_quiet().await;
    assert_eq!(
        m.store(COUNTY).read_blob(&sha).await.unwrap().unwrap(),
        bytes
    );
    let resent: usize = traffic
        .from(TOWNSHIP)
        .iter()
        .filter(|s| s.kind == "blob_chunk")
        .count();
    assert_eq!(resent, 13, "13 chunks after the cut, none of the 7 again");
}

#[tokio::test]
async fn a_major_hazard_event_overtakes_a_large_file_in_flight() {
    // 1. A 100-chunk file attached at the township to a general hazard.
    let mut m = Mesh::new(&[COUNTY, TOWNSHIP]).await;
    let slow = m
        .register_hazard(TOWNSHIP, Grade::General, "厂房漏雨")
        .await;
    let big = incompressible(100 * BLOB_CHUNK, 4);
    m.attach_file(TOWNSHIP, &slow, EventKind::Progress, "全景.jpg", &big)
        .await;
    // 2. The stream opens and the file starts to move; after 3 chunks the link pauses (a slow
    //    link: what the township sends meanwhile queues behind, in order).
    m.hold_after(COUNTY, TOWNSHIP, "blob_chunk", 3);
    let traffic = m.connect(COUNTY, TOWNSHIP);
    m.wait_held(COUNTY, TOWNSHIP).await;
    // 3. A major hazard is registered while 97 chunks are still to go.
    let major = m
        .register_hazard(TOWNSHIP, Grade::Major, "粉尘涉爆除尘系统失效")
        .await;
    m.release(COUNTY, TOWNSHIP);
    m.run_until_quiet().await;
    // 4. On the wire, the batch carrying it came after the 3 chunks and at most a window more,
    //    ahead of all the rest of the file.
    assert!(m.holds(COUNTY, &major).await);
    let from = traffic.from(TOWNSHIP);
    let batch_at = from
        .iter()
        .rposition(|s| s.kind == "batch" && s.docs > 0)
        .expect("the major hazard's batch");
    let chunks_before = from[..batch_at]
        .iter()
        .filter(|s| s.kind == "blob_chunk")
        .count();
    let window = safemesh_sync::blob::BlobLimits::default().window / BLOB_CHUNK;
    assert!(
        chunks_before <= 3 + window,
        "{chunks_before} chunks went before the event (3 before the pause, window {window})"
    );
    let chunks_after = from[batch_at..]
        .iter()
        .filter(|s| s.kind == "blob_chunk")
        .count();
    assert_eq!(chunks_before + chunks_after, 100);
    assert_eq!(
        m.store(COUNTY)
            .read_blob(&sha256_hex(&big))
            .await
            .unwrap()
            .unwrap(),
        big
    );
}

#[tokio::test]
async fn a_forged_blob_is_refused_and_nothing_of_it_is_stored() {
    // 1. The township's stored copy of its photo is tampered with after it was referenced.
    let mut m = Mesh::new(&[COUNTY, TOWNSHIP]).await;
    let id = m
        .register_hazard(TOWNSHIP, Grade::General, "危化品存放混乱")
        .await;
    let bytes = incompressible(3 * BLOB_CHUNK, 5);
    let sha = m
        .attach_file(TOWNSHIP, &id, EventKind::Progress, "现场.jpg", &bytes)
        .await;
    sqlx::query("UPDATE blob_chunks SET data = $1 WHERE sha256 = $2 AND offset_at = 0")
        .bind(incompressible(BLOB_CHUNK, 6))
        .bind(&sha)
        .execute(m.store(TOWNSHIP).pool())
        .await
        .unwrap();
    // 2. The county receives the record, then the bytes: they do not hash to the name.
    m.connect(COUNTY, TOWNSHIP);
    let closed = m.wait_closed(COUNTY, TOWNSHIP).await;
    assert!(
        closed.parent_reason.contains("blob_hash"),
        "the county refused the blob: {closed:?}"
    );
    // 3. The county holds the record and nothing of the file.
    assert!(m.holds(COUNTY, &id).await);
    assert!(m.store(COUNTY).blob_meta(&sha).await.unwrap().is_none());
    assert_eq!(m.store(COUNTY).blob_received(&sha).await.unwrap(), 0);
    assert_eq!(m.store(COUNTY).blob_bytes().await.unwrap(), 0);
}

/// The county's stream with a township the test plays, past the hellos.
async fn scripted_county(m: &mut Mesh) -> Scripted {
    let mut s = m.script(COUNTY, TOWNSHIP, Role::Child);
    assert!(matches!(s.recv().await, Frame::Hello(_)));
    s.send(Frame::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        code: TOWNSHIP.into(),
        install_id: "township-install".into(),
        recv_cursor: 0,
        peer_install_seen: String::new(),
        seq: 0,
        crl_number: 0,
    }))
    .await;
    s
}

/// The county's error frame, past whatever else it sends first.
async fn error_from(s: &mut Scripted) -> ErrorFrame {
    loop {
        if let Frame::Error(e) = s.recv().await {
            return e;
        }
    }
}

#[tokio::test]
async fn a_blob_pushed_without_being_asked_for_is_refused_and_not_stored() {
    let mut m = Mesh::new(&[COUNTY]).await;
    let mut s = scripted_county(&mut m).await;
    let bytes = incompressible(1000, 7);
    s.send(Frame::BlobChunk(BlobChunk {
        sha256: sha256_hex(&bytes),
        offset: 0,
        size: bytes.len() as u64,
        media_type: "image/jpeg".into(),
        data: bytes.clone(),
    }))
    .await;
    let e = error_from(&mut s).await;
    assert_eq!(e.code, ErrorCode::Forbidden);
    assert_eq!(e.rule.as_deref(), Some("blob_not_wanted"));
    m.end_scripted(&mut s).await;
    assert_eq!(m.store(COUNTY).blob_bytes().await.unwrap(), 0);
}

#[tokio::test]
async fn a_want_for_a_blob_outside_the_links_scope_is_refused_and_nothing_is_sent() {
    // 1. The county's own hazard (its audience: the county and the city) carries a photo.
    let mut m = Mesh::new(&[COUNTY]).await;
    let id = m
        .register_hazard(COUNTY, Grade::General, "县直单位隐患")
        .await;
    let sha = m
        .attach_file(
            COUNTY,
            &id,
            EventKind::Progress,
            "县.jpg",
            &incompressible(2000, 8),
        )
        .await;
    // 2. The township asks for it.
    let mut s = scripted_county(&mut m).await;
    s.send(Frame::BlobWant {
        sha256: sha.clone(),
        offset: 0,
    })
    .await;
    let mut chunks = 0;
    let e = loop {
        match s.recv().await {
            Frame::Error(e) => break e,
            Frame::BlobChunk(_) => chunks += 1,
            _ => {}
        }
    };
    assert_eq!(e.code, ErrorCode::Forbidden);
    assert_eq!(e.rule.as_deref(), Some("blob_out_of_scope"));
    assert_eq!(chunks, 0, "not a byte of the file crossed");
    m.end_scripted(&mut s).await;
}
