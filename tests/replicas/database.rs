//! A fresh PostgreSQL database per test, created on the server named by
//! `LABELFLOW_TEST_POSTGRES_URL` and dropped afterwards (even when the test fails).

use sqlx::{AssertSqlSafe, PgPool};
use std::io::Write;

pub const POSTGRES_URL_VAR: &str = "LABELFLOW_TEST_POSTGRES_URL";

pub struct TestDatabase {
    admin: PgPool,
    name: String,
    /// `postgres://…/<name>`: what the replicas get as `--database`.
    pub url: String,
    /// A pool on the test database, for checks the replicas' HTTP interface does not offer.
    pub pool: PgPool,
}

impl TestDatabase {
    /// `None` (after a loud notice on stderr) when no PostgreSQL server is configured.
    pub async fn create(test: &str) -> Option<TestDatabase> {
        let Ok(admin_url) = std::env::var(POSTGRES_URL_VAR) else {
            announce_skipped(test);
            return None;
        };
        let admin = PgPool::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("connecting to {POSTGRES_URL_VAR}={admin_url}: {e}"));
        let name = format!("labelflow_replicas_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("create the test database");
        let mut url = url::Url::parse(&admin_url).expect("LABELFLOW_TEST_POSTGRES_URL is a URL");
        url.set_path(&name);
        let url = url.to_string();
        let pool = PgPool::connect(&url)
            .await
            .expect("connect to the test database");
        Some(TestDatabase {
            admin,
            name,
            url,
            pool,
        })
    }

    /// Inbox rows by status (`pending`, `running`, `done`, `parked`).
    pub async fn status_count(&self, status: &str) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM inbox_events WHERE status = $1")
            .bind(status)
            .fetch_one(&self.pool)
            .await
            .expect("count inbox events")
    }

    /// Events not finished yet (pending or running); 0 before the replicas created the schema.
    pub async fn unfinished(&self) -> i64 {
        let exists: bool =
            sqlx::query_scalar("SELECT to_regclass('public.inbox_events') IS NOT NULL")
                .fetch_one(&self.pool)
                .await
                .expect("look up the inbox table");
        if !exists {
            return 0;
        }
        self.status_count("pending").await + self.status_count("running").await
    }

    /// Events leased right now to any claim loop of the process `pid` (lease owner ids are
    /// `<pid>-<random>-<loop>`).
    pub async fn leased_by_process(&self, pid: u32) -> Vec<i64> {
        sqlx::query_scalar(
            "SELECT id FROM inbox_events WHERE status = 'running' AND lease_owner LIKE $1
             ORDER BY id",
        )
        .bind(format!("{pid}-%"))
        .fetch_all(&self.pool)
        .await
        .expect("list leased events")
    }

    /// `(status, attempts)` of the given events.
    pub async fn outcomes(&self, ids: &[i64]) -> Vec<(String, i64)> {
        sqlx::query_as("SELECT status, attempts FROM inbox_events WHERE id = ANY($1) ORDER BY id")
            .bind(ids)
            .fetch_all(&self.pool)
            .await
            .expect("read event outcomes")
    }

    /// Every stored delivery id.
    pub async fn delivery_ids(&self) -> Vec<String> {
        sqlx::query_scalar("SELECT delivery_id FROM inbox_events ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .expect("list delivery ids")
    }

    /// Parked events with their reasons, for failure messages.
    pub async fn parked(&self) -> Vec<(String, Option<String>)> {
        sqlx::query_as("SELECT delivery_id, last_error FROM inbox_events WHERE status = 'parked'")
            .fetch_all(&self.pool)
            .await
            .expect("list parked events")
    }

    /// Events whose last recorded error (or, once done, the earlier failure its detail
    /// records) contains `text`.
    pub async fn errors_containing(&self, text: &str) -> i64 {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM inbox_events
             WHERE strpos(COALESCE(last_error, '') || COALESCE(detail, ''), $1) > 0",
        )
        .bind(text)
        .fetch_one(&self.pool)
        .await
        .expect("count errors")
    }

    /// `(scheduled, fired)` follow-ups.
    pub async fn followups(&self) -> (i64, i64) {
        sqlx::query_as("SELECT COUNT(*), COUNT(fired_at) FROM followups")
            .fetch_one(&self.pool)
            .await
            .expect("count follow-ups")
    }

    /// When the one follow-up of `issue_key` (`project#iid`) was due.
    pub async fn followup_due_at(&self, issue_key: &str) -> chrono::DateTime<chrono::Utc> {
        let due: i64 = sqlx::query_scalar("SELECT due_at FROM followups WHERE issue_key = $1")
            .bind(issue_key)
            .fetch_one(&self.pool)
            .await
            .expect("one follow-up per issue");
        chrono::DateTime::from_timestamp_millis(due).expect("due_at is a valid time")
    }

    /// Inbox events made from due follow-ups, by status.
    pub async fn followup_events(&self) -> Vec<(String, String)> {
        sqlx::query_as(
            "SELECT delivery_id, status FROM inbox_events WHERE event_kind = 'Followup'
             ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .expect("list follow-up events")
    }

    /// Drops the database (`WITH (FORCE)`: a killed replica may have left a session behind).
    pub async fn drop_database(self) {
        self.pool.close().await;
        let dropped = sqlx::query(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&self.admin)
        .await;
        self.admin.close().await;
        if let Err(e) = dropped {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

/// Written straight to stderr (the harness captures `eprintln!` of passing tests), so a run
/// without PostgreSQL cannot pass unnoticed.
fn announce_skipped(test: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "\n==================================================================\n\
         SKIPPED {test}: set {POSTGRES_URL_VAR} to run the replica tests\n\
         (scripts/test.sh starts a throwaway PostgreSQL and sets it)\n\
         ==================================================================\n"
    );
}
