//! Setup's plan: from the configuration and the facts read, every item with its verdict, the
//! role its write needs, and the write itself. Pure: the dry run and the live run share it,
//! so they cannot disagree.

use super::facts::{Facts, GroupLabel, HookFacts, Push};
use super::hook_api::ApiHook;
use super::labels::DesiredLabel;
use super::report::{Item, ItemKind, Place, Verdict};
use super::roles::{DEVELOPER, MAINTAINER, REPORTER};
use super::templates::{IssueTemplate, missing_labels};
use super::{ISSUE_TEMPLATES_DIR, SetupOptions};
use std::collections::BTreeSet;

/// A level no role reaches: the branch takes no pushes.
pub const NOBODY: u32 = u32::MAX;

/// The write behind a planned item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    None,
    CreateLabel {
        name: String,
        color: String,
        description: String,
    },
    EditLabel {
        id: u64,
        color: Option<String>,
        description: Option<String>,
    },
    EditGroupLabel {
        group: String,
        id: u64,
        color: Option<String>,
        description: Option<String>,
    },
    CreateFile {
        path: String,
        content: Vec<u8>,
        /// Creates the branch from this one first.
        start_branch: Option<String>,
    },
    UpdateFile {
        path: String,
        content: Vec<u8>,
        last_commit_id: String,
    },
    CreateHook,
    FixHook {
        id: u64,
        new_secrets: bool,
    },
}

/// One planned item and its write.
#[derive(Debug, Clone)]
pub struct Step {
    pub item: Item,
    pub op: Op,
}

fn step(item: Item, op: Op) -> Step {
    Step { item, op }
}

/// The labels a project label or a group label differs in, as (colour, description) to set.
fn differences(
    want: &DesiredLabel,
    color: &str,
    description: Option<&str>,
) -> (Option<String>, Option<String>) {
    let color = (want.color_configured && !color.eq_ignore_ascii_case(&want.color))
        .then(|| want.color.clone());
    let description = (want.description_configured
        && description.unwrap_or("") != want.description)
        .then(|| want.description.clone());
    (color, description)
}

fn describe(old_color: &str, color: &Option<String>, description: &Option<String>) -> String {
    let mut detail = Vec::new();
    if let Some(c) = color {
        detail.push(format!("colour {old_color} → {c}"));
    }
    if let Some(d) = description {
        detail.push(format!("description → \"{d}\""));
    }
    detail.join(", ")
}

const LABELS_BECAUSE: &str = "GitLab lets Reporters and up manage project labels";
const GROUP_LABELS_BECAUSE: &str = "GitLab lets Reporters and up of a group manage its labels";
const HOOKS_BECAUSE: &str = "GitLab lets only Maintainers and up manage project webhooks";

/// Labels: a project label is created or corrected; an inherited group label of that name
/// satisfies the configuration and is never shadowed by a project label.
pub fn labels(desired: &[DesiredLabel], facts: &Facts, options: &SetupOptions) -> Vec<Step> {
    let project = Place::Project(facts.project.path_with_namespace.clone());
    let mut out = Vec::new();
    for want in desired {
        let find = |name: &str| name == want.name;
        let find_ci = |name: &str| name.eq_ignore_ascii_case(&want.name);
        let own = facts.project_labels.iter();
        let have = own
            .clone()
            .find(|l| find(&l.name))
            .or_else(|| own.clone().find(|l| find_ci(&l.name)));
        if let Some(have) = have {
            let (color, description) = differences(want, &have.color, have.description.as_deref());
            if color.is_none() && description.is_none() {
                out.push(step(
                    Item::new(ItemKind::Label, &want.name, Verdict::Unchanged),
                    Op::None,
                ));
                continue;
            }
            let item = Item::new(ItemKind::Label, &want.name, Verdict::Update)
                .detail(describe(&have.color, &color, &description))
                .needs(REPORTER, project.clone(), LABELS_BECAUSE);
            let op = Op::EditLabel {
                id: have.id,
                color,
                description,
            };
            out.push(step(item, op));
            continue;
        }
        let groups = facts.group_labels.iter();
        let inherited = groups
            .clone()
            .find(|g| find(&g.label.name))
            .or_else(|| groups.clone().find(|g| find_ci(&g.label.name)));
        match inherited {
            Some(g) => out.push(group_label(want, g, facts, options)),
            None => {
                let item = Item::new(ItemKind::Label, &want.name, Verdict::Create)
                    .detail(format!("{} \"{}\"", want.color, want.description))
                    .needs(REPORTER, project.clone(), LABELS_BECAUSE);
                let op = Op::CreateLabel {
                    name: want.name.clone(),
                    color: want.color.clone(),
                    description: want.description.clone(),
                };
                out.push(step(item, op));
            }
        }
    }
    out
}

