//! The planner's decision trace over the shipped configuration: every kind of reason it gives,
//! with the values conditions saw; and `explain`, checked against the guards in both
//! directions (ready means the label stays; missing means it is reverted naming the same
//! things). The `once` and loop-guard outcomes come from the store: tests/e2e_explain.rs and
//! tests/loops.rs.

#[path = "common/plan_fixtures.rs"]
mod plan_fixtures;

use labelflow::actions::Action;
use labelflow::domain::{EventKind, IssueState};
use labelflow::engine::explain::{self, IssueHistory};
use labelflow::engine::trace::{
    CheckKind, CheckOutcome, RuleOutcome, RuleTrace, Trace, WorkflowTrace,
};
use labelflow::engine::{Plan, plan_with_history};
use plan_fixtures::*;

const CS_LEAD: &str = "example-cs-lead";

const COMPLETE: &str = "## Customer\n\nAcme Corp\n\n## Problem\n\nLarge diffs load slowly.\n\n\
Willingness to contribute: high\nAbility to contribute: 3 Ruby engineers\nCSM: @jane.csm\n\
SA: @sam.sa\nAE: @alex.ae\nCustomer engineers: @cust.dev1\nAllocated engineer: \n";

fn opportunity(labels: &[&str]) -> IssueState {
    issue(OPPORTUNITIES, labels, COMPLETE)
}

fn workflow<'t>(t: &'t Trace, name: &str) -> &'t WorkflowTrace {
    t.workflows
        .iter()
        .find(|w| w.workflow == name)
        .unwrap_or_else(|| panic!("no workflow `{name}` in {t:#?}"))
}

fn rule<'t>(t: &'t Trace, wf: &str, name: &str) -> &'t RuleTrace {
    workflow(t, wf)
        .rules
        .iter()
        .find(|r| r.rule == name)
        .unwrap_or_else(|| panic!("no rule `{name}` in {:#?}", workflow(t, wf)))
}

#[test]
fn a_workflow_for_another_project_says_which_projects_it_covers() {
    let i = opportunity(&["cocreate::identified"]);
    let t = run(&opened(&i), &i).trace;
    let alliances = workflow(&t, "alliances");
    assert!(!alliances.applies);
    assert_eq!(
        alliances.why_not.as_deref(),
        Some(
            "the issue is in `co-create/opportunities`; this workflow covers `alliances/partners`"
        )
    );
    assert!(workflow(&t, "cocreate").applies);
    assert!(
        t.event.contains("the issue was opened (by `requester`)"),
        "{}",
        t.event
    );
}

#[test]
fn a_rule_the_event_does_not_concern_says_what_it_waits_for() {
    let i = opportunity(&["cocreate::identified"]);
    let t = run(&opened(&i), &i).trace;
    let r = rule(&t, "cocreate", "qualification");
    assert_eq!(r.outcome, RuleOutcome::NotTriggered);
    assert!(
        r.reason.starts_with(
            "waits for `label_added: cocreate::qualification`; this event: the issue was opened"
        ),
        "{}",
        r.reason
    );
    let c = rule(&t, "cocreate", "buy-in-approve");
    assert_eq!(c.outcome, RuleOutcome::NotTriggered);
    assert!(
        c.reason
            .starts_with("waits for the command `buy-in approve`"),
        "{}",
        c.reason
    );
}

#[test]
fn a_rule_waiting_for_complete_fields_says_which_are_missing() {
    let i = issue(
        OPPORTUNITIES,
        &["cocreate::identified"],
        "Problem: slow diffs\n",
    );
    let p = run(&opened(&i), &i);
    let r = rule(&p.trace, "cocreate", "identified");
    assert_eq!(r.outcome, RuleOutcome::NotTriggered);
    assert!(
        r.reason.starts_with(
            "waits for `fields_completed: [cocreate::identified]`: the issue still lacks Customer; Willingness to contribute"
        ),
        "{}",
        r.reason
    );
    assert!(
        !r.reason.contains("Problem;"),
        "Problem is filled: {}",
        r.reason
    );
}

