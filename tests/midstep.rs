//! Nothing lost mid-step: for every step of the shipped configuration that writes to GitLab
//! more than once (and for the guard and restricted-label reverts), one transient failure at
//! each write position k — 500, 502 after GitLab applied the write, 503, a timeout before it
//! was applied, and an answer lost after it was applied — must end in the same final state as
//! the run without failures: the same labels, assignees, confidentiality, state, bot comments,
//! created issues and links, nothing twice and nothing parked.
//!
//! Each case prepares one item per fault run up front (the preparation steps run on all of
//! them together), then triggers the step on each item in turn with one fault armed on the
//! bot's k-th write. People act in-process, so every HTTP write the simulator sees is the bot's.

mod common;
#[path = "replicas/database.rs"]
#[allow(dead_code)]
mod database;

use common::Harness;
use common::item::Item;
use common::shipped::{
    ACME_SIGNED_REGISTRY, fill_template, issue_template, license_request, shipped_config,
    without_quick_actions,
};
use labelflow::sim::{FaultKind, FaultRule};
use labelflow::store::EventStatus;
use std::collections::HashMap;
use std::time::Duration;

// Co-Create people.
const CSM: &str = "jane-csm";
const CS_LEAD: &str = "example-cs-lead";
const PM: &str = "example-pm-source-code";
const EM: &str = "example-eng-manager";
// Alliances people.
const PARTNER: &str = "partner-pat";
const VISITOR: &str = "visitor-vic";
const LEAD: &str = "example-alliances-lead";
const PRODUCTION: &str = "example-production-lead";

