//! Helpers for the end-to-end tests of the shipped configuration (`labelflow.yml` and
//! `templates/`): issue templates filled in as a person would, tracker snapshots to prove that
//! replays change nothing, and waiting for delayed follow-ups.

use super::{Harness, repo_path};
use labelflow::cla::config::SourceConfig;
use labelflow::engine::Engine;
use labelflow::sim::{SimIssue, SimIssueLink, SimLabelEvent, SimNote};
use std::path::PathBuf;
use std::time::Duration;

/// The shipped configuration.
pub fn shipped_config() -> PathBuf {
    repo_path("labelflow.yml")
}

/// A shipped issue template (`templates/issue_templates/NAME`), as GitLab offers it.
pub fn issue_template(name: &str) -> String {
    let path = repo_path("templates/issue_templates").join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("issue template {}: {e}", path.display()))
}

/// Fills an issue template as a person does (the demo's filler: hints under `## Field` and
/// after `Field:` replaced, quick actions kept).
#[allow(unused_imports)]
pub use labelflow::demo::fill_template;

/// The shipped license request template filled with `values`. For a GitLab.com request its
/// quick action applies `license-type::gitlab-com` instead of the self-managed type.
#[allow(dead_code)]
pub fn license_request(values: &[(&str, &str)], gitlab_com: bool) -> String {
    let text = fill_template(&issue_template("license-request.md"), values);
    if gitlab_com {
        text.replace(
            "/label ~\"license-type::self-managed\"",
            "/label ~\"license-type::gitlab-com\"",
        )
    } else {
        text
    }
}

/// The inbound alliance request template, filled in for the partner Nimbus Cloud.
#[allow(dead_code)]
pub fn nimbus_inbound_request() -> String {
    fill_template(
        &issue_template("alliance-inbound-request.md"),
        &[
            ("Partner", "Nimbus Cloud"),
            ("Partner contact", "Dana Doe, dana@nimbus.example"),
            ("Summary", "A GitLab CI integration."),
            ("Technical integration", "A CI/CD component."),
            ("End-user benefits", "One-click deployments."),
            ("Business relationship", "Technology partnership."),
        ],
    )
}

/// The text without quick-action lines (what GitLab keeps as the description).
pub fn without_quick_actions(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('/'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Everything the tracker holds, to compare before and after a replay.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub issues: Vec<SimIssue>,
    pub notes: Vec<SimNote>,
    pub label_events: Vec<SimLabelEvent>,
    pub links: Vec<SimIssueLink>,
}

/// The shipped CLA registry with Acme's signed Corporate Contributor Agreement: the
/// company under another spelling of its name, and its engineer `acme-dev` (the
/// `Customer engineers` of the opportunities the Co-Create tests open).
pub const ACME_SIGNED_REGISTRY: &str = "agreements:
  - company: Acme Corporation, Inc.
    gitlab_users: [acme-dev]
    version: \"2.0\"
    signed: 2024-03-01
";

impl Harness {
    /// Writes `yaml` as the CLA registry where the shipped configuration's `cla.source`
    /// points (a file in one of its GitLab projects).
    pub fn put_cla_registry(&self, yaml: &str) {
        let engine = Engine::load(&shipped_config()).expect("shipped configuration loads");
        let cla = engine
            .config
            .cla
            .expect("the shipped configuration has a `cla:` section");
        let SourceConfig::Gitlab {
            project,
            path,
            git_ref,
        } = cla.source
        else {
            panic!(
                "the shipped CLA registry is not a GitLab file: {:?}",
                cla.source
            )
        };
        self.sim
            .put_file(self.project(&project.value), &path, &git_ref, yaml)
            .expect("CLA registry written");
    }

    /// The issue's labels, in the order they were applied.
    pub fn labels(&self, project: u64, iid: u64) -> Vec<String> {
        self.sim
            .issue(project, iid)
            .unwrap_or_else(|| panic!("no issue {project}#{iid}"))
            .labels
    }

    /// The issue's assignees' usernames, sorted.
    pub fn assignees(&self, project: u64, iid: u64) -> Vec<String> {
        let mut names = self
            .sim
            .issue_state(project, iid)
            .unwrap_or_else(|| panic!("no issue {project}#{iid}"))
            .assignees;
        names.sort();
        names
    }

    pub fn snapshot(&self) -> Snapshot {
        let mut issues = Vec::new();
        let mut notes = Vec::new();
        let mut label_events = Vec::new();
        for project in self.projects.values() {
            for issue in self.sim.issues(*project) {
                notes.extend(self.sim.notes(*project, issue.iid));
                label_events.extend(self.sim.label_events(*project, issue.iid));
                issues.push(issue);
            }
        }
        Snapshot {
            issues,
            notes,
            label_events,
            links: self.sim.links(),
        }
    }

    /// Redelivers every hook delivered so far (same `webhook-id`, as GitLab's retries do),
    /// waits until the service has taken them all, and asserts the tracker did not change.
    /// Returns how many deliveries were replayed.
    pub async fn replay_all_and_assert_unchanged(&self) -> usize {
        self.settle().await;
        let before = self.snapshot();
        let deliveries: Vec<_> = self
            .sim
            .deliveries()
            .into_iter()
            .filter(|d| !d.redelivery)
            .collect();
        for d in &deliveries {
            assert!(self.sim.redeliver(d.id), "delivery {} resent", d.id);
        }
        self.settle().await;
        let resent = self
            .sim
            .deliveries()
            .iter()
            .filter(|d| d.redelivery && d.status.is_some_and(|s| (200..300).contains(&s)))
            .count();
        assert!(
            resent >= deliveries.len(),
            "every resend was acknowledged: {resent} of {}",
            deliveries.len()
        );
        let after = self.snapshot();
        assert_eq!(
            before,
            after,
            "replaying {} deliveries changed the tracker",
            deliveries.len()
        );
        deliveries.len()
    }

    /// Waits until every scheduled follow-up that is due has been turned into an inbox event
    /// and processed.
    pub async fn settle_followups(&self) {
        let store = self.store();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let followups = store.list_followups(1000).await.expect("list follow-ups");
            let now = self.clock.now();
            if followups.iter().all(|f| f.fired || f.due_at > now) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "due follow-ups were not promoted: {followups:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.settle().await;
    }
}
