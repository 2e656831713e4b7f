//! `labelflow sweep` over the shipped configuration (`labelflow.yml`): the real service and the
//! simulated GitLab hold items at the stages where they stall in Co-Create and Alliances, the
//! clock moves on, and scheduled sweeps nudge owners, mark items stale, keep the weekly
//! summaries with their Mermaid funnel, and recheck agreements that are not signed yet.
//! Every bot comment is asserted (`finish()`), a dry run plans exactly the live run's actions,
//! and a second run the same day writes nothing.

mod common;

use common::sweep_world::test_policy;

use chrono::{Datelike, Duration};
use common::Harness;
use common::shipped::{fill_template, issue_template, shipped_config};
use labelflow::actions::PlannedAction;
use labelflow::actions::executor::Executor;
use labelflow::engine::Engine;
use labelflow::forge::GitlabForge;
use labelflow::metrics::Metrics;
use labelflow::sim::{FaultRule, SimIssue};
use labelflow::sweep::{ItemPlan, SweepOptions, SweepReport, Sweeper};
use std::sync::Arc;

const CSM: &str = "jane-csm";
const PARTNER: &str = "partner-pat";
const ALLIANCES_LEAD: &str = "example-alliances-lead";
const CS: &str = "@example-cs-lead @example-cs-engineer";
const ALLIANCES: &str = "@example-alliances-lead @example-partner-manager";

/// The legal team's registry as the sweeps first find it: Acme's engineer is also named by
/// another company's revoked agreement (ambiguous: `cla::unknown`, never a guess), and
/// Initech has no agreement (`cla::missing`).
const REGISTRY_BEFORE: &str = "agreements:
  - company: Acme Corporation, Inc.
    gitlab_users: [acme-dev]
    version: \"2.0\"
    signed: 2024-03-01
  - company: Vandelay Industries
    gitlab_users: [acme-dev]
    version: \"2.0\"
    signed: 2022-01-10
    revoked: 2023-06-30
";

/// After the legal team's cleanup: the stale record is gone and Initech has signed.
const REGISTRY_AFTER: &str = "agreements:
  - company: Acme Corporation, Inc.
    gitlab_users: [acme-dev]
    version: \"2.0\"
    signed: 2024-03-01
  - company: Initech LLC
    gitlab_users: [initech-dev]
    version: \"2.0\"
    signed: 2024-05-02
";

/// A Co-Create opportunity from the shipped template, at `stage`, in the source code group.
fn opportunity(customer: &str, engineer: &str, stage: &str) -> String {
    let text = fill_template(
        &issue_template("co-create-opportunity.md"),
        &[
            ("Customer", customer),
            ("Problem", "Merge request pipelines take 40 minutes."),
            ("Willingness to contribute", "High: budget for a quarter"),
            ("Ability to contribute", "3 engineers with Ruby and Go"),
            ("CSM", "@jane-csm"),
            ("SA", "@sam-sa"),
            ("AE", "@alex-ae"),
            ("Customer engineers", engineer),
        ],
    ) + "\n/label ~\"group::source code\"\n";
    text.replace(
        "/label ~\"cocreate::identified\"",
        &format!("/label ~\"{stage}\""),
    )
}

fn inbound() -> String {
    fill_template(
        &issue_template("alliance-inbound-request.md"),
        &[
            ("Partner", "Nimbus Cloud"),
            ("Partner contact", "Dana Doe, dana@nimbus.example"),
            ("Summary", "A GitLab CI integration for Nimbus Kubernetes."),
            (
                "Technical integration",
                "A CI/CD component that deploys to Nimbus clusters.",
            ),
            (
                "End-user benefits",
                "One-click deployments from GitLab to Nimbus.",
            ),
            (
                "Business relationship",
                "Technology partnership with joint marketing.",
            ),
        ],
    )
}

