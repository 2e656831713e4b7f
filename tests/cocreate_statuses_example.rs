//! The Co-Create example whose stages are work item statuses
//! (`examples/cocreate-statuses/labelflow.yml`): it passes `check-config --deny-warnings`, and
//! end to end (people act in the simulated GitLab, whose `co-create` group has the example's
//! status lifecycle; signed webhooks reach the real service over HTTP) a status change runs its
//! stage's rule, guards and restricted statuses put a status back with a comment, commands
//! work and the buy-in reminder follow-up fires. `finish()` fails on any bot comment a test
//! does not assert.

mod common;

use chrono::Duration as ChronoDuration;
use common::item::Item as Opp;
use common::shipped::{ACME_SIGNED_REGISTRY, fill_template, without_quick_actions};
use common::{Harness, repo_path};
use labelflow::sim::{IssueStatus, SimStatus};
use std::process::Command;

const CONFIG: &str = "examples/cocreate-statuses/labelflow.yml";

// People outside the directory.
const CSM: &str = "jane-csm";
const SA: &str = "sam-sa";
const AE: &str = "alex-ae";
const CUSTOMER_DEV: &str = "acme-dev";
// Directory people of the example.
const CS_LEAD: &str = "example-cs-lead";
const PM: &str = "example-pm-source-code";
const EM: &str = "example-eng-manager";

const TITLE: &str = "Acme Corp: faster merge request pipelines";

/// The lifecycle README.md asks the `co-create` group's owner to configure.
fn cocreate_lifecycle() -> Vec<SimStatus> {
    let s = |id: u32, name: &str, category: &str| SimStatus {
        gid: format!("gid://gitlab/WorkItems::Statuses::Custom::Status/{id}"),
        name: name.to_string(),
        category: category.to_string(),
        color: "#1f75cb".to_string(),
        description: None,
    };
    vec![
        s(101, "Identified", "triage"),
        s(102, "Qualification", "to_do"),
        s(103, "Triage", "to_do"),
        s(104, "Presented", "in_progress"),
        s(105, "Onboarding", "in_progress"),
        s(106, "On-site", "in_progress"),
        s(107, "Completed", "done"),
        s(108, "Not aligned", "canceled"),
    ]
}

async fn harness() -> Harness {
    let h = Harness::start(&repo_path(CONFIG)).await;
    h.sim.set_lifecycle("co-create", cocreate_lifecycle());
    for u in [CSM, SA, AE, CUSTOMER_DEV] {
        h.add_person(u);
    }
    h.put_cla_registry(ACME_SIGNED_REGISTRY);
    h
}

/// The example's opportunity template filled in completely, with the product group label.
fn complete_opportunity() -> String {
    opportunity(&[]) + "\n/label ~\"group::source code\"\n"
}

/// The example's opportunity template filled in, with `extra` values too.
fn opportunity(extra: &[(&str, &str)]) -> String {
    let template = std::fs::read_to_string(repo_path(
        "examples/cocreate-statuses/templates/issue_templates/co-create-opportunity.md",
    ))
    .expect("the example's opportunity template");
    let mut values = vec![
        ("Customer", "Acme Corp"),
        (
            "Problem",
            "Merge request pipelines take 40 minutes; Acme wants smarter rebase handling.",
        ),
        ("Willingness to contribute", "High: budget for a quarter"),
        ("Ability to contribute", "3 engineers with Ruby and Go"),
        ("CSM", "@jane-csm"),
        ("SA", "@sam-sa"),
        ("AE", "@alex-ae"),
        ("Customer engineers", "@acme-dev"),
    ];
    values.extend_from_slice(extra);
    fill_template(&template, &values)
}

fn status(h: &Harness, opp: Opp) -> String {
    opp.issue(h).status.map(|s| s.name).unwrap_or_default()
}

async fn set_status(h: &Harness, opp: Opp, who: &str, name: &str) {
    h.sim
        .as_user(who)
        .set_status(opp.p, opp.iid, name)
        .expect("status set");
    h.settle().await;
}

/// Opens the opportunity (its quick action applies `cocreate::identified`; the lifecycle puts
/// it in Identified) and asserts the welcome comment.
async fn open(h: &mut Harness) -> Opp {
    let p = h.project("opportunities");
    let iid = h
        .sim
        .as_user(CSM)
        .create_issue(p, TITLE, &complete_opportunity(), &[])
        .expect("opportunity opened");
    h.settle().await;
    let opp = Opp { p, iid };
    assert_eq!(status(h, opp), "Identified");
    let body = opp.expect_comment(h, "**Co-Create opportunity identified.**");
    assert!(
        body.contains("set the status to **Qualification**"),
        "{body}"
    );
    assert!(opp.sorted_labels(h).contains(&"cla::signed".to_string()));
    opp
}