fn group_label(want: &DesiredLabel, g: &GroupLabel, facts: &Facts, options: &SetupOptions) -> Step {
    let group = match &g.owner {
        Some((path, _)) => Place::Group(path.clone()),
        None => Place::UnknownGroup(facts.project.path_with_namespace.clone()),
    };
    let (color, description) = differences(want, &g.label.color, g.label.description.as_deref());
    if color.is_none() && description.is_none() {
        let item = Item::new(ItemKind::GroupLabel, &want.name, Verdict::Unchanged)
            .detail(format!("inherited from {group}"));
        return step(item, Op::None);
    }
    let diff = describe(&g.label.color, &color, &description);
    if !options.update_group_labels {
        let item = Item::new(ItemKind::GroupLabel, &want.name, Verdict::LeftAlone).detail(format!(
            "inherited from {group}, differs from the configuration ({diff}); \
             --update-group-labels changes it for every project in the group"
        ));
        return step(item, Op::None);
    }
    let item = Item::new(ItemKind::GroupLabel, &want.name, Verdict::Update)
        .detail(format!("{diff}, for every project in {group}"))
        .needs(REPORTER, group, GROUP_LABELS_BECAUSE);
    let op = match &g.owner {
        Some((path, id)) => Op::EditGroupLabel {
            group: path.clone(),
            id: *id,
            color,
            description,
        },
        None => Op::None,
    };
    step(item, op)
}

/// The labels the project's workflows use (labels only listed under `labels:` do not count).
pub fn used_here(desired: &[DesiredLabel]) -> BTreeSet<&str> {
    desired
        .iter()
        .filter(|l| !l.used_by.is_empty())
        .map(|l| l.name.as_str())
        .collect()
}

/// Where a template goes in the repository.
pub fn template_path(t: &IssueTemplate) -> String {
    format!("{ISSUE_TEMPLATES_DIR}/{}", t.name)
}

/// The templates for this project: those whose labels its workflows use.
pub fn templates_here<'a>(
    templates: &'a [IssueTemplate],
    used: &BTreeSet<&str>,
) -> Vec<&'a IssueTemplate> {
    templates
        .iter()
        .filter(|t| missing_labels(t, used).is_empty())
        .collect()
}

/// The role a commit to the branch needs, and why.
fn push_need(facts: &Facts) -> (u32, String) {
    let branch = &facts.branch;
    match facts.push {
        Push::Open => (
            DEVELOPER,
            format!("committing to the unprotected branch {branch} needs Developer"),
        ),
        Push::Protected(level) => (
            level,
            format!(
                "branch {branch} is protected: GitLab takes pushes to it only from this role and up"
            ),
        ),
        Push::Unknown => (
            MAINTAINER,
            format!(
                "branch {branch} may be protected (the bot cannot read the protection rules), \
                 and GitLab lets only Maintainers push to a protected default branch"
            ),
        ),
        Push::Nobody => (
            NOBODY,
            format!(
                "branch {branch} is protected with \"No one\" allowed to push: choose another with --branch"
            ),
        ),
    }
}

