//! The token part of the `Store` contract, run on SQLite and on PostgreSQL (see
//! `safemesh_store::testing`): tokens are stored hashed, looked up by hash, revoked for good, and never
//! touch the replicated sequence.

use safemesh_store::testing::TestDb;
use safemesh_store::{Error, TokenRole, hash_secret};
use sqlx::Row;

/// Runs one contract test on SQLite and on PostgreSQL.
macro_rules! contract {
    ($name:ident, $body:ident) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = TestDb::sqlite();
                $body(&db).await;
                db.cleanup().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = TestDb::postgres().await else {
                    return;
                };
                $body(&db).await;
                db.cleanup().await;
            }
        }
    };
}

contract!(
    created_token_is_found_by_its_hash_until_revoked,
    create_lookup_revoke
);
async fn create_lookup_revoke(db: &TestDb) {
    let store = db.open().await.unwrap();
    let (row, secret) = store.create_token("张三", TokenRole::Editor).await.unwrap();
    assert_eq!(secret.len(), 64);
    assert!(secret.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(row.id.starts_with("t-"), "{}", row.id);
    assert_eq!((row.name.as_str(), row.role), ("张三", TokenRole::Editor));
    assert!(row.revoked.is_none());
    assert_eq!(
        store.token_by_hash(&hash_secret(&secret)).await.unwrap(),
        Some(row.clone())
    );
    // Whitespace around a presented secret does not matter; a different secret finds nothing.
    assert!(
        store
            .token_by_hash(&hash_secret(&format!(" {secret}\n")))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .token_by_hash(&hash_secret(&secret[1..]))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.list_tokens().await.unwrap(), vec![row.clone()]);
    assert_eq!(store.token(&row.id).await.unwrap(), Some(row.clone()));

    let revoked = store.revoke_token(&row.id).await.unwrap().unwrap();
    let at = revoked.revoked.clone().expect("revocation time");
    assert_eq!(revoked.id, row.id);
    assert!(
        store
            .token_by_hash(&hash_secret(&secret))
            .await
            .unwrap()
            .is_none()
    );
    // Revoking again keeps the first time; an unknown id is None.
    let again = store.revoke_token(&row.id).await.unwrap().unwrap();
    assert_eq!(again.revoked.as_deref(), Some(at.as_str()));
    assert!(
        store
            .revoke_token("t-000000000000")
            .await
            .unwrap()
            .is_none()
    );
    // The revoked token stays listed.
    assert_eq!(store.list_tokens().await.unwrap(), vec![again]);
}

contract!(only_the_hash_of_a_secret_is_stored, stores_hash_only);
async fn stores_hash_only(db: &TestDb) {
    let store = db.open().await.unwrap();
    let mut secrets = Vec::new();
    for (name, role) in [
        ("甲", TokenRole::Viewer),
        ("乙", TokenRole::Editor),
        ("丙", TokenRole::Admin),
    ] {
        secrets.push(store.create_token(name, role).await.unwrap().1);
    }
    let rows = sqlx::query("SELECT id, name, role, hash, created, revoked FROM tokens")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    let mut hashes = Vec::new();
    for r in &rows {
        for col in ["id", "name", "role", "hash", "created"] {
            let v: String = r.get(col);
            for s in &secrets {
                assert!(!v.contains(s.as_str()), "column {col} holds a secret");
            }
        }
        hashes.push(r.get::<String, _>("hash"));
    }
    for s in &secrets {
        assert!(hashes.contains(&hash_secret(s)));
    }
    // Distinct secrets, distinct ids.
    secrets.sort();
    secrets.dedup();
    assert_eq!(secrets.len(), 3);
    let ids: std::collections::BTreeSet<String> =
        rows.iter().map(|r| r.get::<String, _>("id")).collect();
    assert_eq!(ids.len(), 3);
}

contract!(
    registering_a_known_hash_adds_nothing_and_revoked_stays_revoked,
    register_hash
);
async fn register_hash(db: &TestDb) {
    let store = db.open().await.unwrap();
    let hash = hash_secret("the-admin-file-token");
    let row = store
        .register_token_hash("admin", TokenRole::Admin, &hash)
        .await
        .unwrap()
        .expect("first registration adds a row");
    assert_eq!((row.name.as_str(), row.role), ("admin", TokenRole::Admin));
    assert_eq!(store.token_by_hash(&hash).await.unwrap(), Some(row.clone()));
    assert!(
        store
            .register_token_hash("admin", TokenRole::Admin, &hash)
            .await
            .unwrap()
            .is_none()
    );
    store.revoke_token(&row.id).await.unwrap();
    // A node restart registers the file's token again only if its hash is unknown: revoked stays so.
    assert!(
        store
            .register_token_hash("admin", TokenRole::Admin, &hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.token_by_hash(&hash).await.unwrap().is_none());
    assert_eq!(store.list_tokens().await.unwrap().len(), 1);
}

contract!(
    token_writes_do_not_move_the_sequence,
    tokens_do_not_replicate
);
async fn tokens_do_not_replicate(db: &TestDb) {
    let store = db.open().await.unwrap();
    let before = store.current_seq();
    let seq = store.subscribe();
    let (row, _) = store.create_token("李四", TokenRole::Viewer).await.unwrap();
    store.revoke_token(&row.id).await.unwrap();
    store
        .register_token_hash("admin", TokenRole::Admin, &hash_secret("x"))
        .await
        .unwrap();
    assert_eq!(store.current_seq(), before);
    assert!(!seq.has_changed().unwrap());
}

contract!(names_are_checked_and_defaulted, names);
async fn names(db: &TestDb) {
    let store = db.open().await.unwrap();
    let err = store
        .create_token(&"名".repeat(65), TokenRole::Viewer)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Invalid { field, .. } if field == "name"),
        "{err}"
    );
    assert!(
        store
            .create_token("bad\u{7}name", TokenRole::Viewer)
            .await
            .is_err()
    );
    let (row, _) = store.create_token("  ", TokenRole::Viewer).await.unwrap();
    assert_eq!(row.name, format!("viewer-{}", row.id));
    let (row, _) = store
        .create_token(" 王五 ", TokenRole::Admin)
        .await
        .unwrap();
    assert_eq!(row.name, "王五");
    assert_eq!(store.list_tokens().await.unwrap().len(), 2);
}