fn license_request(labels: &[&str], seats: &str) -> IssueState {
    issue(
        ALLIANCES,
        labels,
        &format!("Partner: Nimbus\nPurpose: a demo\nSeats: {seats}\n"),
    )
}

#[test]
fn a_false_condition_names_itself_and_what_it_saw() {
    let i = license_request(&["license::request"], "5");
    let p = run(
        &labels_changed(&i, "partner-pat", &["license::request"], &[]),
        &i,
    );
    let r = rule(&p.trace, "license", "too-many-seats");
    assert_eq!(r.outcome, RuleOutcome::ConditionFalse);
    assert_eq!(
        r.reason,
        "`field_above Seats 10` is false: `Seats` is \"5\""
    );

    // Every condition is listed with what it saw: here the first holds, the second does not.
    let i = license_request(&["license::request", "license-type::self-managed"], "5");
    let p = run(
        &labels_changed(&i, "partner-pat", &["license::request"], &[]),
        &i,
    );
    let r = rule(&p.trace, "license", "type-missing");
    assert_eq!(r.outcome, RuleOutcome::ConditionFalse);
    assert_eq!(r.conditions.len(), 2);
    assert_eq!(r.conditions[0].condition, "not field_above Seats 10");
    assert!(r.conditions[0].holds);
    assert_eq!(r.conditions[0].seen, "`Seats` is \"5\"");
    assert_eq!(r.conditions[1].condition, "not has_scope license-type");
    assert!(!r.conditions[1].holds);
    assert_eq!(
        r.conditions[1].seen,
        "the issue's labels are `license::request`, `license-type::self-managed`"
    );
    // The text output says it in the same words, and nothing in Rust's debug format.
    let text = p.trace.to_text();
    assert!(
        text.contains(
            "rule `type-missing`: not fired: a condition is false: `not has_scope license-type` is false"
        ),
        "{text}"
    );
    assert!(!text.contains("Some(") && !text.contains("[\""), "{text}");
}

#[test]
fn label_and_actor_conditions_show_the_labels_and_the_roles_they_saw() {
    // `buy-in approve` needs the triage stage: asked at qualification, the condition is false.
    let i = opportunity(&["cocreate::qualification", "group::source code"]);
    let p = run(&comment(&i, CS_LEAD, "@labelflow buy-in approve"), &i);
    let r = rule(&p.trace, "cocreate", "buy-in-approve");
    assert_eq!(r.outcome, RuleOutcome::ConditionFalse);
    assert_eq!(
        r.reason,
        "`has_label cocreate::triage` is false: the issue's labels are `cocreate::qualification`, `group::source code`"
    );
    // The same command from someone else is refused, naming who may.
    let p = run(&comment(&i, "stranger", "@labelflow buy-in approve"), &i);
    let r = rule(&p.trace, "cocreate", "buy-in-approve");
    assert_eq!(r.outcome, RuleOutcome::Refused);
    assert!(
        r.reason.starts_with("`stranger` may not run `buy-in approve`: only the product managers of `group::source code` (`example-pm-source-code`) or the contributor-success role"),
        "{}",
        r.reason
    );
}

#[test]
fn a_command_without_its_arguments_is_traced_as_a_usage_answer() {
    let i = opportunity(&["cocreate::triage", "group::source code"]);
    let p = run(&comment(&i, CS_LEAD, "@labelflow buy-in decline"), &i);
    let r = rule(&p.trace, "cocreate", "buy-in-decline");
    assert_eq!(r.outcome, RuleOutcome::Usage);
    assert_eq!(
        r.reason,
        "`buy-in decline` needs at least 1 argument(s); it got 0"
    );
}

#[test]
fn an_unknown_command_and_the_bots_own_change_are_noted() {
    let i = opportunity(&["cocreate::triage"]);
    let p = run(&comment(&i, CS_LEAD, "@labelflow frobnicate"), &i);
    assert!(
        p.trace.notes.contains(
            &"`frobnicate`: no such command; answered with the list of commands".to_string()
        ),
        "{:#?}",
        p.trace.notes
    );
    let p = run(
        &labels_changed(&i, "labelflow", &["cocreate::triage"], &[]),
        &i,
    );
    assert_eq!(
        p.trace.notes,
        vec!["event caused by the bot itself: nothing to do"]
    );
    assert!(p.trace.workflows.is_empty());
}