/// Templates: committed where their labels are used, skipped (and said so) elsewhere.
pub fn templates(templates: &[IssueTemplate], used: &BTreeSet<&str>, facts: &Facts) -> Vec<Step> {
    let project = Place::Project(facts.project.path_with_namespace.clone());
    let (level, because) = push_need(facts);
    let mut out = Vec::new();
    for t in templates {
        let path = template_path(t);
        let missing = missing_labels(t, used);
        if !missing.is_empty() {
            let detail = format!(
                "its quick actions apply {}, which no workflow of this project uses",
                missing
                    .iter()
                    .map(|l| format!("~\"{l}\""))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            out.push(step(
                Item::new(ItemKind::Template, path, Verdict::Skip).detail(detail),
                Op::None,
            ));
            continue;
        }
        let branch = &facts.branch;
        let (item, op) = match facts.files.get(&path).cloned().flatten() {
            None => (
                Item::new(ItemKind::Template, &path, Verdict::Create).detail(
                    match &facts.start_branch {
                        None => format!("on {branch}"),
                        Some(from) => format!("on {branch} (a new branch from {from})"),
                    },
                ),
                Op::CreateFile {
                    path: path.clone(),
                    content: t.content.clone(),
                    start_branch: facts.start_branch.clone(),
                },
            ),
            Some(f) if f.content == t.content => (
                Item::new(ItemKind::Template, &path, Verdict::Unchanged),
                Op::None,
            ),
            Some(f) => (
                Item::new(ItemKind::Template, &path, Verdict::Update)
                    .detail(format!("on {branch}: content differs")),
                Op::UpdateFile {
                    path: path.clone(),
                    content: t.content.clone(),
                    last_commit_id: f.last_commit_id,
                },
            ),
        };
        let item = match item.verdict.is_write() {
            true => item.needs(level, project.clone(), &because),
            false => item,
        };
        out.push(step(item, op));
    }
    out
}

/// The webhook: created when missing; one at the same URL that cannot serve labelflow is a
/// problem, fixed only with `--fix-webhook`.
pub fn webhook(facts: &Facts, options: &SetupOptions) -> Option<Step> {
    let url = options.webhook_url.as_deref()?;
    let project = Place::Project(facts.project.path_with_namespace.clone());
    let create = || {
        Item::new(ItemKind::Webhook, url, Verdict::Create)
            .detail("issue and comment events, with a new signing token and secret token")
            .needs(MAINTAINER, project.clone(), HOOKS_BECAUSE)
    };
    let hooks = match &facts.hooks {
        HookFacts::NotAsked => return None,
        HookFacts::NotReadable => {
            let item = create().detail("if none exists (listing hooks needs Maintainer as well)");
            return Some(step(item, Op::CreateHook));
        }
        HookFacts::Read(hooks) => hooks,
    };
    let Some(hook) = hooks.iter().find(|h| h.url == url) else {
        return Some(step(create(), Op::CreateHook));
    };
    Some(existing_hook(hook, url, project, options))
}

fn existing_hook(hook: &ApiHook, url: &str, project: Place, options: &SetupOptions) -> Step {
    let shortcomings = hook.shortcomings();
    if shortcomings.is_empty() {
        let secret = match (hook.token_present, hook.signing_token_present) {
            (None, None) => "GitLab does not say whether it has a secret",
            (_, Some(true)) => "signed",
            _ => "with a secret token",
        };
        let item = Item::new(ItemKind::Webhook, url, Verdict::Unchanged)
            .detail(format!("exists: issue and comment events, {secret}"));
        return step(item, Op::None);
    }
    let what = shortcomings.join(", ");
    if !options.fix_webhook {
        let item = Item::new(ItemKind::Webhook, url, Verdict::Problem).detail(format!(
            "exists but cannot serve labelflow: {what}; --fix-webhook fixes it"
        ));
        return step(item, Op::None);
    }
    let secrets = match hook.lacks_secrets() {
        true => "; new signing token and secret token, printed once",
        false => "; its secrets stay as they are",
    };
    let item = Item::new(ItemKind::Webhook, url, Verdict::Update)
        .detail(format!("fix: {what}{secrets}"))
        .needs(MAINTAINER, project, HOOKS_BECAUSE);
    let op = Op::FixHook {
        id: hook.id,
        new_secrets: hook.lacks_secrets(),
    };
    step(item, op)
}
