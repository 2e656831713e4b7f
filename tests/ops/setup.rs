//! `labelflow setup` against the simulated GitLab: labels (derived and configured colours),
//! issue templates and the webhook are created or corrected; a second run writes nothing.
//! (Group labels, roles, hooks that cannot serve, aborts: `setup_safety.rs`.)

use crate::common::repo_path;
use labelflow::engine::Engine;
use labelflow::forge::{GitlabForge, RetryPolicy};
use labelflow::metrics::Metrics;
use labelflow::setup::{self, ItemKind, Outcome, SetupOptions, Verdict, labels::derived_color};
use labelflow::sim::{SimGitlab, SimOptions, access, sign};
use secrecy::ExposeSecret;

pub const HOOK_URL: &str = "http://127.0.0.1:9/webhooks/gitlab";

pub struct World {
    pub sim: SimGitlab,
    pub forge: GitlabForge,
    pub engine: Engine,
    pub opportunities: u64,
    pub triage: u64,
    pub mdf: u64,
}

/// Three projects with the bot `admin` as Maintainer in each (not a member of any group).
pub async fn world() -> World {
    let sim = SimGitlab::start(SimOptions::default()).await.expect("sim");
    let opportunities = sim.add_project("co-create/opportunities");
    let triage = sim.add_project("contributor-success/co-create-triage");
    let mdf = sim.add_project("alliances/mdf");
    let admin = sim
        .add_member(opportunities, "admin", access::MAINTAINER)
        .expect("maintainer");
    for p in [triage, mdf] {
        sim.add_member(p, "admin", access::MAINTAINER)
            .expect("maintainer");
    }
    let forge = GitlabForge::connect(
        &sim.base_url(),
        &admin.token,
        RetryPolicy::default(),
        Metrics::new(),
    )
    .await
    .expect("connects");
    let engine = Engine::load(&repo_path("tests/configs/setup/labelflow.yml")).expect("config");
    World {
        sim,
        forge,
        engine,
        opportunities,
        triage,
        mdf,
    }
}

pub fn options(project: &str, dry_run: bool, webhook: bool) -> SetupOptions {
    SetupOptions {
        project: project.to_string(),
        dry_run,
        webhook_url: webhook.then(|| HOOK_URL.to_string()),
        ..SetupOptions::default()
    }
}