#[test]
fn a_fired_rule_says_what_triggered_it() {
    let i = opportunity(&["cocreate::qualification"]);
    let p = run(
        &labels_changed(
            &i,
            CS_LEAD,
            &["cocreate::qualification"],
            &["cocreate::identified"],
        ),
        &i,
    );
    let r = rule(&p.trace, "cocreate", "qualification");
    assert_eq!(r.outcome, RuleOutcome::Fired);
    assert_eq!(
        r.reason,
        "triggered by `label_added: cocreate::qualification`"
    );
    assert!(r.once);
}

#[test]
fn a_reverted_label_traces_the_guard_and_keeps_its_rule_from_firing() {
    let i = opportunity(&["cocreate::presented"]);
    let p = run(
        &labels_changed(&i, CS_LEAD, &["cocreate::presented"], &["cocreate::triage"]),
        &i,
    );
    let wf = workflow(&p.trace, "cocreate");
    let guard = wf
        .checks
        .iter()
        .find(|c| c.check == CheckKind::Guard)
        .expect("guard check");
    assert_eq!(guard.outcome, CheckOutcome::Reverted);
    assert_eq!(guard.label, "cocreate::presented");
    assert_eq!(
        guard.missing,
        vec![
            "a pathway chosen by Contributor Success (cocreate-pathway::minor, cocreate-pathway::major or cocreate-pathway::not-aligned)"
        ]
    );
    let r = rule(&p.trace, "cocreate", "presented");
    assert_eq!(r.outcome, RuleOutcome::LabelReverted);

    // With a minor pathway the guard passes and the rule fires.
    let i = opportunity(&["cocreate::presented", "cocreate-pathway::minor"]);
    let p = run(
        &labels_changed(&i, CS_LEAD, &["cocreate::presented"], &["cocreate::triage"]),
        &i,
    );
    let guard = &workflow(&p.trace, "cocreate").checks[0];
    assert_eq!(
        (guard.check, guard.outcome),
        (CheckKind::Guard, CheckOutcome::Passed)
    );
    assert_eq!(
        rule(&p.trace, "cocreate", "presented").outcome,
        RuleOutcome::Fired
    );
}

#[test]
fn restricted_labels_say_who_may_apply_them() {
    let i = opportunity(&["cocreate::triage", "cocreate-pathway::minor"]);
    let p = run(
        &labels_changed(&i, "stranger", &["cocreate-pathway::minor"], &[]),
        &i,
    );
    let check = &workflow(&p.trace, "cocreate").checks[0];
    assert_eq!(
        (check.check, check.outcome),
        (CheckKind::RestrictedLabel, CheckOutcome::Reverted)
    );
    assert_eq!(
        check.detail,
        "`stranger` may not apply it: only the contributor-success role (`example-cs-lead`, `example-cs-engineer`) may"
    );
    assert_eq!(
        rule(&p.trace, "cocreate", "pathway-minor").outcome,
        RuleOutcome::LabelReverted
    );
    let p = run(
        &labels_changed(&i, CS_LEAD, &["cocreate-pathway::minor"], &[]),
        &i,
    );
    let check = &workflow(&p.trace, "cocreate").checks[0];
    assert_eq!(
        (check.check, check.outcome),
        (CheckKind::RestrictedLabel, CheckOutcome::Passed)
    );
}

#[test]
fn required_fields_are_traced_missing_and_then_complete() {
    let i = issue(OPPORTUNITIES, &["cocreate::identified"], "Customer: Acme\n");
    let p = run(&opened(&i), &i);
    let check = &workflow(&p.trace, "cocreate").checks[0];
    assert_eq!(
        (check.check, check.outcome),
        (CheckKind::RequiredFields, CheckOutcome::FieldsMissing)
    );
    assert!(check.missing.contains(&"Problem".to_string()), "{check:#?}");
    assert!(
        !check.missing.contains(&"Customer".to_string()),
        "{check:#?}"
    );
    let i = opportunity(&["cocreate::identified", "needs-info", "group::source code"]);
    let p = run(&edited(&i, "requester"), &i);
    let check = &workflow(&p.trace, "cocreate").checks[0];
    assert_eq!(check.outcome, CheckOutcome::FieldsComplete);
}

