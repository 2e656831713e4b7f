//! `@labelflow explain` end to end, and the stored decision traces behind it: one explain
//! comment per issue, edited in place when asked again; a `once` rule traced as already done
//! (by which event, when); `labelflow events show` and `events list --issue` telling the story
//! from the same records.

mod common;

use common::item::Item;
use common::shipped::{nimbus_inbound_request, shipped_config};
use common::{Harness, repo_path};
use serde_json::Value;
use std::process::{Command, Output};

const PARTNER: &str = "partner-pat";
const LEAD: &str = "example-alliances-lead";
const HEADING: &str = "### Where this issue stands";

/// `labelflow events ARGS…` on the harness's database.
fn events(h: &Harness, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_labelflow"))
        .args(["events", "--database", &h.database])
        .args(args)
        .current_dir(repo_path(""))
        .env_remove("LABELFLOW_DATABASE")
        .env_remove("RUST_LOG")
        .output()
        .expect("the labelflow binary runs")
}

fn stdout(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn explain_notes(h: &Harness, item: Item) -> Vec<(u64, String)> {
    h.bot_notes(item.p, item.iid)
        .into_iter()
        .filter(|n| n.body.contains(HEADING))
        .map(|n| (n.id, n.body))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_keeps_one_comment_and_the_records_tell_the_issues_story() {
    let mut h = Harness::start(&shipped_config()).await;
    h.add_person(PARTNER);
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

    // Anyone on the issue may ask; the answer says where the request stands.
    item.comment(h, PARTNER, "@labelflow explain").await;
    let first = explain_notes(h, item);
    assert_eq!(first.len(), 1, "{first:#?}");
    let (note_id, body) = &first[0];
    assert!(body.contains("#### Workflow `alliances`"), "{body}");
    assert!(
        body.contains("Current stage: ~\"alliances::inbound\""),
        "{body}"
    );
    assert!(
        body.contains("- ~\"alliances::lead-assigned\": ready"),
        "{body}"
    );
    assert!(body.contains("asked by `partner-pat`"), "{body}");
    // The last decisions include the opening, with the rule it fired.
    assert!(body.contains("fired alliances/inbound"), "{body}");

    item.comment(h, LEAD, "@labelflow claim").await;
    item.expect_comment(h, "**Lead assigned.**");

    // Asked again: the same comment, edited; no second one.
    item.comment(h, LEAD, "@labelflow explain").await;
    let second = explain_notes(h, item);
    assert_eq!(second.len(), 1, "{second:#?}");
    assert_eq!(
        second[0].0, *note_id,
        "the first explain comment is edited in place"
    );
    let body = &second[0].1;
    assert!(
        body.contains("Current stage: ~\"alliances::lead-assigned\""),
        "{body}"
    );
    assert!(body.contains("asked by `example-alliances-lead`"), "{body}");
    assert!(body.contains("fired alliances/claim"), "{body}");
    item.expect_comment(h, HEADING);

    // Back to inbound by hand: the `once` rule does not run again, and the trace says so.
    item.label(h, LEAD, "alliances::inbound").await;
    let issue_ref = format!("alliances/partners#{iid}");
    let story = h
        .store()
        .traces_for_issue(&issue_ref, 100)
        .await
        .expect("traces");
    let last = story.last().expect("a trace per event");
    let record: Value = serde_json::from_str(&last.body).expect("JSON");
    let inbound_rule = record["trace"]["workflows"]
        .as_array()
        .expect("workflows")
        .iter()
        .find(|w| w["workflow"] == "alliances")
        .and_then(|w| {
            w["rules"]
                .as_array()
                .expect("rules")
                .iter()
                .find(|r| r["rule"] == "inbound")
                .cloned()
        })
        .expect("the inbound rule is traced");
    assert_eq!(inbound_rule["outcome"], "once_done", "{inbound_rule}");
    let first_event = story[0].event_id;
    let reason = inbound_rule["reason"].as_str().expect("reason");
    assert!(
        reason.starts_with(&format!(
            "it runs once per issue and already ran by event {first_event} on "
        )),
        "{reason}"
    );
    assert_eq!(item.bot_comments(h), 3, "no second welcome");
    // The rule outcomes are counted by reason.
    let metrics = h.service.as_ref().expect("running").metrics.render();
    assert!(
        metrics.contains(
            "labelflow_rule_outcomes_total{workflow=\"alliances\",rule=\"inbound\",reason=\"once_done\"} 1"
        ),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("rule_outcomes"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    // The story, oldest first, from the CLI: every event with its outcome and its actions,
    // with links to the comments they made.
    let out = stdout(&events(h, &["list", "--issue", &issue_ref]));
    assert!(
        out.starts_with(&format!("{issue_ref}, oldest first:\n")),
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with("event ")).count(),
        story.len(),
        "{out}"
    );
    assert!(
        out.contains("comment on the issue (alliances/inbound): done: "),
        "{out}"
    );
    assert!(out.contains(&format!("{}#note_", item.web_url(h))), "{out}");
    assert!(
        out.contains("answer `explain` (one comment, kept up to date) (labelflow/explain): done"),
        "{out}"
    );
    for noise in ["Some(", "[\"", "{ "] {
        assert!(!out.contains(noise), "debug formatting in: {out}");
    }

    // One event, for people and for tools.
    let id = last.event_id.to_string();
    let out = stdout(&events(h, &["show", &id]));
    assert!(out.contains("outcome: done"), "{out}");
    assert!(out.contains("why:\n  workflow `alliances`:"), "{out}");
    assert!(
        out.contains(
            "rule `inbound`: not fired again: it runs once per issue and already ran by event"
        ),
        "{out}"
    );
    let json: Value = serde_json::from_str(&stdout(&events(h, &["show", &id, "--format", "json"])))
        .expect("JSON");
    assert_eq!(json["issue"], issue_ref.as_str());
    assert_eq!(json["record"]["outcome"], "done");
    assert!(json["record"]["trace"]["workflows"].is_array());

    h.finish();
}