/// Opened → Qualification (the triage issue) → Triage (the buy-in request).
async fn at_triage(h: &mut Harness) -> Opp {
    let opp = open(h).await;
    set_status(h, opp, CS_LEAD, "Qualification").await;
    opp.expect_comment(h, "**Qualification started.**");
    set_status(h, opp, CS_LEAD, "Triage").await;
    let body = opp.expect_comment(h, "**Triage: product buy-in needed.**");
    assert!(body.contains("@example-pm-source-code"), "{body}");
    opp
}

#[test]
fn the_example_passes_check_config_with_deny_warnings() {
    let out = Command::new(env!("CARGO_BIN_EXE_labelflow"))
        .args(["check-config", "--deny-warnings", "--config"])
        .arg(repo_path(CONFIG))
        .output()
        .expect("labelflow runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(stderr, "");
    assert!(stdout.contains(": OK (1 workflows"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_to_qualification_opens_the_triage_issue_and_says_so() {
    let mut h = harness().await;
    let h = &mut h;
    let opp = open(h).await;

    set_status(h, opp, CS_LEAD, "Qualification").await;
    let triage_project = h.project("cocreate_triage");
    let triage = h.sim.issues(triage_project);
    assert_eq!(triage.len(), 1, "one triage issue");
    assert_eq!(
        triage[0].title,
        format!("Co-Create triage: Acme Corp — {TITLE}")
    );
    assert_eq!(triage[0].labels, ["co-create"]);
    let triage_url = h
        .sim
        .issue_state(triage_project, triage[0].iid)
        .expect("triage issue")
        .web_url;
    let body = opp.expect_comment(h, "**Qualification started.**");
    assert!(body.contains(&triage_url), "{body}");
    assert!(body.contains("set the status to **Triage**"), "{body}");
    let triage_body = h
        .sim
        .issue(triage_project, triage[0].iid)
        .unwrap()
        .description;
    assert!(
        triage_body.contains("moved to the **Qualification** status"),
        "{triage_body}"
    );
    assert_eq!(status(h, opp), "Qualification");

    // Back and forth again: `once: true` keeps it one triage issue, one comment.
    set_status(h, opp, CS_LEAD, "Identified").await;
    set_status(h, opp, CS_LEAD, "Qualification").await;
    assert_eq!(h.sim.issues(triage_project).len(), 1);
    assert_eq!(opp.bot_comments(h), 2);
    h.finish();
    h.stop_service().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_premature_presented_status_is_put_back_with_what_is_missing() {
    let mut h = harness().await;
    let h = &mut h;
    let opp = at_triage(h).await;

    // No pathway yet: back to Triage, with the guard's reasons.
    set_status(h, opp, CS_LEAD, "Presented").await;
    assert_eq!(status(h, opp), "Triage");
    let body = opp.expect_comment(
        h,
        "the status \"Presented\" was set before its prerequisites were met, so I moved the item back to \"Triage\".",
    );
    assert!(
        body.contains("a pathway chosen by Contributor Success"),
        "{body}"
    );

    // With the minor pathway, Presented stays and its rule runs.
    opp.label(h, CS_LEAD, "cocreate-pathway::minor").await;
    opp.expect_comment(h, "**Pathway: minor contribution.**");
    set_status(h, opp, CS_LEAD, "Presented").await;
    assert_eq!(status(h, opp), "Presented");
    let body = opp.expect_comment(h, "**Presented to the customer.**");
    assert!(
        body.contains("@example-cs-lead set the status to **Presented**"),
        "{body}"
    );
    h.finish();
    h.stop_service().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_aligned_set_by_the_csm_is_put_back_and_the_pathway_label_sets_it() {
    let mut h = harness().await;
    let h = &mut h;
    let opp = open(h).await;

    set_status(h, opp, CSM, "Not aligned").await;
    let issue = opp.issue(h);
    assert_eq!(issue.status.map(|s| s.name).as_deref(), Some("Identified"));
    assert_eq!(issue.state, IssueStatus::Opened, "reopened by the revert");
    opp.expect_comment(
        h,
        "the status \"Not aligned\" can only be set by the contributor-success role (`example-cs-lead`, `example-cs-engineer`), so I moved the item back to \"Identified\".",
    );

    // Contributor Success's not-aligned pathway sets the status, which closes the opportunity.
    opp.label(h, CS_LEAD, "cocreate-pathway::not-aligned").await;
    opp.expect_comment(h, "**Pathway: not aligned.**");
    let issue = opp.issue(h);
    assert_eq!(issue.status.map(|s| s.name).as_deref(), Some("Not aligned"));
    assert_eq!(issue.state, IssueStatus::Closed);
    h.finish();
    h.stop_service().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_buy_in_command_works_only_in_the_triage_status() {
    let mut h = harness().await;
    let h = &mut h;
    let opp = open(h).await;

    // Before triage the rule's `status: Triage` condition does not hold: no label, and the
    // bot says why.
    opp.comment(h, PM, "@labelflow buy-in approve").await;
    assert!(
        !opp.sorted_labels(h)
            .contains(&"pm-buy-in::approved".to_string())
    );
    opp.expect_comment(
        h,
        "@example-pm-source-code, `buy-in approve` needs more: this issue is not at a stage where it applies. Nothing was changed.",
    );
    assert_eq!(opp.bot_comments(h), 2);

    set_status(h, opp, CS_LEAD, "Qualification").await;
    opp.expect_comment(h, "**Qualification started.**");
    set_status(h, opp, CS_LEAD, "Triage").await;
    opp.expect_comment(h, "**Triage: product buy-in needed.**");
    opp.comment(h, PM, "@labelflow buy-in approve").await;
    assert!(
        opp.sorted_labels(h)
            .contains(&"pm-buy-in::approved".to_string())
    );
    opp.expect_comment(h, "**Product buy-in approved** by @example-pm-source-code");
    h.finish();
    h.stop_service().await;
}

/// Stops the service, moves the shared clock (the simulator's too) past the reminder, and
/// starts the service again on the same database.
async fn restart_days_later(h: &mut Harness, days: i64) {
    h.stop_service().await;
    h.clock.advance(ChronoDuration::days(days));
    h.start_service(4).await;
    h.settle_followups().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_buy_in_reminder_fires_in_triage_and_not_after_it() {
    let mut h = harness().await;
    let h = &mut h;
    let opp = at_triage(h).await;

    restart_days_later(h, 5).await;
    let body = opp.expect_comment(h, "**Reminder: product buy-in still open.**");
    assert!(
        body.contains("been in the **Triage** status for 5 days"),
        "{body}"
    );
    let followups = h.store().list_followups(10).await.expect("follow-ups");
    assert_eq!(followups.len(), 1);
    assert!(followups[0].fired);

    // A second opportunity moved on from Triage before its reminder: it stays silent.
    let other = at_triage(h).await;
    opp.label(h, CS_LEAD, "cocreate-pathway::minor").await;
    opp.expect_comment(h, "**Pathway: minor contribution.**");
    other.label(h, CS_LEAD, "cocreate-pathway::minor").await;
    other.expect_comment(h, "**Pathway: minor contribution.**");
    set_status(h, other, CS_LEAD, "Presented").await;
    other.expect_comment(h, "**Presented to the customer.**");
    restart_days_later(h, 5).await;
    let followups = h.store().list_followups(10).await.expect("follow-ups");
    assert!(followups.iter().all(|f| f.fired), "{followups:?}");
    assert_eq!(other.bot_comments(h), 5, "no reminder once past Triage");
    h.finish();
    h.stop_service().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_major_pathway_walks_the_statuses_to_on_site_and_completion() {
    let mut h = harness().await;
    let h = &mut h;
    let opp = at_triage(h).await;
    opp.comment(h, PM, "@labelflow buy-in approve").await;
    opp.expect_comment(h, "**Product buy-in approved** by @example-pm-source-code");
    opp.label(h, CS_LEAD, "cocreate-pathway::major").await;
    opp.expect_comment(h, "**Pathway: major contribution.**");
    assert_eq!(h.sim.issues(h.project("engineering_allocation")).len(), 1);

    // On-site before the engineer is allocated: back to Triage, saying what is missing.
    set_status(h, opp, CS_LEAD, "On-site").await;
    assert_eq!(status(h, opp), "Triage");
    let body = opp.expect_comment(
        h,
        "the status \"On-site\" was set before its prerequisites were met, so I moved the item back to \"Triage\".",
    );
    assert!(
        body.contains("an engineer allocated by engineering (engineering::allocated)"),
        "{body}"
    );

    // Engineering names the engineer and records the allocation.
    let description = opportunity(&[("Allocated engineer", "@example-eng-manager")]);
    opp.edit(h, EM, &without_quick_actions(&description)).await;
    opp.label(h, EM, "engineering::allocated").await;
    opp.expect_comment(h, "**Engineering allocated.**");

    set_status(h, opp, CS_LEAD, "Presented").await;
    opp.expect_comment(h, "**Presented to the customer.**");
    set_status(h, opp, CS_LEAD, "Onboarding").await;
    let onboarding = h.sim.issues(h.project("onboarding"));
    assert_eq!(onboarding.len(), 1);
    assert_eq!(
        onboarding[0].title,
        "Co-Create onboarding session: Acme Corp"
    );
    opp.expect_comment(h, "**Onboarding.** I opened the onboarding-session issue");
    set_status(h, opp, CS_LEAD, "On-site").await;
    let onsite = h.sim.issues(h.project("onsite_planning"));
    assert_eq!(onsite.len(), 1);
    assert_eq!(
        onsite[0].title,
        format!("Co-Create on-site: Acme Corp — {TITLE}")
    );
    let body = opp.expect_comment(h, "**On-site planning.**");
    assert!(body.contains("@example-eng-manager"), "{body}");
    assert_eq!(status(h, opp), "On-site");

    // Completed by Contributor Success closes the opportunity; nothing more is said.
    let before = opp.bot_comments(h);
    set_status(h, opp, CS_LEAD, "Completed").await;
    assert_eq!(opp.issue(h).state, IssueStatus::Closed);
    assert_eq!(opp.bot_comments(h), before);
    h.finish();
    h.stop_service().await;
}