fn mdf() -> String {
    fill_template(
        &issue_template("mdf-request.md"),
        &[
            ("Campaign topic", "GitLab on Nimbus Cloud workshops"),
            ("Timeline", "2026-01-15 to 2026-03-31"),
            ("Budget", "USD 12,000"),
            ("Cloud partner", "Nimbus Cloud"),
            ("Marketing targets", "4 workshops, 200 attendees, EMEA"),
        ],
    )
}

fn license() -> String {
    fill_template(
        &issue_template("license-request.md"),
        &[
            ("Partner", "Nimbus Cloud"),
            ("Purpose", "Build and test the Nimbus CI/CD component."),
        ],
    )
}

// An item and where it lives.
use common::item::Item;

struct World {
    h: Harness,
}

impl World {
    fn open(&self, project: &str, who: &str, title: &str, description: &str) -> Item {
        let p = self.h.project(project);
        let iid = self
            .h
            .sim
            .as_user(who)
            .create_issue(p, title, description, &[])
            .expect("issue opened");
        Item { p, iid }
    }

    fn labels(&self, item: Item) -> Vec<String> {
        let mut l = self.h.labels(item.p, item.iid);
        l.sort();
        l
    }

    fn expect(&mut self, item: Item, text: &str) -> String {
        self.h.expect_comment(item.p, item.iid, text)
    }

    fn comments(&self, item: Item) -> usize {
        self.h.bot_notes(item.p, item.iid).len()
    }

    fn writes(&self) -> usize {
        self.h
            .sim
            .requests()
            .iter()
            .filter(|r| r.is_write())
            .count()
    }

    /// A sweep that went through without failures.
    async fn sweep(&self, dry_run: bool) -> (SweepReport, Vec<PlannedAction>) {
        let (report, actions) = self.sweep_report(dry_run).await;
        assert!(
            report.failures.is_empty(),
            "failures: {:?}",
            report.failures
        );
        (report, actions)
    }

    /// A sweep as `labelflow sweep` runs it from CI: a fresh process (engine, GitLab client,
    /// CLA cache) on the service's database.
    async fn sweep_report(&self, dry_run: bool) -> (SweepReport, Vec<PlannedAction>) {
        let engine = Engine::load(&shipped_config()).expect("shipped configuration loads");
        let metrics = Metrics::new();
        let forge = GitlabForge::connect(
            &self.h.sim.base_url(),
            &self.h.bot_token,
            test_policy(),
            metrics.clone(),
        )
        .await
        .expect("forge connects");
        let sweeper = Sweeper {
            engine: Arc::new(engine),
            executor: Executor::new(forge, self.h.store(), metrics, self.h.clock.clone()),
        };
        let mut seen: Vec<PlannedAction> = Vec::new();
        let mut collect = |item: ItemPlan<'_>| seen.extend(item.actions.iter().cloned());
        let report = sweeper
            .run(
                &SweepOptions {
                    dry_run,
                    max_actions: 100,
                    workflows: vec![],
                },
                &mut collect,
            )
            .await;
        assert!(report.aborted.is_none(), "stopped: {:?}", report.aborted);
        self.h.settle().await;
        (report, seen)
    }

    fn advance_days(&self, days: i64) {
        self.h.clock.advance(Duration::days(days));
    }

    /// This week's summary issue of `workflow` in `project`.
    fn summary(&self, project: &str, workflow: &str) -> SimIssue {
        let w = self.h.clock.now().iso_week();
        let title = format!(
            "Stale sweep: {workflow} — week {}-W{:02}",
            w.year(),
            w.week()
        );
        let found: Vec<SimIssue> = self
            .h
            .sim
            .issues(self.h.project(project))
            .into_iter()
            .filter(|i| i.title == title)
            .collect();
        assert_eq!(found.len(), 1, "one summary titled {title:?}");
        found.into_iter().next().expect("summary")
    }
}

