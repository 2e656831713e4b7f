//! The compiled configuration: a validated `labelflow.yml` with its templates registered and
//! its patterns compiled. Built by [`Engine::load`](super::load); read by the planner.

use super::config::{ConfigFile, Workflow};
use super::patterns::Patterns;
use crate::render::Renderer;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// A validated configuration with its compiled templates.
#[derive(Debug)]
pub struct Engine {
    pub config: ConfigFile,
    pub path: PathBuf,
    pub renderer: Renderer,
    /// Per workflow: every description field key templates may use.
    pub known_fields: BTreeMap<String, BTreeSet<String>>,
    /// Regexes and label globs, compiled once.
    pub patterns: Patterns,
    /// What check-config warns about: accepted, but probably not what was meant.
    pub warnings: Vec<super::load::ConfigError>,
}

impl Engine {
    pub fn bot(&self) -> &str {
        &self.config.bot.username
    }

    /// Resolves a project name from `projects:` (or passes a path through).
    pub fn project_path(&self, name_or_path: &str) -> Option<String> {
        match self.config.projects.get(name_or_path) {
            Some(p) => Some(p.clone()),
            None if name_or_path.contains('/') => Some(name_or_path.to_string()),
            None => None,
        }
    }

    /// Whether a workflow applies to issues of `project_path`.
    pub fn workflow_applies(&self, wf: &Workflow, project_path: &str) -> bool {
        wf.projects.is_empty()
            || wf.projects.iter().any(|p| {
                self.project_path(&p.value)
                    .is_some_and(|path| path.eq_ignore_ascii_case(project_path))
            })
    }

    /// Template registry name of a `create_issue` title.
    pub fn title_template(workflow: &str, rule: &str, id: &str) -> String {
        format!("{}{workflow}/{rule}/{id}", crate::render::TITLE_PREFIX)
    }
}
