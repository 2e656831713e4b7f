//! The shipped configuration, issues made from its issue templates with hostile values in
//! every field, and the checks every text the bot would write must pass.

use super::mutate;
use super::text::{is_mass_mention, live_mentions, quick_action_lines};
use chrono::{DateTime, TimeZone, Utc};
use labelflow::actions::{Action, PlannedAction};
use labelflow::demo::fill_template;
use labelflow::domain::{Actor, Event, EventKind, IssueState, IssueStatus};
use labelflow::engine::Engine;
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use std::path::Path;
use std::sync::OnceLock;

pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("labelflow.yml");
        Engine::load(&path).unwrap_or_else(|e| panic!("the shipped configuration loads: {e}"))
    })
}

/// A generator of its own, for a part of a case drawn later.
pub fn rng(seed: u64) -> StdRng {
    rand::SeedableRng::seed_from_u64(seed)
}

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0)
        .single()
        .expect("a time")
}

/// (issue template, project) pairs of the shipped configuration.
const TEMPLATES: &[(&str, &str)] = &[
    ("co-create-opportunity.md", "co-create/opportunities"),
    ("alliance-inbound-request.md", "alliances/partners"),
    ("acquisition-inquiry.md", "alliances/partners"),
    ("license-request.md", "alliances/partners"),
    ("mdf-request.md", "alliances/partners"),
];

/// People of the shipped directory, and names nobody should be able to mention.
pub const ACTORS: &[&str] = &[
    "example-cs-lead",
    "example-pm-source-code",
    "example-alliances-lead",
    "example-production-lead",
    "example-license-admin",
    "someone",
    "all",
    "eve/sub",
    "labelflow",
    "LabelFlow",
    "",
];

/// Every label a shipped rule, guard or restriction reacts to, plus a few others.
pub fn labels() -> &'static [String] {
    static LABELS: OnceLock<Vec<String>> = OnceLock::new();
    LABELS.get_or_init(|| {
        let yaml =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("labelflow.yml"))
                .expect("shipped");
        let mut out: Vec<String> = yaml
            .split('"')
            .filter(|s| s.contains("::") && !s.contains(' ') && !s.contains('*'))
            .map(str::to_string)
            .collect();
        out.extend(["group::source code".to_string(), "on-hold".to_string()]);
        out.sort();
        out.dedup();
        out
    })
}

/// An issue from a shipped issue template, every field (and the title, the author, the
/// labels) chosen by the fuzzer.
pub fn issue(rng: &mut StdRng) -> IssueState {
    static SOURCES: OnceLock<Vec<(String, &str)>> = OnceLock::new();
    let sources = SOURCES.get_or_init(|| {
        TEMPLATES
            .iter()
            .map(|(template, project)| {
                let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("templates/issue_templates")
                    .join(template);
                (
                    std::fs::read_to_string(path).expect("issue template"),
                    *project,
                )
            })
            .collect()
    });
    let (source, project) = sources.choose(rng).expect("templates");
    let names = field_names(source);
    let values: Vec<(String, String)> = names
        .iter()
        .map(|n| {
            let v = match rng.random_range(0..4) {
                0 => format!("@{}", ACTORS.choose(rng).expect("actors")),
                1 => mutate::edit_text(rng, "Acme Corp, 12, 2026-05-01"),
                _ => mutate::text(rng, 6),
            };
            (n.clone(), v)
        })
        .collect();
    let pairs: Vec<(&str, &str)> = values
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut description = fill_template(source, &pairs);
    if rng.random_bool(0.3) {
        description = mutate::edit_text(rng, &description);
    }
    let all = labels();
    let labels: Vec<String> = (0..rng.random_range(0..5))
        .map(|_| all.choose(rng).expect("labels").clone())
        .collect();
    IssueState {
        id: 100,
        iid: 7,
        project_id: 14,
        project_path: project.to_string(),
        title: mutate::text(rng, 5),
        description,
        state: IssueStatus::Opened,
        labels,
        assignees: vec![],
        author: ACTORS.choose(rng).expect("actors").to_string(),
        confidential: rng.random_bool(0.1),
        web_url: format!("https://gitlab.example.com/{project}/-/issues/7"),
        created_at: now() - chrono::Duration::days(30),
        updated_at: now() - chrono::Duration::days(rng.random_range(0..40)),
        status: None,
        work_item_type: "Issue".to_string(),
        custom_fields: Default::default(),
    }
}

/// `## Name` headings and `Name: <!-- … -->` lines of an issue template.
fn field_names(source: &str) -> Vec<String> {
    source
        .lines()
        .filter_map(|l| {
            let t = l.trim();
            if let Some(h) = t.strip_prefix("## ") {
                return Some(h.to_string());
            }
            let (name, rest) = t.split_once(':')?;
            rest.trim().starts_with("<!--").then(|| name.to_string())
        })
        .collect()
}

/// An event on `issue` by `actor`.
pub fn event(issue: &IssueState, actor: &str, kind: EventKind, added: Vec<String>) -> Event {
    Event {
        issue: issue.key(),
        project_path: issue.project_path.clone(),
        actor: Actor {
            id: Some(9),
            username: actor.to_string(),
        },
        kind,
        labels_added: added,
        labels_removed: vec![],
        title_changed: false,
        description_changed: false,
        change_id: "2026-03-02T12:00:00Z".to_string(),
        confidential: issue.confidential,
        occurred_at: Some(now()),
        changes_unknown: false,
        labels_now: None,
        status_change: None,
    }
}

/// Every text of a plan GitLab would show, with what it is.
pub fn texts(actions: &[PlannedAction]) -> Vec<(&'static str, &str)> {
    let mut out = Vec::new();
    for a in actions {
        match &a.action {
            Action::Comment { body } => out.push(("comment", body.as_str())),
            Action::CreateIssue {
                title, description, ..
            } => {
                out.push(("issue title", title.as_str()));
                out.push(("issue description", description.as_str()));
            }
            Action::Chat { text, .. } => out.push(("chat", text.as_str())),
            Action::ClaCheck(c) => {
                out.push(("cla comment", c.comments.signed.as_str()));
                out.push(("cla comment", c.comments.missing.as_str()));
                out.push(("cla comment", c.comments.unknown.as_str()));
            }
            _ => {}
        }
    }
    out
}

/// What the bot writes runs no quick action, mentions no one en masse and no group, carries
/// no marker and no HTML of the users' making (the one `<` the shipped templates write
/// themselves is the `<reason>` of a usage hint).
pub fn check_text(what: &str, text: &str) -> Result<(), String> {
    let fail = |why: &str| Err(format!("{what}: {why}: {text:?}"));
    if what != "issue title" {
        if !quick_action_lines(text).is_empty() {
            return fail("a line starts with `/` (a quick action)");
        }
        if text.contains("<!--") {
            return fail("an HTML comment (a marker)");
        }
        if text.replace("<reason>", "").contains('<') {
            return fail("a `<` the template did not write (HTML)");
        }
    } else if text.contains('\n') {
        return fail("a title on more than one line");
    }
    for (name, group) in live_mentions(text) {
        if group {
            return fail(&format!("a live group mention @{name}/"));
        }
        if is_mass_mention(&name) {
            return fail(&format!("a live mass mention @{name}"));
        }
    }
    Ok(())
}
