//! The simulated GitLab driven the way labelflow drives GitLab: the real `gitlab` crate async
//! client over loopback HTTP, plus a webhook receiver that checks what comes back.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures::StreamExt;
use gitlab::api::common::SortOrder;
use gitlab::api::endpoint_prelude::Method;
use gitlab::api::issues::{IssueOrderBy, IssueState, ProjectIssues};
use gitlab::api::projects::issues::links::{CreateIssueLink, IssueLinks};
use gitlab::api::projects::issues::notes::{CreateIssueNote, EditIssueNote, IssueNotes};
use gitlab::api::projects::issues::{
    CreateIssue, EditIssue, Issue, IssueResourceLabelEvents, IssueStateEvent,
};
use gitlab::api::projects::labels::{CreateLabel, EditLabel, Labels};
use gitlab::api::projects::members::{AllProjectMember, AllProjectMembers};
use gitlab::api::projects::repository::files::{CreateFile, File, FileRaw, UpdateFile};
use gitlab::api::projects::{Project, hooks};
use gitlab::api::users::{CurrentUser, User, Users};
use gitlab::api::{ApiError, AsyncQuery, Endpoint, Pageable, Pagination, QueryParams};
use gitlab::{AsyncGitlab, GitlabBuilder};
use hmac::{Hmac, Mac};
use labelflow::sim::{
    FaultRule, HookConfig, RateLimit, SimGitlab, SimOptions, access, new_signing_token,
};
use serde_json::Value;
use sha2::Sha256;

const PROJECT: &str = "cocreate/opportunities";

struct World {
    sim: SimGitlab,
    project: u64,
    bot_token: String,
    /// The simulator's time source: advance it to make time pass.
    clock: labelflow::clock::Clock,
}

/// A sim with a project, a maintainer bot, a reporter and a guest.
async fn world() -> World {
    let clock = labelflow::clock::Clock::system();
    let sim_clock = clock.clone();
    let sim = SimGitlab::start(SimOptions::default().with_clock(move || sim_clock.now()))
        .await
        .expect("sim starts");
    let project = sim.add_project(PROJECT);
    let bot = sim
        .add_member(project, "labelflow-bot", access::MAINTAINER)
        .expect("project exists");
    sim.add_member(project, "alice", access::REPORTER)
        .expect("member");
    sim.add_member(project, "gus", access::GUEST)
        .expect("member");
    World {
        sim,
        project,
        bot_token: bot.token,
        clock,
    }
}

async fn client(sim: &SimGitlab, token: &str) -> AsyncGitlab {
    GitlabBuilder::new(sim.host(), token)
        .insecure()
        .build_async()
        .await
        .expect("client connects (GET /user)")
}

