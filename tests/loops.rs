//! Bot loops: two rules that undo each other, with the bot's own label changes reaching the
//! rules (`bot.react_to_own_label_changes: true`). The loop guard (7 actions per issue per
//! hour in tests/configs/loops/) stops them and parks with a clear reason. The bot's own
//! comments never run commands, even when they contain one.

mod common;

use common::{Harness, repo_path};
use labelflow::sim::FaultRule;
use labelflow::store::EventStatus;
use std::time::Duration;

/// Action count the guard sees when it trips: the user's `ping` (edit: 2, comment: 1), the
/// bot's `pong` (3 more), the bot's `ping` edit (2 more) = 8 ≥ 7.
const TRIPPED_AT: i64 = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_pong_rules_are_stopped_by_the_loop_guard_and_parked_with_the_reason() {
    let mut h = Harness::start(&repo_path("tests/configs/loops/labelflow.yml")).await;
    h.add_person("alice");
    let p = h.project("board");
    let iid = h
        .sim
        .as_user("alice")
        .create_issue(p, "Loop", "Two rules that disagree.", &[])
        .expect("issue");
    h.settle().await;
    // GitLab's hook timestamps have one-second resolution, and a change's identity (in the
    // actions' idempotency keys) is built from them: the same rule re-firing on the same
    // transition within one second counts as a replay and stops a loop by itself. Slow the
    // bot's edits down so every change has its own second and only the loop guard can stop it.
    h.sim.add_fault(
        FaultRule::latency(Duration::from_millis(1100))
            .method("PUT")
            .path_regex(r"/issues/\d+$")
            .expect("regex")
            .probability(1.0, 0),
    );
    h.sim
        .as_user("alice")
        .add_labels(p, iid, &["ping"])
        .expect("label");
    h.settle().await;

    // ping (user) → pong (bot) → ping (bot, edit made, then the guard trips before its
    // comment) → pong (bot, guard trips at once). Nothing after that.
    h.expect_comment(p, iid, "Ping seen");
    h.expect_comment(p, iid, "Pong seen");
    assert_eq!(h.bot_notes(p, iid).len(), 2);
    let issue = h.sim.issue(p, iid).expect("issue");
    assert_eq!(issue.labels, vec!["pong".to_string()]);

    let parked = h
        .store()
        .list_events(Some(EventStatus::Parked), 100)
        .await
        .expect("list");
    assert_eq!(parked.len(), 2, "{parked:#?}");
    let reason = format!(
        "loop guard: {TRIPPED_AT} actions on issue {p}#{iid} in the last 60 minutes (limit 7); \
         parked so a rule loop cannot spam the issue — check the rules, then `labelflow events retry`"
    );
    for e in &parked {
        assert_eq!(e.last_error.as_deref(), Some(reason.as_str()));
        assert_eq!(e.issue_key, format!("{p}#{iid}"));
        // The decision trace says the loop guard stopped the rule, with the same reason.
        let record = h
            .store()
            .trace_get(e.id)
            .await
            .expect("trace")
            .expect("kept");
        assert_eq!(record.outcome, "parked");
        let body: serde_json::Value = serde_json::from_str(&record.body).expect("JSON");
        let rules = body["trace"]["workflows"][0]["rules"]
            .as_array()
            .expect("rules");
        let stopped: Vec<&serde_json::Value> = rules
            .iter()
            .filter(|r| r["outcome"] == "loop_guard")
            .collect();
        assert_eq!(stopped.len(), 1, "{rules:#?}");
        assert_eq!(stopped[0]["reason"], reason.as_str());
    }

    // The bot's comments carry `@labelflow claim` lines: never run as commands.
    assert_eq!(issue.assignee_ids, Vec::<u64>::new());
    h.finish();
    h.stop_service().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_the_bots_own_changes_reach_no_rule_and_its_comments_no_command() {
    let mut h = Harness::start(&repo_path("tests/configs/loops/no-self-react.yml")).await;
    h.add_person("alice");
    let p = h.project("board");
    let sim = &h.sim;
    let iid = sim
        .as_user("alice")
        .create_issue(p, "No loop", "", &[])
        .expect("issue");
    sim.as_user("alice")
        .add_labels(p, iid, &["ping"])
        .expect("label");
    h.settle().await;
    h.expect_comment(p, iid, "Ping seen");
    assert_eq!(h.bot_notes(p, iid).len(), 1);
    let issue = h.sim.issue(p, iid).expect("issue");
    assert_eq!(issue.labels, vec!["pong".to_string()]);
    assert_eq!(
        issue.assignee_ids,
        Vec::<u64>::new(),
        "the bot's `@labelflow claim` ran nothing"
    );

    // The same command from a person does run: the bot's lines were ignored for being the
    // bot's, not for being malformed.
    h.sim
        .as_user("alice")
        .comment(p, iid, "@labelflow claim")
        .expect("comment");
    h.settle().await;
    h.expect_comment(p, iid, "Claimed by @alice");
    let alice = h.sim.user("alice").expect("alice").id;
    assert_eq!(
        h.sim.issue(p, iid).expect("issue").assignee_ids,
        vec![alice]
    );
    let q = h.queue().await;
    assert_eq!(q.parked, 0);
    h.finish();
    h.stop_service().await;
}
