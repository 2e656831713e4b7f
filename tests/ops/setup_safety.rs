//! `labelflow setup` on a real-shaped GitLab group (issue 23): inherited group labels, roles
//! checked before any write, a report after an abort, hooks that cannot serve labelflow, and
//! templates only where their labels are used. The simulator follows GitLab's docs for group
//! labels and inheritance, members (`members/all`), protected branches and hooks.

use super::setup::{HOOK_URL, options, setup_binary, world, writes};
use crate::common::repo_path;
use labelflow::engine::Engine;
use labelflow::forge::{GitlabForge, RetryPolicy};
use labelflow::metrics::Metrics;
use labelflow::setup::{
    self, ItemKind, Outcome, SetupOptions, Status, Verdict, api, labels, plan, templates,
};
use labelflow::sim::{FaultKind, FaultRule, HookConfig, SimGitlab, access};
use secrecy::ExposeSecret;

const PROJECT: &str = "co-create/opportunities";

fn item<'a>(report: &'a setup::SetupReport, name: &str) -> &'a setup::Item {
    report
        .items
        .iter()
        .find(|i| i.name == name)
        .unwrap_or_else(|| panic!("no item {name} in\n{report}"))
}

async fn forge_as(sim: &SimGitlab, username: &str) -> GitlabForge {
    let token = sim.user(username).expect("user").token;
    GitlabForge::connect(
        &sim.base_url(),
        &token,
        RetryPolicy::default(),
        Metrics::new(),
    )
    .await
    .expect("connects")
}

#[tokio::test]
async fn a_differing_group_label_with_the_bot_outside_the_group_is_left_alone() {
    let w = world().await;
    let group = w.sim.add_group("co-create");
    w.sim
        .add_group_label(group, "cocreate::triage", "#000000", "Group triage")
        .expect("group label");
    w.sim.clear_requests();

    for dry_run in [true, false] {
        let report = setup::run(
            w.forge.client(),
            &w.engine,
            &options(PROJECT, dry_run, false),
        )
        .await
        .expect("setup");
        let triage = item(&report, "cocreate::triage");
        assert_eq!(triage.kind, ItemKind::GroupLabel);
        assert_eq!(triage.verdict, Verdict::LeftAlone, "{report}");
        assert!(
            triage.detail.starts_with(
                "inherited from group co-create, differs from the configuration \
                 (colour #000000 → #1f75cb, description → \"Co-Create stage\")"
            ),
            "{report}"
        );
        assert!(report.permission_problems.is_empty(), "{report}");
        assert!(report.succeeded(), "{report}");
        let text = report.to_string();
        assert!(text.contains("left alone"), "{text}");
    }
    // No write touched the group label, and no project label shadows it.
    let made = writes(&w.sim);
    assert!(!made.iter().any(|r| r.contains("/groups/")), "{made:#?}");
    assert_eq!(
        made.len(),
        6 + 1,
        "six project labels and a template: {made:#?}"
    );
    let project_labels: Vec<String> = w
        .sim
        .labels(w.opportunities)
        .into_iter()
        .map(|l| l.title)
        .collect();
    assert!(!project_labels.contains(&"cocreate::triage".to_string()));
    let group_label = &w.sim.group(group).expect("group").labels[0];
    assert_eq!(group_label.color, "#000000");

    // Asked to update it while outside the group: refused before any write, naming the role.
    w.sim.clear_requests();
    let update = SetupOptions {
        update_group_labels: true,
        ..options(PROJECT, false, false)
    };
    let report = setup::run(w.forge.client(), &w.engine, &update)
        .await
        .expect("planned");
    assert_eq!(report.outcome, Outcome::Refused, "{report}");
    assert_eq!(
        report.permission_problems,
        vec![
            "group label cocreate::triage: needs at least the Reporter role in group co-create \
             (GitLab lets Reporters and up of a group manage its labels); the bot has no role there"
                .to_string()
        ]
    );
    assert_eq!(writes(&w.sim), Vec::<String>::new());

    // As a Reporter of the group, the bot could, but is not asked to: still left alone.
    w.sim
        .add_group_member(group, "admin", access::REPORTER)
        .expect("member");
    let report = setup::run(w.forge.client(), &w.engine, &options(PROJECT, false, false))
        .await
        .expect("setup");
    assert_eq!(
        item(&report, "cocreate::triage").verdict,
        Verdict::LeftAlone
    );
    assert_eq!(
        w.sim.group(group).expect("group").labels[0].color,
        "#000000"
    );

    // Asked to, it corrects the group label, for the whole group.
    let report = setup::run(w.forge.client(), &w.engine, &update)
        .await
        .expect("setup");
    assert_eq!(report.outcome, Outcome::Done, "{report}");
    assert_eq!(item(&report, "cocreate::triage").status, Status::Done);
    let group_label = &w.sim.group(group).expect("group").labels[0];
    assert_eq!(group_label.color, "#1f75cb");
    assert_eq!(group_label.description.as_deref(), Some("Co-Create stage"));
}

