//! Databases for tests: a temporary SQLite file, or a fresh PostgreSQL database created for the test
//! and dropped after it.
//!
//! PostgreSQL tests find the server through `SAFEMESH_TEST_PG` (an admin URL such as
//! `postgres://postgres@127.0.0.1:5432/test`). When it is set, PostgreSQL is mandatory: an unreachable
//! server fails the test. When it is not set, the default URL is tried and, if nothing answers, the test
//! reports that it was skipped and why.

use std::time::Duration;

use sqlx::{AnyPool, any::AnyPoolOptions};

use crate::error::Error;
use crate::store::Store;

/// The variable that makes PostgreSQL tests mandatory.
pub const PG_ENV: &str = "SAFEMESH_TEST_PG";
const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A database that exists for one test.
pub enum TestDb {
    Sqlite {
        dir: tempfile::TempDir,
    },
    Postgres {
        admin_url: String,
        name: String,
        url: String,
    },
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        TestDb::Sqlite {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A fresh PostgreSQL database, or `None` (with the reason printed) if PostgreSQL is optional and
    /// not reachable.
    pub async fn postgres() -> Option<TestDb> {
        sqlx::any::install_default_drivers();
        let (admin_url, mandatory) = match std::env::var(PG_ENV) {
            Ok(u) if !u.is_empty() => (u, true),
            _ => (DEFAULT_PG.to_string(), false),
        };
        let admin = match connect(&admin_url).await {
            Ok(p) => p,
            Err(e) if !mandatory => {
                eprintln!(
                    "SKIPPED: PostgreSQL not reachable at {admin_url} ({e}); set {PG_ENV} to make these tests mandatory"
                );
                return None;
            }
            Err(e) => panic!("{PG_ENV}={admin_url} is set but PostgreSQL is not reachable: {e}"),
        };
        let name = format!("safemesh_t_{}", hex::encode(rand::random::<[u8; 6]>()));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("create test database");
        admin.close().await;
        let base = admin_url
            .rsplit_once('/')
            .map(|(b, _)| b.to_string())
            .unwrap_or(admin_url.clone());
        let url = format!("{base}/{name}");
        Some(TestDb::Postgres {
            admin_url,
            name,
            url,
        })
    }

    /// The URL a store opens.
    pub fn url(&self) -> String {
        match self {
            TestDb::Sqlite { dir } => format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("store.db").display()
            ),
            TestDb::Postgres { url, .. } => url.clone(),
        }
    }

    pub async fn open(&self) -> Result<Store, Error> {
        Store::open_url(&self.url()).await
    }

    /// Drops a PostgreSQL test database (SQLite's goes with its temp dir).
    pub async fn cleanup(self) {
        if let TestDb::Postgres {
            admin_url, name, ..
        } = self
            && let Ok(admin) = connect(&admin_url).await
        {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&admin)
            .await;
            admin.close().await;
        }
    }
}

async fn connect(url: &str) -> Result<AnyPool, sqlx::Error> {
    AnyPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(3))
        .connect(url)
        .await
}
