//! The simulated GitLab's data and the rules for reading it: who may see and do what, how a
//! project id or path resolves, how labels come into being.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::model::{
    SimFile, SimGroup, SimHook, SimIssue, SimIssueLink, SimLabel, SimLabelEvent, SimNote,
    SimProject, SimUser, access,
};
use crate::clock::Clock;

/// Colour GitLab gives a label created implicitly (by `labels` / `add_labels`).
pub const DEFAULT_LABEL_COLOR: &str = "#6699cc";

/// Why an operation was refused, mapped to GitLab's status codes and bodies by the HTTP layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// 404 `{"message":"404 <what> Not Found"}`.
    #[error("404 {0} Not Found")]
    NotFound(&'static str),
    /// 403 `{"message":"403 Forbidden"}`.
    #[error("403 Forbidden")]
    Forbidden,
    /// 400 `{"error":"<param> is missing"}` (Grape's validation answer).
    #[error("{0} is missing")]
    MissingParam(String),
    /// 400 `{"error":"<param> is invalid"}` (or another Grape validation text).
    #[error("{0}")]
    InvalidParam(String),
    /// 400 `{"message": ...}`.
    #[error("{0}")]
    BadRequest(String),
    /// 409 `{"message": ...}`.
    #[error("{0}")]
    Conflict(String),
}

/// Everything the simulated instance knows. Guarded by one mutex in [`super::SimGitlab`]; never
/// held across an `.await`.
#[derive(Debug)]
pub struct SimState {
    pub clock: Clock,
    /// `http://127.0.0.1:PORT`, used in every `web_url`.
    pub base_url: String,
    next_id: u64,
    pub users: BTreeMap<u64, SimUser>,
    tokens: HashMap<String, u64>,
    pub projects: BTreeMap<u64, SimProject>,
    pub groups: BTreeMap<u64, SimGroup>,
    pub issues: BTreeMap<u64, SimIssue>,
    pub notes: BTreeMap<u64, SimNote>,
    pub label_events: Vec<SimLabelEvent>,
    pub links: Vec<SimIssueLink>,
    pub hooks: BTreeMap<u64, SimHook>,
    /// (project id, iid) → issue id, so lookups stay fast with 100,000 issues.
    iid_index: HashMap<(u64, u64), u64>,
    /// Custom status lifecycles by top-level group path (absent: the system-defined one).
    pub lifecycles: BTreeMap<String, Vec<super::model::SimStatus>>,
    /// Custom fields by top-level group path.
    pub custom_fields: BTreeMap<String, Vec<super::model::SimCustomField>>,
    /// Every custom field value change, in order.
    pub field_changes: Vec<super::model::SimFieldChange>,
}

