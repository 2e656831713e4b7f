//! Work item statuses and types end to end: people change statuses and open tasks and
//! incidents in the simulated GitLab, which fires `issue` / `work_item` webhooks (with
//! `changes.status`) at the real service; the service re-reads the item through GraphQL and
//! sets statuses with `workItemUpdate`, through the same retry policy as REST.

mod common;

use common::{Harness, repo_path};
use labelflow::sim::{FaultKind, FaultRule, IssueStatus};

const DEV: &str = "dana-dev";

async fn harness() -> Harness {
    let h = Harness::start(&repo_path("tests/configs/statuses/labelflow.yml")).await;
    h.add_person(DEV);
    h
}

/// Bodies of the status-carrying webhooks the simulator delivered (first deliveries only).
fn status_changes(h: &Harness) -> Vec<serde_json::Value> {
    h.sim
        .deliveries()
        .into_iter()
        .filter(|d| !d.redelivery)
        .filter_map(|d| serde_json::from_str::<serde_json::Value>(&d.body).ok())
        .filter(|b| b["changes"]["status"].is_object())
        .collect()
}

fn graphql_answers(h: &Harness) -> Vec<u16> {
    h.sim
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/graphql")
        .map(|r| r.status)
        .collect()
}

#[tokio::test]
async fn a_status_change_runs_a_rule() {
    let mut h = harness().await;
    let p = h.project("delivery");
    let iid = h
        .sim
        .as_user(DEV)
        .create_issue(p, "Ship the importer", "", &[])
        .unwrap();
    h.settle().await;
    assert_eq!(
        h.sim.issue(p, iid).unwrap().status.map(|s| s.name),
        Some("To do".to_string()),
        "new issues get the lifecycle's first open status"
    );

    h.sim
        .as_user(DEV)
        .set_status(p, iid, "In progress")
        .unwrap();
    h.settle().await;
    h.expect_comment(
        p,
        iid,
        "Work started: the status moved to \"In progress\" (in_progress).",
    );

    // To "Done" (reviewed, so its guard passes): the `started` rule waits for "In progress"
    // only; the issue closes.
    h.sim
        .as_user(DEV)
        .add_labels(p, iid, &["reviewed"])
        .unwrap();
    h.sim.as_user(DEV).set_status(p, iid, "Done").unwrap();
    h.settle().await;
    assert_eq!(h.sim.issue(p, iid).unwrap().state, IssueStatus::Closed);
    assert_eq!(h.bot_notes(p, iid).len(), 1);
    // The re-read went through GraphQL (REST has no status).
    assert!(graphql_answers(&h).contains(&200));
    h.finish();
}

#[tokio::test]
async fn a_rule_sets_a_status_and_a_custom_field_through_graphql_exactly_once_under_429_and_5xx() {
    let mut h = harness().await;
    let p = h.project("delivery");
    let stage = h.sim.add_custom_field(
        "acme",
        "Stage",
        "SINGLE_SELECT",
        &["New", "Accepted"],
        &["Issue"],
    );
    let iid = h
        .sim
        .as_user(DEV)
        .create_issue(p, "Ship the exporter", "", &[])
        .unwrap();
    h.settle().await;
    h.sim.clear_requests();

    // The worker's GraphQL re-read is rate limited once; then the status mutation (the fourth
    // GraphQL request: re-read, check before set, lifecycle, mutation) is applied by GitLab
    // but answered 500, so the client retries an already applied `workItemUpdate`.
    h.sim.add_fault(
        FaultRule::new(FaultKind::TooManyRequests {
            retry_after: Some(1),
            rate_limit_headers: true,
        })
        .path_contains("/api/graphql"),
    );
    h.sim.add_fault(
        FaultRule::new(FaultKind::StatusAfterApply(500))
            .path_contains("/api/graphql")
            .after(3),
    );
    // And the custom field mutation (after the status retry and the field's check before
    // set), the same way.
    h.sim.add_fault(
        FaultRule::new(FaultKind::StatusAfterApply(500))
            .path_contains("/api/graphql")
            .after(5),
    );

    h.sim.as_user(DEV).add_labels(p, iid, &["ready"]).unwrap();
    h.settle().await;

    // Re-read: 429, then 200; check before set and lifecycle: 200, 200; the mutation: applied
    // but 500; its retry: 200 (the status is already set, so GitLab changes nothing). Then the
    // field: check before set 200, mutation applied but 500, retry 200.
    assert_eq!(
        graphql_answers(&h),
        [429, 200, 200, 200, 500, 200, 200, 500, 200]
    );
    let field_changes = h.sim.field_changes();
    assert_eq!(field_changes.len(), 1, "{field_changes:#?}");
    assert_eq!(field_changes[0].field, stage.gid);
    assert_eq!(
        field_changes[0].value,
        serde_json::json!([stage.options[1].0.clone()])
    );
    let issue = h.sim.issue(p, iid).unwrap();
    assert_eq!(issue.status.map(|s| s.name), Some("In progress".into()));
    let changes = status_changes(&h);
    assert_eq!(
        changes.len(),
        1,
        "the status was set once (one webhook with changes.status): {changes:#?}"
    );
    assert_eq!(changes[0]["user"]["username"], "labelflow");
    assert_eq!(changes[0]["changes"]["status"]["previous"]["name"], "To do");
    assert_eq!(
        changes[0]["changes"]["status"]["current"]["name"],
        "In progress"
    );
    h.expect_comment(
        p,
        iid,
        "dana-dev marked this ready, so labelflow set the status to \"In progress\".",
    );

    // Replaying every delivery changes nothing: no second status change, no second comment.
    for d in h.sim.deliveries() {
        assert!(h.sim.redeliver(d.id));
    }
    h.settle().await;
    assert_eq!(status_changes(&h).len(), 1);
    assert_eq!(h.sim.field_changes().len(), 1);
    h.finish();
}

