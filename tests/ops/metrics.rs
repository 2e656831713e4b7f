//! `/metrics` values after a scripted sequence: a rejected delivery, a rate-limited GitLab
//! call, a processed event with one comment, a duplicate delivery and a parked event.

use crate::common::{Harness, repo_path};
use crate::scrape::scrape;
use labelflow::sim::FaultRule;

const OPPORTUNITY: &str =
    "## Customer\nAcme Corp\n\n## Problem\nSlow pipelines\n\nCSM: @jane\nSA: @sam\nAE: @alex\n";

#[tokio::test]
async fn metrics_follow_a_scripted_sequence() {
    let mut h = Harness::start(&repo_path("tests/configs/basic/labelflow.yml")).await;
    for u in ["author", "jane", "sam", "alex"] {
        h.add_person(u);
    }
    let addr = h.addr;
    let m = scrape(addr).await;
    assert_eq!(m.value("labelflow_webhooks_received_total", &[]), 0.0);
    assert!(m.value("labelflow_config_loaded_timestamp_seconds", &[]) > 1.7e9);
    // 1. A delivery without credentials is rejected (401) and counted with its reason.
    let status = reqwest::Client::new()
        .post(format!("http://{addr}/webhooks/gitlab"))
        .header("content-type", "application/json")
        .header("x-gitlab-event", "Issue Hook")
        .body("{}")
        .send()
        .await
        .expect("POST")
        .status();
    assert_eq!(status.as_u16(), 401);

    // 2. An opportunity opened with its stage label: the worker's first read of the issue is
    //    rate limited once (Retry-After: 1), then the `identified` rule posts one comment.
    let p = h.project("opportunities");
    h.sim.add_fault(
        FaultRule::too_many_requests(1)
            .method("GET")
            .path_contains("/issues/1"),
    );
    let iid = h
        .sim
        .as_user("author")
        .create_issue(
            p,
            "Acme Corp co-create",
            OPPORTUNITY,
            &["cocreate::identified"],
        )
        .expect("issue created");
    h.settle().await;
    h.expect_comment(p, iid, "#cocreate-initiative-acme-corp");

    // 3. GitLab redelivers the opening hook: a duplicate.
    let first = h.sim.deliveries()[0].id;
    assert!(h.sim.redeliver(first));
    h.settle().await;

    // 4. The next event's issue read answers 404: the event is parked.
    h.sim.add_fault(
        FaultRule::status(404)
            .method("GET")
            .path_contains("/issues/1"),
    );
    h.sim
        .as_user("author")
        .add_labels(p, iid, &["cocreate::qualification"])
        .expect("label added");
    h.settle().await;

    let deliveries = h.sim.deliveries();
    let m = scrape(addr).await;
    let issue_hooks = deliveries
        .iter()
        .filter(|d| d.event == "Issue Hook")
        .count() as f64;
    let note_hooks = deliveries.iter().filter(|d| d.event == "Note Hook").count() as f64;
    // Opened, redelivered, labelled; the bot's comment fires one Note Hook.
    assert_eq!((issue_hooks, note_hooks), (3.0, 1.0), "{deliveries:#?}");
    assert_eq!(
        m.value("labelflow_webhooks_received_total", &[]),
        1.0 + issue_hooks + note_hooks
    );
    let webhooks = |outcome: &str, reason: &str| {
        m.value(
            "labelflow_webhooks_total",
            &[("outcome", outcome), ("reason", reason)],
        )
    };
    // A signing token is configured, so an unsigned delivery is refused for want of a signature.
    assert_eq!(webhooks("rejected", "missing_signature"), 1.0);
    assert_eq!(webhooks("accepted", "Issue Hook"), 2.0);
    assert_eq!(webhooks("duplicate", "Issue Hook"), 1.0);
    assert_eq!(webhooks("accepted", "Note Hook"), 1.0);

    // Events: the opening one done, the bot's own note ignored, the labelling one parked.
    let events = |outcome: &str| m.value("labelflow_events_total", &[("outcome", outcome)]);
    assert_eq!(events("done"), 1.0, "{}", m.text);
    assert_eq!(events("ignored"), 1.0);
    assert_eq!(events("parked"), 1.0);
    assert_eq!(events("retry"), 0.0);
    assert_eq!(
        m.value(
            "labelflow_rule_events_total",
            &[
                ("workflow", "cocreate"),
                ("rule", "identified"),
                ("outcome", "done")
            ]
        ),
        1.0
    );
    assert_eq!(m.sum("labelflow_rule_events_total", &[]), 1.0);
    assert_eq!(
        m.value(
            "labelflow_actions_total",
            &[
                ("workflow", "cocreate"),
                ("rule", "identified"),
                ("kind", "comment"),
                ("outcome", "done")
            ]
        ),
        1.0
    );
    assert_eq!(
        m.value(
            "labelflow_action_duration_seconds_count",
            &[("kind", "comment")]
        ),
        1.0
    );
    assert!(
        m.value(
            "labelflow_action_duration_seconds_sum",
            &[("kind", "comment")]
        ) > 0.0
    );

    // GitLab calls: the 429, the retried read, the 404, the comment.
    let calls = |method: &str, endpoint: &str, status: &str| {
        m.value(
            "labelflow_gitlab_api_calls_total",
            &[
                ("method", method),
                ("endpoint", endpoint),
                ("status", status),
            ],
        )
    };
    assert_eq!(calls("GET", "projects/:id/issues/:id", "429"), 1.0);
    assert_eq!(calls("GET", "projects/:id/issues/:id", "200"), 1.0);
    assert_eq!(calls("GET", "projects/:id/issues/:id", "404"), 1.0);
    assert_eq!(calls("POST", "projects/:id/issues/:id/notes", "201"), 1.0);
    assert_eq!(m.value("labelflow_gitlab_rate_limit_waits_total", &[]), 1.0);
    assert_eq!(
        m.value("labelflow_gitlab_rate_limit_wait_milliseconds_total", &[]),
        1000.0
    );

    // Queue gauges, read from the store at scrape time.
    let depth = |status: &str| m.value("labelflow_queue_depth", &[("status", status)]);
    assert_eq!(
        (
            depth("pending"),
            depth("running"),
            depth("parked"),
            depth("done")
        ),
        (0.0, 0.0, 1.0, 2.0)
    );
    assert_eq!(m.value("labelflow_queue_oldest_pending_seconds", &[]), 0.0);
    h.finish();
    h.stop_service().await;
}
