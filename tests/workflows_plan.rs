//! Pure planner tests of the shipped configuration (`labelflow.yml`): every stage and branch of
//! the Co-Create and Alliances workflows, asserting the exact actions planned.

use chrono::Duration;
use labelflow::actions::cla::ClaCheck;
use labelflow::actions::{Action, PlannedAction, Target};
use labelflow::cla::{SourceSpec, Subjects};
use labelflow::domain::{Event, IssueState, IssueStatus};
use labelflow::engine::Plan;
use std::path::Path;

#[path = "common/plan_fixtures.rs"]
mod plan_fixtures;

use plan_fixtures::*;

fn kinds(p: &Plan) -> Vec<&'static str> {
    p.actions.iter().map(|a| a.action.kind()).collect()
}

fn body(a: &PlannedAction) -> &str {
    match &a.action {
        Action::Comment { body } => body,
        other => panic!("expected a comment, got {other:?}"),
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn add_labels(a: &PlannedAction) -> Vec<String> {
    match &a.action {
        Action::AddLabels { labels } => labels.clone(),
        other => panic!("expected add_labels, got {other:?}"),
    }
}

fn remove_labels(a: &PlannedAction) -> Vec<String> {
    match &a.action {
        Action::RemoveLabels { labels } => labels.clone(),
        other => panic!("expected remove_labels, got {other:?}"),
    }
}

fn cla_check(a: &PlannedAction) -> &ClaCheck {
    match &a.action {
        Action::ClaCheck(c) => c,
        other => panic!("expected cla_check, got {other:?}"),
    }
}

/// The CLA check every complete opportunity gets: the `Customer` company and the `Customer
/// engineers`, looked up in the legal team's registry file.
fn assert_opportunity_cla_check(a: &PlannedAction, recheck: bool) {
    let c = cla_check(a);
    assert_eq!(
        c.subjects,
        Subjects {
            company: Some("Acme Corp".to_string()),
            gitlab_users: strings(&["cust.dev1", "cust.dev2"]),
            github_users: vec![],
        }
    );
    assert_eq!(
        c.settings.source,
        SourceSpec::Gitlab {
            project: "legal/cla-registry".to_string(),
            path: "registry.yml".to_string(),
            git_ref: "main".to_string(),
        }
    );
    assert_eq!(c.settings.cache_ttl_seconds, 300);
    assert_eq!(c.settings.required_version, None);
    assert_eq!(
        c.labels.all(),
        ["cla::signed", "cla::missing", "cla::unknown"]
    );
    assert_eq!(c.recheck, recheck);
    assert_eq!(
        c.comments.missing,
        "**CLA check: missing.** No valid Corporate Contributor Agreement covers this yet, so I labelled the issue ~\"cla::missing\".\n\n⟦cla.details⟧\n\nTo start or renew the agreement, contact the CLA managers: cla_managers@gitlab.com. Once it is signed, anyone can comment `@labelflow cla recheck`.\n"
    );
    assert_contains(
        &c.comments.unknown,
        "the CLA managers (cla_managers@gitlab.com)",
    );
    assert_contains(&c.comments.signed, "**CLA check: signed.**");
}

fn assignees(a: &PlannedAction) -> Vec<String> {
    match &a.action {
        Action::Assign { usernames } => usernames.clone(),
        other => panic!("expected assign, got {other:?}"),
    }
}

/// `@username` mentions in a body, in order, without duplicates.
fn mentions(text: &str) -> Vec<String> {
    labelflow::render::usernames_in_text(text)
}

fn assert_contains(text: &str, needle: &str) {
    assert!(
        text.contains(needle),
        "expected {needle:?} in:\n---\n{text}\n---"
    );
}

// ───────────────────────────── Co-Create ─────────────────────────────

const COMPLETE_OPPORTUNITY: &str = "## Customer\n\nAcme Corp\n\n## Problem\n\nLarge diffs load slowly.\n\n\
Product area: \nWillingness to contribute: high, two teams asked for it\n\
Ability to contribute: 3 Ruby engineers\nCSM: @jane.csm\nSA: @sam.sa\nAE: @alex.ae\n\
Customer engineers: @cust.dev1, @cust.dev2\nAllocated engineer: \n";

fn opportunity(labels: &[&str]) -> IssueState {
    issue(OPPORTUNITIES, labels, COMPLETE_OPPORTUNITY)
}

fn opportunity_with(labels: &[&str], description: &str) -> IssueState {
    issue(OPPORTUNITIES, labels, description)
}

#[test]
fn identified_complete_suggests_channel_invites_and_links_resources() {
    let i = opportunity(&["cocreate::identified", "group::source code"]);
    let p = run(&opened(&i), &i);
    assert_eq!(kinds(&p), vec!["comment", "cla_check"]);
    assert_eq!(p.actions[1].rule, "identified");
    assert_eq!(p.actions[1].key, "cocreate/identified/14#7/once/1");
    assert_opportunity_cla_check(&p.actions[1], false);
    let a = &p.actions[0];
    assert_eq!(a.rule, "identified");
    assert_eq!(a.key, "cocreate/identified/14#7/once/0");
    let b = body(a);
    assert_contains(b, "`#cocreate-initiative-acme-corp`");
    assert_eq!(
        mentions(b),
        strings(&[
            "jane.csm",
            "sam.sa",
            "alex.ae",
            "example-cs-lead",
            "example-cs-engineer",
            "example-devrel-lead"
        ])
    );
    assert_contains(b, "~\"group::source code\"");
    assert_contains(b, "https://about.gitlab.com/community/contribute/");
    assert_contains(b, "https://about.gitlab.com/company/stewardship/");
    assert_contains(b, "cla_managers@gitlab.com");
    assert_contains(b, "~\"cocreate::qualification\"");
}

#[test]
fn identified_accepts_product_area_field_instead_of_group_label() {
    let d = COMPLETE_OPPORTUNITY.replace("Product area: ", "Product area: Code Review");
    let i = opportunity_with(&["cocreate::identified"], &d);
    let p = run(&opened(&i), &i);
    assert_eq!(kinds(&p), vec!["comment", "cla_check"]);
    assert_contains(body(&p.actions[0]), "**Product area:** Code Review");
    assert_opportunity_cla_check(&p.actions[1], false);
}

#[test]
fn identified_with_missing_fields_lists_them_once_and_adds_needs_info() {
    let d = COMPLETE_OPPORTUNITY
        .replace("SA: @sam.sa", "SA: ")
        .replace("AE: @alex.ae", "AE: _TBD_");
    let i = opportunity_with(&["cocreate::identified"], &d);
    let p = run(&opened(&i), &i);
    assert_eq!(kinds(&p), vec!["add_labels", "comment"]);
    assert_eq!(add_labels(&p.actions[0]), strings(&["needs-info"]));
    let b = body(&p.actions[1]);
    assert_eq!(b.matches("\n- **").count(), 3, "{b}");
    assert_contains(b, "- **SA**");
    assert_contains(b, "- **AE**");
    assert_contains(
        b,
        "- **Product area (a group:: label on this issue, or the Product area field)**",
    );
    assert_eq!(mentions(b), strings(&["requester"]));
}

#[test]
fn fixing_the_fields_removes_needs_info_and_posts_the_welcome() {
    let i = opportunity(&["cocreate::identified", "needs-info", "group::code review"]);
    let p = run(&edited(&i, "requester"), &i);
    assert_eq!(kinds(&p), vec!["remove_labels", "comment", "cla_check"]);
    assert_eq!(remove_labels(&p.actions[0]), strings(&["needs-info"]));
    assert_eq!(p.actions[1].rule, "identified");
    assert_contains(body(&p.actions[1]), "#cocreate-initiative-acme-corp");
    assert_eq!(p.actions[2].rule, "identified");
    assert_opportunity_cla_check(&p.actions[2], false);
}

#[test]
fn an_edit_that_leaves_fields_missing_changes_nothing() {
    let d = COMPLETE_OPPORTUNITY.replace("CSM: @jane.csm", "CSM:");
    let i = opportunity_with(
        &["cocreate::identified", "needs-info", "group::code review"],
        &d,
    );
    let p = run(&edited(&i, "requester"), &i);
    assert!(p.actions.is_empty(), "{:?}", p.actions);
}

#[test]
fn qualification_opens_the_triage_issue_assigned_to_contributor_success() {
    let i = opportunity(&["cocreate::qualification", "group::source code"]);
    let p = run(
        &labels_changed(
            &i,
            "example-cs-lead",
            &["cocreate::qualification"],
            &["cocreate::identified"],
        ),
        &i,
    );
    assert_eq!(kinds(&p), vec!["create_issue", "comment"]);
    match &p.actions[0].action {
        Action::CreateIssue {
            id,
            project,
            title,
            description,
            labels,
            assignees,
            confidential,
        } => {
            assert_eq!(id, "triage");
            assert_eq!(project, "contributor-success/co-create-triage");
            assert_eq!(
                title,
                "Co-Create triage: Acme Corp — Faster merge request diffs"
            );
            assert_eq!(labels, &strings(&["co-create"]));
            assert_eq!(assignees, &strings(CS));
            assert!(!confidential);
            assert_contains(description, "co-create/opportunities#7");
            assert_contains(description, "> Large diffs load slowly.");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(p.actions[0].key, "cocreate/qualification/14#7/once/0");
    let b = body(&p.actions[1]);
    assert_contains(b, "⟦created.triage.web_url⟧");
    assert_eq!(mentions(b), strings(CS));
}

#[test]
fn triage_asks_the_product_group_pms_and_schedules_a_reminder() {
    let i = opportunity(&["cocreate::triage", "group::runner"]);
    let p = run(
        &labels_changed(
            &i,
            "example-cs-lead",
            &["cocreate::triage"],
            &["cocreate::qualification"],
        ),
        &i,
    );
    assert_eq!(kinds(&p), vec!["comment", "schedule_followup"]);
    let b = body(&p.actions[0]);
    assert_eq!(
        mentions(b),
        strings(&["example-pm-runner", "example-pm-runner-fleet"])
    );
    assert_contains(b, "`@labelflow buy-in approve`");
    assert_contains(b, "`@labelflow buy-in decline <reason>`");
    match &p.actions[1].action {
        Action::ScheduleFollowup { name, due_at } => {
            assert_eq!(name, "cocreate/buy-in-reminder");
            assert_eq!(*due_at, now() + Duration::days(5));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn triage_without_a_known_group_label_asks_contributor_success_for_one() {
    let i = opportunity(&["cocreate::triage", "group::unknown"]);
    let p = run(
        &labels_changed(&i, "example-cs-lead", &["cocreate::triage"], &[]),
        &i,
    );
    assert_eq!(kinds(&p), vec!["comment", "schedule_followup"]);
    let b = body(&p.actions[0]);
    assert_eq!(mentions(b), strings(CS));
    assert_contains(b, "no `group::` label that the directory knows");
}

#[test]
fn reminder_fires_only_while_nobody_has_answered() {
    let waiting = opportunity(&["cocreate::triage", "group::source code"]);
    let p = run(&followup(&waiting, "cocreate/buy-in-reminder"), &waiting);
    assert_eq!(kinds(&p), vec!["comment"]);
    assert_eq!(mentions(body(&p.actions[0]))[0], "example-pm-source-code");
    assert_contains(body(&p.actions[0]), "for 5 days");

    let answered = opportunity(&[
        "cocreate::triage",
        "group::source code",
        "pm-buy-in::declined",
    ]);
    assert!(
        run(&followup(&answered, "cocreate/buy-in-reminder"), &answered)
            .actions
            .is_empty()
    );
    let moved_on = opportunity(&["cocreate::presented", "group::source code"]);
    assert!(
        run(&followup(&moved_on, "cocreate/buy-in-reminder"), &moved_on)
            .actions
            .is_empty()
    );
    let mut closed = waiting.clone();
    closed.state = IssueStatus::Closed;
    assert!(
        run(&followup(&closed, "cocreate/buy-in-reminder"), &closed)
            .actions
            .is_empty()
    );
}

#[test]
fn buy_in_approve_by_the_groups_pm_or_contributor_success() {
    let i = opportunity(&["cocreate::triage", "group::source code"]);
    for who in ["example-pm-source-code", "example-cs-engineer"] {
        let p = run(&comment(&i, who, "LGTM\n@labelflow buy-in approve"), &i);
        assert_eq!(kinds(&p), vec!["add_labels", "comment"], "{who}");
        assert_eq!(add_labels(&p.actions[0]), strings(&["pm-buy-in::approved"]));
        let b = body(&p.actions[1]);
        assert_eq!(mentions(b)[0], who);
        assert_contains(b, "~\"cocreate-pathway::major\"");
        assert_eq!(p.actions[0].key, "cocreate/buy-in-approve/14#7/note:5001/0");
    }
}

#[test]
fn buy_in_by_anyone_else_is_refused_with_a_reply() {
    let i = opportunity(&["cocreate::triage", "group::source code"]);
    // Another group's PM, an outsider, and usernames that only look like a role.
    for who in [
        "example-pm-runner",
        "random-dev",
        "contributor-success",
        "Example-CS-Lead",
    ] {
        let p = run(&comment(&i, who, "@labelflow buy-in approve"), &i);
        assert_eq!(kinds(&p), vec!["comment"], "{who}");
        assert_eq!(p.actions[0].rule, "buy-in-approve:refused");
        let b = body(&p.actions[0]);
        assert_contains(b, "I did not run `buy-in approve`");
        assert_contains(
            b,
            "the product managers of `group::source code` (`example-pm-source-code`) or the contributor-success role (`example-cs-lead`, `example-cs-engineer`)",
        );
        assert_contains(b, "Nothing was changed.");
    }
}

#[test]
fn buy_in_decline_needs_a_reason() {
    let i = opportunity(&["cocreate::triage", "group::source code"]);
    let p = run(
        &comment(&i, "example-pm-source-code", "@labelflow buy-in decline"),
        &i,
    );
    assert_eq!(kinds(&p), vec!["comment"]);
    assert_eq!(p.actions[0].rule, "buy-in-decline:usage");
    assert_contains(
        body(&p.actions[0]),
        "needs more: a reason after the command",
    );

    let p = run(
        &comment(
            &i,
            "example-pm-source-code",
            "@labelflow buy-in decline not on this year's roadmap",
        ),
        &i,
    );
    assert_eq!(kinds(&p), vec!["add_labels", "comment"]);
    assert_eq!(add_labels(&p.actions[0]), strings(&["pm-buy-in::declined"]));
    assert_contains(
        body(&p.actions[1]),
        "**Reason given:** not on this year's roadmap",
    );
}

#[test]
fn buy_in_outside_triage_gets_a_stage_reply() {
    let i = opportunity(&["cocreate::qualification", "group::source code"]);
    let p = run(
        &comment(&i, "example-pm-source-code", "@labelflow buy-in approve"),
        &i,
    );
    assert_eq!(kinds(&p), vec!["comment"]);
    assert_contains(
        body(&p.actions[0]),
        "this issue is not at a stage where it applies",
    );
}

#[test]
fn pathway_labels_from_anyone_but_contributor_success_are_reverted() {
    for who in ["random-dev", "contributor-success", "Example-CS-Lead"] {
        let i = opportunity(&["cocreate::triage", "cocreate-pathway::minor"]);
        let p = run(
            &labels_changed(&i, who, &["cocreate-pathway::minor"], &[]),
            &i,
        );
        assert_eq!(kinds(&p), vec!["remove_labels", "comment"], "{who}");
        assert_eq!(
            remove_labels(&p.actions[0]),
            strings(&["cocreate-pathway::minor"])
        );
        let b = body(&p.actions[1]);
        assert_contains(
            b,
            "~\"cocreate-pathway::minor\" can only be applied by the contributor-success role (`example-cs-lead`, `example-cs-engineer`)",
        );
    }
    // Replacing a pathway: the previous one comes back.
    let i = opportunity(&["cocreate::triage", "cocreate-pathway::major"]);
    let p = run(
        &labels_changed(
            &i,
            "random-dev",
            &["cocreate-pathway::major"],
            &["cocreate-pathway::minor"],
        ),
        &i,
    );
    assert_eq!(kinds(&p), vec!["remove_labels", "add_labels", "comment"]);
    assert_eq!(
        add_labels(&p.actions[1]),
        strings(&["cocreate-pathway::minor"])
    );
}

#[test]
fn not_aligned_explains_and_closes_both_issues() {
    let i = opportunity(&["cocreate::triage", "cocreate-pathway::not-aligned"]);
    let p = run(
        &labels_changed(
            &i,
            "example-cs-lead",
            &["cocreate-pathway::not-aligned"],
            &[],
        ),
        &i,
    );
    assert_eq!(kinds(&p), vec!["comment", "close", "close"]);
    let b = body(&p.actions[0]);
    assert_contains(b, "not aligned with GitLab's roadmap or product strategy");
    assert_eq!(mentions(b), strings(&["example-cs-lead", "jane.csm"]));
    assert_eq!(
        p.actions[1].action,
        Action::Close {
            target: Target::Linked {
                id: "triage".to_string(),
                project: "contributor-success/co-create-triage".to_string()
            }
        }
    );
    assert_eq!(
        p.actions[2].action,
        Action::Close {
            target: Target::This
        }
    );
}

#[test]
fn minor_pathway_hands_over_as_a_community_contribution() {
    let i = opportunity(&["cocreate::triage", "cocreate-pathway::minor"]);
    let p = run(
        &labels_changed(&i, "example-cs-lead", &["cocreate-pathway::minor"], &[]),
        &i,
    );
    assert_eq!(kinds(&p), vec!["add_labels", "assign", "comment"]);
    assert_eq!(
        add_labels(&p.actions[0]),
        strings(&["Community contribution"])
    );
    assert_eq!(assignees(&p.actions[1]), strings(CS));
    let b = body(&p.actions[2]);
    assert_contains(b, "https://docs.gitlab.com/ee/development/contributing/");
    assert_contains(b, "~\"Community contribution\"");
}

#[test]
fn major_pathway_needs_buy_in() {
    let i = opportunity(&["cocreate::triage", "cocreate-pathway::major"]);
    let p = run(
        &labels_changed(
            &i,
            "example-cs-lead",
            &["cocreate-pathway::major"],
            &["cocreate-pathway::minor"],
        ),
        &i,
    );
    assert_eq!(kinds(&p), vec!["remove_labels", "add_labels", "comment"]);
    assert_eq!(
        remove_labels(&p.actions[0]),
        strings(&["cocreate-pathway::major"])
    );
    assert_eq!(
        add_labels(&p.actions[1]),
        strings(&["cocreate-pathway::minor"])
    );
    let b = body(&p.actions[2]);
    assert_eq!(b.matches("\n- ").count(), 1, "{b}");
    assert_contains(b, "- the product managers' buy-in (pm-buy-in::approved");
}

#[test]
fn major_pathway_opens_engineering_allocation_and_pings_onsite_coordinator() {
    let i = opportunity(&[
        "cocreate::triage",
        "pm-buy-in::approved",
        "cocreate-pathway::major",
    ]);
    let p = run(
        &labels_changed(&i, "example-cs-lead", &["cocreate-pathway::major"], &[]),
        &i,
    );
    assert_eq!(kinds(&p), vec!["create_issue", "comment"]);
    match &p.actions[0].action {
        Action::CreateIssue {
            id,
            project,
            assignees,
            description,
            ..
        } => {
            assert_eq!(id, "engineering");
            assert_eq!(project, "engineering/co-create-allocation");
            assert_eq!(assignees, &strings(&["example-eng-manager"]));
            assert_contains(description, "~\"engineering::allocated\"");
        }
        other => panic!("{other:?}"),
    }
    let b = body(&p.actions[1]);
    assert_contains(b, "⟦created.engineering.web_url⟧");
    assert_eq!(
        mentions(b),
        strings(&[
            "example-cs-lead",
            "example-eng-manager",
            "example-onsite-coordinator"
        ])
    );
}

#[test]
fn engineering_allocated_is_restricted_and_guarded() {
    let i = opportunity(&["cocreate-pathway::major", "engineering::allocated"]);
    let p = run(
        &labels_changed(&i, "random-dev", &["engineering::allocated"], &[]),
        &i,
    );
    assert_eq!(kinds(&p), vec!["remove_labels", "comment"]);
    assert_eq!(p.actions[0].rule, "restricted:engineering::allocated");

    // The right person, but nobody is named as the allocated engineer yet.
    let p = run(
        &labels_changed(&i, "example-eng-manager", &["engineering::allocated"], &[]),
        &i,
    );
    assert_eq!(kinds(&p), vec!["remove_labels", "comment"]);
    assert_eq!(p.actions[0].rule, "guard:engineering::allocated");
    assert_contains(body(&p.actions[1]), "- the allocated engineer");

    let d = COMPLETE_OPPORTUNITY.replace("Allocated engineer: ", "Allocated engineer: @gl.eng");
    let i = opportunity_with(&["cocreate-pathway::major", "engineering::allocated"], &d);
    let p = run(
        &labels_changed(&i, "example-eng-manager", &["engineering::allocated"], &[]),
        &i,
    );
    assert_eq!(kinds(&p), vec!["comment"]);
    assert_eq!(
        mentions(body(&p.actions[0])),
        strings(&[
            "example-eng-manager",
            "gl.eng",
            "jane.csm",
            "example-cs-lead",
            "example-cs-engineer"
        ])
    );
}

#[test]
fn presented_without_a_pathway_is_reverted_to_the_previous_stage() {
    let i = opportunity(&["cocreate::presented", "pm-buy-in::approved"]);
    let p = run(
        &labels_changed(
            &i,
            "jane.csm",
            &["cocreate::presented"],
            &["cocreate::triage"],
        ),
        &i,
    );
    assert_eq!(kinds(&p), vec!["remove_labels", "add_labels", "comment"]);
    assert_eq!(
        remove_labels(&p.actions[0]),
        strings(&["cocreate::presented"])
    );
    assert_eq!(add_labels(&p.actions[1]), strings(&["cocreate::triage"]));
    let b = body(&p.actions[2]);
    assert_eq!(b.matches("\n- ").count(), 1, "{b}");
    assert_contains(b, "- a pathway chosen by Contributor Success");
}

#[test]
fn presented_for_major_needs_engineering_allocated() {
    let i = opportunity(&[
        "cocreate::presented",
        "cocreate-pathway::major",
        "pm-buy-in::approved",
    ]);
    let p = run(
        &labels_changed(
            &i,
            "jane.csm",
            &["cocreate::presented"],
            &["cocreate::triage"],
        ),
        &i,
    );
    assert_eq!(kinds(&p), vec!["remove_labels", "add_labels", "comment"]);
    let b = body(&p.actions[2]);
    assert_eq!(b.matches("\n- ").count(), 1, "{b}");
    assert_contains(
        b,
        "- for the major pathway: an engineer allocated by engineering (engineering::allocated)",
    );

    let ready = opportunity(&[
        "cocreate::presented",
        "cocreate-pathway::major",
        "pm-buy-in::approved",
        "engineering::allocated",
    ]);
    let p = run(
        &labels_changed(
            &ready,
            "jane.csm",
            &["cocreate::presented"],
            &["cocreate::triage"],
        ),
        &ready,
    );
    assert_eq!(kinds(&p), vec!["comment"]);
    assert_eq!(p.actions[0].rule, "presented");
}

#[test]
fn presented_with_minor_pathway_goes_ahead() {
    let i = opportunity(&["cocreate::presented", "cocreate-pathway::minor"]);
    let p = run(
        &labels_changed(
            &i,
            "jane.csm",
            &["cocreate::presented"],
            &["cocreate::triage"],
        ),
        &i,
    );
    assert_eq!(kinds(&p), vec!["comment"]);
    assert_contains(body(&p.actions[0]), "~\"cocreate::onboarding\"");
}

#[test]
fn onboarding_opens_the_session_issue_with_its_checklist() {
    let i = opportunity(&[
        "cocreate::onboarding",
        "cocreate-pathway::minor",
        "cla::signed",
    ]);
    let p = run(
        &labels_changed(
            &i,
            "example-cs-lead",
            &["cocreate::onboarding"],
            &["cocreate::presented"],
        ),
        &i,
    );
    assert_eq!(kinds(&p), vec!["create_issue", "comment"]);
    match &p.actions[0].action {
        Action::CreateIssue {
            project,
            title,
            description,
            assignees,
            ..
        } => {
            assert_eq!(project, "contributor-success/co-create-onboarding");
            assert_eq!(title, "Co-Create onboarding session: Acme Corp");
            assert_eq!(assignees, &strings(CS));
            for item in [
                "- [ ] CLA signed",
                "- [ ] Accounts",
                "- [ ] Contribution process",
            ] {
                assert_contains(description, item);
            }
            assert_eq!(mentions(description), strings(&["cust.dev1", "cust.dev2"]));
        }
        other => panic!("{other:?}"),
    }
    assert_contains(body(&p.actions[1]), "⟦created.onboarding.web_url⟧");
}

#[test]
fn onboarding_needs_a_minor_or_major_pathway() {
    let i = opportunity(&[
        "cocreate::onboarding",
        "cocreate-pathway::not-aligned",
        "cla::signed",
    ]);
    let p = run(
        &labels_changed(
            &i,
            "example-cs-lead",
            &["cocreate::onboarding"],
            &["cocreate::presented"],
        ),
        &i,
    );
    assert_eq!(kinds(&p), vec!["remove_labels", "add_labels", "comment"]);
    assert_eq!(add_labels(&p.actions[1]), strings(&["cocreate::presented"]));
    assert_contains(
        body(&p.actions[2]),
        "Still missing:\n- a minor or major pathway (cocreate-pathway::minor or cocreate-pathway::major)\n\n",
    );
}

#[test]
fn onboarding_needs_a_signed_cla() {
    for cla in [None, Some("cla::missing"), Some("cla::unknown")] {
        let mut labels = vec!["cocreate::onboarding", "cocreate-pathway::minor"];
        labels.extend(cla);
        let i = opportunity(&labels);
        let p = run(
            &labels_changed(
                &i,
                "example-cs-lead",
                &["cocreate::onboarding"],
                &["cocreate::presented"],
            ),
            &i,
        );
        assert_eq!(
            kinds(&p),
            vec!["remove_labels", "add_labels", "comment"],
            "{cla:?}"
        );
        assert_eq!(
            remove_labels(&p.actions[0]),
            strings(&["cocreate::onboarding"])
        );
        assert_eq!(add_labels(&p.actions[1]), strings(&["cocreate::presented"]));
        assert_contains(
            body(&p.actions[2]),
            "Still missing:\n- a signed Corporate Contributor Agreement (cla::signed); comment @\u{2060}labelflow cla recheck once it is signed\n\n",
        );
    }
}

#[test]
fn cla_recheck_is_for_anyone_on_the_issue_and_bypasses_the_cache() {
    for who in ["cust.dev1", "requester", "example-cs-lead"] {
        let i = opportunity(&["cocreate::triage", "cla::missing"]);
        let p = run(
            &comment(&i, who, "Signed last week.\n@labelflow cla recheck"),
            &i,
        );
        assert_eq!(kinds(&p), vec!["cla_check"], "{who}");
        assert_eq!(p.actions[0].rule, "cla-recheck");
        assert_opportunity_cla_check(&p.actions[0], true);
    }
}

#[test]
fn onsite_is_for_the_major_pathway_only() {
    let i = opportunity(&["cocreate::onsite", "cocreate-pathway::minor"]);
    let p = run(
        &labels_changed(
            &i,
            "example-cs-lead",
            &["cocreate::onsite"],
            &["cocreate::onboarding"],
        ),
        &i,
    );
    assert_eq!(kinds(&p), vec!["remove_labels", "add_labels", "comment"]);
    assert_eq!(
        add_labels(&p.actions[1]),
        strings(&["cocreate::onboarding"])
    );
    let b = body(&p.actions[2]);
    assert_eq!(b.matches("\n- ").count(), 2, "{b}");
    assert_contains(b, "- the major pathway (cocreate-pathway::major)");
    assert_contains(b, "- an engineer allocated by engineering");
}

#[test]
fn onsite_plans_with_the_allocated_engineer_and_customer_engineers() {
    let d = COMPLETE_OPPORTUNITY.replace("Allocated engineer: ", "Allocated engineer: @gl.eng");
    let i = opportunity_with(
        &[
            "cocreate::onsite",
            "cocreate-pathway::major",
            "engineering::allocated",
        ],
        &d,
    );
    let p = run(
        &labels_changed(
            &i,
            "example-cs-lead",
            &["cocreate::onsite"],
            &["cocreate::onboarding"],
        ),
        &i,
    );
    assert_eq!(kinds(&p), vec!["create_issue", "comment"]);
    match &p.actions[0].action {
        Action::CreateIssue {
            project,
            assignees,
            description,
            ..
        } => {
            assert_eq!(project, "co-create/onsite-planning");
            assert_eq!(assignees, &strings(&["example-onsite-coordinator"]));
            assert_eq!(
                mentions(description),
                strings(&["gl.eng", "cust.dev1", "cust.dev2"])
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        mentions(body(&p.actions[1])),
        strings(&[
            "example-onsite-coordinator",
            "gl.eng",
            "cust.dev1",
            "cust.dev2"
        ])
    );
}

#[test]
fn buy_in_labels_from_the_ui_are_restricted_to_pms_and_contributor_success() {
    let i = opportunity(&[
        "cocreate::triage",
        "group::source code",
        "pm-buy-in::approved",
    ]);
    let p = run(
        &labels_changed(&i, "jane.csm", &["pm-buy-in::approved"], &[]),
        &i,
    );
    assert_eq!(kinds(&p), vec!["remove_labels", "comment"]);
    assert_contains(
        body(&p.actions[1]),
        "can only be applied by the product managers of `group::source code`",
    );
    let p = run(
        &labels_changed(&i, "example-pm-source-code", &["pm-buy-in::approved"], &[]),
        &i,
    );
    assert!(p.actions.is_empty(), "{:?}", p.actions);
}

#[test]
fn user_text_cannot_run_quick_actions_or_mass_mention() {
    let d = COMPLETE_OPPORTUNITY.replace("Acme Corp", "/close @all <b>x</b>");
    let i = opportunity_with(&["cocreate::identified", "group::source code"], &d);
    let p = run(&opened(&i), &i);
    let b = body(&p.actions[0]);
    assert!(!b.lines().any(|l| l.trim_start().starts_with('/')), "{b}");
    assert!(!mentions(b).contains(&"all".to_string()));
    assert!(!b.contains("<b>"));
    assert_contains(
        b,
        "**Customer:** \u{200B}/close @\u{2060}all &lt;b&gt;x&lt;/b&gt;",
    );
    assert_contains(b, "`#cocreate-initiative-close-all-b-x-b`");
}

// ───────────────────────────── Alliances ─────────────────────────────

const INBOUND: &str = "Partner: Globex\nPartner contact: Hank Scorpio\n\n## Summary\n\nCI integration\n\n\
## Technical integration\n\nGlobex scanners in GitLab CI\n\n## End-user benefits\n\nFindings in MRs\n\n\
## Business relationship\n\nTechnology partner\n";

#[test]
fn inbound_acknowledges_pings_alliances_and_posts_to_chat() {
    let i = issue(ALLIANCES, &["alliances::inbound"], INBOUND);
    let p = run(&opened(&i), &i);
    assert_eq!(kinds(&p), vec!["comment", "chat"]);
    let b = body(&p.actions[0]);
    assert_eq!(
        mentions(b),
        strings(&[
            "requester",
            "example-alliances-lead",
            "example-partner-manager"
        ])
    );
    assert_contains(b, "**Globex and GitLab**");
    assert_contains(b, "`@labelflow claim`");
    assert_contains(b, "- **Business relationship:** provided");
    match &p.actions[1].action {
        Action::Chat { url_env, text } => {
            assert_eq!(url_env, "LABELFLOW_ALLIANCES_CHAT_WEBHOOK_URL");
            assert_contains(text, "(partner: Globex)");
            assert_contains(
                text,
                "https://gitlab.example.com/alliances/partners/-/issues/7",
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn inbound_proposal_missing_parts_gets_needs_info() {
    let d = INBOUND.replace("Technology partner", "");
    let i = issue(ALLIANCES, &["alliances::inbound"], &d);
    let p = run(&opened(&i), &i);
    assert_eq!(kinds(&p), vec!["add_labels", "comment", "comment", "chat"]);
    assert_eq!(add_labels(&p.actions[0]), strings(&["needs-info"]));
    let missing = body(&p.actions[1]);
    assert_eq!(missing.matches("\n- **").count(), 1, "{missing}");
    assert_contains(missing, "- **Business relationship**");
    assert_contains(body(&p.actions[2]), "- **Business relationship:** missing");
}

#[test]
fn claim_assigns_the_alliances_member_as_lead() {
    let i = issue(ALLIANCES, &["alliances::inbound"], INBOUND);
    let p = run(
        &comment(&i, "example-partner-manager", "@labelflow claim"),
        &i,
    );
    assert_eq!(kinds(&p), vec!["assign", "add_labels", "comment"]);
    assert_eq!(
        assignees(&p.actions[0]),
        strings(&["example-partner-manager"])
    );
    assert_eq!(
        add_labels(&p.actions[1]),
        strings(&["alliances::lead-assigned"])
    );
    assert_contains(body(&p.actions[2]), "**Globex and GitLab**");
}

#[test]
fn claim_by_someone_outside_alliances_is_refused() {
    let i = issue(ALLIANCES, &["alliances::inbound"], INBOUND);
    for who in ["random-dev", "alliances", "EXAMPLE-ALLIANCES-LEAD"] {
        let p = run(&comment(&i, who, "@labelflow claim"), &i);
        assert_eq!(kinds(&p), vec!["comment"], "{who}");
        assert_contains(
            body(&p.actions[0]),
            "only the alliances role (`example-alliances-lead`, `example-partner-manager`) may use it",
        );
    }
    let claimed = issue(ALLIANCES, &["alliances::lead-assigned"], INBOUND);
    let p = run(
        &comment(&claimed, "example-alliances-lead", "@labelflow claim"),
        &claimed,
    );
    assert_eq!(kinds(&p), vec!["comment"]);
    assert_contains(body(&p.actions[0]), "not at a stage where it applies");
}

#[test]
fn every_partner_type_gets_its_definition_and_needs() {
    let cases = [
        ("cloud-platform", "AWS, Google, Azure"),
        ("kubernetes-platform", "Red Hat, Rancher"),
        ("upstream", "JetBrains"),
        ("integrated", "Jenkins, Codeship"),
        ("sell-to", "CNCF"),
        ("global-si", "Accenture"),
        ("regional-si", "single continental focus"),
        ("boutique-si", "very focused DevOps partner"),
        ("msp", "Rackspace"),
        ("var-vad", "value added reseller"),
        ("dmr", "direct market reseller"),
        ("training", "certifications"),
    ];
    for (value, phrase) in cases {
        let label = format!("partner-type::{value}");
        let i = issue(ALLIANCES, &["alliances::lead-assigned", &label], INBOUND);
        let p = run(
            &labels_changed(&i, "example-alliances-lead", &[&label], &[]),
            &i,
        );
        assert_eq!(kinds(&p), vec!["comment"], "{label}");
        let b = body(&p.actions[0]);
        assert_contains(b, &format!("~\"{label}\""));
        assert_contains(b, phrase);
        assert_contains(b, "**What this partner needs to provide:**");
        assert_contains(b, "classified Globex");
    }
}

#[test]
fn partner_type_from_outside_alliances_is_reverted() {
    let i = issue(ALLIANCES, &["partner-type::msp"], INBOUND);
    let p = run(
        &labels_changed(
            &i,
            "random-dev",
            &["partner-type::msp"],
            &["partner-type::dmr"],
        ),
        &i,
    );
    assert_eq!(kinds(&p), vec!["remove_labels", "add_labels", "comment"]);
    assert_eq!(add_labels(&p.actions[1]), strings(&["partner-type::dmr"]));
}

#[test]
fn acquisition_is_made_confidential_before_the_reply() {
    let i = issue(ALLIANCES, &["alliances::acquisition"], "Company: Initech\n");
    let p = run(&opened(&i), &i);
    assert_eq!(kinds(&p), vec!["set_confidential", "assign", "comment"]);
    assert_eq!(
        p.actions[0].action,
        Action::SetConfidential { confidential: true }
    );
    assert_eq!(assignees(&p.actions[1]), strings(&["example-corpdev-lead"]));
    let b = body(&p.actions[2]);
    assert_contains(b, "I made this issue confidential");
    assert_contains(b, "acquisition handbook");
    assert_eq!(mentions(b), strings(&["example-corpdev-lead", "requester"]));

    let mut already = i.clone();
    already.confidential = true;
    assert_eq!(
        kinds(&run(&opened(&already), &already)),
        vec!["assign", "comment"]
    );
}

// ───────────────────────────── MDF ─────────────────────────────

const MDF: &str = "Campaign topic: GitLab on Google Cloud workshops\nTimeline: 2024-07-01 to 2024-09-30\n\
Budget: USD 12,500\nCloud partner: Google Cloud\n\n## Marketing targets\n\n300 attendees, 50 leads\n";

fn mdf_issue(labels: &[&str], description: &str) -> IssueState {
    issue(ALLIANCES, labels, description)
}

#[test]
fn mdf_request_pings_alliances_for_partner_approval() {
    let i = mdf_issue(&["mdf::requested"], MDF);
    let p = run(&opened(&i), &i);
    assert_eq!(kinds(&p), vec!["comment"]);
    let b = body(&p.actions[0]);
    assert_eq!(
        mentions(b),
        strings(&["example-alliances-lead", "example-partner-manager"])
    );
    assert_contains(
        b,
        "| GitLab on Google Cloud workshops | 2024-07-01 to 2024-09-30 | USD 12,500 | Google Cloud |",
    );
    assert_contains(b, "~\"mdf::partner-approved\"");
}

/// The issue was opened without the label and labelled a moment later; the opened event is
/// processed after that, so the re-read already shows the label. The rule fires on the
/// label's own event only, not twice.
#[test]
fn mdf_request_labelled_after_opening_fires_on_the_label_event_only() {
    let i = mdf_issue(&["mdf::requested"], MDF);
    let mut opened_bare = opened(&i);
    opened_bare.labels_added.clear();
    let p = run(&opened_bare, &i);
    assert!(
        !p.actions.iter().any(|a| a.rule == "requested"),
        "{:?}",
        kinds(&p)
    );
    let p = run(
        &labels_changed(&i, "example-alliances-lead", &["mdf::requested"], &[]),
        &i,
    );
    assert_eq!(kinds(&p), vec!["comment"]);
    assert_eq!(p.actions[0].rule, "requested");
}

#[test]
fn mdf_budget_must_be_an_amount_and_timeline_must_have_dates() {
    let d = MDF
        .replace("USD 12,500", "lots of money")
        .replace("2024-07-01 to 2024-09-30", "Q3");
    let i = mdf_issue(&["mdf::requested"], &d);
    let p = run(&opened(&i), &i);
    assert_eq!(kinds(&p), vec!["add_labels", "comment"]);
    assert_eq!(add_labels(&p.actions[0]), strings(&["needs-info"]));
    let b = body(&p.actions[1]);
    assert_eq!(b.matches("\n- **").count(), 2, "{b}");
    assert_contains(b, "- **Budget as an amount (for example USD 5,000)**");
    assert_contains(b, "- **Timeline with dates");

    // A missing budget is reported once, as missing.
    let d = MDF.replace("USD 12,500", "");
    let i = mdf_issue(&["mdf::requested"], &d);
    let b = run(&opened(&i), &i);
    let text = body(&b.actions[1]);
    assert_eq!(text.matches("\n- **").count(), 1, "{text}");
    assert_contains(text, "- **Budget**");
}

#[test]
fn mdf_amount_and_date_formats_people_write_are_accepted() {
    for (budget, timeline) in [
        ("$5,000", "July 1 – September 30, 2024"),
        ("5000 EUR", "01/07/2024 - 30/09/2024"),
        ("€ 7.500,00", "Sep 2024"),
    ] {
        let d = MDF
            .replace("USD 12,500", budget)
            .replace("2024-07-01 to 2024-09-30", timeline);
        let i = mdf_issue(&["mdf::requested"], &d);
        let p = run(&opened(&i), &i);
        assert_eq!(kinds(&p), vec!["comment"], "{budget} / {timeline}");
    }
}

#[test]
fn mdf_fixed_request_removes_needs_info_and_pings_alliances() {
    let i = mdf_issue(&["mdf::requested", "needs-info"], MDF);
    let p = run(&edited(&i, "requester"), &i);
    assert_eq!(kinds(&p), vec!["remove_labels", "comment"]);
    assert_eq!(p.actions[1].rule, "requested");
}

#[test]
fn mdf_partner_approved_pings_the_production_team_lead() {
    let i = mdf_issue(&["mdf::partner-approved"], MDF);
    let p = run(
        &labels_changed(
            &i,
            "example-partner-manager",
            &["mdf::partner-approved"],
            &["mdf::requested"],
        ),
        &i,
    );
    assert_eq!(kinds(&p), vec!["comment"]);
    let b = body(&p.actions[0]);
    assert_eq!(
        mentions(b),
        strings(&["example-partner-manager", "example-production-lead"])
    );
    assert_contains(b, "~\"mdf::credit-acknowledged\"");
}

#[test]
fn mdf_partner_approval_of_an_incomplete_request_is_reverted() {
    let i = mdf_issue(&["mdf::partner-approved", "needs-info"], MDF);
    let p = run(
        &labels_changed(
            &i,
            "example-partner-manager",
            &["mdf::partner-approved"],
            &["mdf::requested"],
        ),
        &i,
    );
    assert_eq!(kinds(&p), vec!["remove_labels", "add_labels", "comment"]);
    assert_contains(body(&p.actions[2]), "- a complete request");
}

#[test]
fn mdf_skipped_stage_is_reverted() {
    let i = mdf_issue(&["mdf::credit-acknowledged"], MDF);
    let p = run(
        &labels_changed(
            &i,
            "example-production-lead",
            &["mdf::credit-acknowledged"],
            &["mdf::requested"],
        ),
        &i,
    );
    assert_eq!(kinds(&p), vec!["remove_labels", "add_labels", "comment"]);
    assert_eq!(
        remove_labels(&p.actions[0]),
        strings(&["mdf::credit-acknowledged"])
    );
    assert_eq!(add_labels(&p.actions[1]), strings(&["mdf::requested"]));
    let b = body(&p.actions[2]);
    assert_eq!(b.matches("\n- ").count(), 1, "{b}");
    assert_contains(
        b,
        "- the cloud partner's budget spend approval first (mdf::partner-approved)",
    );

    // Straight to done on a new issue: removed, nothing to restore.
    let i = mdf_issue(&["mdf::done"], MDF);
    let p = run(&opened(&i), &i);
    assert_eq!(kinds(&p), vec!["remove_labels", "comment"]);
    assert_contains(body(&p.actions[1]), "(mdf::credit-acknowledged)");
}

#[test]
fn mdf_credit_acknowledgement_only_by_the_production_team_lead() {
    for who in [
        "example-alliances-lead",
        "production-team-lead",
        "Example-Production-Lead",
    ] {
        let i = mdf_issue(&["mdf::credit-acknowledged"], MDF);
        let p = run(
            &labels_changed(
                &i,
                who,
                &["mdf::credit-acknowledged"],
                &["mdf::partner-approved"],
            ),
            &i,
        );
        assert_eq!(
            kinds(&p),
            vec!["remove_labels", "add_labels", "comment"],
            "{who}"
        );
        assert_eq!(p.actions[0].rule, "restricted:mdf::credit-acknowledged");
        assert_eq!(
            add_labels(&p.actions[1]),
            strings(&["mdf::partner-approved"])
        );
        assert_contains(
            body(&p.actions[2]),
            "can only be applied by the production-team-lead role (`example-production-lead`)",
        );
    }
    let i = mdf_issue(&["mdf::credit-acknowledged"], MDF);
    let p = run(
        &labels_changed(
            &i,
            "example-production-lead",
            &["mdf::credit-acknowledged"],
            &["mdf::partner-approved"],
        ),
        &i,
    );
    assert_eq!(kinds(&p), vec!["comment"]);
    assert_eq!(
        mentions(body(&p.actions[0])),
        strings(&[
            "example-production-lead",
            "example-alliances-lead",
            "example-partner-manager"
        ])
    );
}

#[test]
fn mdf_done_closes_the_request() {
    let i = mdf_issue(&["mdf::done"], MDF);
    let p = run(
        &labels_changed(
            &i,
            "example-alliances-lead",
            &["mdf::done"],
            &["mdf::credit-acknowledged"],
        ),
        &i,
    );
    assert_eq!(kinds(&p), vec!["comment", "close"]);
    assert_eq!(
        p.actions[1].action,
        Action::Close {
            target: Target::This
        }
    );
}

// ───────────────────────────── License requests ─────────────────────────────

fn license_request(seats_line: &str, plan_line: &str, kind: &str) -> IssueState {
    let d = format!(
        "Partner: Acme Partner\n{seats_line}\n{plan_line}\n\n## Purpose\n\nBuild the Acme integration\n"
    );
    issue(ALLIANCES, &["license::request", kind], &d)
}

fn self_managed_table(p: &Plan) -> String {
    assert_eq!(kinds(p), vec!["add_labels", "assign", "comment"]);
    assert_eq!(
        add_labels(&p.actions[0]),
        strings(&["license::in-progress"])
    );
    assert_eq!(
        assignees(&p.actions[1]),
        strings(&["example-license-admin"])
    );
    body(&p.actions[2]).to_string()
}

#[test]
fn self_managed_license_computes_plan_seats_and_expiry() {
    let i = license_request("Seats: 7", "Plan:", "license-type::self-managed");
    let b = self_managed_table(&run(&opened(&i), &i));
    assert_contains(
        b.as_str(),
        "| Acme Partner | Ultimate | 7 | 6 months | 2024-12-03 |",
    );
    assert_contains(
        &b,
        "- [ ] Set the term to 6 months: 2024-06-03 to 2024-12-03",
    );
    assert_contains(
        &b,
        "- [ ] Describe the purpose in the free-form text box: Build the Acme integration",
    );
    assert_contains(&b, "https://license.gitlab.com/");
}

#[test]
fn seats_default_to_five_when_missing_or_unknown() {
    for seats in ["Seats:", "Seats: unknown", "Seats: _TBD_"] {
        let i = license_request(seats, "Plan: premium", "license-type::self-managed");
        let b = self_managed_table(&run(&opened(&i), &i));
        assert_contains(&b, "| Acme Partner | Premium | 5 | 6 months | 2024-12-03 |");
    }
}

#[test]
fn more_than_ten_seats_is_refused() {
    let i = license_request("Seats: 11", "Plan:", "license-type::self-managed");
    let p = run(&opened(&i), &i);
    assert_eq!(kinds(&p), vec!["add_labels", "comment"]);
    assert_eq!(
        add_labels(&p.actions[0]),
        strings(&["license::needs-revision"])
    );
    let b = body(&p.actions[1]);
    assert_contains(b, "asks for 11 seats");
    assert_contains(b, "at most 10 seats");
    assert_eq!(mentions(b), strings(&["requester"]));

    let ten = license_request("Seats: 10", "Plan:", "license-type::self-managed");
    assert_eq!(
        kinds(&run(&opened(&ten), &ten)),
        vec!["add_labels", "assign", "comment"]
    );
}

#[test]
fn gitlab_com_license_opens_a_plan_change_request() {
    let i = license_request("Seats:", "Plan:", "license-type::gitlab-com");
    let p = run(&opened(&i), &i);
    assert_eq!(kinds(&p), vec!["add_labels", "create_issue", "comment"]);
    assert_eq!(
        add_labels(&p.actions[0]),
        strings(&["license::in-progress"])
    );
    match &p.actions[1].action {
        Action::CreateIssue {
            id,
            project,
            title,
            description,
            labels,
            assignees,
            ..
        } => {
            assert_eq!(id, "plan_change");
            assert_eq!(project, "support/plan-change-requests");
            assert_eq!(
                title,
                "Plan change request: Acme Partner — Ultimate, 5 seats until 2024-12-03"
            );
            assert_eq!(
                labels,
                &strings(&["plan-change-request", "partner-license"])
            );
            assert!(assignees.is_empty());
            assert_contains(description, "- **Seats:** 5");
            assert_contains(
                description,
                "- **Term:** 6 months, from 2024-06-03 to 2024-12-03",
            );
            assert_contains(description, "to be confirmed with the partner");
            assert_contains(
                description,
                "https://gitlab.example.com/alliances/partners/-/issues/7",
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        p.actions[1].key,
        "license/gitlab-com/21#7/2024-06-03T12:00:00Z/1"
    );
    assert_contains(body(&p.actions[2]), "⟦created.plan_change.web_url⟧");
}

#[test]
fn license_type_added_after_the_request_fires_once() {
    let i = license_request("Seats: 3", "Plan:", "license-type::self-managed");
    let p = run(
        &labels_changed(&i, "requester", &["license-type::self-managed"], &[]),
        &i,
    );
    assert_eq!(self_managed_table(&p).matches("| 3 |").count(), 1);

    // Without the request label nothing happens.
    let mut no_request = i.clone();
    no_request.labels = strings(&["license-type::self-managed"]);
    let p = run(
        &labels_changed(
            &no_request,
            "requester",
            &["license-type::self-managed"],
            &[],
        ),
        &no_request,
    );
    assert!(p.actions.is_empty(), "{:?}", p.actions);
}

#[test]
fn incomplete_license_request_waits_for_partner_and_purpose() {
    let d = "Partner: \nSeats: 4\n";
    let i = issue(
        ALLIANCES,
        &["license::request", "license-type::gitlab-com"],
        d,
    );
    let p = run(&opened(&i), &i);
    assert_eq!(kinds(&p), vec!["add_labels", "comment"]);
    assert_eq!(add_labels(&p.actions[0]), strings(&["needs-info"]));
    let b = body(&p.actions[1]);
    assert_eq!(b.matches("\n- **").count(), 2, "{b}");
    assert_contains(b, "- **Partner**");
    assert_contains(b, "- **Purpose**");

    // Completed by an edit: processed without re-applying the label.
    let fixed = license_request("Seats: 4", "Plan:", "license-type::gitlab-com");
    let mut fixed = fixed.clone();
    fixed.labels.push("needs-info".to_string());
    let p = run(&edited(&fixed, "requester"), &fixed);
    assert_eq!(
        kinds(&p),
        vec!["remove_labels", "add_labels", "create_issue", "comment"]
    );
    assert_eq!(p.actions[2].rule, "gitlab-com");

    // An unrelated edit of a processed request does nothing.
    let mut done = license_request("Seats: 4", "Plan:", "license-type::gitlab-com");
    done.labels = strings(&["license::in-progress", "license-type::gitlab-com"]);
    assert!(run(&edited(&done, "requester"), &done).actions.is_empty());
}

#[test]
fn license_request_without_a_type_asks_for_one() {
    let mut i = license_request("Seats: 3", "Plan:", "x");
    i.labels = strings(&["license::request"]);
    let p = run(&opened(&i), &i);
    assert_eq!(kinds(&p), vec!["comment"]);
    let b = body(&p.actions[0]);
    assert_contains(b, "~\"license-type::self-managed\"");
    assert_contains(b, "~\"license-type::gitlab-com\"");
}

// ───────────────────────────── Determinism ─────────────────────────────

#[test]
fn planning_the_same_event_twice_gives_identical_actions_and_keys() {
    let cases: Vec<(Event, IssueState)> = {
        let o = opportunity(&["cocreate::qualification"]);
        let l = license_request("Seats:", "Plan:", "license-type::gitlab-com");
        let c = opportunity(&["cocreate::triage", "group::source code"]);
        vec![
            (
                labels_changed(&o, "example-cs-lead", &["cocreate::qualification"], &[]),
                o,
            ),
            (opened(&l), l),
            (comment(&c, "random-dev", "@labelflow buy-in approve"), c),
        ]
    };
    for (ev, i) in &cases {
        let a = run(ev, i);
        let b = run(ev, i);
        assert!(!a.actions.is_empty());
        assert_eq!(a.actions, b.actions);
        let keys: Vec<&str> = a.actions.iter().map(|x| x.key.as_str()).collect();
        let mut unique = keys.clone();
        unique.dedup();
        assert_eq!(keys.len(), unique.len(), "{keys:?}");
    }
}

#[test]
fn the_bots_own_events_plan_nothing() {
    let i = opportunity(&["cocreate::triage", "cocreate-pathway::major"]);
    let p = run(
        &labels_changed(&i, "labelflow", &["cocreate-pathway::major"], &[]),
        &i,
    );
    assert!(p.actions.is_empty());
}

// ───────────────────────────── Shipped issue templates ─────────────────────────────

/// An issue created from a shipped issue template as GitLab does it: the quick actions run
/// (labels, confidentiality) and their lines leave the description. `fill` gives values for
/// `Field:` lines and `## Field` sections.
fn from_issue_template(file: &str, project: &str, fill: &[(&str, &str)]) -> IssueState {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("templates/issue_templates")
        .join(file);
    let text = std::fs::read_to_string(&path).expect("issue template is readable");
    let mut labels = Vec::new();
    let mut confidential = false;
    let mut description = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("/label ") {
            labels.extend(
                rest.split("~\"")
                    .skip(1)
                    .filter_map(|l| l.split('"').next()),
            );
            continue;
        }
        if line.trim() == "/confidential" {
            confidential = true;
            continue;
        }
        let mut out = line.to_string();
        for (name, value) in fill {
            if line.starts_with(&format!("{name}:")) {
                out = format!("{name}: {value}");
            } else if line == format!("## {name}") {
                out = format!("## {name}\n\n{value}");
            }
        }
        description.push(out);
    }
    let mut i = issue(project, &labels, &description.join("\n"));
    i.confidential = confidential;
    i
}

fn missing_items(b: &str) -> Vec<String> {
    b.lines()
        .filter_map(|l| l.strip_prefix("- **"))
        .map(|l| l.trim_end_matches("**").to_string())
        .collect()
}

#[test]
fn issue_templates_apply_the_starting_labels() {
    let cases: [(&str, &str, &[&str], bool); 5] = [
        (
            "co-create-opportunity.md",
            OPPORTUNITIES,
            &["cocreate::identified"],
            false,
        ),
        (
            "alliance-inbound-request.md",
            ALLIANCES,
            &["alliances::inbound"],
            false,
        ),
        ("mdf-request.md", ALLIANCES, &["mdf::requested"], false),
        (
            "license-request.md",
            ALLIANCES,
            &["license::request", "license-type::self-managed"],
            false,
        ),
        (
            "acquisition-inquiry.md",
            ALLIANCES,
            &["alliances::acquisition"],
            true,
        ),
    ];
    for (file, project, labels, confidential) in cases {
        let i = from_issue_template(file, project, &[]);
        assert_eq!(i.labels, strings(labels), "{file}");
        assert_eq!(i.confidential, confidential, "{file}");
    }
}

#[test]
fn unfilled_issue_templates_list_exactly_their_required_fields() {
    let i = from_issue_template("co-create-opportunity.md", OPPORTUNITIES, &[]);
    let p = run(&opened(&i), &i);
    assert_eq!(kinds(&p), vec!["add_labels", "comment"]);
    assert_eq!(
        missing_items(body(&p.actions[1])),
        strings(&[
            "Customer",
            "Problem",
            "Willingness to contribute",
            "Ability to contribute",
            "CSM",
            "SA",
            "AE",
            "Product area (a group:: label on this issue, or the Product area field)",
        ])
    );

    let i = from_issue_template("alliance-inbound-request.md", ALLIANCES, &[]);
    let p = run(&opened(&i), &i);
    assert_eq!(kinds(&p), vec!["add_labels", "comment", "comment", "chat"]);
    assert_eq!(
        missing_items(body(&p.actions[1])),
        strings(&[
            "Partner",
            "Technical integration",
            "End-user benefits",
            "Business relationship"
        ])
    );

    let i = from_issue_template("mdf-request.md", ALLIANCES, &[]);
    let p = run(&opened(&i), &i);
    assert_eq!(kinds(&p), vec!["add_labels", "comment"]);
    assert_eq!(
        missing_items(body(&p.actions[1])),
        strings(&[
            "Campaign topic",
            "Timeline",
            "Budget",
            "Marketing targets",
            "Cloud partner"
        ])
    );

    let i = from_issue_template("license-request.md", ALLIANCES, &[]);
    let p = run(&opened(&i), &i);
    assert_eq!(kinds(&p), vec!["add_labels", "comment"]);
    assert_eq!(
        missing_items(body(&p.actions[1])),
        strings(&["Partner", "Purpose"])
    );

    let i = from_issue_template("acquisition-inquiry.md", ALLIANCES, &[]);
    let p = run(&opened(&i), &i);
    assert_eq!(kinds(&p), vec!["assign", "comment"]);
}

#[test]
fn filled_issue_templates_go_straight_to_their_first_step() {
    let i = from_issue_template(
        "co-create-opportunity.md",
        OPPORTUNITIES,
        &[
            ("Customer", "Acme Corp"),
            ("Problem", "Large diffs load slowly."),
            ("Product area", "Code Review"),
            ("Willingness to contribute", "high"),
            ("Ability to contribute", "3 Ruby engineers"),
            ("CSM", "@jane.csm"),
            ("SA", "@sam.sa"),
            ("AE", "@alex.ae"),
        ],
    );
    let p = run(&opened(&i), &i);
    assert_eq!(kinds(&p), vec!["comment", "cla_check"]);
    assert_eq!(p.actions[0].rule, "identified");
    assert_eq!(p.actions[1].rule, "identified");

    let i = from_issue_template(
        "mdf-request.md",
        ALLIANCES,
        &[
            ("Campaign topic", "Workshops"),
            ("Timeline", "2024-07-01 to 2024-09-30"),
            ("Budget", "USD 5,000"),
            ("Cloud partner", "AWS"),
            ("Marketing targets", "200 attendees"),
        ],
    );
    let p = run(&opened(&i), &i);
    assert_eq!(kinds(&p), vec!["comment"]);
    assert_eq!(p.actions[0].rule, "requested");

    let i = from_issue_template(
        "license-request.md",
        ALLIANCES,
        &[
            ("Partner", "Acme Partner"),
            ("Purpose", "Build the integration"),
        ],
    );
    let b = self_managed_table(&run(&opened(&i), &i));
    assert_contains(
        &b,
        "| Acme Partner | Ultimate | 5 | 6 months | 2024-12-03 |",
    );
}

// ───────────────────────────── Sweeps ─────────────────────────────

const LICENSE_IN_PROGRESS: &str = "Partner: Acme Partner\nPurpose: Build the integration\n";

/// A sweep's tick on an item (the sweep's own event, keyed by the day).
fn tick(issue: &IssueState) -> Event {
    labelflow::sweep::tick_event(issue, "2024-06-03", now())
}

/// `issue` last changed `days` ago.
fn idle(mut issue: IssueState, days: i64) -> IssueState {
    issue.updated_at = now() - Duration::days(days);
    issue
}

/// Every shipped stale policy: quiet one day short of its idle days, nothing; at its idle days,
/// the owner role is nudged (comment + nudge label); nudged and quiet for the grace days, the
/// item is marked stale; `on-hold` exempts it.
#[test]
fn sweep_ticks_nudge_then_mark_each_stalled_stage_of_the_shipped_workflows() {
    let cs = "@example-cs-lead @example-cs-engineer";
    let alliances = "@example-alliances-lead @example-partner-manager";
    let cases: [(&str, &str, &str, i64, i64, &str, &str); 9] = [
        (
            "cocreate",
            OPPORTUNITIES,
            "cocreate::qualification",
            7,
            7,
            cs,
            COMPLETE_OPPORTUNITY,
        ),
        (
            "cocreate",
            OPPORTUNITIES,
            "cocreate::triage",
            10,
            7,
            cs,
            COMPLETE_OPPORTUNITY,
        ),
        (
            "cocreate",
            OPPORTUNITIES,
            "cocreate::presented",
            14,
            14,
            cs,
            COMPLETE_OPPORTUNITY,
        ),
        (
            "cocreate",
            OPPORTUNITIES,
            "cocreate::onboarding",
            14,
            14,
            cs,
            COMPLETE_OPPORTUNITY,
        ),
        (
            "alliances",
            ALLIANCES,
            "alliances::inbound",
            3,
            4,
            alliances,
            INBOUND,
        ),
        (
            "alliances",
            ALLIANCES,
            "alliances::lead-assigned",
            14,
            14,
            alliances,
            INBOUND,
        ),
        ("mdf", ALLIANCES, "mdf::requested", 7, 7, alliances, MDF),
        (
            "mdf",
            ALLIANCES,
            "mdf::partner-approved",
            5,
            5,
            "@example-production-lead",
            MDF,
        ),
        (
            "license",
            ALLIANCES,
            "license::in-progress",
            3,
            4,
            "@example-license-admin",
            LICENSE_IN_PROGRESS,
        ),
    ];
    for (wf, project, stage, idle_days, grace_days, owners, description) in cases {
        let nudged = format!("{wf}-sweep::nudged");
        let stale = format!("{wf}-sweep::stale");
        let at_stage = issue(project, &[stage], description);

        let quiet = idle(at_stage.clone(), idle_days - 1);
        assert!(run(&tick(&quiet), &quiet).actions.is_empty(), "{stage}");

        let due = idle(at_stage.clone(), idle_days);
        let p = run(&tick(&due), &due);
        assert_eq!(kinds(&p), vec!["comment", "add_labels"], "{stage}");
        assert_eq!(p.actions[0].rule, format!("stale:{stage}:nudge"));
        assert_eq!(
            p.actions[0].key,
            format!("{wf}/stale:{stage}:nudge/{}/sweep:2024-06-03/0", due.key())
        );
        assert_eq!(
            body(&p.actions[0]),
            format!(
                "{owners}, this item has been at ~\"{stage}\" for {idle_days} days with no comment, edit or label change.\n\nIs it still moving? Any comment, description edit or label change resets the clock. Otherwise I will mark it ~\"{stale}\" in {grace_days} days.\n"
            ),
            "{stage}"
        );
        assert_eq!(add_labels(&p.actions[1]), vec![nudged.clone()]);

        let on_hold = idle(issue(project, &[stage, "on-hold"], description), 90);
        assert!(run(&tick(&on_hold), &on_hold).actions.is_empty(), "{stage}");

        let nudged_quiet = idle(issue(project, &[stage, &nudged], description), grace_days);
        let p = run(&tick(&nudged_quiet), &nudged_quiet);
        assert_eq!(
            kinds(&p),
            vec!["comment", "add_labels", "remove_labels"],
            "{stage}"
        );
        assert_eq!(
            body(&p.actions[0]),
            format!(
                "{owners}, nothing happened here in the {grace_days} days since the reminder, so I marked this item ~\"{stale}\" (it stays at ~\"{stage}\").\n\nAny comment, description edit or label change removes the stale mark.\n"
            ),
            "{stage}"
        );
        assert_eq!(add_labels(&p.actions[1]), vec![stale.clone()]);
        assert_eq!(remove_labels(&p.actions[2]), vec![nudged.clone()]);

        // Shipped policies never close: a stale item stays open however long it is quiet.
        let stale_long = idle(issue(project, &[stage, &stale], description), 365);
        assert!(
            run(&tick(&stale_long), &stale_long).actions.is_empty(),
            "{stage}"
        );
    }
}

/// Sweeps recheck `cla::missing` and `cla::unknown` with the same `cla_check` the
/// `identified` rule runs, quietly (not as a command), at any stage and idle time.
#[test]
fn sweep_ticks_recheck_missing_and_unknown_cla_only() {
    let group = "group::source code";
    for cla in ["cla::missing", "cla::unknown"] {
        let i = opportunity(&["cocreate::identified", group, cla]);
        let p = run(&tick(&i), &i);
        assert_eq!(kinds(&p), vec!["cla_check"], "{cla}");
        assert_eq!(p.actions[0].rule, "cla-sweep");
        assert_eq!(
            p.actions[0].key,
            format!("cocreate/cla-sweep/{}/sweep:2024-06-03/0", i.key())
        );
        assert_opportunity_cla_check(&p.actions[0], false);
    }
    for labels in [
        &["cocreate::identified", group, "cla::signed"][..],
        &["cocreate::identified", group][..],
    ] {
        let i = opportunity(labels);
        assert!(run(&tick(&i), &i).actions.is_empty(), "{labels:?}");
    }
    // A stalled item with a missing agreement: nudged and rechecked in the same visit.
    let i = idle(opportunity(&["cocreate::triage", "cla::missing"]), 10);
    let p = run(&tick(&i), &i);
    assert_eq!(kinds(&p), vec!["cla_check", "comment", "add_labels"]);
    let rules: Vec<&str> = p.actions.iter().map(|a| a.rule.as_str()).collect();
    assert_eq!(
        rules,
        vec![
            "cla-sweep",
            "stale:cocreate::triage:nudge",
            "stale:cocreate::triage:nudge"
        ]
    );
}

/// A person's activity on a nudged or stale item removes the sweep's labels (the idle clock
/// starts over); the same labels of another workflow are left alone.
#[test]
fn activity_on_a_nudged_item_removes_the_sweep_labels() {
    let i = issue(
        ALLIANCES,
        &[
            "mdf::requested",
            "mdf-sweep::nudged",
            "license-sweep::stale",
        ],
        MDF,
    );
    let p = run(
        &comment(&i, "example-alliances-lead", "Partner replied today."),
        &i,
    );
    assert_eq!(kinds(&p), vec!["remove_labels", "remove_labels"]);
    let removed: Vec<(String, Vec<String>)> = p
        .actions
        .iter()
        .map(|a| (a.workflow.clone(), remove_labels(a)))
        .collect();
    assert_eq!(
        removed,
        vec![
            ("license".to_string(), strings(&["license-sweep::stale"])),
            ("mdf".to_string(), strings(&["mdf-sweep::nudged"])),
        ]
    );
}