#[tokio::test]
async fn tasks_and_incidents_arrive_as_work_items_and_run_their_own_workflows() {
    let mut h = harness().await;
    let p = h.project("delivery");
    let task = h
        .sim
        .as_user(DEV)
        .create_work_item(p, "Task", "Write the migration", "")
        .unwrap();
    let incident = h
        .sim
        .as_user(DEV)
        .create_work_item(p, "Incident", "Importer down", "")
        .unwrap();
    h.settle().await;

    let kinds: Vec<String> = h
        .sim
        .deliveries()
        .iter()
        .filter_map(|d| serde_json::from_str::<serde_json::Value>(&d.body).ok())
        .filter(|b| b["object_attributes"]["action"] == "open")
        .map(|b| format!("{}/{}", b["object_kind"], b["object_attributes"]["type"]))
        .collect();
    assert_eq!(
        kinds,
        ["\"work_item\"/\"Task\"", "\"work_item\"/\"Incident\""],
        "GitLab sends other types as `work_item`"
    );

    h.expect_comment(p, task, "Task opened: this Task follows the task workflow.");
    h.expect_comment(p, incident, "Incident opened: this Incident is in triage.");
    assert!(h.sim.issue(p, incident).unwrap().labels == ["incident::triage"]);
    assert!(h.sim.issue(p, task).unwrap().labels.is_empty());

    // The task's own status rule: done closes it and runs `task-done`.
    h.sim.as_user(DEV).set_status(p, task, "Done").unwrap();
    h.settle().await;
    h.expect_comment(p, task, "Task finished: \"Done\".");
    assert_eq!(h.sim.issue(p, task).unwrap().state, IssueStatus::Closed);
    // Incidents have no status widget.
    assert!(h.sim.issue(p, incident).unwrap().status.is_none());
    h.finish();
}

#[tokio::test]
async fn a_guard_reverts_a_premature_status_to_the_previous_one_and_says_why() {
    let mut h = harness().await;
    let p = h.project("delivery");
    let iid = h
        .sim
        .as_user(DEV)
        .create_issue(p, "Ship the scheduler", "", &[])
        .unwrap();
    h.sim
        .as_user(DEV)
        .set_status(p, iid, "In progress")
        .unwrap();
    h.settle().await;
    h.expect_comment(p, iid, "Work started");

    // Done before the review: back to "In progress" (which reopens it), with the reason.
    h.sim.as_user(DEV).set_status(p, iid, "Done").unwrap();
    h.settle().await;
    let issue = h.sim.issue(p, iid).unwrap();
    assert_eq!(issue.status.map(|s| s.name), Some("In progress".into()));
    assert_eq!(issue.state, IssueStatus::Opened);
    let body = h.expect_comment(
        p,
        iid,
        "the status \"Done\" was set before its prerequisites were met, so I moved the item back to \"In progress\".",
    );
    assert!(body.contains("- a review (the ~reviewed label)"), "{body}");
    // The bot's revert is no new "started" (its own change triggers nothing).
    assert_eq!(h.bot_notes(p, iid).len(), 2);

    // With the review, Done stays.
    h.sim
        .as_user(DEV)
        .add_labels(p, iid, &["reviewed"])
        .unwrap();
    h.sim.as_user(DEV).set_status(p, iid, "Done").unwrap();
    h.settle().await;
    let issue = h.sim.issue(p, iid).unwrap();
    assert_eq!(issue.status.map(|s| s.name), Some("Done".into()));
    assert_eq!(issue.state, IssueStatus::Closed);
    assert_eq!(h.bot_notes(p, iid).len(), 2);
    h.finish();
}

#[tokio::test]
async fn a_restricted_status_set_by_the_wrong_role_is_reverted() {
    let mut h = harness().await;
    let p = h.project("delivery");
    let iid = h
        .sim
        .as_user(DEV)
        .create_issue(p, "Drop the legacy API", "", &[])
        .unwrap();
    h.settle().await;

    h.sim.as_user(DEV).set_status(p, iid, "Won't do").unwrap();
    h.settle().await;
    let issue = h.sim.issue(p, iid).unwrap();
    assert_eq!(issue.status.map(|s| s.name), Some("To do".into()));
    assert_eq!(issue.state, IssueStatus::Opened);
    h.expect_comment(
        p,
        iid,
        "the status \"Won't do\" can only be set by the leads role (`lead`), so I moved the item back to \"To do\".",
    );

    // The lead may.
    h.sim
        .as_user("lead")
        .set_status(p, iid, "Won't do")
        .unwrap();
    h.settle().await;
    let issue = h.sim.issue(p, iid).unwrap();
    assert_eq!(issue.status.map(|s| s.name), Some("Won't do".into()));
    assert_eq!(issue.state, IssueStatus::Closed);
    assert_eq!(h.bot_notes(p, iid).len(), 1);
    h.finish();
}