#[tokio::test]
async fn a_token_that_may_not_manage_hooks_is_refused_before_any_write() {
    let w = world().await;
    let dev = w
        .sim
        .add_member(w.opportunities, "developer-bot", access::DEVELOPER)
        .expect("member");
    // The templates go to an unprotected branch, so the hook is the only role problem.
    let forge = forge_as(&w.sim, "developer-bot").await;
    let run = |dry_run: bool| SetupOptions {
        branch: Some("labelflow".to_string()),
        ..options(PROJECT, dry_run, true)
    };
    w.sim.clear_requests();
    let expected = vec![format!(
        "webhook {HOOK_URL}: needs at least the Maintainer role in project {PROJECT} \
         (GitLab lets only Maintainers and up manage project webhooks); the bot has the \
         Developer role there"
    )];

    let dry = setup::run(forge.client(), &w.engine, &run(true))
        .await
        .expect("dry run plans");
    assert_eq!(dry.outcome, Outcome::DryRun);
    assert_eq!(dry.permission_problems, expected, "{dry}");
    assert!(
        dry.to_string().contains("the live run would refuse"),
        "{dry}"
    );
    assert_eq!(dry.changes(), 7 + 1 + 1, "the whole plan is shown: {dry}");

    let live = setup::run(forge.client(), &w.engine, &run(false))
        .await
        .expect("planned");
    assert_eq!(live.outcome, Outcome::Refused);
    assert_eq!(live.permission_problems, expected);
    assert!(live.items.iter().all(|i| i.status == Status::Planned));
    assert_eq!(writes(&w.sim), Vec::<String>::new());
    assert!(!w.sim.requests().iter().any(|r| r.path.ends_with("/hooks")));

    // The binary prints the same plan on stdout and exits 1, in the dry run too.
    let (code, out, err) = setup_binary(
        &w.sim,
        &dev.token,
        &[
            "--dry-run",
            "--branch",
            "labelflow",
            "--webhook-url",
            HOOK_URL,
        ],
    )
    .await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("Permission problems:"), "{out}");
    assert!(out.contains("would create"), "{out}");
    // The same report for tools.
    let (code, out, err) = setup_binary(
        &w.sim,
        &dev.token,
        &[
            "--branch",
            "labelflow",
            "--webhook-url",
            HOOK_URL,
            "--format",
            "json",
        ],
    )
    .await;
    assert_eq!(code, 1, "{out}{err}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("JSON report");
    assert_eq!(json["outcome"]["result"], "refused");
    assert_eq!(json["permission_problems"], serde_json::json!(expected));
    assert_eq!(json["items"][0]["status"], "planned");
    assert_eq!(writes(&w.sim), Vec::<String>::new());
}

