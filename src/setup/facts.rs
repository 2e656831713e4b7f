//! Setup's read phase: everything the plan and its permission check need, read before any
//! write: the bot and its roles (project, and each group whose label it may have to edit), the
//! project's labels with the inherited group labels, the templates' files, the branch's
//! protection and the project's hooks.

use super::access_api::{self, ApiUser};
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
    /// Protected branches could not be read; GitLab protects the default branch for
    /// Maintainers unless changed.
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
    let push = match wanted.template_paths.is_empty() {
        true => Push::Open,
        false => push_rule(client, project.id, &branch).await?,
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

/// Who may push to `branch`, from the project's protected branches.
async fn push_rule(
    client: &RetryingClient,
    project: u64,
    branch: &str,
) -> Result<Push, (String, ForgeError)> {
    let Some(rules) = access_api::protected_branches(client, project)
        .await
        .map_err(step("listing the project's protected branches"))?
    else {
        return Ok(Push::Unknown);
    };
    let matching: Vec<u32> = rules
        .iter()
        .filter(|r| branch_matches(&r.name, branch))
        .flat_map(|r| &r.push_access_levels)
        .filter(|l| l.user_id.is_none() && l.group_id.is_none())
        .map(|l| l.access_level)
        .collect();
    let any_rule = rules.iter().any(|r| branch_matches(&r.name, branch));
    Ok(match matching.iter().filter(|l| **l > 0).min() {
        Some(level) => Push::Protected(*level),
        None if any_rule => Push::Nobody,
        None => Push::Open,
    })
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
