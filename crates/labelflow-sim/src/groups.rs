//! Groups as tests set them up: members whose role every project below inherits, and group
//! labels that every project below can use (GitLab's label inheritance). Also the branch
//! protection and hook inspection setup tests need.

use super::model::{SimGroup, SimHook, SimLabel, SimUser};
use super::state::SimError;
use super::{SimGitlab, lock};

impl SimGitlab {
    /// Adds a group at `parent/child` and its missing parents; returns its id.
    pub fn add_group(&self, path: &str) -> u64 {
        lock(&self.inner.state).add_group(path)
    }

    /// Makes `username` a member of the group with `access_level`; creates the user if new.
    pub fn add_group_member(
        &self,
        group: u64,
        username: &str,
        access_level: u32,
    ) -> Result<SimUser, SimError> {
        let mut state = lock(&self.inner.state);
        let user = state.add_user(username);
        state
            .group_mut(group)?
            .members
            .insert(user.id, access_level);
        Ok(user)
    }

    /// Adds a group label (as a group owner would).
    pub fn add_group_label(
        &self,
        group: u64,
        title: &str,
        color: &str,
        description: &str,
    ) -> Result<SimLabel, SimError> {
        let mut state = lock(&self.inner.state);
        let id = state.next_id();
        let now = state.now();
        let label = SimLabel {
            id,
            project_id: 0,
            group_id: Some(group),
            title: title.to_string(),
            color: color.to_string(),
            description: Some(description.to_string()).filter(|d| !d.is_empty()),
            created_at: now,
            updated_at: now,
        };
        state.group_mut(group)?.labels.push(label.clone());
        Ok(label)
    }

    pub fn group(&self, group: u64) -> Option<SimGroup> {
        lock(&self.inner.state).group(group).ok().cloned()
    }

    /// Protects `branch` (a name or `*` wildcard): only `push_level` and up may push.
    pub fn protect_branch(
        &self,
        project: u64,
        branch: &str,
        push_level: u32,
    ) -> Result<(), SimError> {
        lock(&self.inner.state)
            .project_mut(project)?
            .protected_branches
            .insert(branch.to_string(), push_level);
        Ok(())
    }

    /// The project's hooks, in creation order.
    pub fn hooks(&self, project: u64) -> Vec<SimHook> {
        lock(&self.inner.state)
            .hooks
            .values()
            .filter(|h| h.project_id == project)
            .cloned()
            .collect()
    }
}
