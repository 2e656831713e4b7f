//! `/readyz`: 200 while the store answers with its migrations applied, 503 otherwise;
//! `/healthz` stays 200 (liveness only) throughout.

use crate::common::{Harness, repo_path, settings};
use labelflow::clock::Clock;
use labelflow::service;
use labelflow::sim::{SimGitlab, SimOptions};
use sqlx::{AssertSqlSafe, PgPool, SqlitePool};
use std::net::SocketAddr;
use std::time::Duration;

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let r = reqwest::get(format!("http://{addr}{path}"))
        .await
        .expect("GET");
    let status = r.status().as_u16();
    (status, r.text().await.expect("body"))
}

/// Polls `/readyz` until it answers `want` (the store's pool may need a moment to notice).
async fn wait_ready_status(addr: SocketAddr, want: u16) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = get(addr, "/readyz").await;
        if status == want {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/readyz stayed {status} ({body}), wanted {want}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn readyz_is_503_when_migrations_are_missing_on_sqlite() {
    let mut h = Harness::start(&repo_path("tests/configs/basic/labelflow.yml")).await;
    assert_eq!(get(h.addr, "/readyz").await, (200, "ready\n".to_string()));

    let pool = SqlitePool::connect(&format!("sqlite://{}", h.database))
        .await
        .expect("open the service's database");
    sqlx::query("DELETE FROM labelflow_schema_migrations")
        .execute(&pool)
        .await
        .expect("forget the migrations");
    let (status, body) = get(h.addr, "/readyz").await;
    assert_eq!(status, 503);
    assert!(
        body.starts_with("store not ready: migration failed: schema version 0 is behind"),
        "{body}"
    );
    assert!(body.contains("migrations not applied"), "{body}");
    assert_eq!(get(h.addr, "/healthz").await.0, 200);
    pool.close().await;
    h.stop_service().await;
}

#[tokio::test]
async fn readyz_is_503_while_postgres_refuses_connections() {
    let Some(admin_url) = std::env::var("LABELFLOW_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
    else {
        eprintln!(
            "SKIPPED readyz_is_503_while_postgres_refuses_connections: LABELFLOW_TEST_POSTGRES_URL is not set (scripts/test.sh sets it)"
        );
        return;
    };
    let admin = PgPool::connect(&admin_url).await.expect("admin connection");
    let db = format!("lf_readyz_{}", uuid::Uuid::new_v4().simple());
    let run = |sql: String| {
        let admin = admin.clone();
        async move {
            sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(&admin)
                .await
                .expect("admin statement");
        }
    };
    run(format!("CREATE DATABASE {db}")).await;
    let mut url = url::Url::parse(&admin_url).expect("postgres url");
    url.set_path(&format!("/{db}"));

    let sim = SimGitlab::start(SimOptions::default()).await.expect("sim");
    let bot = sim.add_user("labelflow");
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let s = settings(
        &sim,
        &bot.token,
        &repo_path("tests/configs/basic/labelflow.yml"),
        url.as_str(),
        addr,
        Clock::system(),
        1,
    );
    let running = service::start(s)
        .await
        .expect("service starts on PostgreSQL");
    let addr = running.addr;
    assert_eq!(get(addr, "/readyz").await, (200, "ready\n".to_string()));

    // The database stops accepting connections and drops the open ones.
    run(format!("ALTER DATABASE {db} WITH ALLOW_CONNECTIONS false")).await;
    run(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'"
    ))
    .await;
    let body = wait_ready_status(addr, 503).await;
    assert!(body.starts_with("store not ready: "), "{body}");
    assert_eq!(
        get(addr, "/healthz").await.0,
        200,
        "liveness is not readiness"
    );

    run(format!("ALTER DATABASE {db} WITH ALLOW_CONNECTIONS true")).await;
    assert_eq!(wait_ready_status(addr, 200).await, "ready\n");

    running.shutdown().await;
    run(format!("DROP DATABASE {db} WITH (FORCE)")).await;
    admin.close().await;
}
