//! The demo's CLA registry: the legal team's file, with Acme Corp's signed Corporate
//! Contributor Agreement, written where the configuration's `cla.source` points, so the
//! Co-Create journey finds `cla::signed` and onboarding passes its guard.

use super::DemoWorld;
use crate::cla::config::SourceConfig;
use crate::sim::access;

/// Writes the registry into the simulated GitLab. Returns what happened, for the script;
/// `None` when the configuration has no `cla:` section.
pub fn seed(w: &DemoWorld) -> anyhow::Result<Option<String>> {
    let Some(cla) = &w.engine.config.cla else {
        return Ok(None);
    };
    let version = cla
        .required_version
        .as_ref()
        .map_or("1.0", |v| v.value.as_str());
    Ok(Some(
        match write_registry(&w.sim, &w.engine, &w.projects, &registry(version))? {
            Some(at) => format!(
                "the legal team's CLA registry ({at}) lists Acme Corp's signed agreement, covering @demo-acme-dev"
            ),
            // A GitHub or local registry is outside the simulated GitLab: the check reports
            // what it finds there.
            None => "the CLA registry is not in GitLab, so the demo leaves it as it is".to_string(),
        },
    ))
}

/// Writes `text` as the CLA registry where the configuration's `cla.source` points in the
/// simulated GitLab (adding its project when `projects` lacks it). Returns where (`project,
/// path at ref`), or `None` when there is no `cla:` section or the registry is not in GitLab.
pub fn write_registry(
    sim: &crate::sim::SimGitlab,
    engine: &crate::engine::Engine,
    projects: &std::collections::BTreeMap<String, u64>,
    text: &str,
) -> anyhow::Result<Option<String>> {
    let Some(cla) = &engine.config.cla else {
        return Ok(None);
    };
    let SourceConfig::Gitlab {
        project,
        path,
        git_ref,
    } = &cla.source
    else {
        return Ok(None);
    };
    let project_path = engine
        .config
        .projects
        .get(&project.value)
        .cloned()
        .unwrap_or_else(|| project.value.clone());
    let id = match projects.get(&project.value) {
        Some(id) => *id,
        None => {
            let id = sim.add_project(&project_path);
            sim.add_member(id, engine.bot(), access::REPORTER)
                .map_err(|e| anyhow::anyhow!("simulated GitLab: {e}"))?;
            id
        }
    };
    sim.put_file(id, path, git_ref, text)
        .map_err(|e| anyhow::anyhow!("simulated GitLab: {e}"))?;
    Ok(Some(format!("{project_path}, {path} at {git_ref}")))
}

/// Acme under its full legal name (the opportunity says "Acme Corp"), at `version`.
fn registry(version: &str) -> String {
    format!(
        "agreements:\n  - company: Acme Corporation, Inc.\n    gitlab_users: [demo-acme-dev]\n    version: \"{version}\"\n    signed: 2024-03-01\n"
    )
}

#[cfg(test)]
mod tests {
    use super::registry;
    use crate::cla::RegistryFormat;
    use crate::cla::parse::parse_registry;

    #[test]
    fn the_demo_registry_parses() {
        let r = parse_registry(&registry("2.0"), RegistryFormat::Yaml, "demo")
            .expect("the demo registry parses");
        assert_eq!(r.agreements.len(), 1);
        assert_eq!(
            r.agreements[0].gitlab_users,
            vec!["demo-acme-dev".to_string()]
        );
    }
}
