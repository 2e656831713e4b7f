//! Runs one test body against each backend: SQLite in a temp directory (always), PostgreSQL in
//! a fresh database created and dropped per test (when `LABELFLOW_TEST_POSTGRES_URL` is set).

use chrono::{DateTime, Duration, Utc};
use futures::FutureExt;
use labelflow::store::{DynStore, NewInboxEvent, connect};
use sqlx::{AssertSqlSafe, PgPool, SqlitePool};
use std::future::Future;
use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::sync::Once;

pub const POSTGRES_URL_VAR: &str = "LABELFLOW_TEST_POSTGRES_URL";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// One test's database. `open` may be called several times: each call is a separate store
/// (for PostgreSQL a separate pool, standing in for a replica).
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn open(&self) -> DynStore {
        match connect(&self.url).await {
            Ok(store) => store,
            Err(e) => panic!("opening {:?} store at {}: {e}", self.backend, self.url),
        }
    }

    /// Direct SQL for checks the store interface does not offer (migration records, bulk
    /// fixtures). Returns the first column of the first row as i64.
    pub async fn scalar(&self, sql: &str) -> i64 {
        match self.backend {
            Backend::Sqlite => {
                let pool = SqlitePool::connect(&self.url).await.expect("raw sqlite");
                let v = sqlx::query_scalar(AssertSqlSafe(sql.to_string()))
                    .fetch_one(&pool)
                    .await
                    .expect("raw sqlite query");
                pool.close().await;
                v
            }
            Backend::Postgres => {
                let pool = PgPool::connect(&self.url).await.expect("raw postgres");
                let v = sqlx::query_scalar(AssertSqlSafe(sql.to_string()))
                    .fetch_one(&pool)
                    .await
                    .expect("raw postgres query");
                pool.close().await;
                v
            }
        }
    }

    /// Runs statements directly (bulk fixtures).
    pub async fn execute(&self, sql: &str) {
        match self.backend {
            Backend::Sqlite => {
                let pool = SqlitePool::connect(&self.url).await.expect("raw sqlite");
                sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
                    .execute(&pool)
                    .await
                    .expect("raw sqlite statement");
                pool.close().await;
            }
            Backend::Postgres => {
                let pool = PgPool::connect(&self.url).await.expect("raw postgres");
                sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
                    .execute(&pool)
                    .await
                    .expect("raw postgres statement");
                pool.close().await;
            }
        }
    }
}

pub async fn with_sqlite<F, Fut>(test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("labelflow.db").display());
    test(TestDb {
        backend: Backend::Sqlite,
        url,
        _dir: Some(dir),
    })
    .await;
}

pub async fn with_postgres<F, Fut>(test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    let Ok(admin_url) = std::env::var(POSTGRES_URL_VAR) else {
        announce_postgres_skipped();
        return;
    };
    let name = format!("labelflow_test_{}", uuid::Uuid::new_v4().simple());
    let admin = PgPool::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("connecting to {POSTGRES_URL_VAR}={admin_url}: {e}"));
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .expect("create test database");
    let mut url = url::Url::parse(&admin_url).expect("LABELFLOW_TEST_POSTGRES_URL is a URL");
    url.set_path(&name);
    let outcome = AssertUnwindSafe(test(TestDb {
        backend: Backend::Postgres,
        url: url.to_string(),
        _dir: None,
    }))
    .catch_unwind()
    .await;
    let dropped = sqlx::query(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&admin)
    .await;
    admin.close().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    dropped.expect("drop test database");
}

/// Written straight to stderr (not through `eprintln!`, which the test harness captures), once
/// per test binary, so a run without PostgreSQL cannot pass unnoticed.
fn announce_postgres_skipped() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "\n==================================================================\n\
             SKIPPED: set {POSTGRES_URL_VAR} to run the PostgreSQL store tests\n\
             (scripts/pg.sh start DIR prints a URL to use)\n\
             ==================================================================\n"
        );
    });
}

/// A fixed base time, so tests control the clock exactly.
pub fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_700_000_000_000).expect("valid base time")
}

pub fn at(offset: Duration) -> DateTime<Utc> {
    t0() + offset
}

/// The store treats payloads as opaque text; this one only has to be recognisable.
pub fn event(delivery_id: &str, issue_key: &str) -> NewInboxEvent {
    NewInboxEvent {
        delivery_id: delivery_id.to_string(),
        event_kind: "Issue Hook".to_string(),
        issue_key: issue_key.to_string(),
        payload: format!("{{\"delivery\":\"{delivery_id}\"}}"),
        received_at: t0(),
    }
}