#[test]
fn every_documented_reason_kind_has_words_and_a_metric_name() {
    for o in [
        RuleOutcome::Fired,
        RuleOutcome::NotTriggered,
        RuleOutcome::LabelReverted,
        RuleOutcome::ConditionFalse,
        RuleOutcome::OnceDone,
        RuleOutcome::LoopGuard,
        RuleOutcome::Refused,
        RuleOutcome::Usage,
        RuleOutcome::NothingToDo,
    ] {
        let json = serde_json::to_value(o).expect("serialises");
        assert_eq!(json, o.as_str());
        assert!(!o.to_string().is_empty());
    }
}

// ───────────────────────────── explain against the guards ─────────────────────────────

/// The Co-Create opportunity at each of its stages, with the labels it typically carries there.
fn cocreate_states() -> Vec<Vec<&'static str>> {
    vec![
        vec![],
        vec!["cocreate::identified"],
        vec!["cocreate::qualification", "group::source code"],
        vec!["cocreate::triage", "group::source code"],
        vec![
            "cocreate::triage",
            "group::source code",
            "pm-buy-in::approved",
        ],
        vec!["cocreate::triage", "cocreate-pathway::minor"],
        vec![
            "cocreate::triage",
            "cocreate-pathway::major",
            "pm-buy-in::approved",
        ],
        vec![
            "cocreate::triage",
            "cocreate-pathway::major",
            "pm-buy-in::approved",
            "engineering::allocated",
        ],
        vec!["cocreate::presented", "cocreate-pathway::minor"],
        vec![
            "cocreate::presented",
            "cocreate-pathway::minor",
            "cla::signed",
        ],
        vec![
            "cocreate::presented",
            "cocreate-pathway::major",
            "pm-buy-in::approved",
            "engineering::allocated",
            "cla::signed",
        ],
        vec![
            "cocreate::onboarding",
            "cocreate-pathway::major",
            "pm-buy-in::approved",
            "engineering::allocated",
            "cla::signed",
        ],
    ]
}

