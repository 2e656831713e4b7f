//! Setup's read phase: everything the plan and its permission check need, read before any
//! write: the bot and its roles (project, and each group whose label it may have to edit), the
//! project's labels with the inherited group labels, the templates' files, the branch's
//! protection and the project's hooks.

use super::access_api::{self, ApiUser, BranchInfo};
use super::api::{self, ApiLabel, ApiProject, RepoFile};
use super::hook_api::{self, ApiHook};
use super::roles::{self as access, branch_matches};
use crate::forge::ForgeError;
use crate::forge::retry::RetryingClient;
use std::collections::BTreeMap;

/// A label the project inherits from an ancestor group.
#[derive(Debug, Clone)]
pub struct GroupLabel {
    pub label: ApiLabel,
    /// The group it belongs to and its id there; `None` when no ancestor group's labels could
    /// be read.
    pub owner: Option<(String, u64)>,
}

/// Who may push to the branch the templates go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    /// Not protected: Developers and up.
    Open,
    /// Protected: this role and up (the most permissive matching rule, as GitLab applies it).
    Protected(u32),
    /// Protected with "No one" allowed to push.
    Nobody,
    /// Neither the branch nor its protection could be read; GitLab protects the default
    /// branch for Maintainers unless changed.
    Unknown,
}

/// What the project's hooks could tell.
#[derive(Debug, Clone)]
pub enum HookFacts {
    /// No `--webhook-url`: hooks are not part of this setup.
    NotAsked,
    /// Listing hooks needs Maintainer, which the bot does not have.
    NotReadable,
    Read(Vec<ApiHook>),
}

#[derive(Debug, Clone)]
pub struct Facts {
    pub project: ApiProject,
    pub branch: String,
    pub bot: ApiUser,
    pub project_level: u32,
    /// Group path → the bot's role there (for groups owning a label setup may edit).
    pub group_levels: BTreeMap<String, u32>,
    pub project_labels: Vec<ApiLabel>,
    pub group_labels: Vec<GroupLabel>,
    pub push: Push,
    /// `None` when the branch does not exist yet: templates then start it from this branch
    /// (the default branch).
    pub start_branch: Option<String>,
    /// Template path → the file on the branch, if there.
    pub files: BTreeMap<String, Option<RepoFile>>,
    pub hooks: HookFacts,
}

/// What the read phase is asked for.
pub struct Wanted<'a> {
    /// Already read: the plan depends on its path.
    pub project: ApiProject,
    pub branch: Option<&'a str>,
    /// Label names the configuration wants here (group labels of other names are not read).
    pub labels: Vec<&'a str>,
    pub template_paths: Vec<String>,
    pub webhook: bool,
}

/// Names a failed read.
pub fn step(what: impl Into<String>) -> impl FnOnce(ForgeError) -> (String, ForgeError) {
    let what = what.into();
    move |e| (what, e)
}

pub async fn gather(
    client: &RetryingClient,
    wanted: &Wanted<'_>,
) -> Result<Facts, (String, ForgeError)> {
    let bot = access_api::current_user(client)
        .await
        .map_err(step("reading the bot's own account"))?;
    let project = wanted.project.clone();
    let branch = wanted
        .branch
        .map(str::to_string)
        .or_else(|| project.default_branch.clone())
        .unwrap_or_else(|| "main".to_string());
    let project_level = match bot.is_admin {
        true => access::ADMIN,
        false => access_api::project_access(client, project.id, bot.id)
            .await
            .map_err(step("reading the bot's role in the project"))?,
    };
    let labels = api::labels(client, project.id)
        .await
        .map_err(step("listing the project's labels"))?;
    let (project_labels, inherited): (Vec<ApiLabel>, Vec<ApiLabel>) =
        labels.into_iter().partition(|l| l.is_project_label);
    let relevant: Vec<ApiLabel> = inherited
        .into_iter()
        .filter(|l| {
            wanted
                .labels
                .iter()
                .any(|w| w.eq_ignore_ascii_case(&l.name))
        })
        .collect();
    let (group_labels, group_levels) =
        owners(client, &project.path_with_namespace, &bot, relevant).await?;

    let mut files = BTreeMap::new();
    for path in &wanted.template_paths {
        let file = api::file(client, project.id, path, &branch)
            .await
            .map_err(step(format!("reading {path} on {branch}")))?;
        files.insert(path.clone(), file);
    }
    let (push, exists) = match wanted.template_paths.is_empty() {
        true => (Push::Open, true),
        false => push_rule(client, project.id, &branch).await?,
    };
    let start_branch = match exists {
        true => None,
        false => Some(
            project
                .default_branch
                .clone()
                .unwrap_or_else(|| "main".into()),
        ),
    };
    let hooks = match (wanted.webhook, project_level >= access::MAINTAINER) {
        (false, _) => HookFacts::NotAsked,
        (true, false) => HookFacts::NotReadable,
        (true, true) => HookFacts::Read(
            hook_api::hooks(client, project.id)
                .await
                .map_err(step("listing the project's webhooks"))?,
        ),
    };
    Ok(Facts {
        project,
        branch,
        bot,
        project_level,
        group_levels,
        project_labels,
        group_labels,
        push,
        start_branch,
        files,
        hooks,
    })
}