fn titles(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|l| l.as_str().or_else(|| l["title"].as_str()))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn fixture(name: &str) -> Value {
    let path = format!("/work/shared/fixtures/gitlab-docs/{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("fixture is JSON")
}

#[tokio::test]
async fn users_projects_and_members_answer_like_gitlab() {
    let w = world().await;
    let gl = client(&w.sim, &w.bot_token).await;

    let me: Value = CurrentUser::builder()
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(me["username"], "labelflow-bot");
    let found: Vec<Value> = Users::builder()
        .username("alice")
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let alice_id = found[0]["id"].as_u64().expect("id");
    let alice: Value = User::builder()
        .user(alice_id)
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(alice["username"], "alice");

    // By URL-encoded path, as the crate sends `cocreate%2Fopportunities`.
    let project: Value = Project::builder()
        .project(PROJECT)
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(project["id"].as_u64(), Some(w.project));
    assert_eq!(project["path_with_namespace"], PROJECT);
    assert_eq!(
        project["web_url"],
        format!("{}/{PROJECT}", w.sim.base_url())
    );

    let members: Vec<Value> = gitlab::api::paged(
        AllProjectMembers::builder()
            .project(w.project)
            .build()
            .unwrap(),
        Pagination::All,
    )
    .query_async(&gl)
    .await
    .unwrap();
    assert_eq!(members.len(), 3);
    let member: Value = AllProjectMember::builder()
        .project(w.project)
        .user(alice_id)
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(member["access_level"], 20);

    // Unknown token → 401 with GitLab's body.
    let rsp = reqwest::Client::new()
        .get(format!("{}/api/v4/user", w.sim.base_url()))
        .header("PRIVATE-TOKEN", "nope")
        .send()
        .await
        .unwrap();
    assert_eq!(rsp.status().as_u16(), 401);
    assert_eq!(
        rsp.text().await.unwrap(),
        r#"{"message":"401 Unauthorized"}"#
    );
}

#[tokio::test]
async fn issues_create_edit_with_scoped_labels_and_system_notes() {
    let w = world().await;
    let gl = client(&w.sim, &w.bot_token).await;
    let alice = w.sim.user("alice").expect("alice");

    let created: Value = CreateIssue::builder()
        .project(PROJECT)
        .title("Acme wants feature X")
        .description("Customer: Acme")
        .labels(["cocreate::identified", "group::plan"])
        .assignee_id(alice.id)
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    let iid = created["iid"].as_u64().expect("iid");
    assert_eq!(iid, 1);
    assert_eq!(created["state"], "opened");
    assert_eq!(
        titles(&created["labels"]),
        ["cocreate::identified", "group::plan"]
    );
    assert_eq!(created["assignees"][0]["username"], "alice");
    assert_eq!(created["references"]["full"], format!("{PROJECT}#1"));
    assert_eq!(
        created["web_url"],
        format!("{}/{PROJECT}/-/issues/1", w.sim.base_url())
    );

    // Adding a sibling scoped label replaces the old one.
    let edited: Value = EditIssue::builder()
        .project(w.project)
        .issue(iid)
        .add_label("cocreate::qualification")
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(
        titles(&edited["labels"]),
        ["group::plan", "cocreate::qualification"]
    );

    let closed: Value = EditIssue::builder()
        .project(w.project)
        .issue(iid)
        .remove_label("group::plan")
        .state_event(IssueStateEvent::Close)
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(closed["state"], "closed");
    assert_eq!(titles(&closed["labels"]), ["cocreate::qualification"]);

    let fetched: Value = Issue::builder()
        .project(w.project)
        .issue(iid)
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(fetched["state"], "closed");
    assert!(fetched["closed_at"].is_string());

    let system: Vec<String> = w
        .sim
        .notes(w.project, iid)
        .into_iter()
        .filter(|n| n.system)
        .map(|n| n.body)
        .collect();
    assert_eq!(
        system,
        [
            "added ~\"cocreate::qualification\" label and removed ~\"cocreate::identified\" label",
            "closed",
            "removed ~\"group::plan\" label",
        ]
    );

    let events: Vec<Value> = gitlab::api::paged(
        IssueResourceLabelEvents::builder()
            .project(w.project)
            .issue(iid)
            .build()
            .unwrap(),
        Pagination::All,
    )
    .query_async(&gl)
    .await
    .unwrap();
    let summary: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or("").to_string(),
                e["label"]["name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("add", "cocreate::identified"),
        ("add", "group::plan"),
        ("remove", "cocreate::identified"),
        ("add", "cocreate::qualification"),
        ("remove", "group::plan"),
    ]
    .iter()
    .map(|(a, l)| (a.to_string(), l.to_string()))
    .collect();
    assert_eq!(summary, expected);

    // Missing title → 400 with Grape's message; unknown issue → 404.
    let rsp = reqwest::Client::new()
        .post(format!(
            "{}/api/v4/projects/{}/issues",
            w.sim.base_url(),
            w.project
        ))
        .header("PRIVATE-TOKEN", &w.bot_token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("description=x")
        .send()
        .await
        .unwrap();
    assert_eq!(rsp.status().as_u16(), 400);
    assert_eq!(rsp.text().await.unwrap(), r#"{"error":"title is missing"}"#);
    let err: Result<Value, _> = Issue::builder()
        .project(w.project)
        .issue(99)
        .build()
        .unwrap()
        .query_async(&gl)
        .await;
    assert!(
        matches!(err, Err(ApiError::GitlabWithStatus { status, .. }) if status.as_u16() == 404)
    );
}

#[tokio::test]
async fn notes_run_quick_actions_with_the_authors_rights() {
    let w = world().await;
    let gl = client(&w.sim, &w.bot_token).await;
    let iid = w
        .sim
        .as_user("gus")
        .create_issue(
            w.project,
            "Partner request",
            "hello\n/label ~ignored",
            &["x"],
        )
        .expect("guest may open issues");
    // A guest may not set labels: neither the parameter nor the quick action applies.
    let issue = w.sim.issue(w.project, iid).expect("issue");
    assert_eq!(issue.labels, Vec::<String>::new());
    assert_eq!(issue.description, "hello\n/label ~ignored");

    // Only quick actions → 202, no visible note, actions applied as the bot.
    let rsp: Value = CreateIssueNote::builder()
        .project(w.project)
        .issue(iid)
        .body("/label ~\"needs info\" ~alliances::inbound\n/close")
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(rsp["summary"].as_array().map(Vec::len), Some(2));
    let issue = w.sim.issue(w.project, iid).expect("issue");
    assert_eq!(issue.labels, ["needs info", "alliances::inbound"]);
    assert_eq!(issue.state, labelflow::sim::IssueStatus::Closed);
    assert_eq!(
        w.sim
            .notes(w.project, iid)
            .iter()
            .filter(|n| !n.system)
            .count(),
        0
    );

    // Text plus a command: the note keeps the text; commands in code blocks stay text.
    let note: Value = CreateIssueNote::builder()
        .project(w.project)
        .issue(iid)
        .body("Reopening.\n/reopen\n```\n/label ~nope\n```")
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(note["body"], "Reopening.\n```\n/label ~nope\n```");
    assert_eq!(note["system"], false);
    let issue = w.sim.issue(w.project, iid).expect("issue");
    assert_eq!(issue.state, labelflow::sim::IssueStatus::Opened);
    assert!(!issue.labels.contains(&"nope".to_string()));

    // The guest's own `/label` is left as text in their comment.
    let guest_note = w
        .sim
        .as_user("gus")
        .comment(w.project, iid, "/label ~cla::signed")
        .expect("guest may comment");
    assert!(guest_note.is_some());
    assert!(
        !w.sim
            .issue(w.project, iid)
            .expect("issue")
            .labels
            .contains(&"cla::signed".to_string())
    );

    let note_id = note["id"].as_u64().expect("id");
    let edited: Value = EditIssueNote::builder()
        .project(w.project)
        .issue(iid)
        .note(note_id)
        .body("edited")
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(edited["body"], "edited");

    let listed: Vec<Value> = gitlab::api::paged(
        IssueNotes::builder()
            .project(w.project)
            .issue(iid)
            .sort(SortOrder::Ascending)
            .build()
            .unwrap(),
        Pagination::All,
    )
    .query_async(&gl)
    .await
    .unwrap();
    let bodies: Vec<&str> = listed.iter().filter_map(|n| n["body"].as_str()).collect();
    assert_eq!(
        bodies,
        [
            "closed",
            "added ~\"needs info\" ~\"alliances::inbound\" labels",
            "edited",
            "reopened",
            "/label ~cla::signed",
        ]
    );
}

#[tokio::test]
async fn labels_links_and_files_through_the_client() {
    let w = world().await;
    let gl = client(&w.sim, &w.bot_token).await;

    let label: Value = CreateLabel::builder()
        .project(w.project)
        .name("cla::signed")
        .color((0x00, 0x99, 0x66))
        .description("Agreement on file")
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(label["name"], "cla::signed");
    assert_eq!(label["color"], "#009966");
    let renamed: Value = EditLabel::builder()
        .project(w.project)
        .label("cla::signed")
        .new_name("cla::ok")
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(renamed["id"], label["id"]);
    assert_eq!(renamed["name"], "cla::ok");
    let labels: Vec<Value> = gitlab::api::paged(
        Labels::builder().project(w.project).build().unwrap(),
        Pagination::All,
    )
    .query_async(&gl)
    .await
    .unwrap();
    assert_eq!(labels.len(), 1);

    // Links across projects, visible from both sides.
    let triage = w.sim.add_project("contributor-success/triage");
    w.sim
        .add_member(triage, "labelflow-bot", access::MAINTAINER)
        .expect("member");
    let bot = w.sim.as_user("labelflow-bot");
    let a = bot
        .create_issue(w.project, "Opportunity", "", &[])
        .expect("issue");
    let b = bot.create_issue(triage, "Triage", "", &[]).expect("issue");
    let link: Value = CreateIssueLink::builder()
        .project(w.project)
        .issue(a)
        .target_project(triage)
        .target_issue(b)
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(link["link_type"], "relates_to");
    assert_eq!(link["target_issue"]["project_id"].as_u64(), Some(triage));
    let from_a: Vec<Value> = IssueLinks::builder()
        .project(w.project)
        .issue(a)
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    let from_b: Vec<Value> = IssueLinks::builder()
        .project(triage)
        .issue(b)
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(from_a.len(), 1);
    assert_eq!(from_a[0]["iid"].as_u64(), Some(b));
    assert_eq!(from_a[0]["project_id"].as_u64(), Some(triage));
    assert_eq!(from_b.len(), 1);
    assert_eq!(from_b[0]["project_id"].as_u64(), Some(w.project));
    let again: Result<Value, _> = CreateIssueLink::builder()
        .project(w.project)
        .issue(a)
        .target_project(triage)
        .target_issue(b)
        .build()
        .unwrap()
        .query_async(&gl)
        .await;
    assert!(
        matches!(again, Err(ApiError::GitlabWithStatus { status, .. }) if status.as_u16() == 409)
    );

    // Repository files: create, read (base64 JSON and raw), update.
    let path = "registry/cla.yml";
    let _: Value = CreateFile::builder()
        .project(w.project)
        .file_path(path)
        .branch("main")
        .content(&b"- company: Acme\n"[..])
        .commit_message("add registry")
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    let file: Value = File::builder()
        .project(w.project)
        .file_path(path)
        .ref_("main")
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(file["encoding"], "base64");
    assert_eq!(file["file_name"], "cla.yml");
    let decoded = STANDARD
        .decode(file["content"].as_str().unwrap_or(""))
        .expect("base64");
    assert_eq!(decoded, b"- company: Acme\n");
    let _: Value = UpdateFile::builder()
        .project(w.project)
        .file_path(path)
        .branch("main")
        .content(&b"- company: Globex\n"[..])
        .commit_message("update")
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    let raw = gitlab::api::raw(
        FileRaw::builder()
            .project(w.project)
            .file_path(path)
            .ref_("main")
            .build()
            .unwrap(),
    )
    .query_async(&gl)
    .await
    .unwrap();
    assert_eq!(raw, b"- company: Globex\n");
    let missing: Result<Value, _> = File::builder()
        .project(w.project)
        .file_path("nope.yml")
        .ref_("main")
        .build()
        .unwrap()
        .query_async(&gl)
        .await;
    assert!(
        matches!(missing, Err(ApiError::GitlabWithStatus { status, msg }) if status.as_u16() == 404 && msg == "404 File Not Found")
    );
}

#[tokio::test]
async fn hooks_api_needs_a_maintainer() {
    let w = world().await;
    let gl = client(&w.sim, &w.bot_token).await;
    let hook: Value = hooks::CreateHook::builder()
        .project(w.project)
        .url("http://127.0.0.1:9/hook")
        .issues_events(true)
        .token("secret")
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(hook["issues_events"], true);
    assert_eq!(hook["note_events"], false);
    assert!(hook.get("token").is_none());
    let id = hook["id"].as_u64().expect("id");
    let edited: Value = hooks::EditHook::builder()
        .project(w.project)
        .hook_id(id)
        .note_events(true)
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(edited["note_events"], true);
    let listed: Vec<Value> = hooks::Hooks::builder()
        .project(w.project)
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);

    let alice = client(&w.sim, &w.sim.user("alice").expect("alice").token).await;
    let denied: Result<Vec<Value>, _> = hooks::Hooks::builder()
        .project(w.project)
        .build()
        .unwrap()
        .query_async(&alice)
        .await;
    assert!(
        matches!(denied, Err(ApiError::GitlabWithStatus { status, .. }) if status.as_u16() == 403)
    );
}

/// `ProjectIssues` in keyset mode (the crate pages it by offset unless told otherwise).
struct KeysetIssues<'a>(ProjectIssues<'a>);

impl Endpoint for KeysetIssues<'_> {
    fn method(&self) -> Method {
        self.0.method()
    }
    fn endpoint(&self) -> Cow<'static, str> {
        self.0.endpoint()
    }
    fn parameters(&self) -> QueryParams<'_> {
        self.0.parameters()
    }
}