#[test]
fn explain_lists_exactly_what_the_guards_enforce_in_both_directions() {
    let mut checked = 0;
    let mut ready = 0;
    for labels in cocreate_states() {
        for description in [COMPLETE, "Customer: Acme\n"] {
            let i = issue(OPPORTUNITIES, &labels, description);
            let standings = explain::standings(engine(), &i, CS_LEAD);
            let cocreate = standings
                .iter()
                .find(|s| s.workflow == "cocreate")
                .expect("cocreate applies");
            for r in cocreate.next.iter().chain(&cocreate.other) {
                // Apply the label as GitLab would (its scoped sibling drops off), as someone
                // every restriction allows.
                let (after, removed) = explain::applied(&i, &r.label);
                let removed: Vec<&str> = removed.iter().map(String::as_str).collect();
                let ev = labels_changed(&after, CS_LEAD, &[&r.label], &removed);
                let p = run(&ev, &after);
                let guard_reverts: Vec<&Vec<String>> = workflow(&p.trace, "cocreate")
                    .checks
                    .iter()
                    .filter(|c| c.check == CheckKind::Guard && c.label == r.label)
                    .filter(|c| c.outcome == CheckOutcome::Reverted)
                    .map(|c| &c.missing)
                    .collect();
                let removed_again = p.actions.iter().any(|a| {
                    a.rule == format!("guard:{}", r.label)
                        && matches!(&a.action, Action::RemoveLabels { labels } if labels == &vec![r.label.clone()])
                });
                if r.ready() {
                    ready += 1;
                    assert!(
                        guard_reverts.is_empty() && !removed_again,
                        "{labels:?}: explain says {} is ready, but applying it is reverted: {guard_reverts:?}",
                        r.label
                    );
                } else {
                    assert_eq!(
                        guard_reverts,
                        vec![&r.guard_missing],
                        "{labels:?}: {} is reverted naming other things than explain lists",
                        r.label
                    );
                    assert!(removed_again, "{labels:?}: {} not reverted", r.label);
                    // The revert comment names each of them too.
                    let reply = p
                        .actions
                        .iter()
                        .find_map(|a| match &a.action {
                            Action::Comment { body } if a.rule == format!("guard:{}", r.label) => {
                                Some(body.clone())
                            }
                            _ => None,
                        })
                        .expect("guard reply");
                    for m in &r.guard_missing {
                        let escaped = labelflow::render::escape_user_text(m);
                        assert!(reply.contains(&escaped), "{reply}\nlacks {m}");
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 60, "only {checked} stage applications checked");
    assert!(ready >= 10 && ready < checked, "{ready} ready of {checked}");
}

#[test]
fn explain_follows_the_stage_order_and_names_restrictions() {
    let stages = explain::stages(&engine().config.workflows["cocreate"]);
    assert_eq!(
        stages,
        vec![
            "cocreate::identified",
            "cocreate::qualification",
            "cocreate::triage",
            "cocreate::presented",
            "cocreate::onboarding",
            "cocreate::onsite",
        ]
    );
    let mdf = explain::stages(&engine().config.workflows["mdf"]);
    assert_eq!(mdf.first().map(String::as_str), Some("mdf::requested"));

    let i = issue(ALLIANCES, &["mdf::requested"], "");
    let s = explain::standings(engine(), &i, "example-partner-manager");
    let mdf = s.iter().find(|s| s.workflow == "mdf").expect("mdf");
    assert_eq!(mdf.current.as_deref(), Some("mdf::requested"));
    let next: Vec<(&str, bool)> = mdf
        .next
        .iter()
        .map(|r| (r.label.as_str(), r.ready()))
        .collect();
    assert_eq!(
        next,
        vec![
            ("mdf::partner-approved", true),
            ("mdf::credit-acknowledged", false),
            ("mdf::done", false)
        ]
    );
    let ack = &mdf.next[1];
    assert_eq!(
        ack.restricted_to.as_deref(),
        Some("the production-team-lead role (`example-production-lead`)")
    );
}

#[test]
fn the_explain_command_plans_one_comment_with_the_standing() {
    let i = opportunity(&["cocreate::triage", "group::source code"]);
    let history = IssueHistory {
        followups: vec![(
            "cocreate/buy-in-reminder".to_string(),
            now() + chrono::Duration::days(5),
        )],
        recent: vec![],
        known: true,
    };
    let ev = comment(&i, "requester", "@labelflow explain");
    let p: Plan = plan_with_history(engine(), &ev, &i, now(), &history).expect("plan");
    assert_eq!(p.actions.len(), 1, "{:#?}", p.actions);
    let Action::ExplainComment { body } = &p.actions[0].action else {
        panic!("{:#?}", p.actions[0]);
    };
    assert!(body.contains("#### Workflow `cocreate`"), "{body}");
    // Several missing prerequisites: one per line.
    assert!(
        body.contains(
            "- ~\"cocreate::onboarding\": still needs\n  - a minor or major pathway (cocreate-pathway::minor or cocreate-pathway::major)\n  - a signed Corporate Contributor Agreement"
        ),
        "{body}"
    );
    assert!(
        body.contains("Current stage: ~\"cocreate::triage\""),
        "{body}"
    );
    assert!(
        body.contains(
            "- ~\"cocreate::presented\": still needs a pathway chosen by Contributor Success"
        ),
        "{body}"
    );
    assert!(
        body.contains("- `cocreate/buy-in-reminder` on 2024-06-08 12:00 UTC"),
        "{body}"
    );
    assert!(body.contains("None recorded."), "{body}");
    // Nobody is mentioned: usernames are in code spans.
    assert!(!body.contains(" @example"), "{body}");
    assert!(matches!(ev.kind, EventKind::Comment { .. }));
    assert!(
        p.trace
            .notes
            .iter()
            .any(|n| n == "`requester` asked `explain`: answered in the issue's explain comment")
    );
}