#[tokio::test]
async fn a_developer_cannot_commit_to_the_protected_default_branch() {
    let w = world().await;
    w.sim
        .add_member(w.opportunities, "developer-bot", access::DEVELOPER)
        .expect("member");
    let forge = forge_as(&w.sim, "developer-bot").await;
    // GitLab's own answer, through the real client.
    let err = api::create_file(
        forge.client(),
        w.opportunities,
        "x.md",
        "main",
        None,
        b"x",
        "try",
    )
    .await
    .expect_err("protected");
    assert_eq!(
        err.to_string(),
        "GitLab refused the request (400): You are not allowed to push into this branch"
    );
    // Setup knows before writing anything, and says which role it needs.
    w.sim.clear_requests();
    let report = setup::run(forge.client(), &w.engine, &options(PROJECT, false, false))
        .await
        .expect("planned");
    assert_eq!(report.outcome, Outcome::Refused, "{report}");
    assert_eq!(
        report.permission_problems,
        vec![
            "template .gitlab/issue_templates/opportunity.md: needs at least the Maintainer role \
             in project co-create/opportunities (branch main is protected: GitLab takes pushes \
             to it only from this role and up); the bot has the Developer role there"
                .to_string()
        ]
    );
    assert_eq!(writes(&w.sim), Vec::<String>::new());

    // On a branch of its own (started from main), a Developer may commit them.
    let own_branch = SetupOptions {
        branch: Some("labelflow-templates".to_string()),
        ..options(PROJECT, false, false)
    };
    let report = setup::run(forge.client(), &w.engine, &own_branch)
        .await
        .expect("setup");
    assert_eq!(report.outcome, Outcome::Done, "{report}");
    assert_eq!(
        item(&report, ".gitlab/issue_templates/opportunity.md").detail,
        "on labelflow-templates (a new branch from main)"
    );
    assert!(
        w.sim
            .file(
                w.opportunities,
                "labelflow-templates",
                ".gitlab/issue_templates/opportunity.md"
            )
            .is_some()
    );
}

#[tokio::test]
async fn an_abort_after_some_writes_reports_them() {
    let w = world().await;
    w.sim.add_fault(
        FaultRule::new(FaultKind::Status(422))
            .method("POST")
            .path_contains("/repository/files/")
            .times(1),
    );
    let report = setup::run(w.forge.client(), &w.engine, &options(PROJECT, false, true))
        .await
        .expect("planned");
    let Outcome::Failed { error } = &report.outcome else {
        panic!("expected a failure: {report}");
    };
    assert_eq!(
        error,
        "committing .gitlab/issue_templates/opportunity.md failed: GitLab refused the request \
         (422): 422 Unprocessable Entity"
    );
    let status = |kind: ItemKind| -> Vec<Status> {
        report
            .items
            .iter()
            .filter(|i| i.kind == kind)
            .map(|i| i.status)
            .collect()
    };
    assert_eq!(status(ItemKind::Label), vec![Status::Done; 7]);
    assert_eq!(status(ItemKind::Webhook), vec![Status::NotDone]);
    assert_eq!(w.sim.labels(w.opportunities).len(), 7);
    let text = report.to_string();
    assert!(text.contains("created"), "{text}");
    assert!(text.contains("FAILED to create"), "{text}");
    assert!(text.contains("not done: create"), "{text}");
    assert!(
        text.contains("Failed: made 7 change(s) to co-create/opportunities, then committing"),
        "{text}"
    );
    assert!(text.contains("Left to do: 2 change(s)"), "{text}");
    assert!(!report.succeeded());
    // The same report for tools.
    let json = report.to_json();
    assert_eq!(json["outcome"]["result"], "failed");
    assert_eq!(json["items"][0]["status"], "done");

    // A rerun picks up where it stopped.
    let again = setup::run(w.forge.client(), &w.engine, &options(PROJECT, false, true))
        .await
        .expect("setup");
    assert_eq!(again.outcome, Outcome::Done, "{again}");
    assert_eq!(again.changes(), 2, "{again}");
}

#[tokio::test]
async fn a_push_only_hook_at_the_url_is_a_problem_until_fixed() {
    let w = world().await;
    let p = w.opportunities;
    w.sim
        .add_hook(
            p,
            HookConfig {
                push_events: true,
                ..HookConfig::new(HOOK_URL)
            },
        )
        .expect("hook");
    w.sim.clear_requests();
    let report = setup::run(w.forge.client(), &w.engine, &options(PROJECT, false, true))
        .await
        .expect("setup");
    let hook = item(&report, HOOK_URL);
    assert_eq!(hook.verdict, Verdict::Problem, "{report}");
    assert_eq!(
        hook.detail,
        "exists but cannot serve labelflow: no issue events, no confidential issue events, \
         no comment events, no confidential comment events, neither a secret token nor a \
         signing token (labelflow refuses its deliveries); --fix-webhook fixes it"
    );
    assert!(!report.succeeded());
    assert!(report.to_string().contains("1 problem(s) need attention"));
    assert!(!writes(&w.sim).iter().any(|r| r.contains("/hooks")));

    let fix = SetupOptions {
        fix_webhook: true,
        ..options(PROJECT, false, true)
    };
    let report = setup::run(w.forge.client(), &w.engine, &fix)
        .await
        .expect("setup");
    assert_eq!(item(&report, HOOK_URL).verdict, Verdict::Update);
    assert!(report.succeeded(), "{report}");
    let hooks = w.sim.hooks(p);
    assert_eq!(hooks.len(), 1, "fixed in place, not a second hook");
    let config = &hooks[0].config;
    assert!(config.issues_events && config.note_events);
    assert!(config.confidential_issues_events && config.confidential_note_events);
    let tokens = report
        .webhook_tokens
        .as_ref()
        .expect("new secrets, printed once");
    assert_eq!(
        config.signing_token.as_deref(),
        Some(tokens.signing_token.expose_secret())
    );
    assert_eq!(
        config.token.as_deref(),
        Some(tokens.secret_token.expose_secret())
    );

    // Now it serves: unchanged, and nothing printed.
    let again = setup::run(w.forge.client(), &w.engine, &fix)
        .await
        .expect("setup");
    assert_eq!(item(&again, HOOK_URL).verdict, Verdict::Unchanged);
    assert!(again.webhook_tokens.is_none());
}

