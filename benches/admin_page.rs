//! How fast the operator page answers with a large history: seeds a SQLite store with
//! `LABELFLOW_BENCH_EVENTS` (default 100,000) processed events, each with a decision trace
//! recorded by the real service, then times the pages over HTTP.
//!
//! `cargo bench --bench admin_page` (release build). Prints the median and 90th percentile of
//! each page; BENCHMARKS.md has the figures.

use labelflow::admin::{AdminSettings, AdminState, router};
use labelflow::clock::Clock;
use labelflow::engine::Engine;
use labelflow::store;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// A decision trace as the service records it for a label change on the shipped configuration
/// (about the size of a real one: every workflow, every rule).
fn sample_body(engine: &Engine) -> String {
    use labelflow::domain::{Actor, Event, EventKind, IssueKey, IssueState, IssueStatus};
    let now = chrono::Utc::now();
    let issue = IssueState {
        id: 1,
        iid: 1,
        project_id: 14,
        project_path: "co-create/opportunities".into(),
        title: "Faster merge request diffs".into(),
        description: "Customer: Acme\n".into(),
        state: IssueStatus::Opened,
        labels: vec!["cocreate::triage".into()],
        assignees: vec![],
        author: "requester".into(),
        confidential: false,
        web_url: String::new(),
        created_at: now,
        updated_at: now,
        status: None,
        work_item_type: "Issue".to_string(),
        custom_fields: Default::default(),
    };
    let event = Event {
        issue: IssueKey {
            project_id: 14,
            iid: 1,
        },
        project_path: issue.project_path.clone(),
        actor: Actor {
            id: None,
            username: "example-cs-lead".into(),
        },
        kind: EventKind::Updated,
        labels_added: vec!["cocreate::triage".into()],
        labels_removed: vec!["cocreate::qualification".into()],
        title_changed: false,
        description_changed: false,
        change_id: "bench".into(),
        confidential: false,
        occurred_at: None,
        changes_unknown: false,
        labels_now: None,
        status_change: None,
    };
    let plan = labelflow::engine::plan(engine, &event, &issue, now).expect("plan");
    serde_json::json!({
        "title": issue.title,
        "outcome": "done",
        "trace": plan.trace,
        "actions": plan.actions.iter().map(|a| serde_json::json!({
            "workflow": a.workflow, "rule": a.rule, "what": a.action.to_string(), "done": true,
        })).collect::<Vec<_>>(),
    })
    .to_string()
}

async fn seed(path: &Path, n: i64, body: &str) {
    let url = format!("sqlite://{}", path.display());
    store::connect(&url)
        .await
        .expect("store")
        .migrate()
        .await
        .expect("migrated");
    let pool = sqlx::SqlitePool::connect(&url).await.expect("pool");
    let mut tx = pool.begin().await.expect("tx");
    let now = chrono::Utc::now().timestamp_millis();
    for id in 1..=n {
        let status = if id % 1000 == 0 { "parked" } else { "done" };
        sqlx::query(
            "INSERT INTO inbox_events (id, delivery_id, event_kind, issue_key, payload, status,
                 attempts, available_at, received_at, updated_at, last_error)
             VALUES ($1, $2, 'Issue Hook', $3, '{}', $4, 1, $5, $5, $5, $6)",
        )
        .bind(id)
        .bind(format!("delivery-{id}"))
        .bind(format!("14#{}", id % 5000))
        .bind(status)
        .bind(now - (n - id) * 1000)
        .bind((status == "parked").then_some("GitLab refused the request (403)"))
        .execute(&mut *tx)
        .await
        .expect("event");
        sqlx::query(
            "INSERT INTO event_traces (event_id, issue_key, issue_ref, outcome, workflows, body,
                 recorded_at) VALUES ($1, $2, $3, $4, ',cocreate,', $5, $6)",
        )
        .bind(id)
        .bind(format!("14#{}", id % 5000))
        .bind(format!("co-create/opportunities#{}", id % 5000))
        .bind(status)
        .bind(body)
        .bind(now - (n - id) * 1000)
        .execute(&mut *tx)
        .await
        .expect("trace");
    }
    tx.commit().await.expect("commit");
}

async fn time(client: &reqwest::Client, url: &str, runs: usize) -> (Duration, Duration) {
    let mut took = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let r = client.get(url).send().await.expect("answer");
        assert!(r.status().is_success(), "{url}: {}", r.status());
        let _ = r.bytes().await.expect("body");
        took.push(start.elapsed());
    }
    took.sort();
    (took[runs / 2], took[runs * 9 / 10])
}

#[tokio::main]
async fn main() {
    let n: i64 = std::env::var("LABELFLOW_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let engine = Engine::load(&root.join("labelflow.yml")).expect("shipped configuration");
    let body = sample_body(&engine);
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("bench.db");
    let started = Instant::now();
    seed(&db, n, &body).await;
    eprintln!(
        "seeded {n} events with traces of {} bytes in {:.1} s",
        body.len(),
        started.elapsed().as_secs_f64()
    );
    let store = store::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("store");
    let state = AdminState::new(
        store,
        Arc::new(RwLock::new(Arc::new(engine))),
        Clock::system(),
        Arc::new(tokio::sync::Notify::new()),
        "https://gitlab.example.com".into(),
        None,
    );
    let settings = AdminSettings {
        listen: "127.0.0.1:0".parse().expect("address"),
        token: None,
    };
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router(state)).await });
    let client = reqwest::Client::new();
    println!("operator page, {n} stored events (median / p90 of 50 requests each):");
    for path in [
        "/events",
        "/events?workflow=cocreate",
        "/events?issue=co-create%2Fopportunities%2342",
        "/events?project=co-create%2Fopportunities&status=parked",
        "/parked",
        "/events/50000",
        "/workflows",
    ] {
        let url = format!("http://{addr}{path}");
        time(&client, &url, 5).await;
        let (median, p90) = time(&client, &url, 50).await;
        println!(
            "  {path:<58} {:>7.2} ms / {:>7.2} ms",
            median.as_secs_f64() * 1000.0,
            p90.as_secs_f64() * 1000.0
        );
    }
}
