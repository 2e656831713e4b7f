//! Deliveries that repeat, wait or come in old shapes: the same command note under a second
//! delivery id, a parked event fixed and retried, payloads of GitLab before 8.x (no `project`
//! object, no `changes`), and titles of created issues as plain text.

mod common;

use common::item::Item;
use common::shipped::{
    fill_template, issue_template, license_request, nimbus_inbound_request, shipped_config,
};
use common::{Harness, SIGNING_TOKEN, repo_path};
use labelflow::store::EventStatus;
use serde_json::Value;

const PARTNER: &str = "partner-pat";
const LEAD: &str = "example-alliances-lead";
const LICENSE_ADMIN: &str = "example-license-admin";

async fn harness() -> Harness {
    let h = Harness::start(&shipped_config()).await;
    h.add_person(PARTNER);
    h
}

/// Posts `body` to the service as GitLab does, signed, under `webhook_id`.
async fn deliver(h: &Harness, kind: &str, webhook_id: &str, body: &str) {
    let ts = h.clock.now().timestamp().to_string();
    let sig = labelflow::sim::sign(SIGNING_TOKEN, webhook_id, &ts, body).expect("signed");
    let rsp = reqwest::Client::new()
        .post(format!("http://{}/webhooks/gitlab", h.addr))
        .header("content-type", "application/json")
        .header("x-gitlab-event", kind)
        .header("webhook-id", webhook_id)
        .header("webhook-timestamp", ts)
        .header("webhook-signature", sig)
        .body(body.to_string())
        .send()
        .await
        .expect("delivered");
    assert!(
        rsp.status().is_success(),
        "delivery answered {}",
        rsp.status()
    );
    h.settle().await;
}

/// The delivery `delivery_id` ended done, and its record's detail says `text`.
async fn expect_done_with_detail(h: &Harness, delivery_id: &str, text: &str) {
    let events = h.store().list_events(None, 100).await.expect("events");
    let event = events
        .iter()
        .find(|e| e.delivery_id == delivery_id)
        .unwrap_or_else(|| panic!("delivery {delivery_id} stored"));
    assert_eq!(event.status, EventStatus::Done, "{event:?}");
    assert!(
        event.detail.as_deref().is_some_and(|d| d.contains(text)),
        "expected {text:?} in the detail of {event:?}"
    );
}