/// The groups above `project_path`, nearest first (`a/b/app` → `a/b`, `a`).
fn ancestors(project_path: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = project_path;
    while let Some((parent, _)) = rest.rsplit_once('/') {
        out.push(parent);
        rest = parent;
    }
    out
}

/// Finds which ancestor group owns each inherited label, and the bot's role in those groups.
async fn owners(
    client: &RetryingClient,
    project_path: &str,
    bot: &ApiUser,
    labels: Vec<ApiLabel>,
) -> Result<(Vec<GroupLabel>, BTreeMap<String, u32>), (String, ForgeError)> {
    let mut out: Vec<GroupLabel> = labels
        .into_iter()
        .map(|label| GroupLabel { label, owner: None })
        .collect();
    let mut levels = BTreeMap::new();
    if out.is_empty() {
        return Ok((out, levels));
    }
    for group in ancestors(project_path) {
        let Some(own) = access_api::own_group_labels(client, group)
            .await
            .map_err(step(format!("listing the labels of group {group}")))?
        else {
            continue;
        };
        let mut owns_one = false;
        for gl in out.iter_mut().filter(|g| g.owner.is_none()) {
            if let Some(l) = own.iter().find(|l| l.name == gl.label.name) {
                gl.owner = Some((group.to_string(), l.id));
                owns_one = true;
            }
        }
        if owns_one {
            let level = match bot.is_admin {
                true => access::ADMIN,
                false => access_api::group_access(client, group, bot.id)
                    .await
                    .map_err(step(format!("reading the bot's role in group {group}")))?,
            };
            levels.insert(group.to_string(), level);
        }
    }
    Ok((out, levels))
}

/// Who may push to `branch`, and whether it exists. The protected-branch rules are exact but
/// need Maintainer to read; the branch itself says whether it is protected and whether
/// Developers may push.
async fn push_rule(
    client: &RetryingClient,
    project: u64,
    branch: &str,
) -> Result<(Push, bool), (String, ForgeError)> {
    let found = access_api::branch(client, project, branch)
        .await
        .map_err(step(format!("reading branch {branch}")))?;
    let rules = access_api::protected_branches(client, project)
        .await
        .map_err(step("listing the project's protected branches"))?;
    let push = match (rules, &found) {
        (Some(rules), _) => {
            let matching: Vec<_> = rules
                .iter()
                .filter(|r| branch_matches(&r.name, branch))
                .collect();
            let levels = matching
                .iter()
                .flat_map(|r| &r.push_access_levels)
                .filter(|l| l.user_id.is_none() && l.group_id.is_none() && l.access_level > 0)
                .map(|l| l.access_level);
            match (levels.min(), matching.is_empty()) {
                (Some(level), _) => Push::Protected(level),
                (None, true) => Push::Open,
                (None, false) => Push::Nobody,
            }
        }
        (None, BranchInfo::Found(b)) if !b.protected => Push::Open,
        (None, BranchInfo::Found(b)) if b.developers_can_push => Push::Protected(access::DEVELOPER),
        (None, BranchInfo::Found(_)) => Push::Protected(access::MAINTAINER),
        // A new branch: unprotected, unless a wildcard rule the bot cannot see covers it.
        (None, BranchInfo::Missing) => Push::Open,
        (None, BranchInfo::Unreadable) => Push::Unknown,
    };
    Ok((push, !matches!(found, BranchInfo::Missing)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_nearest_first() {
        assert_eq!(ancestors("a/b/app"), vec!["a/b", "a"]);
        assert!(ancestors("app").is_empty());
    }
}