fn sorted(items: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = items.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// The rules whose actions a run took, one entry per action, sorted.
fn rules(actions: &[PlannedAction]) -> Vec<String> {
    let mut r: Vec<String> = actions
        .iter()
        .map(|a| format!("{}/{}", a.workflow, a.rule))
        .collect();
    r.sort();
    r
}

fn nudge(owners: &str, stage: &str, days: i64, stale: &str, grace: i64) -> String {
    format!(
        "{owners}, this item has been at ~\"{stage}\" for {days} days with no comment, edit or label change.\n\nIs it still moving? Any comment, description edit or label change resets the clock. Otherwise I will mark it ~\"{stale}\" in {grace} days."
    )
}

fn marked(owners: &str, stage: &str, stale: &str, grace: i64) -> String {
    format!(
        "{owners}, nothing happened here in the {grace} days since the reminder, so I marked this item ~\"{stale}\" (it stays at ~\"{stage}\").\n\nAny comment, description edit or label change removes the stale mark."
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipped_sweeps_nudge_mark_summarise_and_recheck_agreements() {
    let h = Harness::start(&shipped_config()).await;
    for u in [CSM, "sam-sa", "alex-ae", "acme-dev", "initech-dev", PARTNER] {
        h.add_person(u);
    }
    h.put_cla_registry(REGISTRY_BEFORE);
    let mut w = World { h };

    // ── Day 0: items reach the stages where they will stall. ──
    let acme = w.open(
        "opportunities",
        CSM,
        "Acme Corp: faster pipelines",
        &opportunity("Acme Corp", "@acme-dev", "cocreate::identified"),
    );
    let initech = w.open(
        "opportunities",
        CSM,
        "Initech: review apps",
        &opportunity("Initech", "@initech-dev", "cocreate::identified"),
    );
    let globex = w.open(
        "opportunities",
        CSM,
        "Globex: code owners",
        &opportunity("Globex", "@globex-dev", "cocreate::qualification"),
    );
    let umbrella = w.open(
        "opportunities",
        CSM,
        "Umbrella: merge trains",
        &opportunity("Umbrella", "@umbrella-dev", "cocreate::triage"),
    );
    let hooli = w.open(
        "opportunities",
        CSM,
        "Hooli: paused by the customer",
        &(opportunity("Hooli", "@hooli-dev", "cocreate::triage") + "/label ~\"on-hold\"\n"),
    );
    let nimbus = w.open(
        "alliances",
        PARTNER,
        "Partnership request: Nimbus Cloud",
        &inbound(),
    );
    let workshops = w.open(
        "alliances",
        ALLIANCES_LEAD,
        "MDF: Nimbus Cloud workshops",
        &mdf(),
    );
    let key = w.open("alliances", PARTNER, "License: Nimbus Cloud", &license());
    w.h.settle().await;

    w.expect(acme, "**Co-Create opportunity identified.**");
    let unknown = w.expect(acme, "**CLA check: unknown.**");
    assert!(
        unknown.contains("named by agreements of different companies: Acme Corporation, Inc. (valid) and Vandelay Industries (not valid)"),
        "{unknown}"
    );
    w.expect(initech, "**Co-Create opportunity identified.**");
    w.expect(initech, "**CLA check: missing.**");
    w.expect(globex, "**Qualification started.**");
    for item in [umbrella, hooli] {
        w.expect(item, "**Triage: product buy-in needed.**");
    }
    w.expect(nimbus, "**Inbound alliance request received.**");
    w.expect(workshops, "**MDF cloud-credit reimbursement requested.**");
    w.expect(key, "**Self-managed license request.**");
    let group = "group::source code";
    assert_eq!(
        w.labels(acme),
        sorted(&["cla::unknown", "cocreate::identified", group])
    );
    assert_eq!(
        w.labels(initech),
        sorted(&["cla::missing", "cocreate::identified", group])
    );
    assert_eq!(
        w.labels(key),
        sorted(&["license-type::self-managed", "license::in-progress"])
    );

    // ── Day 3: the unclaimed inbound request and the license in progress are nudged; the
    // agreements are rechecked (still unknown and missing: nothing changes, nothing posted). ──
    w.advance_days(3);
    let (r, acts) = w.sweep(false).await;
    assert_eq!(
        rules(&acts),
        vec![
            "alliances/stale:alliances::inbound:nudge",
            "alliances/stale:alliances::inbound:nudge",
            "cocreate/cla-sweep",
            "cocreate/cla-sweep",
            "license/stale:license::in-progress:nudge",
            "license/stale:license::in-progress:nudge",
        ]
    );
    assert_eq!((r.counts.nudged, r.counts.other_actions), (2, 2));
    let b = w.expect(
        nimbus,
        &nudge(
            ALLIANCES,
            "alliances::inbound",
            3,
            "alliances-sweep::stale",
            4,
        ),
    );
    assert!(b.contains("<!-- labelflow:"), "marked: {b}");
    w.expect(
        key,
        &nudge(
            "@example-license-admin",
            "license::in-progress",
            3,
            "license-sweep::stale",
            4,
        ),
    );
    assert!(
        w.labels(nimbus)
            .contains(&"alliances-sweep::nudged".to_string())
    );
    assert!(w.labels(acme).contains(&"cla::unknown".to_string()));
    assert!(w.labels(initech).contains(&"cla::missing".to_string()));
    assert_eq!((w.comments(acme), w.comments(initech)), (2, 2));
    let outcomes: Vec<(String, String)> = r
        .summaries
        .iter()
        .map(|s| (s.workflow.clone(), s.outcome.clone()))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("alliances".to_string(), "created".to_string()),
            ("cocreate".to_string(), "created".to_string()),
            ("license".to_string(), "created".to_string()),
            ("mdf".to_string(), "created".to_string()),
        ]
    );

    // ── Day 7: the buy-in reminders come due (the on-hold item still gets its reminder: it
    // is a rule, not a sweep). The legal team cleans up the registry. ──
    w.advance_days(4);
    w.h.settle_followups().await;
    for item in [umbrella, hooli] {
        w.expect(item, "**Reminder: product buy-in still open.**");
    }
    w.h.put_cla_registry(REGISTRY_AFTER);

    // A dry run plans exactly what the live run then does, and writes nothing.
    w.h.sim.clear_requests();
    let (dry, dry_acts) = w.sweep(true).await;
    assert_eq!(w.writes(), 0, "the dry run wrote");
    let (live, acts) = w.sweep(false).await;
    assert_eq!(dry_acts, acts, "dry run and live run differ");
    assert_eq!(dry.counts, live.counts);
    assert_eq!(
        rules(&acts),
        vec![
            "alliances/stale:alliances::inbound:mark",
            "alliances/stale:alliances::inbound:mark",
            "alliances/stale:alliances::inbound:mark",
            "cocreate/cla-sweep",
            "cocreate/cla-sweep",
            "cocreate/stale:cocreate::qualification:nudge",
            "cocreate/stale:cocreate::qualification:nudge",
            "license/stale:license::in-progress:mark",
            "license/stale:license::in-progress:mark",
            "license/stale:license::in-progress:mark",
            "mdf/stale:mdf::requested:nudge",
            "mdf/stale:mdf::requested:nudge",
        ]
    );
    // The rechecks turned unknown and missing into signed, quietly: the label says it.
    assert_eq!(
        w.labels(acme),
        sorted(&["cla::signed", "cocreate::identified", group])
    );
    assert_eq!(
        w.labels(initech),
        sorted(&["cla::signed", "cocreate::identified", group])
    );
    assert_eq!((w.comments(acme), w.comments(initech)), (2, 2));
    w.expect(
        globex,
        &nudge(CS, "cocreate::qualification", 7, "cocreate-sweep::stale", 7),
    );
    w.expect(
        workshops,
        &nudge(ALLIANCES, "mdf::requested", 7, "mdf-sweep::stale", 7),
    );
    w.expect(
        nimbus,
        &marked(ALLIANCES, "alliances::inbound", "alliances-sweep::stale", 4),
    );
    w.expect(
        key,
        &marked(
            "@example-license-admin",
            "license::in-progress",
            "license-sweep::stale",
            4,
        ),
    );
    assert_eq!(
        w.labels(nimbus),
        sorted(&["alliances-sweep::stale", "alliances::inbound"])
    );
    // Triage: the reminder two days ago was the bot's, so its clock runs from there; the
    // on-hold item is never touched by the sweep.
    assert_eq!((w.comments(umbrella), w.comments(hooli)), (2, 2));

    // The same day again: nothing to do, nothing written (summaries unchanged).
    w.h.sim.clear_requests();
    let (again, acts) = w.sweep(false).await;
    assert_eq!((again.actions, acts.len()), (0, 0));
    assert_eq!(
        w.writes(),
        0,
        "a second run the same day wrote ({:?}; {:?}): {:#?}",
        again.followups,
        w.h.queue().await,
        w.h.sim
            .requests()
            .into_iter()
            .filter(|r| r.is_write())
            .collect::<Vec<_>>()
    );
    assert!(again.summaries.iter().all(|s| s.outcome == "unchanged"));

    // ── Day 17: triage has been quiet for 10 days since the reminder; the qualification and
    // the MDF request stayed quiet after their nudges. ──
    w.advance_days(10);
    let (r, acts) = w.sweep(false).await;
    assert_eq!(
        rules(&acts),
        vec![
            "cocreate/stale:cocreate::qualification:mark",
            "cocreate/stale:cocreate::qualification:mark",
            "cocreate/stale:cocreate::qualification:mark",
            "cocreate/stale:cocreate::triage:nudge",
            "cocreate/stale:cocreate::triage:nudge",
            "mdf/stale:mdf::requested:mark",
            "mdf/stale:mdf::requested:mark",
            "mdf/stale:mdf::requested:mark",
        ]
    );
    assert_eq!((r.counts.nudged, r.counts.marked_stale), (1, 2));
    w.expect(
        umbrella,
        &nudge(CS, "cocreate::triage", 10, "cocreate-sweep::stale", 7),
    );
    w.expect(
        globex,
        &marked(CS, "cocreate::qualification", "cocreate-sweep::stale", 7),
    );
    w.expect(
        workshops,
        &marked(ALLIANCES, "mdf::requested", "mdf-sweep::stale", 7),
    );
    assert_eq!(w.comments(hooli), 2, "on hold: left alone");

    // This week's Co-Create summary: counts per stage, the funnel, the stale list, the run.
    let s = w.summary("cocreate_reports", "cocreate");
    assert_eq!(s.labels, vec!["sweep-summary".to_string()]);
    let d = &s.description;
    assert!(
        d.contains(
            "| Stage | Open | Stale |\n|---|---:|---:|\n\
| ~\"cocreate::qualification\" | 1 | 1 |\n\
| ~\"cocreate::triage\" | 2 | 0 |\n\
| ~\"cocreate::presented\" | 0 | 0 |\n\
| ~\"cocreate::onboarding\" | 0 | 0 |\n"
        ),
        "{d}"
    );
    assert!(
        d.contains(
            &[
                "```mermaid",
                "flowchart LR",
                "  s0[\"cocreate::qualification<br/>1 open, 1 stale\"]",
                "  s1[\"cocreate::triage<br/>2 open, 0 stale\"]",
                "  s2[\"cocreate::presented<br/>0 open, 0 stale\"]",
                "  s3[\"cocreate::onboarding<br/>0 open, 0 stale\"]",
                "  s0 --> s1",
                "  s1 --> s2",
                "  s2 --> s3",
                "```",
            ]
            .join("\n")
        ),
        "{d}"
    );
    // Marked today: at least the 7 quiet days before the nudge and the 7 after it.
    assert!(d.contains("### Stale items (1)"), "{d}");
    assert!(
        d.contains(&format!(
            "| co-create/opportunities#{} Globex: code owners | ~\"cocreate::qualification\" | `example-cs-lead`, `example-cs-engineer` | 14 |",
            globex.iid
        )),
        "{d}"
    );
    let runs: Vec<&str> = d.lines().filter(|l| l.contains(" UTC | ")).collect();
    assert_eq!(runs.len(), 1, "{d}");
    assert!(runs[0].ends_with(" | 1 | 1 | 0 | 0 | 0 |"), "{}", runs[0]);
    assert!(!d.contains("@example"), "the summary pings nobody: {d}");

    // The Alliances workflows keep theirs in the alliances reports project.
    let mdf_summary = w.summary("alliances_reports", "mdf");
    assert!(
        mdf_summary
            .description
            .contains("| ~\"mdf::requested\" | 1 | 1 |\n| ~\"mdf::partner-approved\" | 0 | 0 |\n"),
        "{}",
        mdf_summary.description
    );
    let alliances_summary = w.summary("alliances_reports", "alliances");
    assert!(
        alliances_summary.description.contains(&format!(
            "| alliances/partners#{} Partnership request: Nimbus Cloud | ~\"alliances::inbound\" | `example-alliances-lead`, `example-partner-manager` |",
            nimbus.iid
        )),
        "{}",
        alliances_summary.description
    );
    let license_summary = w.summary("alliances_reports", "license");
    assert!(
        license_summary
            .description
            .contains("| ~\"license::in-progress\" | 1 | 1 |\n"),
        "{}",
        license_summary.description
    );

    assert_eq!(w.h.queue().await.parked, 0);
    w.h.finish();
    w.h.stop_service().await;
}

/// While the registry cannot be read, a recheck never guesses: a missing agreement becomes
/// `cla::unknown` (said once), the run lists the item as a failure so the CI job turns red, and
/// a later run after the registry recovers finds the signature.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rechecks_during_a_registry_outage_fail_the_run_and_recover_later() {
    let h = Harness::start(&shipped_config()).await;
    for u in [CSM, "sam-sa", "alex-ae", "initech-dev"] {
        h.add_person(u);
    }
    h.put_cla_registry(REGISTRY_BEFORE);
    let mut w = World { h };
    let initech = w.open(
        "opportunities",
        CSM,
        "Initech: review apps",
        &opportunity("Initech", "@initech-dev", "cocreate::identified"),
    );
    w.h.settle().await;
    w.expect(initech, "**Co-Create opportunity identified.**");
    w.expect(initech, "**CLA check: missing.**");

    let outage = w.h.sim.add_fault(
        FaultRule::status(500)
            .path_contains("/repository/files/")
            .times(100_000),
    );
    w.advance_days(1);
    for _ in 0..2 {
        let (r, acts) = w.sweep_report(false).await;
        assert_eq!(rules(&acts), vec!["cocreate/cla-sweep"]);
        assert_eq!(r.failures.len(), 1, "{:?}", r.failures);
        assert!(
            r.failures[0].starts_with(&format!(
                "co-create/opportunities#{}: CLA status unknown: ",
                initech.iid
            )),
            "{}",
            r.failures[0]
        );
        assert!(r.failed(), "the CI job fails");
        assert_eq!(
            w.labels(initech),
            sorted(&["cla::unknown", "cocreate::identified", "group::source code"])
        );
    }
    let unknown = w.expect(initech, "**CLA check: unknown.**");
    assert!(
        unknown.contains("cannot read the CLA registry"),
        "{unknown}"
    );

    w.h.sim.remove_fault(outage);
    w.h.put_cla_registry(REGISTRY_AFTER);
    let (r, acts) = w.sweep(false).await;
    assert_eq!(rules(&acts), vec!["cocreate/cla-sweep"]);
    assert!(!r.failed());
    assert_eq!(
        w.labels(initech),
        sorted(&["cla::signed", "cocreate::identified", "group::source code"])
    );
    assert_eq!(w.comments(initech), 3, "signed quietly");
    w.h.finish();
    w.h.stop_service().await;
}