fn fixture(rel: &str) -> Value {
    let text = std::fs::read_to_string(repo_path("tests/fixtures").join(rel)).expect("fixture");
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// A legacy payload from the fixtures, pointed at `item` with `labels` as its label list.
fn legacy_payload(rel: &str, h: &Harness, item: Item, labels: &[&str]) -> String {
    let mut p = fixture(rel);
    let attrs = &mut p["object_attributes"];
    attrs["project_id"] = item.p.into();
    attrs["iid"] = item.iid.into();
    attrs["id"] = item.issue(h).id.into();
    attrs["updated_at"] = h
        .clock
        .now()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
        .into();
    p["user"]["username"] = PARTNER.into();
    let template = p["labels"][0].clone();
    p["labels"] = labels
        .iter()
        .map(|l| {
            let mut label = template.clone();
            label["title"] = (*l).into();
            label
        })
        .collect();
    p.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_note_delivered_twice_is_answered_once() {
    let mut h = harness().await;
    let h = &mut h;
    let p = h.project("alliances");
    let iid = h
        .sim
        .as_user(PARTNER)
        .create_issue(
            p,
            "Partnership request: Nimbus Cloud",
            &nimbus_inbound_request(),
            &[],
        )
        .expect("opened");
    h.settle().await;
    let item = Item { p, iid };
    item.expect_comment(h, "**Inbound alliance request received.**");
    item.comment(h, LEAD, "@labelflow claim").await;
    item.expect_comment(h, "**Lead assigned.**");

    // The claim note again, as a group hook and a project hook both deliver it, or as
    // "Resend request" does: a new delivery id, the same note.
    let note = h
        .sim
        .deliveries()
        .into_iter()
        .rfind(|d| {
            d.payload()
                .is_some_and(|p| p["object_attributes"]["note"] == "@labelflow claim")
        })
        .expect("the claim note was delivered");
    let body = note.payload().expect("payload").to_string();
    deliver(h, "Note Hook", "a-second-delivery-id", &body).await;

    assert_eq!(item.bot_comments(h), 2, "no second answer to the same note");
    assert_eq!(h.assignees(p, iid), vec![LEAD.to_string()]);
    // The record says why nothing was done.
    expect_done_with_detail(h, "a-second-delivery-id", "already handled").await;
    h.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parked_step_fixed_and_retried_runs_its_remaining_actions() {
    // A copy of the shipped configuration beside the shipped templates.
    let dir = tempfile::tempdir().expect("dir");
    std::os::unix::fs::symlink(repo_path("templates"), dir.path().join("templates"))
        .expect("templates linked");
    let config = dir.path().join("labelflow.yml");
    let shipped = std::fs::read_to_string(shipped_config()).expect("config");
    std::fs::write(&config, &shipped).expect("config written");
    let mut h = Harness::start(&config).await;
    h.add_person(PARTNER);
    // Then the directory names a license admin GitLab does not know yet: assigning them
    // gets GitLab's "no such user", a permanent failure, and the event is parked.
    let late = "late-license-admin";
    std::fs::write(&config, shipped.replace(LICENSE_ADMIN, late)).expect("config changed");
    h.restart(4).await;
    let h = &mut h;
    let p = h.project("alliances");
    let license = fill_template(
        &issue_template("license-request.md"),
        &[("Partner", "Nimbus Cloud"), ("Purpose", "Build and test.")],
    );
    let iid = h
        .sim
        .as_user(PARTNER)
        .create_issue(p, "License request", &license, &[])
        .expect("opened");
    h.settle().await;
    let item = Item { p, iid };
    let store = h.store();
    let parked = store
        .list_events(Some(EventStatus::Parked), 10)
        .await
        .expect("parked");
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert!(
        parked[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains(late)),
        "{parked:?}"
    );
    // The first action ran (the stage moved on), the rest did not.
    assert!(
        item.sorted_labels(h)
            .contains(&"license::in-progress".to_string())
    );
    assert_eq!(item.bot_comments(h), 0);

    // Someone creates the user; the operator retries the event.
    h.add_person(late);
    assert!(
        store
            .retry_parked(parked[0].id, h.clock.now())
            .await
            .expect("retry")
    );
    h.settle().await;
    assert_eq!(h.assignees(p, iid), vec![late.to_string()]);
    item.expect_comment(h, "**Self-managed license request.**");
    let event = store
        .get_event(parked[0].id)
        .await
        .expect("read")
        .expect("event");
    assert_eq!(event.status, EventStatus::Done);
    assert_eq!(
        event.last_error, None,
        "a finished event shows no old error"
    );
    h.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_without_project_takes_the_project_from_the_issue() {
    let mut h = harness().await;
    let h = &mut h;
    let p = h.project("alliances");
    h.sim.mute_hooks(true);
    let iid = h
        .sim
        .as_user(PARTNER)
        .create_issue(
            p,
            "Partnership request: Nimbus Cloud",
            &nimbus_inbound_request(),
            &[],
        )
        .expect("opened");
    h.sim.mute_hooks(false);
    let item = Item { p, iid };
    assert_eq!(
        item.sorted_labels(h),
        vec!["alliances::inbound".to_string()]
    );
    let body = legacy_payload(
        "derived/issue_legacy_no_project.json",
        h,
        item,
        &["alliances::inbound"],
    );
    deliver(h, "Issue Hook", "legacy-open", &body).await;
    item.expect_comment(h, "**Inbound alliance request received.**");
    h.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_without_changes_is_diffed_against_what_was_last_seen() {
    let mut h = harness().await;
    let h = &mut h;
    let p = h.project("alliances");
    let iid = h
        .sim
        .as_user(PARTNER)
        .create_issue(
            p,
            "Acquisition inquiry: Tiny Tools",
            "We would like to talk.",
            &[],
        )
        .expect("opened");
    h.settle().await;
    let item = Item { p, iid };
    h.sim.mute_hooks(true);
    h.sim
        .as_user(PARTNER)
        .add_labels(p, iid, &["alliances::acquisition"])
        .expect("labelled");
    h.sim.mute_hooks(false);
    let body = legacy_payload(
        "derived/issue_legacy_update_no_changes.json",
        h,
        item,
        &["alliances::acquisition"],
    );
    deliver(h, "Issue Hook", "legacy-update", &body).await;
    assert!(item.state(h).confidential, "the acquisition step ran");
    item.expect_comment(h, "**Acquisition inquiry.**");
    expect_done_with_detail(h, "legacy-update", "added ~\"alliances::acquisition\"").await;

    // An issue labelflow never saw: the change cannot be known, and the record says so.
    h.sim.mute_hooks(true);
    let unseen = h
        .sim
        .as_user(PARTNER)
        .create_issue(
            p,
            "Acquisition inquiry: Other",
            "Hello.",
            &["alliances::acquisition"],
        )
        .expect("opened");
    h.sim.mute_hooks(false);
    let other = Item { p, iid: unseen };
    let body = legacy_payload(
        "derived/issue_legacy_update_no_changes.json",
        h,
        other,
        &["alliances::acquisition"],
    );
    deliver(h, "Issue Hook", "legacy-unseen", &body).await;
    assert_eq!(other.bot_comments(h), 0);
    expect_done_with_detail(h, "legacy-unseen", "could not be known").await;
    h.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_issue_titles_are_plain_text() {
    let mut h = harness().await;
    let h = &mut h;
    let p = h.project("alliances");
    let text = license_request(
        &[
            ("Partner", "Johnson & Johnson \"R&D\" <lab>"),
            ("Purpose", "Build and test."),
            ("GitLab.com namespace", "jnj"),
        ],
        true,
    );
    let iid = h
        .sim
        .as_user(PARTNER)
        .create_issue(p, "License request", &text, &[])
        .expect("opened");
    h.settle().await;
    let item = Item { p, iid };
    item.expect_comment(h, "**GitLab.com license request.**");
    let support = h.project("plan_change_requests");
    let created = h.sim.issues(support);
    assert_eq!(created.len(), 1);
    assert!(
        created[0]
            .title
            .starts_with("Plan change request: Johnson & Johnson \"R&D\" <lab> — "),
        "{}",
        created[0].title
    );
    h.finish();
}