pub fn writes(sim: &SimGitlab) -> Vec<String> {
    sim.requests()
        .iter()
        .filter(|r| r.is_write())
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

fn template(name: &str) -> String {
    std::fs::read_to_string(repo_path(&format!(
        "tests/configs/setup/templates/issue_templates/{name}"
    )))
    .expect("template")
}

#[tokio::test]
async fn setup_creates_labels_templates_and_webhook_then_changes_nothing() {
    let w = world().await;
    let p = w.opportunities;
    // Existing state: a label with the wrong colour and description, a family member with a
    // colour of its own, an outdated template, and a template of another workflow that is not
    // for this project (left alone).
    w.sim
        .add_label(p, "needs-info", "#000000", "old")
        .expect("label");
    w.sim
        .add_label(p, "cocreate::triage", "#123456", "Co-Create stage")
        .expect("label");
    w.sim
        .put_file(
            p,
            ".gitlab/issue_templates/opportunity.md",
            "main",
            "outdated\n",
        )
        .expect("file");

    // Dry run: reads only, reports the same changes the real run makes.
    w.sim.clear_requests();
    let dry = setup::run(
        w.forge.client(),
        &w.engine,
        &options("co-create/opportunities", true, true),
    )
    .await
    .expect("dry run");
    assert_eq!(
        writes(&w.sim),
        Vec::<String>::new(),
        "a dry run writes nothing"
    );
    assert_eq!(dry.changes(), 9, "{dry}");
    assert!(dry.webhook_tokens.is_none());
    assert!(dry.to_string().ends_with(
        "Dry run: 9 change(s) would be made to co-create/opportunities; nothing was written."
    ));

    let report = setup::run(
        w.forge.client(),
        &w.engine,
        &options("co-create/opportunities", false, true),
    )
    .await
    .expect("setup");
    assert_eq!(report.warnings, Vec::<String>::new());
    assert_eq!(report.outcome, Outcome::Done);
    assert_eq!(
        report.count(ItemKind::Label, Verdict::Create),
        5,
        "{report}"
    );
    assert_eq!(
        report.count(ItemKind::Label, Verdict::Update),
        2,
        "{report}"
    );
    assert_eq!(report.count(ItemKind::Template, Verdict::Create), 0);
    assert_eq!(report.count(ItemKind::Template, Verdict::Update), 1);
    assert_eq!(report.count(ItemKind::Template, Verdict::Skip), 1);
    assert_eq!(report.count(ItemKind::Webhook, Verdict::Create), 1);
    let w_writes = writes(&w.sim);
    assert_eq!(w_writes.len(), 5 + 2 + 1 + 1, "{w_writes:#?}");

    let mut labels: Vec<(String, String, String)> = w
        .sim
        .labels(p)
        .into_iter()
        .map(|l| {
            (
                l.title,
                l.color.to_lowercase(),
                l.description.unwrap_or_default(),
            )
        })
        .collect();
    labels.sort();
    let family = "#1f75cb".to_string();
    let stage = "Co-Create stage".to_string();
    assert_eq!(
        labels,
        vec![
            (
                "Community contribution".to_string(),
                derived_color("Community contribution"),
                "labelflow workflow: cocreate".to_string()
            ),
            (
                "cocreate-pathway::minor".to_string(),
                "#9400d3".to_string(),
                "labelflow workflow: cocreate".to_string()
            ),
            (
                "cocreate::identified".to_string(),
                family.clone(),
                stage.clone()
            ),
            (
                "cocreate::presented".to_string(),
                family.clone(),
                stage.clone()
            ),
            (
                "cocreate::qualification".to_string(),
                family.clone(),
                stage.clone()
            ),
            (
                "cocreate::triage".to_string(),
                family.clone(),
                stage.clone()
            ),
            (
                "needs-info".to_string(),
                "#dc143c".to_string(),
                "Required fields are missing".to_string()
            ),
        ]
    );
    assert_eq!(
        w.sim
            .file(p, "main", ".gitlab/issue_templates/opportunity.md")
            .as_deref(),
        Some(template("opportunity.md").as_str())
    );
    assert_eq!(
        w.sim.file(p, "main", ".gitlab/issue_templates/mdf.md"),
        None
    );

    // The hook signs with the printed signing token and sends the printed secret token.
    let tokens = report.webhook_tokens.as_ref().expect("tokens printed once");
    let signing = tokens.signing_token.expose_secret().to_string();
    let secret = tokens.secret_token.expose_secret().to_string();
    assert!(signing.starts_with("whsec_"), "{signing}");
    assert_eq!(secret.len(), 64);
    w.sim
        .add_member(p, "someone", access::DEVELOPER)
        .expect("member");
    w.sim
        .as_user("someone")
        .create_issue(p, "Hello", "", &[])
        .expect("issue");
    assert!(
        w.sim
            .wait_hooks_idle(std::time::Duration::from_secs(10))
            .await
    );
    let deliveries = w.sim.deliveries();
    assert_eq!(deliveries.len(), 1, "{deliveries:#?}");
    let d = &deliveries[0];
    assert_eq!(d.url, HOOK_URL);
    assert_eq!(d.event, "Issue Hook");
    assert_eq!(d.header("x-gitlab-token"), Some(secret.as_str()));
    let expected = sign(
        &signing,
        &d.webhook_id,
        d.header("webhook-timestamp").expect("timestamp"),
        &d.body,
    )
    .expect("signs");
    assert_eq!(d.header("webhook-signature"), Some(expected.as_str()));

    // Second run: nothing to change, no write at all.
    w.sim.clear_requests();
    let again = setup::run(
        w.forge.client(),
        &w.engine,
        &options("co-create/opportunities", false, true),
    )
    .await
    .expect("second run");
    assert_eq!(writes(&w.sim), Vec::<String>::new());
    assert_eq!(again.changes(), 0, "{again}");
    assert_eq!(again.items.len(), 7 + 2 + 1);
    assert!(again.succeeded());
    assert!(again.webhook_tokens.is_none());
    assert!(
        again.to_string().ends_with(
            "Nothing to change: co-create/opportunities is already set up (7 labels, 1 issue templates)."
        ),
        "{again}"
    );
}

#[tokio::test]
async fn labels_of_created_issues_go_to_their_project() {
    let w = world().await;
    let report = setup::run(
        w.forge.client(),
        &w.engine,
        &options("contributor-success/co-create-triage", false, false),
    )
    .await
    .expect("setup");
    let labels: Vec<String> = w
        .sim
        .labels(w.triage)
        .into_iter()
        .map(|l| l.title)
        .collect();
    assert_eq!(labels, vec!["cocreate-triage".to_string()]);
    assert_eq!(report.count(ItemKind::Label, Verdict::Create), 1);
    // Neither template applies a label this project's workflows use.
    assert_eq!(report.count(ItemKind::Template, Verdict::Create), 0);
    assert_eq!(report.count(ItemKind::Template, Verdict::Skip), 2);
    assert_eq!(report.count(ItemKind::Webhook, Verdict::Create), 0);
    assert_eq!(w.sim.labels(w.opportunities).len(), 0);
}

#[tokio::test]
async fn a_bot_without_access_is_refused_before_any_write() {
    let w = world().await;
    let outsider = w.sim.add_user("outsider");
    let forge = GitlabForge::connect(
        &w.sim.base_url(),
        &outsider.token,
        RetryPolicy::default(),
        Metrics::new(),
    )
    .await
    .expect("connects");
    w.sim.clear_requests();
    let report = setup::run(
        forge.client(),
        &w.engine,
        &options("co-create/opportunities", false, false),
    )
    .await
    .expect("planned");
    assert_eq!(writes(&w.sim), Vec::<String>::new());
    assert_eq!(report.outcome, Outcome::Refused, "{report}");
    assert_eq!(report.permission_problems.len(), 8, "{report}");
    assert!(
        report
            .permission_problems
            .iter()
            .all(|p| p.ends_with("the bot has no role there")),
        "{report}"
    );
    assert!(
        report.to_string().contains(
            "Refused: the bot lacks a role this setup needs (above); nothing was written to \
             co-create/opportunities. Left to do: 8 change(s)."
        ),
        "{report}"
    );
}

/// Runs `labelflow setup` (the real binary) and returns (exit code, stdout, stderr).
pub async fn setup_binary(sim: &SimGitlab, token: &str, extra: &[&str]) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_labelflow"));
    cmd.arg("setup")
        .arg("--config")
        .arg(repo_path("tests/configs/setup/labelflow.yml"))
        .args(["--project", "co-create/opportunities"])
        .args(["--gitlab-url", &sim.base_url()])
        .args(extra)
        .env("LABELFLOW_GITLAB_TOKEN", token);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .expect("binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_setup_command_prints_its_changes_and_the_tokens_once() {
    let w = world().await;
    let token = w.sim.user("admin").expect("admin").token;
    let (code, out, err) = setup_binary(&w.sim, &token, &["--dry-run"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Dry run: 8 change(s) would be made"), "{out}");
    assert_eq!(w.sim.labels(w.opportunities).len(), 0);

    let (code, out, err) = setup_binary(&w.sim, &token, &["--webhook-url", HOOK_URL]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("Made 9 change(s) to co-create/opportunities."),
        "{out}"
    );
    let printed: Vec<&str> = out
        .lines()
        .filter(|l| {
            l.contains("LABELFLOW_WEBHOOK_SIGNING_TOKEN=whsec_")
                || l.contains("LABELFLOW_WEBHOOK_SECRET=")
        })
        .collect();
    assert_eq!(printed.len(), 2, "{out}");
    assert!(!err.contains("whsec_"), "tokens go to stdout only: {err}");

    let (code, out, err) = setup_binary(&w.sim, &token, &["--webhook-url", HOOK_URL]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("Nothing to change: co-create/opportunities is already set up (7 labels, 1 issue templates)."),
        "{out}"
    );
    assert!(!out.contains("whsec_"), "{out}");
}