impl Pageable for KeysetIssues<'_> {
    fn use_keyset_pagination(&self) -> bool {
        true
    }
}

#[tokio::test]
async fn listing_filters_and_both_pagination_modes() {
    let w = world().await;
    let gl = client(&w.sim, &w.bot_token).await;
    let bot = w.sim.as_user("labelflow-bot");
    for n in 1..=45u64 {
        let labels: &[&str] = if n % 3 == 0 { &["stale"] } else { &[] };
        bot.create_issue(
            w.project,
            &format!("Item {n}"),
            &format!("body {n}"),
            labels,
        )
        .expect("issue");
        w.clock.advance(chrono::Duration::minutes(1));
    }
    bot.close(w.project, 2).expect("close");

    // Offset mode, 10 per page: 5 requests, every issue once, newest first by default.
    w.sim.clear_requests();
    let all: Vec<Value> = gitlab::api::paged(
        ProjectIssues::builder().project(w.project).build().unwrap(),
        Pagination::AllPerPageLimit(10),
    )
    .query_async(&gl)
    .await
    .unwrap();
    assert_eq!(all.len(), 45);
    assert_eq!(all[0]["iid"], 45);
    assert_eq!(all[44]["iid"], 1);
    assert_eq!(w.sim.requests().len(), 5);

    // Keyset mode through the lazy stream, oldest first, 7 per page.
    w.sim.clear_requests();
    let endpoint = KeysetIssues(
        ProjectIssues::builder()
            .project(w.project)
            .order_by(IssueOrderBy::CreatedAt)
            .sort(SortOrder::Ascending)
            .build()
            .unwrap(),
    );
    let paged = gitlab::api::paged(endpoint, Pagination::AllPerPageLimit(7));
    let iids: Vec<u64> = paged
        .iter_async::<_, Value>(&gl)
        .map(|r| r.expect("page item")["iid"].as_u64().unwrap_or(0))
        .collect()
        .await;
    assert_eq!(iids, (1..=45).collect::<Vec<u64>>());
    let reqs = w.sim.requests();
    assert_eq!(reqs.len(), 7);
    assert!(reqs[0].query.contains("pagination=keyset"));
    assert!(reqs[1].query.contains("cursor="));

    // Filters.
    let stale: Vec<Value> = gitlab::api::paged(
        ProjectIssues::builder()
            .project(w.project)
            .label("stale")
            .state(IssueState::Opened)
            .build()
            .unwrap(),
        Pagination::All,
    )
    .query_async(&gl)
    .await
    .unwrap();
    assert_eq!(stale.len(), 15);
    let closed: Vec<Value> = gitlab::api::paged(
        ProjectIssues::builder()
            .project(w.project)
            .state(IssueState::Closed)
            .build()
            .unwrap(),
        Pagination::All,
    )
    .query_async(&gl)
    .await
    .unwrap();
    assert_eq!(closed.len(), 1);
    let searched: Vec<Value> = gitlab::api::paged(
        ProjectIssues::builder()
            .project(w.project)
            .search("body 4")
            .build()
            .unwrap(),
        Pagination::All,
    )
    .query_async(&gl)
    .await
    .unwrap();
    let mut found: Vec<u64> = searched.iter().filter_map(|i| i["iid"].as_u64()).collect();
    found.sort();
    assert_eq!(found, [4, 40, 41, 42, 43, 44, 45]);

    // Raw headers of an offset page, and `not[labels]` / `None`.
    let http = reqwest::Client::new();
    let rsp = http
        .get(format!(
            "{}/api/v4/projects/{}/issues?per_page=20&page=2&not[labels]=stale",
            w.sim.base_url(),
            w.project
        ))
        .header("PRIVATE-TOKEN", &w.bot_token)
        .send()
        .await
        .unwrap();
    let h = |name: &str| {
        rsp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("<none>")
            .to_string()
    };
    assert_eq!(h("x-total"), "30");
    assert_eq!(h("x-total-pages"), "2");
    assert_eq!(h("x-page"), "2");
    assert_eq!(h("x-prev-page"), "1");
    assert_eq!(h("x-next-page"), "");
    assert!(h("link").contains("rel=\"prev\"") && h("link").contains("rel=\"last\""));
    assert!(!h("link").contains("rel=\"next\""));
    let body: Vec<Value> = rsp.json().await.unwrap();
    assert_eq!(body.len(), 10);
    let unlabeled: Vec<Value> = http
        .get(format!(
            "{}/api/v4/projects/{}/issues?labels=None&per_page=100",
            w.sim.base_url(),
            w.project
        ))
        .header("PRIVATE-TOKEN", &w.bot_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(unlabeled.len(), 30);
    let group: Vec<Value> = http
        .get(format!(
            "{}/api/v4/groups/cocreate/issues?per_page=5",
            w.sim.base_url()
        ))
        .header("PRIVATE-TOKEN", &w.bot_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(group.len(), 5);
}

#[tokio::test]
async fn faults_and_rate_limits_reach_the_client() {
    let w = world().await;
    let gl = client(&w.sim, &w.bot_token).await;
    let issue = || {
        Issue::builder()
            .project(w.project)
            .issue(1)
            .build()
            .unwrap()
    };
    w.sim
        .as_user("alice")
        .create_issue(w.project, "t", "", &[])
        .expect("issue");

    w.sim.add_fault(
        FaultRule::status(500)
            .method("GET")
            .path_contains("/issues/1")
            .times(1),
    );
    let err: Result<Value, _> = issue().query_async(&gl).await;
    assert!(
        matches!(err, Err(ApiError::GitlabWithStatus { status, .. }) if status.as_u16() == 500)
    );
    let ok: Value = issue()
        .query_async(&gl)
        .await
        .expect("rule spent after one hit");
    assert_eq!(ok["iid"], 1);

    w.sim
        .add_fault(FaultRule::too_many_requests(7).path_contains("/issues/1"));
    let limited: Result<Value, _> = issue().query_async(&gl).await;
    match limited {
        Err(ApiError::GitlabRateLimited {
            retry_after,
            rl_remaining,
            ..
        }) => {
            assert_eq!(retry_after, Duration::from_secs(7));
            assert_eq!(rl_remaining, 0);
        }
        other => panic!("expected a rate-limit error, got {other:?}"),
    }

    // A timeout: the sim holds the request; the client gives up.
    w.sim
        .add_fault(FaultRule::timeout().path_contains("/issues/1"));
    let started = std::time::Instant::now();
    let endpoint = issue();
    let held = AsyncQuery::<Value, AsyncGitlab>::query_async(&endpoint, &gl);
    let waited = tokio::time::timeout(Duration::from_millis(300), held).await;
    assert!(waited.is_err());
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(w.sim.requests().last().map(|r| r.status), Some(0));

    // Latency: answers, late.
    w.sim
        .add_fault(FaultRule::latency(Duration::from_millis(200)));
    let started = std::time::Instant::now();
    let _: Value = issue().query_async(&gl).await.expect("answers after delay");
    assert!(started.elapsed() >= Duration::from_millis(200));

    // Rate limit with GitLab's headers on every response.
    w.sim.set_rate_limit(Some(RateLimit::per_minute(2)));
    let http = reqwest::Client::new();
    let get = || {
        http.get(format!(
            "{}/api/v4/projects/{}/issues/1",
            w.sim.base_url(),
            w.project
        ))
        .header("PRIVATE-TOKEN", &w.bot_token)
        .send()
    };
    let first = get().await.unwrap();
    assert_eq!(first.status().as_u16(), 200);
    assert_eq!(first.headers()["ratelimit-limit"], "2");
    assert_eq!(
        first.headers()["ratelimit-name"],
        "throttle_authenticated_api"
    );
    assert_eq!(first.headers()["ratelimit-observed"], "1");
    assert_eq!(first.headers()["ratelimit-remaining"], "1");
    let reset: i64 = first.headers()["ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset > chrono::Utc::now().timestamp());
    assert_eq!(get().await.unwrap().status().as_u16(), 200);
    let third = get().await.unwrap();
    assert_eq!(third.status().as_u16(), 429);
    assert!(third.headers().contains_key("retry-after"));
    assert!(
        third.headers()["ratelimit-resettime"]
            .to_str()
            .unwrap()
            .ends_with(" GMT")
    );
    assert_eq!(third.headers()["ratelimit-remaining"], "0");
    assert_eq!(third.text().await.unwrap(), "Retry later");
    w.sim.set_rate_limit(None);

    let writes = w.sim.requests().iter().filter(|r| r.is_write()).count();
    assert_eq!(writes, 0, "only reads were made over HTTP");
}

/// Captured webhook requests.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>>,
}

async fn receiver() -> (Receiver, String) {
    let rx = Receiver::default();
    let store = rx.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let store = store.clone();
            async move {
                store.got.lock().unwrap().push((headers, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (rx, url)
}

fn verify(signing_token: &str, headers: &axum::http::HeaderMap, body: &str) -> bool {
    let key = STANDARD
        .decode(signing_token.trim_start_matches("whsec_"))
        .unwrap();
    let id = headers["webhook-id"].to_str().unwrap();
    let ts = headers["webhook-timestamp"].to_str().unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.{body}").as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    headers["webhook-signature"]
        .to_str()
        .unwrap()
        .split(' ')
        .any(|s| s == expected)
}

#[tokio::test]
async fn hooks_are_delivered_signed_in_gitlabs_shape() {
    let w = world().await;
    let (rx, url) = receiver().await;
    let signing = new_signing_token();
    w.sim
        .add_hook(
            w.project,
            HookConfig::issues_and_notes(url)
                .with_token("plain-secret")
                .with_signing_token(signing.clone()),
        )
        .expect("hook");
    let alice = w.sim.as_user("alice");
    let iid = alice
        .create_issue(
            w.project,
            "Partner",
            "We integrate",
            &["alliances::inbound"],
        )
        .expect("issue");
    alice.assign(w.project, iid, &["alice"]).expect("assign");
    // The bot changes labels over the REST API: GitLab fires the hook for that too.
    let gl = client(&w.sim, &w.bot_token).await;
    let _: Value = EditIssue::builder()
        .project(w.project)
        .issue(iid)
        .add_label("alliances::qualified")
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    alice.comment(w.project, iid, "Thanks!").expect("note");
    assert!(w.sim.wait_hooks_idle(Duration::from_secs(5)).await);

    let got = rx.got.lock().unwrap().clone();
    assert_eq!(got.len(), 4);
    let events: Vec<&str> = got
        .iter()
        .map(|(h, _)| h["x-gitlab-event"].to_str().unwrap())
        .collect();
    assert_eq!(
        events,
        ["Issue Hook", "Issue Hook", "Issue Hook", "Note Hook"]
    );
    for (headers, body) in &got {
        assert!(verify(&signing, headers, body), "signature verifies");
        assert_eq!(headers["x-gitlab-token"], "plain-secret");
        assert_eq!(headers["user-agent"], "GitLab/19.1.0");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers["webhook-id"], headers["idempotency-key"]);
        assert_eq!(
            headers["x-gitlab-instance"].to_str().unwrap(),
            w.sim.base_url()
        );
        assert!(
            headers.contains_key("x-gitlab-webhook-uuid")
                && headers.contains_key("x-gitlab-event-uuid")
        );
    }
    let ids: BTreeSet<&str> = got
        .iter()
        .map(|(h, _)| h["webhook-id"].to_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 4);

    // Same keys as GitLab's documented example (incident-only fields aside).
    let doc = fixture("issue_open.json");
    let update: Value = serde_json::from_str(&got[2].1).unwrap();
    assert_eq!(keys(&update), keys(&doc));
    let incident_only: BTreeSet<String> = ["escalation_status", "escalation_policy"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let doc_attrs: BTreeSet<String> = keys(&doc["object_attributes"])
        .difference(&incident_only)
        .cloned()
        .collect();
    assert_eq!(keys(&update["object_attributes"]), doc_attrs);
    assert_eq!(keys(&update["project"]), keys(&doc["project"]));
    assert_eq!(keys(&update["user"]), keys(&doc["user"]));
    assert_eq!(keys(&update["labels"][0]), keys(&doc["labels"][0]));
    assert_eq!(keys(&update["assignees"][0]), keys(&doc["assignees"][0]));
    assert_eq!(update["object_attributes"]["action"], "update");
    assert_eq!(update["user"]["username"], "labelflow-bot");
    assert_eq!(
        titles(&update["changes"]["labels"]["previous"]),
        ["alliances::inbound"]
    );
    assert_eq!(
        titles(&update["changes"]["labels"]["current"]),
        ["alliances::qualified"]
    );
    assert_eq!(
        keys(&update["changes"]["labels"]["current"][0]),
        keys(&doc["labels"][0])
    );

    let open: Value = serde_json::from_str(&got[0].1).unwrap();
    assert_eq!(open["object_attributes"]["action"], "open");
    assert!(
        open.get("assignees").is_none(),
        "no assignees key without assignees"
    );

    let note: Value = serde_json::from_str(&got[3].1).unwrap();
    let note_doc = fixture("note_on_issue.json");
    assert_eq!(keys(&note), keys(&note_doc));
    assert_eq!(
        keys(&note["object_attributes"]),
        keys(&note_doc["object_attributes"])
    );
    assert_eq!(keys(&note["issue"]), keys(&note_doc["issue"]));
    assert_eq!(note["object_attributes"]["note"], "Thanks!");

    // Confidential issues go out as confidential events.
    alice
        .set_confidential(w.project, iid, true)
        .expect("confidential");
    assert!(w.sim.wait_hooks_idle(Duration::from_secs(5)).await);
    let last = rx.got.lock().unwrap().last().cloned().expect("delivery");
    assert_eq!(last.0["x-gitlab-event"], "Confidential Issue Hook");
    let last_body: Value = serde_json::from_str(&last.1).unwrap();
    assert_eq!(last_body["event_type"], "confidential_issue");

    // Resend: same webhook-id and body, freshly signed.
    let first = w.sim.deliveries()[0].clone();
    assert_eq!(first.status, Some(200));
    assert!(w.sim.redeliver(first.id));
    assert!(w.sim.wait_hooks_idle(Duration::from_secs(5)).await);
    let resent = rx.got.lock().unwrap().last().cloned().expect("resent");
    assert_eq!(resent.0["webhook-id"].to_str().unwrap(), first.webhook_id);
    assert_eq!(resent.1, first.body);
    assert!(verify(&signing, &resent.0, &resent.1));
    assert!(w.sim.deliveries().last().is_some_and(|d| d.redelivery));

    // Paused delivery waits in the queue.
    w.sim.pause_hooks();
    alice.add_labels(w.project, iid, &["x"]).expect("label");
    assert!(!w.sim.wait_hooks_idle(Duration::from_millis(200)).await);
    assert_eq!(w.sim.pending_hooks(), 1);
    w.sim.resume_hooks();
    assert!(w.sim.wait_hooks_idle(Duration::from_secs(5)).await);
    assert_eq!(rx.got.lock().unwrap().len(), 7);
}
