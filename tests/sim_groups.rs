//! The simulated GitLab's groups, protected branches and hook fields, through the real `gitlab`
//! client, checked against GitLab's REST docs: Labels API (`include_ancestor_groups` defaults
//! to true; `is_project_label`), Group labels API, Members API (`members/all` includes
//! inherited members), Protected branches API (the default branch protected for Maintainers;
//! listing the rules needs Maintainer, gitlabhq `app/policies/protected_branch_policy.rb`),
//! Branches API (`protected`, `developers_can_push`, `can_push`), Repository files API (400 "You are not allowed to push into this branch"), Project
//! webhooks API (`push_events` defaults to true; `token_present`, `signing_token_present`).

use gitlab::api::projects::hooks::CreateHook;
use gitlab::api::projects::labels::Labels;
use gitlab::api::projects::members::AllProjectMember;
use gitlab::api::projects::protected_branches::ProtectedBranches;
use gitlab::api::projects::repository::branches::Branch;
use gitlab::api::projects::repository::files::CreateFile;
use gitlab::api::{ApiError, AsyncQuery, Pagination};
use gitlab::{AsyncGitlab, GitlabBuilder};
use labelflow::sim::{SimGitlab, SimOptions, access};
use serde_json::Value;

async fn client(sim: &SimGitlab, token: &str) -> AsyncGitlab {
    GitlabBuilder::new(sim.host(), token)
        .insecure()
        .build_async()
        .await
        .expect("client connects (GET /user)")
}

fn field(v: &Value, key: &str) -> Vec<Value> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x[key].clone())
        .collect()
}

#[tokio::test]
async fn projects_inherit_group_labels_and_roles() {
    let sim = SimGitlab::start(SimOptions::default()).await.expect("sim");
    let top = sim.add_group("co-create");
    let project = sim.add_project("co-create/sub/opportunities");
    sim.add_group_label(top, "shared", "#ff0000", "From the group")
        .expect("group label");
    sim.add_label(project, "own", "#00ff00", "").expect("label");
    let bot = sim
        .add_member(project, "bot", access::MAINTAINER)
        .expect("member");
    let reporter = sim
        .add_group_member(top, "rita", access::REPORTER)
        .expect("group member");
    let gl = client(&sim, &bot.token).await;

    let all: Vec<Value> = gitlab::api::paged(
        Labels::builder()
            .project(project)
            .build()
            .expect("endpoint"),
        Pagination::All,
    )
    .query_async(&gl)
    .await
    .expect("labels");
    let all = Value::Array(all);
    assert_eq!(field(&all, "name"), vec!["own", "shared"]);
    assert_eq!(field(&all, "is_project_label"), vec![true, false]);
    let own: Value = Labels::builder()
        .project(project)
        .include_ancestor_groups(false)
        .build()
        .expect("endpoint")
        .query_async(&gl)
        .await
        .expect("labels");
    assert_eq!(field(&own, "name"), vec!["own"]);

    // A group Reporter is a Reporter of every project below the group.
    let member: Value = AllProjectMember::builder()
        .project(project)
        .user(reporter.id)
        .build()
        .expect("endpoint")
        .query_async(&gl)
        .await
        .expect("inherited member");
    assert_eq!(member["access_level"], 20);

    // Applying the group label's title uses the group label: no project label appears.
    sim.as_user("rita")
        .create_issue(project, "Hello", "", &["shared"])
        .expect("issue");
    let titles: Vec<String> = sim.labels(project).into_iter().map(|l| l.title).collect();
    assert_eq!(titles, vec!["own"]);
}

#[tokio::test]
async fn the_default_branch_is_protected_for_maintainers() {
    let sim = SimGitlab::start(SimOptions::default()).await.expect("sim");
    let project = sim.add_project("co-create/opportunities");
    let dev = sim
        .add_member(project, "dev", access::DEVELOPER)
        .expect("member");
    let boss = sim
        .add_member(project, "boss", access::MAINTAINER)
        .expect("member");
    let gl = client(&sim, &dev.token).await;
    let rules = || {
        ProtectedBranches::builder()
            .project(project)
            .build()
            .expect("endpoint")
    };
    let refused = gitlab::api::ignore(rules()).query_async(&gl).await;
    assert!(
        matches!(refused, Err(ApiError::GitlabWithStatus { status, .. }) if status == 403),
        "a Developer may not read the rules"
    );
    let rules: Value = rules()
        .query_async(&client(&sim, &boss.token).await)
        .await
        .expect("protected branches");
    assert_eq!(rules[0]["name"], "main");
    assert_eq!(rules[0]["push_access_levels"][0]["access_level"], 40);
    assert_eq!(
        rules[0]["push_access_levels"][0]["access_level_description"],
        "Maintainers"
    );
    // The branch itself tells a Developer it is protected and closed to them.
    let main: Value = Branch::builder()
        .project(project)
        .branch("main")
        .build()
        .expect("endpoint")
        .query_async(&gl)
        .await
        .expect("branch");
    assert_eq!(main["protected"], true);
    assert_eq!(main["developers_can_push"], false);
    assert_eq!(main["can_push"], false);

    let create = |branch: &'static str| {
        CreateFile::builder()
            .project(project)
            .file_path("a.md")
            .branch(branch)
            .content(&b"a"[..])
            .commit_message("add")
            .build()
            .expect("endpoint")
    };
    let err = gitlab::api::ignore(create("main"))
        .query_async(&gl)
        .await
        .expect_err("protected");
    match err {
        ApiError::GitlabWithStatus { status, msg } => {
            assert_eq!(status.as_u16(), 400);
            assert_eq!(msg, "You are not allowed to push into this branch");
        }
        other => panic!("unexpected error: {other}"),
    }
    // A new branch needs a start branch (GitLab: "You can only create or edit files when you
    // are on a branch"); started from main, it takes a Developer's push.
    let err = gitlab::api::ignore(create("feature"))
        .query_async(&gl)
        .await
        .expect_err("no such branch");
    assert!(
        err.to_string().contains("only create or edit files"),
        "{err}"
    );
    let started = CreateFile::builder()
        .project(project)
        .file_path("a.md")
        .branch("feature")
        .start_branch("main")
        .content(&b"a"[..])
        .commit_message("add")
        .build()
        .expect("endpoint");
    gitlab::api::ignore(started)
        .query_async(&gl)
        .await
        .expect("an unprotected new branch takes a Developer's push");
}

#[tokio::test]
async fn hooks_say_whether_they_have_secrets_and_default_to_push_events() {
    let sim = SimGitlab::start(SimOptions::default()).await.expect("sim");
    let project = sim.add_project("co-create/opportunities");
    let bot = sim
        .add_member(project, "bot", access::MAINTAINER)
        .expect("member");
    let gl = client(&sim, &bot.token).await;
    let hook: Value = CreateHook::builder()
        .project(project)
        .url("http://127.0.0.1:9/hook")
        .build()
        .expect("endpoint")
        .query_async(&gl)
        .await
        .expect("hook");
    assert_eq!(hook["push_events"], true);
    assert_eq!(hook["issues_events"], false);
    assert_eq!(hook["token_present"], false);
    assert_eq!(hook["signing_token_present"], false);
    assert!(hook.get("token").is_none(), "secrets are never returned");
}