#[tokio::test]
async fn fixing_a_hook_with_a_secret_keeps_the_secret_and_prints_none() {
    let w = world().await;
    let p = w.opportunities;
    let existing = HookConfig {
        note_events: false,
        ..HookConfig::issues_and_notes(HOOK_URL).with_token("kept-secret")
    };
    w.sim.add_hook(p, existing).expect("hook");
    let token = w.sim.user("admin").expect("admin").token;
    let (code, out, err) = setup_binary(
        &w.sim,
        &token,
        &["--webhook-url", HOOK_URL, "--fix-webhook"],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("fix: no comment events; its secrets stay as they are"),
        "{out}"
    );
    assert!(
        !out.contains("kept-secret") && !out.contains("LABELFLOW_WEBHOOK"),
        "{out}"
    );
    let config = &w.sim.hooks(p)[0].config;
    assert!(config.note_events);
    assert_eq!(config.token.as_deref(), Some("kept-secret"));
}

#[tokio::test]
async fn each_template_goes_only_where_its_labels_are_used() {
    let w = world().await;
    for (project, path) in [
        (w.opportunities, PROJECT),
        (w.triage, "contributor-success/co-create-triage"),
        (w.mdf, "alliances/mdf"),
    ] {
        let report = setup::run(w.forge.client(), &w.engine, &options(path, false, false))
            .await
            .expect("setup");
        assert!(report.succeeded(), "{report}");
        let file = |name: &str| {
            w.sim
                .file(project, "main", &format!(".gitlab/issue_templates/{name}"))
                .is_some()
        };
        assert_eq!(
            (file("opportunity.md"), file("mdf.md")),
            (path == PROJECT, path == "alliances/mdf"),
            "{report}"
        );
    }
    let report = setup::run(w.forge.client(), &w.engine, &options(PROJECT, true, false))
        .await
        .expect("dry run");
    assert_eq!(
        item(&report, ".gitlab/issue_templates/mdf.md").detail,
        "its quick actions apply ~\"mdf::requested\", which no workflow of this project uses"
    );
}

/// The shipped configuration: every template lands where its workflow runs, and none in
/// projects such as the CLA registry.
#[test]
fn shipped_templates_go_to_their_workflows_projects() {
    let engine = Engine::load(&repo_path("labelflow.yml")).expect("shipped config");
    let all = templates::read_dir(&templates::default_dir(&engine)).expect("templates");
    assert_eq!(all.len(), 5);
    let mut placed: Vec<(String, Vec<String>)> = Vec::new();
    for path in engine.config.projects.values() {
        let desired = labels::desired_labels(&engine, path);
        let used = plan::used_here(&desired);
        let here: Vec<String> = plan::templates_here(&all, &used)
            .into_iter()
            .map(|t| t.name.clone())
            .collect();
        if !here.is_empty() {
            placed.push((path.clone(), here));
        }
    }
    placed.sort();
    assert_eq!(
        placed,
        vec![
            (
                "alliances/partners".to_string(),
                vec![
                    "acquisition-inquiry.md".to_string(),
                    "alliance-inbound-request.md".to_string(),
                    "license-request.md".to_string(),
                    "mdf-request.md".to_string(),
                ]
            ),
            (
                "co-create/opportunities".to_string(),
                vec!["co-create-opportunity.md".to_string()]
            ),
        ]
    );
}