impl SimState {
    pub fn new(clock: Clock, base_url: String) -> Self {
        SimState {
            clock,
            base_url,
            next_id: 1,
            users: BTreeMap::new(),
            tokens: HashMap::new(),
            projects: BTreeMap::new(),
            groups: BTreeMap::new(),
            issues: BTreeMap::new(),
            notes: BTreeMap::new(),
            label_events: Vec::new(),
            links: Vec::new(),
            hooks: BTreeMap::new(),
            iid_index: HashMap::new(),
            lifecycles: BTreeMap::new(),
            custom_fields: BTreeMap::new(),
            field_changes: Vec::new(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Ids come from one counter, so an id never means two things in a test's output.
    pub fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    // ---- users ----

    /// Adds a user (or returns the existing one of that name).
    pub fn add_user(&mut self, username: &str) -> SimUser {
        if let Some(u) = self.user_by_username(username) {
            return u.clone();
        }
        let id = self.next_id();
        let user = SimUser {
            id,
            username: username.to_string(),
            name: display_name(username),
            email: format!("{username}@example.com"),
            token: format!("glpat-sim{id}-{}", uuid::Uuid::new_v4().simple()),
            created_at: self.now(),
        };
        self.tokens.insert(user.token.clone(), id);
        self.users.insert(id, user.clone());
        user
    }

    pub fn user_by_token(&self, token: &str) -> Option<&SimUser> {
        self.tokens.get(token).and_then(|id| self.users.get(id))
    }

    pub fn user_by_username(&self, username: &str) -> Option<&SimUser> {
        self.users.values().find(|u| u.username == username)
    }

    pub fn user(&self, id: u64) -> Result<&SimUser, SimError> {
        self.users.get(&id).ok_or(SimError::NotFound("User"))
    }

    /// Usernames for user ids (unknown ids are skipped).
    pub fn usernames(&self, ids: &[u64]) -> Vec<String> {
        ids.iter()
            .filter_map(|id| self.users.get(id).map(|u| u.username.clone()))
            .collect()
    }

    // ---- projects ----

    /// Adds a project at `group/name` (or returns the id of the existing one).
    pub fn add_project(&mut self, path: &str) -> u64 {
        if let Some(p) = self
            .projects
            .values()
            .find(|p| p.path_with_namespace == path)
        {
            return p.id;
        }
        let id = self.next_id();
        let name = path.rsplit('/').next().unwrap_or(path).to_string();
        let project = SimProject {
            id,
            path_with_namespace: path.to_string(),
            name,
            default_branch: "main".to_string(),
            members: BTreeMap::new(),
            labels: Vec::new(),
            files: BTreeMap::new(),
            protected_branches: BTreeMap::from([("main".to_string(), access::MAINTAINER)]),
            created_at: self.now(),
            next_iid: 1,
        };
        self.projects.insert(id, project);
        id
    }

    /// Resolves a project `:id` as the API gets it: a number or a (decoded) full path.
    pub fn resolve_project(&self, id_or_path: &str) -> Result<u64, SimError> {
        if let Ok(id) = id_or_path.parse::<u64>() {
            return self
                .projects
                .contains_key(&id)
                .then_some(id)
                .ok_or(SimError::NotFound("Project"));
        }
        self.projects
            .values()
            .find(|p| p.path_with_namespace == id_or_path)
            .map(|p| p.id)
            .ok_or(SimError::NotFound("Project"))
    }

    pub fn project(&self, id: u64) -> Result<&SimProject, SimError> {
        self.projects.get(&id).ok_or(SimError::NotFound("Project"))
    }

    pub fn project_mut(&mut self, id: u64) -> Result<&mut SimProject, SimError> {
        self.projects
            .get_mut(&id)
            .ok_or(SimError::NotFound("Project"))
    }

    pub fn project_web_url(&self, project: &SimProject) -> String {
        format!("{}/{}", self.base_url, project.path_with_namespace)
    }

    /// The user's access level in the project (0 when not a member): the higher of the
    /// project's own membership and any ancestor group's, as GitLab's `members/all` shows it.
    pub fn access_level(&self, project_id: u64, user_id: u64) -> u32 {
        let Some(project) = self.projects.get(&project_id) else {
            return 0;
        };
        let inherited = self.group_access_level(project.namespace(), user_id);
        project
            .members
            .get(&user_id)
            .copied()
            .unwrap_or(0)
            .max(inherited)
    }

    // ---- groups ----

    /// Adds a group at `path` and any missing parent (or returns the existing one's id).
    pub fn add_group(&mut self, path: &str) -> u64 {
        if let Some((parent, _)) = path.rsplit_once('/') {
            self.add_group(parent);
        }
        if let Some(g) = self.groups.values().find(|g| g.full_path == path) {
            return g.id;
        }
        let id = self.next_id();
        let group = SimGroup {
            id,
            full_path: path.to_string(),
            members: BTreeMap::new(),
            labels: Vec::new(),
            created_at: self.now(),
        };
        self.groups.insert(id, group);
        id
    }

    /// Resolves a group `:id`: a number or a (decoded) full path.
    pub fn resolve_group(&self, id_or_path: &str) -> Result<u64, SimError> {
        let found = match id_or_path.parse::<u64>() {
            Ok(id) => self.groups.get(&id),
            Err(_) => self.groups.values().find(|g| g.full_path == id_or_path),
        };
        found.map(|g| g.id).ok_or(SimError::NotFound("Group"))
    }

    pub fn group(&self, id: u64) -> Result<&SimGroup, SimError> {
        self.groups.get(&id).ok_or(SimError::NotFound("Group"))
    }

    pub fn group_mut(&mut self, id: u64) -> Result<&mut SimGroup, SimError> {
        self.groups.get_mut(&id).ok_or(SimError::NotFound("Group"))
    }

    /// The groups `path` is in, nearest first (`a/b` → `a/b`, `a`).
    pub fn ancestor_groups(&self, path: &str) -> Vec<&SimGroup> {
        let mut out: Vec<&SimGroup> = self.groups.values().filter(|g| g.contains(path)).collect();
        out.sort_by_key(|g| std::cmp::Reverse(g.full_path.len()));
        out
    }

    /// The user's access level in the group at `path`, inherited from its ancestors too.
    pub fn group_access_level(&self, path: &str, user_id: u64) -> u32 {
        self.ancestor_groups(path)
            .iter()
            .filter_map(|g| g.members.get(&user_id).copied())
            .max()
            .unwrap_or(0)
    }

    /// Labels of the project's ancestor groups, nearest group first.
    pub fn inherited_labels(&self, project_id: u64) -> Vec<&SimLabel> {
        let Some(project) = self.projects.get(&project_id) else {
            return Vec::new();
        };
        self.ancestor_groups(project.namespace())
            .into_iter()
            .flat_map(|g| g.labels.iter())
            .collect()
    }

    pub fn require_access(
        &self,
        project_id: u64,
        user_id: u64,
        level: u32,
    ) -> Result<(), SimError> {
        if self.access_level(project_id, user_id) >= level {
            Ok(())
        } else {
            Err(SimError::Forbidden)
        }
    }

    // ---- labels ----

    /// The project's label with this title, else an ancestor group's, else a new project label
    /// with GitLab's default colour (as `labels` / `add_labels` do: they find group labels).
    pub fn ensure_label(&mut self, project_id: u64, title: &str) -> Result<SimLabel, SimError> {
        if let Some(l) = self.project(project_id)?.label(title) {
            return Ok(l.clone());
        }
        if let Some(l) = self
            .inherited_labels(project_id)
            .into_iter()
            .find(|l| l.title == title)
        {
            return Ok(l.clone());
        }
        self.create_project_label(project_id, title)
    }

    /// A new project label with GitLab's default colour, even where a group label of that
    /// title exists (GitLab allows a project label to shadow a group label).
    pub fn create_project_label(
        &mut self,
        project_id: u64,
        title: &str,
    ) -> Result<SimLabel, SimError> {
        let id = self.next_id();
        let now = self.now();
        let label = SimLabel {
            id,
            project_id,
            group_id: None,
            title: title.to_string(),
            color: DEFAULT_LABEL_COLOR.to_string(),
            description: None,
            created_at: now,
            updated_at: now,
        };
        self.project_mut(project_id)?.labels.push(label.clone());
        Ok(label)
    }

    /// Label records for titles, in the given order (titles without a record are skipped).
    pub fn label_records(&self, project_id: u64, titles: &[String]) -> Vec<SimLabel> {
        let Ok(project) = self.project(project_id) else {
            return Vec::new();
        };
        let inherited = self.inherited_labels(project_id);
        titles
            .iter()
            .filter_map(|t| {
                project
                    .label(t)
                    .or_else(|| inherited.iter().copied().find(|l| l.title == *t))
                    .cloned()
            })
            .collect()
    }

    // ---- issues ----

    pub(crate) fn index_issue(&mut self, project_id: u64, iid: u64, id: u64) {
        self.iid_index.insert((project_id, iid), id);
    }

    pub fn issue_id(&self, project_id: u64, iid: u64) -> Result<u64, SimError> {
        if let Some(id) = self.iid_index.get(&(project_id, iid))
            && self
                .issues
                .get(id)
                .is_some_and(|i| i.project_id == project_id && i.iid == iid)
        {
            return Ok(*id);
        }
        self.issues
            .values()
            .find(|i| i.project_id == project_id && i.iid == iid)
            .map(|i| i.id)
            .ok_or(SimError::NotFound("Issue"))
    }

    pub fn issue(&self, project_id: u64, iid: u64) -> Result<&SimIssue, SimError> {
        let id = self.issue_id(project_id, iid)?;
        self.issues.get(&id).ok_or(SimError::NotFound("Issue"))
    }

    /// The issue, if this user may see it: confidential issues are visible only to Reporters
    /// and up, their author and their assignees; others get a 404, as in GitLab.
    pub fn visible_issue(
        &self,
        project_id: u64,
        iid: u64,
        user_id: u64,
    ) -> Result<&SimIssue, SimError> {
        let issue = self.issue(project_id, iid)?;
        if self.can_see(issue, user_id) {
            Ok(issue)
        } else {
            Err(SimError::NotFound("Issue"))
        }
    }

    pub fn can_see(&self, issue: &SimIssue, user_id: u64) -> bool {
        !issue.confidential
            || issue.author_id == user_id
            || issue.assignee_ids.contains(&user_id)
            || self.access_level(issue.project_id, user_id) >= access::REPORTER
    }

    /// Whether the user may set labels, assignees and confidentiality (Reporter and up).
    pub fn can_set_metadata(&self, project_id: u64, user_id: u64) -> bool {
        self.access_level(project_id, user_id) >= access::REPORTER
    }

    /// Whether the user may edit the issue at all (Reporter and up, or its author).
    pub fn can_update(&self, issue: &SimIssue, user_id: u64) -> bool {
        issue.author_id == user_id || self.can_set_metadata(issue.project_id, user_id)
    }

    pub fn issue_web_url(&self, issue: &SimIssue) -> String {
        match self.projects.get(&issue.project_id) {
            Some(p) => format!("{}/-/issues/{}", self.project_web_url(p), issue.iid),
            None => format!("{}/-/issues/{}", self.base_url, issue.iid),
        }
    }

    /// `#iid` inside the same project, `group/project#iid` from another one.
    pub fn issue_reference(&self, issue: &SimIssue, from_project: u64) -> String {
        if issue.project_id == from_project {
            return format!("#{}", issue.iid);
        }
        let path = self
            .projects
            .get(&issue.project_id)
            .map(|p| p.path_with_namespace.as_str())
            .unwrap_or("");
        format!("{path}#{}", issue.iid)
    }

    /// Whether the branch exists: the default branch always does, others once they hold a file.
    pub fn branch_exists(&self, project_id: u64, branch: &str) -> Result<bool, SimError> {
        let project = self.project(project_id)?;
        Ok(project.default_branch == branch || project.files.keys().any(|(b, _)| b == branch))
    }

    /// Writes a file on a branch (creating or replacing it) and returns the new commit id.
    pub fn write_file(
        &mut self,
        project_id: u64,
        branch: &str,
        path: &str,
        content: Vec<u8>,
    ) -> Result<String, SimError> {
        use sha2::{Digest, Sha256};
        let serial = self.next_id();
        let mut hasher = Sha256::new();
        hasher.update(format!("{project_id}\0{branch}\0{path}\0{serial}\0").as_bytes());
        hasher.update(&content);
        let commit: String = hasher.finalize()[..20]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.project_mut(project_id)?.files.insert(
            (branch.to_string(), path.to_string()),
            SimFile {
                content,
                last_commit_id: commit.clone(),
            },
        );
        Ok(commit)
    }

    /// Adds a note without any hook (system notes fire no Note Hook in GitLab).
    pub fn add_system_note(&mut self, issue_id: u64, author_id: u64, body: String) -> u64 {
        let id = self.next_id();
        let now = self.now();
        self.notes.insert(
            id,
            SimNote {
                id,
                issue_id,
                body,
                author_id,
                system: true,
                internal: false,
                created_at: now,
                updated_at: now,
            },
        );
        id
    }
}

/// `alice.smith` → `Alice Smith`: readable names in payloads without configuration.
fn display_name(username: &str) -> String {
    username
        .split(['.', '_', '-'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl super::hook_payload::HookSource for SimState {
    fn base_url(&self) -> &str {
        &self.base_url
    }
    fn project(&self, id: &u64) -> Option<&SimProject> {
        self.projects.get(id)
    }
    fn user(&self, id: &u64) -> Option<&SimUser> {
        self.users.get(id)
    }
    fn project_web_url(&self, project: &SimProject) -> String {
        SimState::project_web_url(self, project)
    }
    fn issue_web_url(&self, issue: &SimIssue) -> String {
        SimState::issue_web_url(self, issue)
    }
    fn label_records(&self, project_id: u64, titles: &[String]) -> Vec<SimLabel> {
        SimState::label_records(self, project_id, titles)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projects_resolve_by_id_or_path() {
        let mut s = SimState::new(Clock::system(), "http://x".into());
        let id = s.add_project("grp/app");
        assert_eq!(s.resolve_project(&id.to_string()), Ok(id));
        assert_eq!(s.resolve_project("grp/app"), Ok(id));
        assert_eq!(
            s.resolve_project("grp/none"),
            Err(SimError::NotFound("Project"))
        );
        assert_eq!(s.add_project("grp/app"), id);
    }

    #[test]
    fn users_get_tokens_and_names() {
        let mut s = SimState::new(Clock::system(), "http://x".into());
        let u = s.add_user("alice.smith");
        assert_eq!(u.name, "Alice Smith");
        assert_eq!(s.user_by_token(&u.token).map(|u| u.id), Some(u.id));
        assert_eq!(s.add_user("alice.smith").token, u.token);
    }
}
