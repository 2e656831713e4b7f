//! The shipped Co-Create workflow end to end: people act in the simulated GitLab, which fires
//! signed webhooks at the real service, which acts back through the real `gitlab` client.
//! Every issue, comment, label and assignment is asserted; `finish()` fails on any bot comment
//! nobody asserted, and every walk ends by replaying all deliveries to prove nothing happens
//! twice.

mod common;

use chrono::Duration as ChronoDuration;
use common::Harness;
use common::shipped::{
    ACME_SIGNED_REGISTRY, fill_template, issue_template, shipped_config, without_quick_actions,
};
use labelflow::sim::IssueStatus;
use labelflow::sim::SimIssue;

// People outside the directory.
const CSM: &str = "jane-csm";
const SA: &str = "sam-sa";
const AE: &str = "alex-ae";
const CUSTOMER_DEV: &str = "acme-dev";
// Directory people of the shipped configuration.
const CS_LEAD: &str = "example-cs-lead";
const PM: &str = "example-pm-source-code";
const OTHER_PM: &str = "example-pm-runner";
const EM: &str = "example-eng-manager";

const TITLE: &str = "Acme Corp: faster merge request pipelines";
const CS_MENTIONS: &str = "@example-cs-lead @example-cs-engineer";
const CS_WHO: &str = "the contributor-success role (`example-cs-lead`, `example-cs-engineer`)";

/// The shipped configuration, with Acme's signed agreement in the CLA registry.
async fn harness() -> Harness {
    let h = harness_without_registry().await;
    h.put_cla_registry(ACME_SIGNED_REGISTRY);
    h
}

async fn harness_without_registry() -> Harness {
    let h = Harness::start(&shipped_config()).await;
    for u in [CSM, SA, AE, CUSTOMER_DEV] {
        h.add_person(u);
    }
    h
}

fn values() -> Vec<(&'static str, &'static str)> {
    vec![
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
    ]
}

/// The shipped opportunity template filled in completely, with the product group label.
fn complete_opportunity() -> String {
    fill_template(&issue_template("co-create-opportunity.md"), &values())
        + "\n/label ~\"group::source code\"\n"
}

// The opportunity under test.
use common::item::Item as Opp;