contract!(tokens_survive_a_reopen, reopen);
async fn reopen(db: &TestDb) {
    let store = db.open().await.unwrap();
    let (a, sa) = store.create_token("赵六", TokenRole::Editor).await.unwrap();
    let (b, _) = store.create_token("钱七", TokenRole::Viewer).await.unwrap();
    store.revoke_token(&b.id).await.unwrap();
    store.close().await;
    let store = db.open().await.unwrap();
    assert_eq!(
        store.token_by_hash(&hash_secret(&sa)).await.unwrap(),
        Some(a.clone())
    );
    let listed = store.list_tokens().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().any(|r| r.id == b.id && r.revoked.is_some()));
}

contract!(tokens_page_oldest_first_with_total, tokens_page);
async fn tokens_page(db: &TestDb) {
    let store = db.open().await.unwrap();
    for i in 0..5 {
        store
            .create_token(&format!("用户{i}"), TokenRole::Viewer)
            .await
            .unwrap();
    }
    let all = store.list_tokens().await.unwrap();
    assert_eq!(store.tokens_page(500, 0).await.unwrap(), (all.clone(), 5));
    assert_eq!(
        store.tokens_page(2, 1).await.unwrap(),
        (all[1..3].to_vec(), 5)
    );
    assert_eq!(
        store.tokens_page(2, 4).await.unwrap(),
        (all[4..].to_vec(), 5)
    );
    assert_eq!(store.tokens_page(2, 9).await.unwrap(), (vec![], 5));
}
