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
    let SourceConfig::Gitlab {
        project,
        path,
        git_ref,
    } = &cla.source
    else {
        // A GitHub or local registry is outside the simulated GitLab: the check reports
        // what it finds there.
        return Ok(Some(
            "the CLA registry is not in GitLab, so the demo leaves it as it is".to_string(),
        ));
    };
    let project_path = w
        .engine
        .config
        .projects
        .get(&project.value)
        .cloned()
        .unwrap_or_else(|| project.value.clone());
    let id = match w.projects.get(&project.value) {
        Some(id) => *id,
        None => {
            let id = w.sim.add_project(&project_path);
            w.sim
                .add_member(id, w.engine.bot(), access::REPORTER)
                .map_err(|e| anyhow::anyhow!("simulated GitLab: {e}"))?;
            id
        }
    };
    let version = cla
        .required_version
        .as_ref()
        .map_or("1.0", |v| v.value.as_str());
    w.sim
        .put_file(id, path, git_ref, &registry(version))
        .map_err(|e| anyhow::anyhow!("simulated GitLab: {e}"))?;
    Ok(Some(format!(
        "the legal team's CLA registry ({project_path}, {path} at {git_ref}) lists Acme Corp's signed agreement, covering @demo-acme-dev"
    )))
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