/// Something a person does.
#[derive(Clone, Debug)]
enum Act {
    /// Opens the item (always first).
    Open {
        project: &'static str,
        who: &'static str,
        title: &'static str,
        body: String,
    },
    Label(&'static str, &'static str),
    Comment(&'static str, &'static str),
    Edit(&'static str, String),
    /// The legal team writes the CLA registry (once, whatever the number of items).
    Registry(&'static str),
}

/// One step under test: what brings an item to it, and the act that triggers it.
struct Case {
    name: &'static str,
    prep: Vec<Act>,
    trigger: Act,
    /// Prepare the run without faults and every fault run together, expecting this many
    /// writes: for steps whose preparation depends on state a trigger changes (the CLA
    /// registry cache, which a recheck refreshes).
    prep_together: Option<usize>,
}

fn opportunity_values(skip: &[&str]) -> Vec<(&'static str, &'static str)> {
    vec![
        ("Customer", "Acme Corp"),
        ("Problem", "Merge request pipelines take 40 minutes."),
        ("Willingness to contribute", "High: budget for a quarter"),
        ("Ability to contribute", "3 engineers with Ruby and Go"),
        ("CSM", "@jane-csm"),
        ("SA", "@sam-sa"),
        ("AE", "@alex-ae"),
        ("Customer engineers", "@acme-dev"),
    ]
    .into_iter()
    .filter(|(k, _)| !skip.contains(k))
    .collect()
}

fn opportunity(skip: &[&str]) -> String {
    fill_template(
        &issue_template("co-create-opportunity.md"),
        &opportunity_values(skip),
    ) + "\n/label ~\"group::source code\"\n"
}

fn open_opportunity(skip: &[&str]) -> Act {
    Act::Open {
        project: "opportunities",
        who: CSM,
        title: "Acme Corp & Sons: faster \"merge request\" pipelines",
        body: opportunity(skip),
    }
}

fn through_triage() -> Vec<Act> {
    vec![
        open_opportunity(&[]),
        Act::Label(CS_LEAD, "cocreate::qualification"),
        Act::Label(CS_LEAD, "cocreate::triage"),
    ]
}

fn with(mut acts: Vec<Act>, more: &[Act]) -> Vec<Act> {
    acts.extend(more.iter().cloned());
    acts
}

fn inbound() -> Act {
    Act::Open {
        project: "alliances",
        who: PARTNER,
        title: "Partnership request: Nimbus Cloud",
        body: fill_template(
            &issue_template("alliance-inbound-request.md"),
            &[
                ("Partner", "Nimbus Cloud"),
                ("Partner contact", "Dana Doe, dana@nimbus.example"),
                ("Summary", "A GitLab CI integration for Nimbus Kubernetes."),
                ("Technical integration", "A CI/CD component."),
                ("End-user benefits", "One-click deployments."),
                ("Business relationship", "Technology partnership."),
            ],
        ),
    }
}

fn mdf(budget: &str, timeline: &str) -> String {
    fill_template(
        &issue_template("mdf-request.md"),
        &[
            ("Campaign topic", "GitLab on Nimbus Cloud workshops"),
            ("Timeline", timeline),
            ("Budget", budget),
            ("Cloud partner", "Nimbus Cloud"),
            ("Marketing targets", "4 workshops, 200 attendees, EMEA"),
        ],
    )
}

fn open_mdf(budget: &str, timeline: &str) -> Act {
    Act::Open {
        project: "alliances",
        who: LEAD,
        title: "MDF: Nimbus Cloud workshops",
        body: mdf(budget, timeline),
    }
}

fn license(seats: &str, gitlab_com: bool, purpose: bool) -> String {
    let mut values = vec![("Partner", "Johnson & Johnson")];
    if purpose {
        values.push(("Purpose", "Build and test the CI/CD component."));
    }
    if !seats.is_empty() {
        values.push(("Seats", seats));
    }
    if gitlab_com {
        values.push(("GitLab.com namespace", "jnj"));
    }
    license_request(&values, gitlab_com)
}

fn open_license(seats: &str, gitlab_com: bool, purpose: bool) -> Act {
    Act::Open {
        project: "alliances",
        who: PARTNER,
        title: "License request",
        body: license(seats, gitlab_com, purpose),
    }
}

fn cocreate_cases() -> Vec<Case> {
    let major = with(
        through_triage(),
        &[
            Act::Comment(PM, "@labelflow buy-in approve"),
            Act::Label(CS_LEAD, "cocreate-pathway::major"),
        ],
    );
    let allocated = {
        let mut values = opportunity_values(&[]);
        values.push(("Allocated engineer", "@example-eng-manager"));
        let body = fill_template(&issue_template("co-create-opportunity.md"), &values);
        with(
            major.clone(),
            &[
                Act::Edit(CSM, without_quick_actions(&body)),
                Act::Label(EM, "engineering::allocated"),
            ],
        )
    };
    vec![
        Case {
            name: "cocreate/identified",
            prep: vec![],
            trigger: open_opportunity(&[]),
            prep_together: None,
        },
        Case {
            name: "cocreate/required fields",
            prep: vec![],
            trigger: open_opportunity(&["AE"]),
            prep_together: None,
        },
        Case {
            name: "cocreate/identified once completed",
            prep: vec![open_opportunity(&["AE"])],
            trigger: Act::Edit(CSM, without_quick_actions(&opportunity(&[]))),
            prep_together: None,
        },
        Case {
            name: "cocreate/qualification",
            prep: vec![open_opportunity(&[])],
            trigger: Act::Label(CS_LEAD, "cocreate::qualification"),
            prep_together: None,
        },
        Case {
            name: "cocreate/buy-in-approve",
            prep: through_triage(),
            trigger: Act::Comment(PM, "@labelflow buy-in approve"),
            prep_together: None,
        },
        Case {
            name: "cocreate/buy-in-decline",
            prep: through_triage(),
            trigger: Act::Comment(PM, "@labelflow buy-in decline not on this year's roadmap"),
            prep_together: None,
        },
        Case {
            name: "cocreate/pathway-not-aligned",
            prep: through_triage(),
            trigger: Act::Label(CS_LEAD, "cocreate-pathway::not-aligned"),
            prep_together: None,
        },
        Case {
            name: "cocreate/pathway-minor",
            prep: through_triage(),
            trigger: Act::Label(CS_LEAD, "cocreate-pathway::minor"),
            prep_together: None,
        },
        Case {
            name: "cocreate/pathway-major",
            prep: with(
                through_triage(),
                &[Act::Comment(PM, "@labelflow buy-in approve")],
            ),
            trigger: Act::Label(CS_LEAD, "cocreate-pathway::major"),
            prep_together: None,
        },
        Case {
            name: "cocreate/onboarding",
            prep: with(
                through_triage(),
                &[Act::Label(CS_LEAD, "cocreate-pathway::minor")],
            ),
            trigger: Act::Label(CS_LEAD, "cocreate::onboarding"),
            prep_together: None,
        },
        Case {
            name: "cocreate/onsite",
            prep: allocated,
            trigger: Act::Label(CS_LEAD, "cocreate::onsite"),
            prep_together: None,
        },
        Case {
            name: "cocreate/guard presented",
            prep: vec![open_opportunity(&[])],
            trigger: Act::Label(CSM, "cocreate::presented"),
            prep_together: None,
        },
        Case {
            name: "cocreate/restricted pathway",
            prep: vec![open_opportunity(&[])],
            trigger: Act::Label(CSM, "cocreate-pathway::minor"),
            prep_together: None,
        },
    ]
}

fn alliances_cases() -> Vec<Case> {
    let acquisition = fill_template(
        &issue_template("acquisition-inquiry.md"),
        &[
            ("Company", "Tiny Tools Ltd"),
            ("Website", "https://tinytools.example"),
            ("Contact", "Sam Roe, sam@tinytools.example"),
            ("Inquiry", "We would like to discuss an acquisition."),
        ],
    );
    let complete_mdf = open_mdf("USD 12,000", "2026-01-15 to 2026-03-31");
    vec![
        Case {
            name: "alliances/claim",
            prep: vec![inbound()],
            trigger: Act::Comment(LEAD, "@labelflow claim"),
            prep_together: None,
        },
        Case {
            name: "alliances/restricted lead-assigned",
            prep: vec![inbound()],
            trigger: Act::Label(PARTNER, "alliances::lead-assigned"),
            prep_together: None,
        },
        Case {
            name: "alliances/acquisition",
            prep: vec![Act::Open {
                project: "alliances",
                who: VISITOR,
                title: "Acquisition inquiry: Tiny Tools",
                body: without_quick_actions(&acquisition),
            }],
            trigger: Act::Label(VISITOR, "alliances::acquisition"),
            prep_together: None,
        },
        Case {
            name: "license/self-managed",
            prep: vec![],
            trigger: open_license("", false, true),
            prep_together: None,
        },
        Case {
            name: "license/gitlab-com",
            prep: vec![],
            trigger: open_license("", true, true),
            prep_together: None,
        },
        Case {
            name: "license/too-many-seats",
            prep: vec![],
            trigger: open_license("11", false, true),
            prep_together: None,
        },
        Case {
            name: "license/self-managed once completed",
            prep: vec![open_license("", false, false)],
            trigger: Act::Edit(PARTNER, without_quick_actions(&license("", false, true))),
            prep_together: None,
        },
        Case {
            name: "license/gitlab-com once completed",
            prep: vec![open_license("", true, false)],
            trigger: Act::Edit(PARTNER, without_quick_actions(&license("", true, true))),
            prep_together: None,
        },
        Case {
            name: "mdf/requested once completed",
            prep: vec![open_mdf("twelve thousand", "next quarter")],
            trigger: Act::Edit(
                LEAD,
                without_quick_actions(&mdf("USD 12,000", "2026-01-15 to 2026-03-31")),
            ),
            prep_together: None,
        },
        Case {
            name: "mdf/required fields",
            prep: vec![],
            trigger: open_mdf("twelve thousand", "next quarter"),
            prep_together: None,
        },
        Case {
            name: "mdf/done",
            prep: vec![
                complete_mdf.clone(),
                Act::Label(LEAD, "mdf::partner-approved"),
                Act::Label(PRODUCTION, "mdf::credit-acknowledged"),
            ],
            trigger: Act::Label(LEAD, "mdf::done"),
            prep_together: None,
        },
        Case {
            name: "mdf/restricted credit-acknowledged",
            prep: vec![
                complete_mdf.clone(),
                Act::Label(LEAD, "mdf::partner-approved"),
            ],
            trigger: Act::Label(LEAD, "mdf::credit-acknowledged"),
            prep_together: None,
        },
        Case {
            name: "mdf/guard credit-acknowledged",
            prep: vec![complete_mdf],
            trigger: Act::Label(PRODUCTION, "mdf::credit-acknowledged"),
            prep_together: None,
        },
    ]
}

/// A registry without Acme's agreement: an opportunity opened against it is `cla::missing`.
const REGISTRY_WITHOUT_ACME: &str = "agreements:
  - company: Other Corp
    gitlab_users: [other-dev]
    version: \"2.0\"
    signed: 2024-03-01
";

/// `@labelflow cla recheck` once Acme's agreement is in the registry: the label moves from
/// `cla::missing` to `cla::signed` and the answer is posted. Its own harness: the first open
/// must read the registry without Acme (the registry is cached).
fn cla_recheck_cases() -> Vec<Case> {
    vec![Case {
        name: "cocreate/cla-recheck",
        prep: vec![
            Act::Registry(REGISTRY_WITHOUT_ACME),
            open_opportunity(&[]),
            Act::Registry(ACME_SIGNED_REGISTRY),
        ],
        trigger: Act::Comment("acme-dev", "@labelflow cla recheck"),
        prep_together: Some(2),
    }]
}

/// The faults each write position gets.
fn faults() -> Vec<(&'static str, FaultKind)> {
    vec![
        ("500", FaultKind::Status(500)),
        ("502 after applying", FaultKind::StatusAfterApply(502)),
        ("503", FaultKind::Status(503)),
        (
            "timeout",
            FaultKind::Timeout {
                hold: Duration::from_secs(600),
            },
        ),
        (
            "answer lost after applying",
            FaultKind::SlowResponse(Duration::from_secs(5)),
        ),
    ]
}

/// The final state of an item, with what differs between two items of the same case (iids,
/// URLs, markers) taken out.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    labels: Vec<String>,
    assignees: Vec<String>,
    confidential: bool,
    open: bool,
    comments: Vec<String>,
    created: Vec<String>,
    links: usize,
}

fn normalise(text: &str) -> String {
    let marker = regex::Regex::new(r"<!-- labelflow:[a-z0-9]+ -->").expect("regex");
    let urls = regex::Regex::new(r"/-/issues/\d+").expect("regex");
    let refs = regex::Regex::new(r"#\d+").expect("regex");
    let t = marker.replace_all(text, "<marker>");
    let t = urls.replace_all(&t, "/-/issues/N");
    refs.replace_all(&t, "#N").into_owned()
}

fn outcome(h: &Harness, item: Item) -> Outcome {
    let state = item.state(h);
    let id = item.issue(h).id;
    let mut by_id = HashMap::new();
    for p in h.projects.values() {
        for i in h.sim.issues(*p) {
            by_id.insert(i.id, (*p, i));
        }
    }
    let links: Vec<_> = h
        .sim
        .links()
        .into_iter()
        .filter(|l| l.source_issue_id == id || l.target_issue_id == id)
        .collect();
    let mut created = Vec::new();
    for l in &links {
        let other = if l.source_issue_id == id {
            l.target_issue_id
        } else {
            l.source_issue_id
        };
        let (p, issue) = &by_id[&other];
        let mut labels = issue.labels.clone();
        labels.sort();
        created.push(format!(
            "{} | {} | {:?} | {:?} | {}\n{}",
            h.sim
                .issue_state(*p, issue.iid)
                .expect("issue")
                .project_path,
            issue.title,
            labels,
            h.assignees(*p, issue.iid),
            issue.state == labelflow::sim::IssueStatus::Opened,
            normalise(&issue.description)
        ));
    }
    created.sort();
    let mut labels = state.labels.clone();
    labels.sort();
    let mut assignees = state.assignees.clone();
    assignees.sort();
    Outcome {
        labels,
        assignees,
        confidential: state.confidential,
        open: state.state == labelflow::sim::IssueStatus::Opened,
        comments: h
            .bot_notes(item.p, item.iid)
            .iter()
            .map(|n| normalise(&n.body))
            .collect(),
        created,
        links: links.len(),
    }
}

/// Performs `act` on `items` (opening one item per slot for `Open`), without waiting.
fn act(h: &Harness, act: &Act, items: &mut [Option<Item>]) {
    if let Act::Registry(yaml) = act {
        h.put_cla_registry(yaml);
        return;
    }
    for slot in items.iter_mut() {
        match act {
            Act::Open {
                project,
                who,
                title,
                body,
            } => {
                let p = h.project(project);
                let iid = h
                    .sim
                    .as_user(who)
                    .create_issue(p, title, body, &[])
                    .expect("issue opened");
                *slot = Some(Item { p, iid });
            }
            Act::Label(who, label) => {
                let item = slot.expect("opened first");
                h.sim
                    .as_user(who)
                    .add_labels(item.p, item.iid, &[label])
                    .expect("label applied");
            }
            Act::Comment(who, body) => {
                let item = slot.expect("opened first");
                h.sim
                    .as_user(who)
                    .comment(item.p, item.iid, body)
                    .expect("comment posted");
            }
            Act::Edit(who, body) => {
                let item = slot.expect("opened first");
                h.sim
                    .as_user(who)
                    .edit_description(item.p, item.iid, body)
                    .expect("description edited");
            }
            Act::Registry(_) => {}
        }
    }
}

fn is_write(method: &str) -> bool {
    matches!(method, "POST" | "PUT" | "PATCH" | "DELETE")
}

/// Runs the trigger on one prepared slot with `fault` armed; returns the item and how many
/// writes the bot made.
async fn trigger(
    h: &Harness,
    case: &Case,
    slot: Option<Item>,
    fault: Option<FaultRule>,
) -> (Item, usize) {
    let before = h.sim.requests().len();
    if let Some(f) = fault {
        h.sim.add_fault(f);
    }
    let mut one = [slot];
    act(h, &case.trigger, &mut one);
    h.settle().await;
    h.sim.clear_faults();
    let writes = h.sim.requests()[before..]
        .iter()
        .filter(|r| is_write(&r.method))
        .count();
    (one[0].expect("item"), writes)
}

async fn run_cases(cases: Vec<Case>, database: Option<String>) {
    // Hundreds of steps back to back, and every HTTP write counted: GitLab.com's rate limits
    // are lifted on both sides (a limit's 429 would count as a write; pacing has its tests).
    let mut h = Harness::start_custom(&shipped_config(), 4, database, |s| {
        s.retry.request_timeout = Duration::from_millis(700);
        s.retry.pacing = labelflow::forge::Pacing::off();
    })
    .await;
    h.sim.set_rate_limit(None);
    h.sim.set_issue_creation_limit(None);
    h.sim.set_note_creation_limit(None);
    for u in ["sam-sa", "alex-ae", "acme-dev", CSM, PARTNER, VISITOR] {
        h.add_person(u);
    }
    h.put_cla_registry(ACME_SIGNED_REGISTRY);
    let mut report = Vec::new();
    for case in &cases {
        // The run without faults fixes the expected state and the number of writes.
        let together = case.prep_together.map(|w| 1 + w * faults().len());
        let mut prepared: Vec<Option<Item>> = vec![None; together.unwrap_or(1)];
        for a in &case.prep {
            act(&h, a, &mut prepared);
            h.settle().await;
        }
        let (item, writes) = trigger(&h, case, prepared[0], None).await;
        if let Some(w) = case.prep_together {
            assert_eq!(writes, w, "{}: writes of the step", case.name);
        }
        let expected = outcome(&h, item);
        assert!(
            writes >= 1,
            "{}: the step made no GitLab write at all",
            case.name
        );
        let runs: Vec<(u32, &'static str, FaultKind)> = (1..=writes as u32)
            .flat_map(|k| faults().into_iter().map(move |(n, f)| (k, n, f)))
            .collect();
        let slots: Vec<Option<Item>> = if together.is_some() {
            prepared[1..].to_vec()
        } else {
            let mut slots = vec![None; runs.len()];
            for a in &case.prep {
                act(&h, a, &mut slots);
                h.settle().await;
            }
            slots
        };
        for ((k, name, kind), slot) in runs.iter().zip(slots) {
            let rule = FaultRule::new(*kind).writes().after(k - 1);
            let (item, _) = trigger(&h, case, slot, Some(rule)).await;
            let got = outcome(&h, item);
            assert_eq!(
                got, expected,
                "{}: a {name} at write {k} of {writes} ended differently from the run without faults",
                case.name
            );
        }
        report.push(format!("{} ({writes} writes)", case.name));
    }
    let parked = h
        .store()
        .list_events(Some(EventStatus::Parked), 100)
        .await
        .expect("list parked");
    assert!(
        parked.is_empty(),
        "no event may be parked by a transient failure: {:?}",
        parked
            .iter()
            .map(|e| e.last_error.clone())
            .collect::<Vec<_>>()
    );
    eprintln!("mid-step faults covered: {}", report.join(", "));
    h.stop_service().await;
}

async fn on_postgres(test: &str, cases: Vec<Case>) {
    let Some(db) = database::TestDatabase::create(test).await else {
        return;
    };
    run_cases(cases, Some(db.url.clone())).await;
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cocreate_steps_finish_after_one_failure_at_any_write_sqlite() {
    run_cases(cocreate_cases(), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alliances_steps_finish_after_one_failure_at_any_write_sqlite() {
    run_cases(alliances_cases(), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cla_recheck_finishes_after_one_failure_at_any_write_sqlite() {
    run_cases(cla_recheck_cases(), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cla_recheck_finishes_after_one_failure_at_any_write_postgres() {
    on_postgres("midstep cla recheck on PostgreSQL", cla_recheck_cases()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cocreate_steps_finish_after_one_failure_at_any_write_postgres() {
    on_postgres("midstep cocreate on PostgreSQL", cocreate_cases()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alliances_steps_finish_after_one_failure_at_any_write_postgres() {
    on_postgres("midstep alliances on PostgreSQL", alliances_cases()).await;
}
