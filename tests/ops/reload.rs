//! Configuration reload: a changed file is picked up without a restart and used for the next
//! event; a broken one is rejected and the running configuration keeps working.

use crate::common::{Harness, repo_path};
use crate::scrape::scrape;
use labelflow::reload::{self, ReloadSettings};
use labelflow::worker::current;
use std::path::Path;
use std::time::Duration;

const OPPORTUNITY: &str =
    "## Customer\nAcme Corp\n\n## Problem\nSlow pipelines\n\nCSM: @jane\nSA: @sam\nAE: @alex\n";

const TRIAGE_RULE: &str = r#"
      - name: triage
        on: { label_added: "cocreate::triage" }
        do:
          - comment: { template: triage_ping.md.hbs }
"#;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_good_config_is_applied_and_a_bad_one_is_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&repo_path("tests/configs/basic"), dir.path());
    let config = dir.path().join("labelflow.yml");
    let original = std::fs::read_to_string(&config).expect("config");

    let mut h = Harness::start(&config).await;
    for u in ["author", "jane", "sam", "alex"] {
        h.add_person(u);
    }
    let service = h.service.as_ref().expect("running");
    let (engine, metrics) = (service.engine.clone(), service.metrics.clone());
    let watcher = reload::spawn(
        ReloadSettings {
            config: config.clone(),
            poll: Some(Duration::from_millis(100)),
            on_sighup: false,
        },
        engine.clone(),
        metrics.clone(),
        service.shutdown_token(),
    );
    let addr = h.addr;
    let reloads = async |outcome: &str| {
        scrape(addr)
            .await
            .value("labelflow_config_reloads_total", &[("outcome", outcome)])
    };

    // A new rule and its template: applied without a restart.
    std::fs::write(
        dir.path().join("templates/triage_ping.md.hbs"),
        "Triage started for {{fields.customer}}.\n",
    )
    .expect("template");
    std::fs::write(&config, format!("{}{TRIAGE_RULE}", original.trim_end())).expect("config");
    wait_for("the new configuration", async || {
        reloads("applied").await == 1.0
    })
    .await;
    assert_eq!(current(&engine).config.workflows["cocreate"].rules.len(), 3);

    let p = h.project("opportunities");
    let iid = h
        .sim
        .as_user("author")
        .create_issue(
            p,
            "Acme Corp co-create",
            OPPORTUNITY,
            &["cocreate::identified"],
        )
        .expect("issue");
    h.settle().await;
    h.expect_comment(p, iid, "#cocreate-initiative-acme-corp");
    h.sim
        .as_user("author")
        .add_labels(p, iid, &["cocreate::triage"])
        .expect("label");
    h.settle().await;
    h.expect_comment(p, iid, "Triage started for Acme Corp.");

    // A broken configuration (unknown template): rejected, the running one stays.
    std::fs::write(
        &config,
        format!(
            "{}{}",
            original.trim_end(),
            TRIAGE_RULE.replace("triage_ping.md.hbs", "missing.md.hbs")
        ),
    )
    .expect("config");
    wait_for("the rejection", async || reloads("rejected").await == 1.0).await;
    assert_eq!(reloads("applied").await, 1.0);
    let running = current(&engine);
    assert_eq!(running.config.workflows["cocreate"].rules.len(), 3);
    let err = reload::reload(&config, &engine, &metrics).expect_err("still broken");
    assert_eq!(err.0.len(), 1, "{err}");
    assert!(err.0[0].message.contains("missing.md.hbs"), "{err}");
    assert!(
        std::sync::Arc::ptr_eq(&running, &current(&engine)),
        "a rejected reload leaves the running engine in place"
    );

    // The worker keeps processing events with the running configuration.
    h.sim
        .as_user("author")
        .add_labels(p, iid, &["cocreate::qualification"])
        .expect("label");
    h.settle().await;
    h.expect_comment(p, iid, "co-create-triage#1");

    // A file that is unchanged after a rejection is not re-read every poll.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        reloads("rejected").await,
        2.0,
        "one poll rejection + one direct call"
    );
    h.finish();
    h.stop_service().await;
    watcher.await.expect("watcher stops with the service");
}
