//! The real binary: `labelflow plan` on GitLab's documented payloads and on payloads the
//! simulated GitLab delivered (its JSON must be exactly what the live path then does),
//! `labelflow check-config` on the shipped and on broken configurations, and `labelflow demo`.

mod common;

use common::shipped::{ACME_SIGNED_REGISTRY, fill_template, issue_template, shipped_config};
use common::{Harness, repo_path};
use labelflow::actions::{marker, marker_id};
use labelflow::engine::Engine;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn labelflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_labelflow"))
        .args(args)
        .current_dir(repo_path(""))
        .env_remove("LABELFLOW_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .expect("the labelflow binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

// ───────────────────────────── plan on documented payloads ─────────────────────────────

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(repo_path(dir))
        .expect("fixture dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    out.sort();
    out
}

#[test]
fn plan_accepts_every_documented_payload_in_both_formats() {
    let docs = fixtures("tests/fixtures/gitlab-docs");
    assert_eq!(docs.len(), 3, "{docs:?}");
    let derived = fixtures("tests/fixtures/derived");
    assert!(derived.len() >= 9, "{derived:?}");
    let config = shipped_config();
    for payload in docs.iter().chain(&derived) {
        let args = ["plan", "--config", path_str(&config), path_str(payload)];
        let text = labelflow(&args);
        assert_eq!(
            text.status.code(),
            Some(0),
            "{}: {}",
            payload.display(),
            stderr(&text)
        );
        let json = labelflow(&[&args[..], &["--format", "json"]].concat());
        assert_eq!(
            json.status.code(),
            Some(0),
            "{}: {}",
            payload.display(),
            stderr(&json)
        );
        let planned: Value = serde_json::from_str(&stdout(&json))
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", payload.display()));
        let actions = planned["actions"].as_array().expect("an action list");
        // Even an empty plan says why, in JSON and in text.
        let trace = &planned["trace"];
        let explained = trace["workflows"].as_array().is_some_and(|w| !w.is_empty())
            || trace["notes"].as_array().is_some_and(|n| !n.is_empty());
        assert!(explained, "{}: no explanation: {trace}", payload.display());
        // GitLab's examples live in `gitlabhq/gitlab-test`, which no shipped workflow covers.
        assert!(actions.is_empty(), "{}: {actions:?}", payload.display());
        let out = stdout(&text);
        assert!(
            out.contains("no actions") || out.contains("labelflow ignores it"),
            "{}: {out}",
            payload.display()
        );
        assert!(
            out.contains("labelflow ignores it") || out.contains("why:\n  workflow `"),
            "{}: no explanation: {out}",
            payload.display()
        );
        assert_no_debug_formatting(&out);
    }
    // The documented issue payload is read, and the reason for the empty plan is given.
    let out = stdout(&labelflow(&[
        "plan",
        "--config",
        path_str(&config),
        path_str(&repo_path("tests/fixtures/gitlab-docs/issue_open.json")),
    ]));
    assert_eq!(
        out,
        "event: the issue was opened on gitlabhq/gitlab-test#23 by @root; labels added: ~\"Platform\"; labels removed: ~\"API\"\n\
         no actions\n\
         why:\n\
         \x20 workflow `alliances`: does not apply (the issue is in `gitlabhq/gitlab-test`; this workflow covers `alliances/partners`)\n\
         \x20 workflow `cocreate`: does not apply (the issue is in `gitlabhq/gitlab-test`; this workflow covers `co-create/opportunities`)\n\
         \x20 workflow `license`: does not apply (the issue is in `gitlabhq/gitlab-test`; this workflow covers `alliances/partners`)\n\
         \x20 workflow `mdf`: does not apply (the issue is in `gitlabhq/gitlab-test`; this workflow covers `alliances/partners`)\n\
         note: no workflow applies to project `gitlabhq/gitlab-test` (the configuration covers: alliances/partners, co-create/opportunities)\n"
    );
}

#[test]
fn plan_on_a_documented_payload_moved_into_the_opportunities_project() {
    // GitLab's labels-changed payload, in the opportunities project, for a complete
    // opportunity: the identified welcome and the customer's CLA check, nothing else.
    let text =
        std::fs::read_to_string(repo_path("tests/fixtures/derived/issue_update_labels.json"))
            .expect("fixture");
    let mut payload: Value = serde_json::from_str(&text).expect("fixture JSON");
    payload["project"]["path_with_namespace"] = Value::from("co-create/opportunities");
    let description = fill_template(
        &issue_template("co-create-opportunity.md"),
        &[
            ("Customer", "Acme Corp"),
            ("Problem", "Slow pipelines"),
            ("Product area", "Source Code"),
            ("Willingness to contribute", "High"),
            ("Ability to contribute", "3 engineers"),
            ("CSM", "@jane"),
            ("SA", "@sam"),
            ("AE", "@alex"),
        ],
    );
    payload["object_attributes"]["description"] = Value::from(description);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("payload.json");
    std::fs::write(&file, payload.to_string()).expect("write payload");
    let out = labelflow(&[
        "plan",
        "--config",
        path_str(&shipped_config()),
        path_str(&file),
        "--now",
        "2024-06-03T12:00:00Z",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let planned: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    let actions = planned["actions"].as_array().expect("an action list");
    assert_eq!(actions.len(), 2, "{actions:#?}");
    assert_eq!(actions[0]["kind"], "comment");
    assert_eq!(actions[0]["workflow"], "cocreate");
    assert_eq!(actions[0]["rule"], "identified");
    assert_eq!(actions[0]["key"], "cocreate/identified/14#23/once/0");
    let body = actions[0]["body"].as_str().expect("body");
    assert!(
        body.contains("`#cocreate-initiative-acme-corp`") && body.contains("| CSM: @jane |"),
        "{body}"
    );
    assert_eq!(actions[1]["kind"], "cla_check");
    assert_eq!(actions[1]["rule"], "identified");
    assert_eq!(actions[1]["key"], "cocreate/identified/14#23/once/1");
    assert_eq!(
        actions[1]["subjects"],
        serde_json::json!({ "company": "Acme Corp", "gitlab_users": [], "github_users": [] })
    );
    assert_eq!(actions[1]["recheck"], false);
}

/// Rust's debug formatting of strings, lists and options never reaches people.
fn assert_no_debug_formatting(out: &str) {
    for noise in ["Some(", "None,", "[\"", "\"]", "{ "] {
        assert!(!out.contains(noise), "debug formatting `{noise}` in: {out}");
    }
}

// ───────────────────────────── plan equals the live path ─────────────────────────────

/// What `labelflow plan` said, given the delivered payload and the issue as the API returned
/// it just before the service processed it.
struct Planned {
    actions: Vec<Value>,
    project: u64,
    iid: u64,
    before: common::shipped::Snapshot,
}

/// With the service stopped from processing (0 workers), `act` changes the tracker; the one
/// Issue Hook it fires and the issue are handed to `labelflow plan`. Returns the plan and the
/// tracker as it was before processing.
async fn plan_next_delivery(h: &mut Harness, act: impl FnOnce(&Harness) -> (u64, u64)) -> Planned {
    h.restart(0).await;
    let already = h.sim.deliveries().len();
    let (project, iid) = act(h);
    assert!(
        h.sim
            .wait_hooks_idle(std::time::Duration::from_secs(10))
            .await
    );
    let new: Vec<_> = h.sim.deliveries().into_iter().skip(already).collect();
    assert_eq!(new.len(), 1, "one delivery: {new:#?}");
    let delivery = &new[0];
    assert!(
        ["Issue Hook", "Note Hook"].contains(&delivery.event.as_str()),
        "{}",
        delivery.event
    );
    assert_eq!(delivery.status, Some(202), "stored for later processing");

    let dir = tempfile::tempdir().expect("temp dir");
    let payload = dir.path().join("payload.json");
    std::fs::write(&payload, &delivery.body).expect("write payload");
    let issue_json = reqwest::Client::new()
        .get(format!(
            "{}/api/v4/projects/{project}/issues/{iid}",
            h.sim.base_url()
        ))
        .header("PRIVATE-TOKEN", &h.bot_token)
        .send()
        .await
        .expect("GET issue")
        .error_for_status()
        .expect("issue found")
        .text()
        .await
        .expect("issue body");
    let issue = dir.path().join("issue.json");
    std::fs::write(&issue, issue_json).expect("write issue");
    let now = h.clock.now().to_rfc3339();
    let out = labelflow(&[
        "plan",
        "--config",
        path_str(&shipped_config()),
        path_str(&payload),
        "--issue",
        path_str(&issue),
        "--event",
        &delivery.event,
        "--now",
        &now,
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let planned: Value = serde_json::from_str(&stdout(&out)).expect("plan JSON");
    let actions = planned["actions"]
        .as_array()
        .expect("an action list")
        .clone();
    Planned {
        actions,
        project,
        iid,
        before: h.snapshot(),
    }
}

fn kinds(actions: &[Value]) -> Vec<&str> {
    actions
        .iter()
        .map(|a| a["kind"].as_str().unwrap_or("?"))
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Lets the service process the delivery, then checks that the tracker changed exactly as
/// planned: the same issues (title, description, labels, assignees, project), the same
/// comments (bodies with the created issues' addresses filled in), the same label changes,
/// assignments and follow-ups.
async fn assert_live_matches(h: &mut Harness, planned: &Planned) {
    h.restart(4).await;
    h.settle().await;
    let after = h.snapshot();
    let bot = h.sim.user("labelflow").expect("bot").id;
    let paths: BTreeMap<u64, String> = h
        .projects
        .values()
        .map(|id| {
            let any = h.sim.issues(*id);
            let path = any
                .first()
                .and_then(|i| h.sim.issue_state(*id, i.iid))
                .map(|s| s.project_path)
                .unwrap_or_default();
            (*id, path)
        })
        .collect();

    // Issues the bot opened.
    let new_issues: Vec<_> = after
        .issues
        .iter()
        .filter(|i| !planned.before.issues.iter().any(|b| b.id == i.id))
        .collect();
    let creates: Vec<&Value> = planned
        .actions
        .iter()
        .filter(|a| a["kind"] == "create_issue")
        .collect();
    assert_eq!(new_issues.len(), creates.len(), "{new_issues:#?}");
    let mut created: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (a, issue) in creates.iter().zip(&new_issues) {
        let key = a["key"].as_str().expect("key");
        assert_eq!(issue.author_id, bot);
        assert_eq!(
            paths[&issue.project_id],
            a["project"].as_str().expect("project")
        );
        assert_eq!(issue.title, a["title"].as_str().expect("title"));
        assert_eq!(
            issue.description,
            format!(
                "{}\n\n{}",
                a["description"].as_str().expect("description"),
                marker(&marker_id(key))
            )
        );
        let mut labels = issue.labels.clone();
        labels.sort();
        assert_eq!(labels, strings(&a["labels"]));
        assert_eq!(
            h.assignees(issue.project_id, issue.iid),
            strings(&a["assignees"])
        );
        assert_eq!(Value::from(issue.confidential), a["confidential"]);
        let state = h
            .sim
            .issue_state(issue.project_id, issue.iid)
            .expect("issue");
        let reference = format!("{}#{}", state.project_path, issue.iid);
        created.insert(
            a["id"].as_str().expect("id").to_string(),
            (state.web_url, reference),
        );
    }

    // Label changes the bot made on the issue.
    let titles: BTreeMap<u64, String> = h
        .sim
        .labels(planned.project)
        .into_iter()
        .map(|l| (l.id, l.title))
        .collect();
    let issue_id = h.sim.issue(planned.project, planned.iid).expect("issue").id;
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for e in after
        .label_events
        .iter()
        .filter(|e| e.issue_id == issue_id && e.user_id == bot)
        .filter(|e| !planned.before.label_events.iter().any(|b| b.id == e.id))
    {
        let title = titles[&e.label_id].clone();
        match e.action {
            labelflow::sim::LabelAction::Add => added.push(title),
            labelflow::sim::LabelAction::Remove => removed.push(title),
        }
    }
    let labels_before: Vec<String> = planned
        .before
        .issues
        .iter()
        .find(|i| i.id == issue_id)
        .map(|i| i.labels.clone())
        .unwrap_or_default();
    let labels_now = h.labels(planned.project, planned.iid);
    let mut planned_added = Vec::new();
    let mut planned_removed = Vec::new();
    // Comments as planned, in order (the executor fills in the created issues and appends
    // the action's marker).
    let mut planned_comments: Vec<ExpectedComment> = Vec::new();
    for a in &planned.actions {
        let key = a["key"].as_str().expect("key");
        match a["kind"].as_str() {
            Some("add_labels") => planned_added.extend(strings(&a["labels"])),
            Some("remove_labels") => planned_removed.extend(strings(&a["labels"])),
            Some("comment") => {
                let mut body = a["body"].as_str().expect("body").to_string();
                for (id, (url, reference)) in &created {
                    body = body
                        .replace(&format!("⟦created.{id}.web_url⟧"), url)
                        .replace(&format!("⟦created.{id}.reference⟧"), reference);
                }
                planned_comments.push(ExpectedComment::Exact(format!(
                    "{body}\n\n{}",
                    marker(&marker_id(key))
                )));
            }
            Some("cla_check") => {
                let (status, label, entered) = cla_outcome(a, &labels_before, &labels_now);
                if entered {
                    planned_added.push(label.clone());
                }
                for other in ["signed", "missing", "unknown"] {
                    let l = a["labels"][other].as_str().expect("label").to_string();
                    if l != label && labels_before.contains(&l) {
                        planned_removed.push(l);
                    }
                }
                // The outcome is the registry's; what the bot says about it is planned.
                if a["recheck"] == true || (entered && status != "signed") {
                    let template = a["comments"][status].as_str().expect("comment");
                    planned_comments.push(ExpectedComment::Filled {
                        template: template.to_string(),
                        marker: marker(&marker_id(&format!("{key}#{status}"))),
                    });
                }
            }
            _ => {}
        }
    }
    let new_comments: Vec<String> = after
        .notes
        .iter()
        .filter(|n| n.author_id == bot && !n.system)
        .filter(|n| !planned.before.notes.iter().any(|b| b.id == n.id))
        .map(|n| n.body.clone())
        .collect();
    assert_eq!(
        new_comments.len(),
        planned_comments.len(),
        "{new_comments:#?}"
    );
    for (live, expected) in new_comments.iter().zip(&planned_comments) {
        expected.assert_matches(live);
    }
    // Adding a scoped label makes GitLab drop its sibling: that removal is GitLab's, not a
    // separate action.
    let scopes: Vec<&str> = planned_added
        .iter()
        .filter_map(|l| l.rsplit_once("::").map(|(s, _)| s))
        .collect();
    removed.retain(|l| {
        planned_removed.contains(l)
            || !l
                .rsplit_once("::")
                .is_some_and(|(s, _)| scopes.contains(&s))
    });
    added.sort();
    removed.sort();
    planned_added.sort();
    planned_removed.sort();
    assert_eq!(added, planned_added, "labels added");
    assert_eq!(removed, planned_removed, "labels removed");

    // Assignments, follow-ups, state.
    let issue = h
        .sim
        .issue_state(planned.project, planned.iid)
        .expect("issue");
    let followups = h.store().list_followups(100).await.expect("follow-ups");
    for a in &planned.actions {
        match a["kind"].as_str() {
            Some("assign") => {
                for u in strings(&a["usernames"]) {
                    assert!(issue.assignees.contains(&u), "{u} assigned");
                }
            }
            Some("schedule_followup") => {
                let key = a["key"].as_str().expect("key");
                let f = followups
                    .iter()
                    .find(|f| f.key == key)
                    .unwrap_or_else(|| panic!("follow-up {key} scheduled: {followups:?}"));
                let due: chrono::DateTime<chrono::Utc> =
                    serde_json::from_value(a["due_at"].clone()).expect("due_at");
                // Planned at `--now`, executed a moment later.
                let drift = (f.due_at - due).num_seconds();
                assert!(
                    (0..120).contains(&drift),
                    "due {} vs planned {due}",
                    f.due_at
                );
            }
            Some("close") if a["target"]["type"] == "this" => {
                assert_eq!(issue.state, labelflow::sim::IssueStatus::Closed)
            }
            Some("set_confidential") => {
                assert_eq!(Value::from(issue.confidential), a["confidential"])
            }
            Some("comment" | "create_issue" | "add_labels" | "remove_labels" | "cla_check") => {}
            other => panic!("no live check for action kind {other:?}"),
        }
    }
}

/// A bot comment the plan predicts: exactly, or (CLA checks) a planned template whose
/// `⟦cla.…⟧` placeholders only the registry lookup fills in.
enum ExpectedComment {
    Exact(String),
    Filled { template: String, marker: String },
}

impl ExpectedComment {
    fn assert_matches(&self, live: &str) {
        match self {
            ExpectedComment::Exact(body) => assert_eq!(live, body),
            ExpectedComment::Filled { template, marker } => {
                let body = live
                    .strip_suffix(&format!("\n\n{marker}"))
                    .unwrap_or_else(|| panic!("{marker} ends the comment:\n{live}"));
                let mut rest = body;
                for (i, part) in template.split("⟦cla.details⟧").enumerate() {
                    for (j, piece) in part.split("⟦cla.agreements⟧").enumerate() {
                        let at = if i == 0 && j == 0 {
                            rest.starts_with(piece).then_some(0)
                        } else {
                            rest.find(piece)
                        };
                        let at = at.unwrap_or_else(|| {
                            panic!("{piece:?} of the planned comment is not in:\n{live}")
                        });
                        rest = &rest[at + piece.len()..];
                    }
                }
                assert!(rest.is_empty(), "unplanned text {rest:?} in:\n{live}");
            }
        }
    }
}

/// Which CLA label the check left on the issue: (`signed|missing|unknown`, the label,
/// whether the issue moved into it).
fn cla_outcome(a: &Value, before: &[String], now: &[String]) -> (&'static str, String, bool) {
    let found: Vec<(&'static str, String)> = ["signed", "missing", "unknown"]
        .into_iter()
        .map(|s| (s, a["labels"][s].as_str().expect("label").to_string()))
        .filter(|(_, l)| now.contains(l))
        .collect();
    assert_eq!(found.len(), 1, "one CLA label on the issue: {now:?}");
    let (status, label) = found.into_iter().next().expect("one");
    let entered = !before.contains(&label);
    (status, label, entered)
}

const OPPORTUNITY_TITLE: &str = "Acme Corp: faster merge request pipelines";

fn opportunity() -> String {
    fill_template(
        &issue_template("co-create-opportunity.md"),
        &[
            ("Customer", "Acme Corp"),
            ("Problem", "Merge request pipelines take 40 minutes."),
            ("Willingness to contribute", "High"),
            ("Ability to contribute", "3 engineers"),
            ("CSM", "@jane-csm"),
            ("SA", "@sam-sa"),
            ("AE", "@alex-ae"),
        ],
    ) + "\n/label ~\"group::source code\"\n"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_json_equals_what_the_live_path_does() {
    let mut h = Harness::start(&shipped_config()).await;
    for u in ["jane-csm", "sam-sa", "alex-ae", "partner-pat"] {
        h.add_person(u);
    }
    h.put_cla_registry(ACME_SIGNED_REGISTRY);
    let opp_project = h.project("opportunities");

    // Identified: the welcome, and the CLA check that finds Acme's agreement (no comment).
    let planned = plan_next_delivery(&mut h, |h| {
        let iid = h
            .sim
            .as_user("jane-csm")
            .create_issue(opp_project, OPPORTUNITY_TITLE, &opportunity(), &[])
            .expect("opened");
        (opp_project, iid)
    })
    .await;
    let iid = planned.iid;
    assert_eq!(kinds(&planned.actions), vec!["comment", "cla_check"]);
    assert_live_matches(&mut h, &planned).await;
    assert!(
        h.labels(opp_project, iid)
            .contains(&"cla::signed".to_string())
    );
    h.expect_comment(opp_project, iid, "**Co-Create opportunity identified.**");

    // The agreement is revoked; a recheck moves the label to missing and says why.
    h.put_cla_registry(&format!("{ACME_SIGNED_REGISTRY}    revoked: 2024-05-01\n"));
    let planned = plan_next_delivery(&mut h, |h| {
        h.sim
            .as_user("jane-csm")
            .comment(opp_project, iid, "@labelflow cla recheck")
            .expect("comment");
        (opp_project, iid)
    })
    .await;
    assert_eq!(kinds(&planned.actions), vec!["cla_check"]);
    assert_eq!(planned.actions[0]["recheck"], true);
    assert_live_matches(&mut h, &planned).await;
    assert!(
        h.labels(opp_project, iid)
            .contains(&"cla::missing".to_string())
    );
    assert!(
        !h.labels(opp_project, iid)
            .contains(&"cla::signed".to_string())
    );
    let missing = h.expect_comment(opp_project, iid, "**CLA check: missing.**");
    assert!(missing.contains("revoked"), "{missing}");

    // Qualification: a linked issue in another project, and a comment naming it.
    let planned = plan_next_delivery(&mut h, |h| {
        h.sim
            .as_user("example-cs-lead")
            .add_labels(opp_project, iid, &["cocreate::qualification"])
            .expect("label");
        (opp_project, iid)
    })
    .await;
    assert_eq!(kinds(&planned.actions), vec!["create_issue", "comment"]);
    assert_eq!(
        planned.actions[0]["project"],
        "contributor-success/co-create-triage"
    );
    assert!(
        planned.actions[1]["body"]
            .as_str()
            .is_some_and(|b| b.contains("⟦created.triage.web_url⟧")),
        "{:?}",
        planned.actions[1]
    );
    assert_live_matches(&mut h, &planned).await;
    h.expect_comment(opp_project, iid, "**Qualification started.**");

    // A premature stage: reverted to the previous one, with a comment.
    let planned = plan_next_delivery(&mut h, |h| {
        h.sim
            .as_user("jane-csm")
            .add_labels(opp_project, iid, &["cocreate::presented"])
            .expect("label");
        (opp_project, iid)
    })
    .await;
    assert_eq!(
        kinds(&planned.actions),
        vec!["remove_labels", "add_labels", "comment"]
    );
    assert_live_matches(&mut h, &planned).await;
    assert!(
        h.labels(opp_project, iid)
            .contains(&"cocreate::qualification".to_string())
    );
    h.expect_comment(
        opp_project,
        iid,
        "~\"cocreate::presented\" was applied before its prerequisites were met",
    );

    // Triage: the PMs are asked and a reminder is scheduled.
    let planned = plan_next_delivery(&mut h, |h| {
        h.sim
            .as_user("example-cs-lead")
            .add_labels(opp_project, iid, &["cocreate::triage"])
            .expect("label");
        (opp_project, iid)
    })
    .await;
    assert_eq!(
        kinds(&planned.actions),
        vec!["comment", "schedule_followup"]
    );
    assert_live_matches(&mut h, &planned).await;
    h.expect_comment(opp_project, iid, "**Triage: product buy-in needed.**");

    // A GitLab.com license request opened from its template: labels, an issue in the support
    // project, and the comment linking it.
    let alliances = h.project("alliances");
    let request = fill_template(
        &issue_template("license-request.md"),
        &[
            ("Partner", "Nimbus Cloud"),
            ("Purpose", "Build the integration."),
        ],
    )
    .replace("license-type::self-managed", "license-type::gitlab-com");
    let planned = plan_next_delivery(&mut h, |h| {
        let iid = h
            .sim
            .as_user("partner-pat")
            .create_issue(alliances, "License request: Nimbus Cloud", &request, &[])
            .expect("opened");
        (alliances, iid)
    })
    .await;
    assert_eq!(
        kinds(&planned.actions),
        vec!["add_labels", "create_issue", "comment"]
    );
    assert_live_matches(&mut h, &planned).await;
    h.expect_comment(alliances, planned.iid, "**GitLab.com license request.**");

    assert_eq!(h.queue().await.parked, 0);
    h.finish();
    h.stop_service().await;
}

// ───────────────────────────── check-config ─────────────────────────────

#[test]
fn check_config_accepts_the_shipped_configuration() {
    let config = shipped_config();
    let out = labelflow(&["check-config", "--config", path_str(&config)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let engine = Engine::load(&config).expect("shipped configuration loads");
    let rules: usize = engine
        .config
        .workflows
        .values()
        .map(|w| w.rules.len())
        .sum();
    assert_eq!(
        stdout(&out),
        format!(
            "{}: OK ({} workflows, {rules} rules, {} roles)\n",
            config.display(),
            engine.config.workflows.len(),
            engine.config.directory.roles.len()
        )
    );
    // The default `--config` is `labelflow.yml` in the working directory.
    let out = labelflow(&["check-config"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("labelflow.yml: OK ("));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// Runs `check-config` on a copy of the shipped configuration with `from` replaced by `to`
/// (and the templates edited by `edit`); returns the config path, the 1-based line of
/// `locate` in the broken text, and the output.
fn check_broken(
    from: &str,
    to: &str,
    locate: &str,
    edit: impl FnOnce(&Path),
) -> (tempfile::TempDir, PathBuf, usize, Output) {
    let shipped = std::fs::read_to_string(shipped_config()).expect("shipped config");
    assert_eq!(shipped.matches(from).count(), 1, "{from:?} occurs once");
    let text = shipped.replacen(from, to, 1);
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&repo_path("templates"), &dir.path().join("templates"));
    edit(&dir.path().join("templates"));
    let config = dir.path().join("labelflow.yml");
    std::fs::write(&config, &text).expect("write config");
    let line = text
        .lines()
        .position(|l| l.contains(locate))
        .expect("located text")
        + 1;
    let out = labelflow(&["check-config", "--config", path_str(&config)]);
    (dir, config, line, out)
}

fn assert_one_located_error(config: &Path, line: usize, out: &Output, message: &str) {
    assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
    assert_eq!(stdout(out), "");
    let err = stderr(out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    let prefix = format!("error: {}:{line}:", config.display());
    assert!(lines[0].starts_with(&prefix), "{prefix:?} in {err}");
    assert!(lines[0].contains(message), "{message:?} in {err}");
    assert_eq!(lines[1], "1 error(s); the configuration was not accepted");
}

#[test]
fn the_shipped_schema_file_is_what_labelflow_schema_prints() {
    let out = labelflow(&["schema"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let shipped = std::fs::read_to_string(repo_path("labelflow.schema.json"))
        .expect("labelflow.schema.json is shipped");
    assert!(
        stdout(&out) == shipped,
        "labelflow.schema.json is out of date: run `labelflow schema > labelflow.schema.json`"
    );
    // Every example configuration points editors at it.
    for (config, reference) in [
        ("labelflow.yml", "labelflow.schema.json"),
        (
            "examples/security/labelflow.yml",
            "../../labelflow.schema.json",
        ),
        (
            "examples/cocreate-statuses/labelflow.yml",
            "../../labelflow.schema.json",
        ),
    ] {
        let text = std::fs::read_to_string(repo_path(config)).expect("config");
        assert_eq!(
            text.lines().next(),
            Some(format!("# yaml-language-server: $schema={reference}").as_str()),
            "{config}"
        );
    }
}

#[test]
fn check_config_warnings_pass_unless_denied() {
    let (_dir, config, line, out) = check_broken(
        "      - label: \"mdf::done\"\n",
        "      - label: \"mdf::finished\"\n",
        "mdf::finished",
        |_| {},
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let warning = format!(
        "warning: {}:{line}:16: workflow `mdf` guard on `mdf::finished`: no rule, trigger, condition, stale policy or `labels:` entry mentions this label, so nothing applies it (a typo?)\n",
        config.display()
    );
    assert_eq!(stderr(&out), warning);
    assert!(
        stdout(&out).ends_with(", 1 warning(s))\n"),
        "{}",
        stdout(&out)
    );

    let out = labelflow(&[
        "check-config",
        "--deny-warnings",
        "--config",
        path_str(&config),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        format!("{warning}1 warning(s); the configuration was not accepted (--deny-warnings)\n")
    );
}

#[test]
fn check_config_rejects_an_unknown_key_with_file_and_line() {
    let (_dir, config, line, out) = check_broken(
        "      - name: done\n",
        "      - name: done\n        when: now\n",
        "when: now",
        |_| {},
    );
    assert_one_located_error(
        &config,
        line,
        &out,
        ":9: unknown field `when`, expected one of name, on, if, once, vars, do",
    );
}

#[test]
fn check_config_rejects_a_missing_template_with_file_and_line() {
    let (_dir, config, line, out) = check_broken(
        "template: mdf/done.md.hbs",
        "template: mdf/finished.md.hbs",
        "mdf/finished.md.hbs",
        |_| {},
    );
    assert_one_located_error(
        &config,
        line,
        &out,
        "workflow `mdf` rule `done`: missing template `mdf/finished.md.hbs`",
    );
}

#[test]
fn check_config_rejects_an_undefined_role_with_file_and_line() {
    let (_dir, config, line, out) = check_broken(
        "assign_roles: [corporate-development]",
        "assign_roles: [corp-dev]",
        "[corp-dev]",
        |_| {},
    );
    assert_one_located_error(
        &config,
        line,
        &out,
        "workflow `alliances` rule `acquisition`: undefined role `corp-dev` (expected one of the roles in `directory.roles`:",
    );
}

#[test]
fn check_config_rejects_a_template_with_an_unknown_variable_with_file_and_line() {
    let (_dir, config, line, out) = check_broken(
        "template: mdf/done.md.hbs",
        "template: mdf/done.md.hbs",
        "template: mdf/done.md.hbs",
        |templates| {
            let path = templates.join("mdf/done.md.hbs");
            let mut src = std::fs::read_to_string(&path).expect("read template");
            src.push_str("\nBudget owner: {{fields.budget_owner}}\n");
            std::fs::write(&path, src).expect("write template");
        },
    );
    assert_one_located_error(
        &config,
        line,
        &out,
        "workflow `mdf` rule `done`: template `mdf/done.md.hbs`:",
    );
    assert!(
        stderr(&out).contains("fields.budget_owner"),
        "{}",
        stderr(&out)
    );
}

// ───────────────────────────── demo ─────────────────────────────

#[test]
fn demo_walks_both_journeys_and_exits_zero() {
    let out = labelflow(&["demo"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in [
        "What people did:",
        "applied ~\"cocreate::onsite\"",
        "the legal team's CLA registry (legal/cla-registry, registry.yml at main) lists Acme Corp's signed agreement",
        "@labelflow                added ~\"cla::signed\"",
        "Tracker state and history",
        "co-create/opportunities#1  \"Acme Corp: faster merge request pipelines\"  [open]",
        "engineering/co-create-allocation#1",
        "contributor-success/co-create-onboarding#1",
        "co-create/onsite-planning#1",
        "alliances/partners#3  \"MDF: Nimbus Cloud workshops\"  [closed]",
        "alliances/partners#4  \"Acquisition inquiry: Tiny Tools\"  [open, confidential]",
        ", 0 parked, 0 pending",
    ] {
        assert!(
            text.contains(needle),
            "{needle:?} missing from the demo:\n{text}"
        );
    }
}
