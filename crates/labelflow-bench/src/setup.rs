//! The simulated GitLab the services work against: one project per service (so their comments
//! and requests never mix), the people, and the label changes whose webhooks the end-to-end
//! runs replay. Those webhooks are the simulator's own (built from GitLab's documented
//! payloads), captured by a local sink and sent to the services when the run starts.

use anyhow::{Context, anyhow};
use labelflow_sim::{HookConfig, SimGitlab, SimOptions, access};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The label whose addition is the measured workflow step.
pub const TRIGGER_LABEL: &str = "bench::go";
/// What both bots comment.
pub const COMMENT: &str = "Step done: `bench::go` was added, so this comment was posted.";
pub const LABELFLOW_BOT: &str = "labelflow";
pub const PEER_BOT: &str = "gidgetbot";
const PERSON: &str = "alice";

/// A webhook ready to replay: the issue it is about and the body GitLab sent.
#[derive(Debug, Clone)]
pub struct RecordedHook {
    pub project_id: u64,
    pub iid: u64,
    pub body: String,
}

/// The simulator plus what the runs need from it.
pub struct Bench {
    pub sim: SimGitlab,
    pub labelflow_project: u64,
    pub peer_project: u64,
    pub labelflow_token: String,
    pub peer_token: String,
    sink: tokio::task::JoinHandle<()>,
}

impl Drop for Bench {
    fn drop(&mut self) {
        self.sink.abort();
    }
}

impl Bench {
    pub async fn start() -> anyhow::Result<Bench> {
        // No rate limits, except in the rate-limit phase, which sets its own: the other
        // phases measure speed, and the peer does not pace itself.
        let sim = SimGitlab::start(SimOptions::default().without_rate_limits()).await?;
        let sink = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let sink_url = format!("http://{}/", sink.local_addr()?);
        let app = axum::Router::new().fallback(|| async { axum::http::StatusCode::OK });
        let sink = tokio::spawn(async move {
            let _ = axum::serve(sink, app).await;
        });
        let labelflow_project = sim.add_project("bench/labelflow");
        let peer_project = sim.add_project("bench/gidgetlab");
        let labelflow_token = sim.add_user(LABELFLOW_BOT).token;
        let peer_token = sim.add_user(PEER_BOT).token;
        for project in [labelflow_project, peer_project] {
            for user in [LABELFLOW_BOT, PEER_BOT, PERSON] {
                sim.add_member(project, user, access::DEVELOPER)
                    .map_err(|e| anyhow!("adding {user} to the bench project: {e}"))?;
            }
            let mut hook = HookConfig::new(sink_url.clone());
            hook.issues_events = true;
            sim.add_hook(project, hook)
                .map_err(|e| anyhow!("adding the capture hook: {e}"))?;
        }
        Ok(Bench {
            sim,
            labelflow_project,
            peer_project,
            labelflow_token,
            peer_token,
            sink,
        })
    }

    /// Opens `count` issues in `project` and adds the trigger label to each, as a person
    /// would; returns the label-change webhooks GitLab sent, one per issue.
    pub async fn label_changes(
        &self,
        project: u64,
        count: usize,
    ) -> anyhow::Result<Vec<RecordedHook>> {
        let person = self.sim.as_user(PERSON);
        let mut iids = Vec::with_capacity(count);
        for n in 0..count {
            let iid = person
                .create_issue(project, &format!("Bench item {n}"), "Measured.", &[])
                .map_err(|e| anyhow!("creating a bench issue: {e}"))?;
            person
                .add_labels(project, iid, &[TRIGGER_LABEL])
                .map_err(|e| anyhow!("labelling a bench issue: {e}"))?;
            iids.push(iid);
        }
        if !self.sim.wait_hooks_idle(Duration::from_secs(60)).await {
            anyhow::bail!("the simulator did not deliver its webhooks to the capture sink");
        }
        let mut hooks = Vec::with_capacity(count);
        for d in self.sim.deliveries() {
            if d.project_id != project || d.event != "Issue Hook" {
                continue;
            }
            let Some(payload) = d.payload() else { continue };
            let iid = payload["object_attributes"]["iid"].as_u64().unwrap_or(0);
            if iids.contains(&iid) && adds_trigger(&payload) {
                hooks.push(RecordedHook {
                    project_id: project,
                    iid,
                    body: d.body.clone(),
                });
            }
        }
        if hooks.len() != count {
            anyhow::bail!(
                "expected {count} label-change webhooks, captured {}",
                hooks.len()
            );
        }
        Ok(hooks)
    }
}

/// Does the Issue Hook payload say the trigger label was just added?
fn adds_trigger(payload: &serde_json::Value) -> bool {
    let titles = |side: &str| -> Vec<String> {
        payload["changes"]["labels"][side]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|l| l["title"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let t = TRIGGER_LABEL.to_string();
    titles("current").contains(&t) && !titles("previous").contains(&t)
}

/// `serve` flags for the phases without rate limits: no creation pacing either.
pub fn unpaced() -> Vec<String> {
    [
        "--gitlab-issue-creations-per-minute",
        "0",
        "--gitlab-note-creations-per-minute",
        "0",
    ]
    .map(String::from)
    .to_vec()
}

/// Writes labelflow's configuration for the step into `dir`; returns the config path.
pub fn write_labelflow_config(dir: &Path) -> anyhow::Result<PathBuf> {
    let templates = dir.join("templates");
    std::fs::create_dir_all(&templates).context("creating the bench templates directory")?;
    std::fs::write(templates.join("go.md.hbs"), format!("{COMMENT}\n"))?;
    let config = dir.join("labelflow.yml");
    std::fs::write(
        &config,
        format!(
            "# The one workflow step both services implement.\n\
             bot:\n  username: {LABELFLOW_BOT}\n\
             templates_dir: templates\n\
             projects:\n  bench: bench/labelflow\n\
             workflows:\n  bench:\n    projects: [bench]\n    rules:\n\
             \x20     - name: go\n\
             \x20       on: {{ label_added: \"{TRIGGER_LABEL}\" }}\n\
             \x20       do:\n\
             \x20         - comment: {{ template: go.md.hbs }}\n"
        ),
    )?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_written_configuration_loads() {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = write_labelflow_config(dir.path()).expect("written");
        let engine = labelflow_core::engine::Engine::load(&config).expect("loads");
        assert_eq!(engine.bot(), LABELFLOW_BOT);
    }

    #[test]
    fn trigger_detection_reads_previous_and_current() {
        let added = serde_json::json!({"changes": {"labels": {
            "previous": [{"title": "x"}], "current": [{"title": "x"}, {"title": TRIGGER_LABEL}]}}});
        let kept = serde_json::json!({"changes": {"labels": {
            "previous": [{"title": TRIGGER_LABEL}], "current": [{"title": TRIGGER_LABEL}]}}});
        assert!(adds_trigger(&added));
        assert!(!adds_trigger(&kept));
        assert!(!adds_trigger(&serde_json::json!({})));
    }
}