#[tokio::test]
async fn fields_read_from_custom_fields_pass_a_required_fields_check_the_description_fails() {
    let mut h = harness().await;
    let p = h.project("delivery");
    h.sim
        .add_custom_field("acme", "Budget", "NUMBER", &[], &["Issue"]);
    h.sim.add_custom_field(
        "acme",
        "Region",
        "SINGLE_SELECT",
        &["EMEA", "AMER"],
        &["Issue"],
    );
    // The description names the customer but leaves the budget empty.
    let description = "Customer: Acme Corp\nBudget: \n";

    let with_fields = h
        .sim
        .as_user(DEV)
        .create_issue(p, "Acme rollout", description, &[])
        .unwrap();
    // Settled first: an `opened` event planned after the label arrived would count as
    // "opened with the label" (`fields_completed` counts an `opened` event as its arrival).
    h.settle().await;
    h.sim
        .as_user(DEV)
        .set_custom_field(p, with_fields, "Budget", "25000")
        .unwrap();
    h.sim
        .as_user(DEV)
        .set_custom_field(p, with_fields, "Region", "EMEA")
        .unwrap();
    h.sim
        .as_user(DEV)
        .add_labels(p, with_fields, &["request::new"])
        .unwrap();

    let description_only = h
        .sim
        .as_user(DEV)
        .create_issue(p, "Globex rollout", description, &[])
        .unwrap();
    h.settle().await;
    h.sim
        .as_user(DEV)
        .add_labels(p, description_only, &["request::new"])
        .unwrap();
    h.settle().await;

    h.expect_comment(
        p,
        with_fields,
        "Request complete: Acme Corp, budget 25000 (EMEA).",
    );
    assert!(
        !h.sim
            .issue(p, with_fields)
            .unwrap()
            .labels
            .contains(&"needs-info".to_string())
    );

    let body = h.expect_comment(p, description_only, "missing information");
    assert!(body.contains("- **Budget**"), "{body}");
    assert!(body.contains("- **a budget above zero**"), "{body}");
    assert!(!body.contains("**Customer**"), "{body}");
    assert!(
        h.sim
            .issue(p, description_only)
            .unwrap()
            .labels
            .contains(&"needs-info".to_string())
    );
    h.finish();
}

#[tokio::test]
async fn setup_reports_the_statuses_the_lifecycle_lacks_and_creates_none() {
    use labelflow::forge::{GitlabForge, RetryPolicy};
    use labelflow::setup::{self, SetupOptions};
    use labelflow::sim::{SimGitlab, SimOptions, SimStatus, access, system_defined_statuses};

    let sim = SimGitlab::start(SimOptions::default()).await.unwrap();
    let project = sim.add_project("acme/delivery");
    let admin = sim
        .add_member(project, "admin", access::MAINTAINER)
        .unwrap();
    let forge = GitlabForge::connect(
        &sim.base_url(),
        &admin.token,
        RetryPolicy::default(),
        labelflow::metrics::Metrics::new(),
    )
    .await
    .unwrap();
    let engine =
        labelflow::engine::Engine::load(&repo_path("tests/configs/statuses/labelflow.yml"))
            .unwrap();
    let options = SetupOptions {
        project: "acme/delivery".to_string(),
        dry_run: true,
        ..SetupOptions::default()
    };

    // The system-defined lifecycle has every status the configuration names.
    let report = setup::run(forge.client(), &engine, &options).await.unwrap();
    let about_statuses = |r: &setup::SetupReport| -> Vec<String> {
        r.warnings
            .iter()
            .filter(|w| w.contains("status lifecycle"))
            .cloned()
            .collect()
    };
    assert!(about_statuses(&report).is_empty(), "{:?}", report.warnings);

    // A custom lifecycle without "Won't do": named, and nothing is created.
    let without: Vec<SimStatus> = system_defined_statuses()
        .into_iter()
        .filter(|s| s.name != "Won't do")
        .collect();
    sim.set_lifecycle("acme", without);
    sim.clear_requests();
    let report = setup::run(forge.client(), &engine, &options).await.unwrap();
    assert_eq!(
        about_statuses(&report),
        [
            "the status \"Won't do\" is used by the configuration but not in the status lifecycle \
          of acme/delivery; statuses belong to the top-level group's settings, so setup does \
          not create them (add it there)"
        ]
    );
    assert!(
        sim.requests()
            .iter()
            .all(|r| r.method == "GET" || r.path == "/api/graphql")
    );
}