fn sorted(items: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = items.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn assert_contains(text: &str, needles: &[&str]) {
    for n in needles {
        assert!(text.contains(n), "expected {n:?} in:\n{text}");
    }
}

/// Opens the opportunity from the shipped template (its quick action applies
/// `cocreate::identified`).
async fn open(h: &Harness, description: &str) -> Opp {
    let p = h.project("opportunities");
    let iid = h
        .sim
        .as_user(CSM)
        .create_issue(p, TITLE, description, &[])
        .expect("opportunity opened");
    h.settle().await;
    Opp { p, iid }
}

fn assert_identified_welcome(h: &mut Harness, opp: Opp) {
    let body = opp.expect_comment(h, "**Co-Create opportunity identified.**");
    assert_contains(
        &body,
        &[
            "**Suggested Slack channel:** `#cocreate-initiative-acme-corp`",
            "| CSM: @jane-csm |",
            "| SA: @sam-sa |",
            "| AE: @alex-ae |",
            "| Contributor Success: @example-cs-lead @example-cs-engineer |",
            "| Developer Relations: @example-devrel-lead |",
            "- **Customer:** Acme Corp",
            "- **Product area:** ~\"group::source code\"",
            "- **Willingness to contribute:** High: budget for a quarter",
            "https://about.gitlab.com/community/contribute/dco-cla/",
            "<!-- labelflow:lf",
        ],
    );
}

/// The web address of an issue.
fn web_url(h: &Harness, project: u64, iid: u64) -> String {
    h.sim.issue_state(project, iid).expect("issue").web_url
}

/// Opened (identified) → qualification → triage, asserting each step's issue and comment.
/// Returns the opportunity and its triage issue.
async fn through_triage(h: &mut Harness) -> (Opp, SimIssue) {
    let opp = open(h, &complete_opportunity()).await;
    assert_eq!(
        opp.sorted_labels(h),
        sorted(&["cla::signed", "cocreate::identified", "group::source code"])
    );
    assert_identified_welcome(h, opp);

    opp.label(h, CS_LEAD, "cocreate::qualification").await;
    let triage_project = h.project("cocreate_triage");
    let triage_issues = h.sim.issues(triage_project);
    assert_eq!(
        triage_issues.len(),
        1,
        "one triage issue: {triage_issues:#?}"
    );
    let triage = triage_issues[0].clone();
    assert_eq!(
        triage.title,
        "Co-Create triage: Acme Corp — Acme Corp: faster merge request pipelines"
    );
    assert_eq!(triage.labels, vec!["co-create".to_string()]);
    assert_eq!(
        h.assignees(triage_project, triage.iid),
        sorted(&["example-cs-engineer", "example-cs-lead"])
    );
    assert_eq!(
        Some(triage.author_id),
        h.sim.user("labelflow").map(|u| u.id),
        "the bot opened the triage issue"
    );
    assert_contains(
        &triage.description,
        &[
            "## Co-Create triage",
            &format!("- **Opportunity:** {}", opp.web_url(h)),
            "- **Customer:** Acme Corp",
            "- **Product area:** ~\"group::source code\"",
            "> Merge request pipelines take 40 minutes",
            "<!-- labelflow:lf",
        ],
    );
    let links = h.sim.links();
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0].source_issue_id, opp.issue(h).id);
    assert_eq!(links[0].target_issue_id, triage.id);
    let triage_url = web_url(h, triage_project, triage.iid);
    let body = opp.expect_comment(h, "**Qualification started.**");
    assert_contains(
        &body,
        &[
            &format!(
                "I opened the Contributor Success triage issue {triage_url} and assigned it to Contributor Success ({CS_MENTIONS})"
            ),
            "apply ~\"cocreate::triage\"",
        ],
    );

    opp.label(h, CS_LEAD, "cocreate::triage").await;
    assert_eq!(
        opp.sorted_labels(h),
        sorted(&["cla::signed", "cocreate::triage", "group::source code"])
    );
    let body = opp.expect_comment(h, "**Triage: product buy-in needed.**");
    assert_contains(
        &body,
        &[
            "@example-pm-source-code, as product managers of ~\"group::source code\", do you support co-creating this",
            "- `@labelflow buy-in approve`",
            "- `@labelflow buy-in decline <reason>`",
            "I will remind the product managers in 5 days",
        ],
    );
    let followups = h.store().list_followups(10).await.expect("follow-ups");
    assert_eq!(followups.len(), 1, "{followups:?}");
    let due = followups[0].due_at - h.clock.now();
    assert!(
        due > ChronoDuration::days(5) - ChronoDuration::minutes(5)
            && due <= ChronoDuration::days(5),
        "reminder due in 5 days, not {due}"
    );
    assert!(!followups[0].fired);
    assert_eq!(opp.bot_comments(h), 3);
    (opp, triage)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn major_pathway_walks_every_stage_once_even_when_replayed() {
    let mut h = harness().await;
    let h = &mut h;
    let (opp, _triage) = through_triage(h).await;

    // The product manager of the group approves.
    opp.comment(
        h,
        PM,
        "Looks aligned with our roadmap.\n\n@labelflow buy-in approve",
    )
    .await;
    assert_eq!(
        opp.sorted_labels(h),
        sorted(&[
            "cla::signed",
            "cocreate::triage",
            "group::source code",
            "pm-buy-in::approved"
        ])
    );
    let body = opp.expect_comment(h, "**Product buy-in approved** by @example-pm-source-code");
    assert_contains(
        &body,
        &[&format!(
            "**Next:** Contributor Success ({CS_MENTIONS}) picks the pathway"
        )],
    );

    // Major pathway: engineering allocation issue, on-site coordinator pinged.
    opp.label(h, CS_LEAD, "cocreate-pathway::major").await;
    let eng_project = h.project("engineering_allocation");
    let eng = h.sim.issues(eng_project);
    assert_eq!(eng.len(), 1, "one allocation issue: {eng:#?}");
    assert_eq!(
        eng[0].title,
        "Co-Create engineering allocation: Acme Corp — Acme Corp: faster merge request pipelines"
    );
    assert_eq!(eng[0].labels, vec!["co-create".to_string()]);
    assert_eq!(h.assignees(eng_project, eng[0].iid), sorted(&[EM]));
    assert_contains(
        &eng[0].description,
        &[
            "## Co-Create engineering allocation",
            &format!("- **Opportunity:** {}", opp.web_url(h)),
            "- [ ] Apply ~\"engineering::allocated\" on the opportunity",
        ],
    );
    let eng_url = web_url(h, eng_project, eng[0].iid);
    let body = opp.expect_comment(
        h,
        "**Pathway: major contribution.** @example-cs-lead applied ~\"cocreate-pathway::major\"",
    );
    assert_contains(
        &body,
        &[
            &format!(
                "- opened the engineering allocation issue {eng_url} and assigned it to @example-eng-manager"
            ),
            "- pinged the on-site coordinator @example-onsite-coordinator: please join `#cocreate-initiative-acme-corp`",
        ],
    );

    // The CSM presents too early: no engineer allocated yet → back to triage.
    opp.label(h, CSM, "cocreate::presented").await;
    assert_eq!(
        opp.sorted_labels(h),
        sorted(&[
            "cla::signed",
            "cocreate-pathway::major",
            "cocreate::triage",
            "group::source code",
            "pm-buy-in::approved"
        ])
    );
    let body = opp.expect_comment(
        h,
        "@jane-csm, ~\"cocreate::presented\" was applied before its prerequisites were met, so I moved the issue back.",
    );
    assert_contains(
        &body,
        &[
            "Still missing:\n- for the major pathway: an engineer allocated by engineering (engineering::allocated)\n\nApply ~\"cocreate::presented\" again",
        ],
    );

    // Engineering names the engineer and records the allocation.
    let mut with_engineer = values();
    with_engineer.push(("Allocated engineer", "@example-eng-manager"));
    let description = fill_template(&issue_template("co-create-opportunity.md"), &with_engineer);
    opp.edit(h, EM, &without_quick_actions(&description)).await;
    assert_eq!(opp.bot_comments(h), 6, "an edit at this stage says nothing");
    opp.label(h, EM, "engineering::allocated").await;
    let body = opp.expect_comment(h, "**Engineering allocated.** @example-eng-manager applied ~\"engineering::allocated\": @example-eng-manager is the engineer for this co-creation.");
    assert_contains(
        &body,
        &[&format!(
            "**Next:** CSM @jane-csm and Contributor Success ({CS_MENTIONS}) can now present"
        )],
    );

    // Presented, now with every prerequisite.
    opp.label(h, CS_LEAD, "cocreate::presented").await;
    let body = opp.expect_comment(
        h,
        "**Presented to the customer.** @example-cs-lead applied ~\"cocreate::presented\"",
    );
    assert_contains(&body, &["~\"cocreate::onboarding\""]);

    // Onboarding session issue with its checklist.
    opp.label(h, CS_LEAD, "cocreate::onboarding").await;
    let onboarding_project = h.project("onboarding");
    let onb = h.sim.issues(onboarding_project);
    assert_eq!(onb.len(), 1, "{onb:#?}");
    assert_eq!(onb[0].title, "Co-Create onboarding session: Acme Corp");
    assert_eq!(onb[0].labels, vec!["co-create".to_string()]);
    assert_eq!(
        h.assignees(onboarding_project, onb[0].iid),
        sorted(&["example-cs-engineer", "example-cs-lead"])
    );
    assert_contains(
        &onb[0].description,
        &[
            "### Checklist",
            "- [ ] CLA signed",
            "- [ ] Accounts",
            "- [ ] Contribution process",
            "- **Customer engineers:** @acme-dev",
        ],
    );
    let onb_url = web_url(h, onboarding_project, onb[0].iid);
    opp.expect_comment(
        h,
        &format!(
            "**Onboarding.** I opened the onboarding-session issue {onb_url} with its checklist"
        ),
    );

    // On-site planning with the allocated engineer and the customer's engineers.
    opp.label(h, CS_LEAD, "cocreate::onsite").await;
    let onsite_project = h.project("onsite_planning");
    let onsite = h.sim.issues(onsite_project);
    assert_eq!(onsite.len(), 1, "{onsite:#?}");
    assert_eq!(
        onsite[0].title,
        "Co-Create on-site: Acme Corp — Acme Corp: faster merge request pipelines"
    );
    assert_eq!(
        h.assignees(onsite_project, onsite[0].iid),
        sorted(&["example-onsite-coordinator"])
    );
    assert_contains(
        &onsite[0].description,
        &[
            "- **Allocated GitLab engineer:** @example-eng-manager",
            "- **Customer engineers:** @acme-dev",
        ],
    );
    let onsite_url = web_url(h, onsite_project, onsite[0].iid);
    opp.expect_comment(
        h,
        &format!("**On-site planning.** I opened the on-site planning issue {onsite_url} and assigned it to the on-site coordinator (@example-onsite-coordinator). It names the allocated engineer @example-eng-manager and the customer's engineers @acme-dev."),
    );

    // The whole tracker.
    assert_eq!(
        opp.sorted_labels(h),
        sorted(&[
            "cla::signed",
            "cocreate-pathway::major",
            "cocreate::onsite",
            "engineering::allocated",
            "group::source code",
            "pm-buy-in::approved"
        ])
    );
    assert_eq!(h.assignees(opp.p, opp.iid), Vec::<String>::new());
    assert_eq!(opp.issue(h).state, IssueStatus::Opened);
    assert_eq!(opp.bot_comments(h), 10);
    let links = h.sim.links();
    assert_eq!(links.len(), 4, "{links:?}");
    assert!(links.iter().all(|l| l.source_issue_id == opp.issue(h).id));
    for name in [
        "opportunities",
        "cocreate_triage",
        "engineering_allocation",
        "onboarding",
        "onsite_planning",
    ] {
        assert_eq!(h.sim.issues(h.project(name)).len(), 1, "{name}");
    }
    for name in ["alliances", "plan_change_requests"] {
        assert!(h.sim.issues(h.project(name)).is_empty(), "{name}");
    }
    assert_eq!(h.queue().await.parked, 0);

    let replayed = h.replay_all_and_assert_unchanged().await;
    assert!(replayed >= 15, "replayed {replayed} deliveries");
    h.finish();
    h.stop_service().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_aligned_pathway_closes_the_opportunity_and_its_triage_issue() {
    let mut h = harness().await;
    let h = &mut h;
    let (opp, triage) = through_triage(h).await;

    opp.comment(h, PM, "@labelflow buy-in decline not on this roadmap")
        .await;
    let body = opp.expect_comment(
        h,
        "**Product buy-in declined** by @example-pm-source-code: I applied ~\"pm-buy-in::declined\".",
    );
    assert_contains(&body, &["**Reason given:** not on this roadmap"]);

    opp.label(h, CS_LEAD, "cocreate-pathway::not-aligned").await;
    let body = opp.expect_comment(
        h,
        "**Pathway: not aligned.** @example-cs-lead applied ~\"cocreate-pathway::not-aligned\"",
    );
    assert_contains(&body, &["CSM @jane-csm, please let the customer know"]);
    assert_eq!(opp.issue(h).state, IssueStatus::Closed);
    let triage_project = h.project("cocreate_triage");
    assert_eq!(
        h.sim.issue(triage_project, triage.iid).map(|i| i.state),
        Some(IssueStatus::Closed),
        "the triage issue is closed too"
    );
    assert_eq!(
        opp.sorted_labels(h),
        sorted(&[
            "cla::signed",
            "cocreate-pathway::not-aligned",
            "cocreate::triage",
            "group::source code",
            "pm-buy-in::declined"
        ])
    );
    assert_eq!(opp.bot_comments(h), 5);
    for name in ["engineering_allocation", "onboarding", "onsite_planning"] {
        assert!(h.sim.issues(h.project(name)).is_empty(), "{name}");
    }
    h.replay_all_and_assert_unchanged().await;
    h.finish();
    h.stop_service().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minor_pathway_hands_over_as_community_contribution_and_never_goes_onsite() {
    let mut h = harness().await;
    let h = &mut h;
    let (opp, _triage) = through_triage(h).await;

    // No buy-in needed for a minor contribution.
    opp.label(h, CS_LEAD, "cocreate-pathway::minor").await;
    assert_eq!(
        opp.sorted_labels(h),
        sorted(&[
            "cla::signed",
            "Community contribution",
            "cocreate-pathway::minor",
            "cocreate::triage",
            "group::source code"
        ])
    );
    assert_eq!(
        h.assignees(opp.p, opp.iid),
        sorted(&["example-cs-engineer", "example-cs-lead"])
    );
    let body = opp.expect_comment(
        h,
        "**Pathway: minor contribution.** @example-cs-lead applied ~\"cocreate-pathway::minor\"",
    );
    assert_contains(
        &body,
        &[
            "- applied ~\"Community contribution\"",
            &format!("- assigned Contributor Success ({CS_MENTIONS})"),
            "https://docs.gitlab.com/ee/development/contributing/",
        ],
    );

    opp.label(h, CSM, "cocreate::presented").await;
    opp.expect_comment(
        h,
        "**Presented to the customer.** @jane-csm applied ~\"cocreate::presented\"",
    );
    opp.label(h, CS_LEAD, "cocreate::onboarding").await;
    assert_eq!(h.sim.issues(h.project("onboarding")).len(), 1);
    opp.expect_comment(h, "**Onboarding.** I opened the onboarding-session issue");

    // On-site is for major contributions only: back to onboarding.
    opp.label(h, CS_LEAD, "cocreate::onsite").await;
    let body = opp.expect_comment(
        h,
        "@example-cs-lead, ~\"cocreate::onsite\" was applied before its prerequisites were met",
    );
    assert_contains(
        &body,
        &[
            "Still missing:\n- the major pathway (cocreate-pathway::major): on-site visits are only for major contributions\n- an engineer allocated by engineering (engineering::allocated)\n\n",
        ],
    );
    assert_eq!(
        opp.sorted_labels(h),
        sorted(&[
            "cla::signed",
            "Community contribution",
            "cocreate-pathway::minor",
            "cocreate::onboarding",
            "group::source code"
        ])
    );
    assert!(h.sim.issues(h.project("onsite_planning")).is_empty());
    assert!(h.sim.issues(h.project("engineering_allocation")).is_empty());
    assert_eq!(opp.bot_comments(h), 7);
    h.replay_all_and_assert_unchanged().await;
    h.finish();
    h.stop_service().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guards_revert_premature_stages_and_name_what_is_missing() {
    let mut h = harness().await;
    let h = &mut h;
    let opp = open(h, &complete_opportunity()).await;
    assert_identified_welcome(h, opp);
    opp.label(h, CS_LEAD, "cocreate::qualification").await;
    opp.expect_comment(h, "**Qualification started.**");

    // Presented without a pathway: back to qualification.
    opp.label(h, CSM, "cocreate::presented").await;
    let body = opp.expect_comment(
        h,
        "@jane-csm, ~\"cocreate::presented\" was applied before its prerequisites were met, so I moved the issue back.",
    );
    assert_contains(
        &body,
        &[
            "Still missing:\n- a pathway chosen by Contributor Success (cocreate-pathway::minor, cocreate-pathway::major or cocreate-pathway::not-aligned)\n\n",
        ],
    );
    assert_eq!(
        opp.sorted_labels(h),
        sorted(&[
            "cla::signed",
            "cocreate::qualification",
            "group::source code"
        ])
    );

    // Onboarding without a pathway: back to qualification.
    opp.label(h, CS_LEAD, "cocreate::onboarding").await;
    let body = opp.expect_comment(
        h,
        "@example-cs-lead, ~\"cocreate::onboarding\" was applied before its prerequisites were met",
    );
    assert_contains(
        &body,
        &[
            "Still missing:\n- a minor or major pathway (cocreate-pathway::minor or cocreate-pathway::major)\n\n",
        ],
    );
    assert_eq!(
        opp.sorted_labels(h),
        sorted(&[
            "cla::signed",
            "cocreate::qualification",
            "group::source code"
        ])
    );
    assert!(h.sim.issues(h.project("onboarding")).is_empty());

    opp.label(h, CS_LEAD, "cocreate::triage").await;
    opp.expect_comment(h, "**Triage: product buy-in needed.**");

    // Major without the product managers' buy-in: the pathway label is removed.
    opp.label(h, CS_LEAD, "cocreate-pathway::major").await;
    let body = opp.expect_comment(
        h,
        "@example-cs-lead, ~\"cocreate-pathway::major\" was applied before its prerequisites were met",
    );
    assert_contains(
        &body,
        &[
            "Still missing:\n- the product managers' buy-in (pm-buy-in::approved: a PM of the product group comments @\u{2060}labelflow buy-in approve)\n\n",
        ],
    );
    assert_eq!(
        opp.sorted_labels(h),
        sorted(&["cla::signed", "cocreate::triage", "group::source code"])
    );
    assert!(h.sim.issues(h.project("engineering_allocation")).is_empty());

    // Engineering allocated without the major pathway nor a named engineer.
    opp.label(h, EM, "engineering::allocated").await;
    let body = opp.expect_comment(
        h,
        "@example-eng-manager, ~\"engineering::allocated\" was applied before its prerequisites were met",
    );
    assert_contains(
        &body,
        &[
            "Still missing:\n- the major pathway (cocreate-pathway::major): engineers are allocated only for major contributions\n- the allocated engineer (an Allocated engineer line in the description)\n\n",
        ],
    );
    assert_eq!(
        opp.sorted_labels(h),
        sorted(&["cla::signed", "cocreate::triage", "group::source code"])
    );

    // On-site with the minor pathway: back to triage.
    opp.label(h, CS_LEAD, "cocreate-pathway::minor").await;
    opp.expect_comment(h, "**Pathway: minor contribution.**");
    opp.label(h, CS_LEAD, "cocreate::onsite").await;
    let body = opp.expect_comment(
        h,
        "@example-cs-lead, ~\"cocreate::onsite\" was applied before its prerequisites were met",
    );
    assert_contains(
        &body,
        &[
            "Still missing:\n- the major pathway (cocreate-pathway::major): on-site visits are only for major contributions\n- an engineer allocated by engineering (engineering::allocated)\n\n",
        ],
    );
    assert_eq!(
        opp.sorted_labels(h),
        sorted(&[
            "cla::signed",
            "Community contribution",
            "cocreate-pathway::minor",
            "cocreate::triage",
            "group::source code"
        ])
    );
    assert!(h.sim.issues(h.project("onsite_planning")).is_empty());
    assert_eq!(opp.bot_comments(h), 9);
    h.replay_all_and_assert_unchanged().await;
    h.finish();
    h.stop_service().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restricted_labels_applied_in_the_ui_by_the_wrong_person_are_reverted_and_explained() {
    let mut h = harness().await;
    let h = &mut h;
    let opp = open(h, &complete_opportunity()).await;
    assert_identified_welcome(h, opp);
    opp.label(h, CS_LEAD, "cocreate::triage").await;
    opp.expect_comment(h, "**Triage: product buy-in needed.**");

    // Pathway labels: Contributor Success only.
    opp.label(h, CSM, "cocreate-pathway::minor").await;
    let body = opp.expect_comment(
        h,
        "@jane-csm, the label ~\"cocreate-pathway::minor\" can only be applied by",
    );
    assert_eq!(
        body.split("<!--").next().unwrap_or_default().trim_end(),
        format!(
            "@jane-csm, the label ~\"cocreate-pathway::minor\" can only be applied by {CS_WHO}, so I removed it again.\n\nIf this item should move forward, please ask one of them to apply it."
        )
    );
    assert_eq!(
        opp.sorted_labels(h),
        sorted(&["cla::signed", "cocreate::triage", "group::source code"])
    );
    assert!(
        !h.labels(opp.p, opp.iid)
            .contains(&"Community contribution".to_string()),
        "no rule ran for the reverted label"
    );

    // Buy-in labels: the group's product managers or Contributor Success, not another PM.
    opp.label(h, OTHER_PM, "pm-buy-in::approved").await;
    let body = opp.expect_comment(
        h,
        "@example-pm-runner, the label ~\"pm-buy-in::approved\" can only be applied by the product managers of `group::source code` (`example-pm-source-code`) or the contributor-success role (`example-cs-lead`, `example-cs-engineer`), so I removed it again.",
    );
    assert!(body.contains("please ask one of them"), "{body}");
    assert_eq!(
        opp.sorted_labels(h),
        sorted(&["cla::signed", "cocreate::triage", "group::source code"])
    );

    // Engineering allocated: engineering managers or Contributor Success, checked before the
    // stage guard (one comment, not two).
    opp.label(h, CSM, "engineering::allocated").await;
    opp.expect_comment(
        h,
        "@jane-csm, the label ~\"engineering::allocated\" can only be applied by the engineering-manager role (`example-eng-manager`) or the contributor-success role (`example-cs-lead`, `example-cs-engineer`), so I removed it again.",
    );
    assert_eq!(
        opp.sorted_labels(h),
        sorted(&["cla::signed", "cocreate::triage", "group::source code"])
    );

    // The right people may: the PM of the group applies the buy-in label in the UI.
    opp.label(h, PM, "pm-buy-in::approved").await;
    assert_eq!(
        opp.sorted_labels(h),
        sorted(&[
            "cla::signed",
            "cocreate::triage",
            "group::source code",
            "pm-buy-in::approved"
        ])
    );

    // A wrong person switching the pathway gets the previous pathway back.
    opp.label(h, CS_LEAD, "cocreate-pathway::minor").await;
    opp.expect_comment(h, "**Pathway: minor contribution.**");
    opp.label(h, CSM, "cocreate-pathway::major").await;
    opp.expect_comment(
        h,
        "@jane-csm, the label ~\"cocreate-pathway::major\" can only be applied by",
    );
    assert_eq!(
        opp.sorted_labels(h),
        sorted(&[
            "cla::signed",
            "Community contribution",
            "cocreate-pathway::minor",
            "cocreate::triage",
            "group::source code",
            "pm-buy-in::approved"
        ])
    );
    assert!(h.sim.issues(h.project("engineering_allocation")).is_empty());
    assert_eq!(opp.bot_comments(h), 7);
    h.replay_all_and_assert_unchanged().await;
    h.finish();
    h.stop_service().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_check_permissions_and_answer_every_refusal() {
    let mut h = harness().await;
    let h = &mut h;
    let opp = open(h, &complete_opportunity()).await;
    assert_identified_welcome(h, opp);
    opp.label(h, CS_LEAD, "cocreate::qualification").await;
    opp.expect_comment(h, "**Qualification started.**");

    // Too early: buy-in is asked for at triage.
    opp.comment(h, PM, "@labelflow buy-in approve").await;
    opp.expect_comment(
        h,
        "@example-pm-source-code, `buy-in approve` needs more: this issue is not at a stage where it applies. Nothing was changed.",
    );

    opp.label(h, CS_LEAD, "cocreate::triage").await;
    opp.expect_comment(h, "**Triage: product buy-in needed.**");

    // Not a product manager of the group.
    opp.comment(h, CSM, "We should go ahead.\n@labelflow buy-in approve")
        .await;
    opp.expect_comment(
        h,
        "@jane-csm, I did not run `buy-in approve`: only the product managers of `group::source code` (`example-pm-source-code`) or the contributor-success role (`example-cs-lead`, `example-cs-engineer`) may use it here. Nothing was changed.",
    );
    // A product manager of another group.
    opp.comment(h, OTHER_PM, "@labelflow buy-in approve").await;
    opp.expect_comment(h, "@example-pm-runner, I did not run `buy-in approve`: only the product managers of `group::source code`");

    // Declining is checked the same way.
    opp.comment(h, CSM, "@labelflow buy-in decline too expensive")
        .await;
    opp.expect_comment(
        h,
        "@jane-csm, I did not run `buy-in decline too expensive`: only the product managers of `group::source code` (`example-pm-source-code`) or the contributor-success role (`example-cs-lead`, `example-cs-engineer`) may use it here. Nothing was changed.",
    );

    // A decline needs a reason.
    opp.comment(h, PM, "@labelflow buy-in decline").await;
    opp.expect_comment(
        h,
        "@example-pm-source-code, `buy-in decline` needs more: a reason after the command, for example: buy-in decline not on this year",
    );

    // Unknown command.
    opp.comment(h, PM, "@labelflow approve please").await;
    opp.expect_comment(
        h,
        "@example-pm-source-code, I don't know the command `approve please`. Commands available on this issue: `buy-in approve`, `buy-in decline`, `cla recheck`.",
    );
    assert_eq!(
        opp.sorted_labels(h),
        sorted(&["cla::signed", "cocreate::triage", "group::source code"]),
        "no refused command changed anything"
    );

    // Contributor Success may answer for the product managers.
    opp.comment(h, CS_LEAD, "@labelflow buy-in approve").await;
    opp.expect_comment(h, "**Product buy-in approved** by @example-cs-lead");
    assert_eq!(
        opp.sorted_labels(h),
        sorted(&[
            "cla::signed",
            "cocreate::triage",
            "group::source code",
            "pm-buy-in::approved"
        ])
    );
    assert_eq!(opp.bot_comments(h), 10);
    h.replay_all_and_assert_unchanged().await;
    h.finish();
    h.stop_service().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_fields_get_needs_info_until_the_description_is_fixed() {
    let mut h = harness().await;
    let h = &mut h;
    let partial: Vec<(&str, &str)> = values()
        .into_iter()
        .filter(|(k, _)| !matches!(*k, "SA" | "AE"))
        .collect();
    // No group label and no Product area either.
    let description = fill_template(&issue_template("co-create-opportunity.md"), &partial);
    let opp = open(h, &description).await;
    assert_eq!(
        opp.sorted_labels(h),
        sorted(&["cocreate::identified", "needs-info"])
    );
    let body = opp.expect_comment(
        h,
        "@jane-csm, this issue is missing information the next step needs:",
    );
    assert_contains(
        &body,
        &[
            "needs:\n- **SA**\n- **AE**\n- **Product area (a group:: label on this issue, or the Product area field)**\n\nPlease fill these in the description. I added ~\"needs-info\"",
        ],
    );

    // Still incomplete after an edit: nothing new.
    let mut more = partial.clone();
    more.push(("SA", "@sam-sa"));
    let still_partial = fill_template(&issue_template("co-create-opportunity.md"), &more);
    opp.edit(h, CSM, &without_quick_actions(&still_partial))
        .await;
    assert_eq!(opp.bot_comments(h), 1);
    assert_eq!(
        opp.sorted_labels(h),
        sorted(&["cocreate::identified", "needs-info"])
    );

    // Complete (the product area as a field): needs-info goes, the welcome comes.
    more.push(("AE", "@alex-ae"));
    more.push(("Product area", "Source Code"));
    let complete = fill_template(&issue_template("co-create-opportunity.md"), &more);
    opp.edit(h, CSM, &without_quick_actions(&complete)).await;
    assert_eq!(
        opp.sorted_labels(h),
        sorted(&["cla::signed", "cocreate::identified"])
    );
    let body = opp.expect_comment(h, "**Co-Create opportunity identified.**");
    assert_contains(
        &body,
        &[
            "| SA: @sam-sa |",
            "| AE: @alex-ae |",
            "- **Product area:** Source Code",
        ],
    );

    // Later edits do not repeat the welcome.
    opp.edit(
        h,
        CSM,
        &(without_quick_actions(&complete) + "\n\nMore context."),
    )
    .await;
    assert_eq!(opp.bot_comments(h), 2);
    h.replay_all_and_assert_unchanged().await;
    h.finish();
    h.stop_service().await;
}

/// The registry before Acme signs: another company's agreement only.
const REGISTRY_WITHOUT_ACME: &str = "agreements:
  - company: Globex Ltd
    gitlab_users: [globex-dev]
    version: \"2.0\"
    signed: 2024-01-15
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onboarding_waits_for_the_customers_cla_until_a_recheck_finds_it_signed() {
    let mut h = harness_without_registry().await;
    let h = &mut h;
    h.put_cla_registry(REGISTRY_WITHOUT_ACME);
    let opp = open(h, &complete_opportunity()).await;
    assert_identified_welcome(h, opp);
    assert_eq!(
        opp.sorted_labels(h),
        sorted(&["cla::missing", "cocreate::identified", "group::source code"])
    );
    let body = opp.expect_comment(h, "**CLA check: missing.**");
    assert_eq!(
        body.split("<!--").next().unwrap_or_default().trim_end(),
        "**CLA check: missing.** No valid Corporate Contributor Agreement covers this yet, so I labelled the issue ~\"cla::missing\".\n\n\
         - company Acme Corp: no agreement in the registry names them\n\
         - GitLab user @\u{2060}acme-dev: no agreement in the registry names them\n\n\
         To start or renew the agreement, contact the CLA managers: cla_managers@gitlab.com. Once it is signed, anyone can comment `@labelflow cla recheck`."
    );

    // Nobody walks past the CLA by applying its label: only Contributor Success may.
    opp.label(h, CSM, "cla::signed").await;
    opp.expect_comment(
        h,
        "@jane-csm, the label ~\"cla::signed\" can only be applied by the contributor-success role (`example-cs-lead`, `example-cs-engineer`), so I removed it again.",
    );
    assert_eq!(
        opp.sorted_labels(h),
        sorted(&["cla::missing", "cocreate::identified", "group::source code"])
    );

    // A minor contribution, presented: onboarding is refused while the CLA is missing.
    opp.label(h, CS_LEAD, "cocreate-pathway::minor").await;
    opp.expect_comment(h, "**Pathway: minor contribution.**");
    opp.label(h, CSM, "cocreate::presented").await;
    opp.expect_comment(h, "**Presented to the customer.**");
    opp.label(h, CS_LEAD, "cocreate::onboarding").await;
    let body = opp.expect_comment(
        h,
        "@example-cs-lead, ~\"cocreate::onboarding\" was applied before its prerequisites were met, so I moved the issue back.",
    );
    assert_contains(
        &body,
        &[
            "Still missing:\n- a signed Corporate Contributor Agreement (cla::signed); comment @\u{2060}labelflow cla recheck once it is signed\n\n",
        ],
    );
    let stage_labels = [
        "Community contribution",
        "cocreate-pathway::minor",
        "cocreate::presented",
        "group::source code",
    ];
    let with = |cla: &str| {
        let mut l = stage_labels.to_vec();
        l.push(cla);
        sorted(&l)
    };
    assert_eq!(opp.sorted_labels(h), with("cla::missing"));
    assert!(h.sim.issues(h.project("onboarding")).is_empty());

    // Acme signs; the legal team records it, and the customer's engineer asks for a recheck
    // (the registry read a moment ago is still cached: a recheck reads it again).
    h.put_cla_registry(ACME_SIGNED_REGISTRY);
    opp.comment(
        h,
        CUSTOMER_DEV,
        "We signed the agreement.\n\n@labelflow cla recheck",
    )
    .await;
    assert_eq!(opp.sorted_labels(h), with("cla::signed"));
    let body = opp.expect_comment(h, "**CLA check: signed.**");
    assert_eq!(
        body.split("<!--").next().unwrap_or_default().trim_end(),
        "**CLA check: signed.** I labelled the issue ~\"cla::signed\".\n\n\
         - company Acme Corp: covered by Acme Corporation, Inc. (version 2.0, signed 2024-03-01) (company name)\n\
         - GitLab user @\u{2060}acme-dev: covered by Acme Corporation, Inc. (version 2.0, signed 2024-03-01) (listed as a GitLab user)"
    );

    // Now onboarding goes ahead.
    opp.label(h, CS_LEAD, "cocreate::onboarding").await;
    let onboarding = h.sim.issues(h.project("onboarding"));
    assert_eq!(onboarding.len(), 1, "{onboarding:#?}");
    assert_eq!(
        onboarding[0].title,
        "Co-Create onboarding session: Acme Corp"
    );
    opp.expect_comment(h, "**Onboarding.** I opened the onboarding-session issue");
    assert_eq!(
        opp.sorted_labels(h),
        sorted(&[
            "Community contribution",
            "cla::signed",
            "cocreate-pathway::minor",
            "cocreate::onboarding",
            "group::source code",
        ])
    );
    assert_eq!(opp.bot_comments(h), 8);
    assert_eq!(h.queue().await.parked, 0);
    h.replay_all_and_assert_unchanged().await;
    h.finish();
    h.stop_service().await;
}

/// Opens an opportunity and moves it to triage (which schedules the buy-in reminder).
async fn at_triage(h: &mut Harness) -> Opp {
    let opp = open(h, &complete_opportunity()).await;
    assert_identified_welcome(h, opp);
    opp.label(h, CS_LEAD, "cocreate::triage").await;
    opp.expect_comment(h, "**Triage: product buy-in needed.**");
    opp
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
async fn buy_in_reminder_fires_once_after_a_restart() {
    let mut h = harness().await;
    let h = &mut h;
    let opp = at_triage(h).await;

    restart_days_later(h, 5).await;
    let body = opp.expect_comment(h, "**Reminder: product buy-in still open.**");
    assert_contains(
        &body,
        &[
            "in ~\"cocreate::triage\" for 5 days without a ~\"pm-buy-in::approved\" or ~\"pm-buy-in::declined\" answer",
            "@example-pm-source-code, please answer with `@labelflow buy-in approve` or `@labelflow buy-in decline <reason>`",
        ],
    );
    let followups = h.store().list_followups(10).await.expect("follow-ups");
    assert_eq!(followups.len(), 1);
    assert!(followups[0].fired);

    // Another restart, days later: it stays one reminder.
    restart_days_later(h, 6).await;
    assert_eq!(opp.bot_comments(h), 3);
    assert_eq!(h.queue().await.parked, 0);
    h.finish();
    h.stop_service().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buy_in_reminder_stays_silent_once_the_pms_answered() {
    let mut h = harness().await;
    let h = &mut h;
    let opp = at_triage(h).await;
    opp.comment(h, PM, "@labelflow buy-in approve").await;
    opp.expect_comment(h, "**Product buy-in approved** by @example-pm-source-code");

    restart_days_later(h, 5).await;
    let followups = h.store().list_followups(10).await.expect("follow-ups");
    assert_eq!(followups.len(), 1);
    assert!(followups[0].fired, "the reminder came due and was checked");
    assert_eq!(opp.bot_comments(h), 3, "no reminder");
    h.finish();
    h.stop_service().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buy_in_reminder_rechecks_the_tracker_even_when_a_change_was_missed() {
    let mut h = harness().await;
    let h = &mut h;
    let opp = at_triage(h).await;

    // While the service is down, Contributor Success records a decline in the UI; the
    // webhook for it never arrives.
    h.stop_service().await;
    h.sim
        .as_user(CS_LEAD)
        .add_labels(opp.p, opp.iid, &["pm-buy-in::declined"])
        .expect("label applied");
    assert!(
        h.sim
            .wait_hooks_idle(std::time::Duration::from_secs(10))
            .await
    );
    h.clock.advance(ChronoDuration::days(5));
    h.start_service(4).await;
    h.settle_followups().await;
    let followups = h.store().list_followups(10).await.expect("follow-ups");
    assert!(followups[0].fired);
    assert_eq!(opp.bot_comments(h), 2, "no reminder");
    h.finish();
    h.stop_service().await;
}
