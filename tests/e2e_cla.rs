//! CLA checks end to end: the real service against the simulated GitLab, with the registry as
//! a repository file in the `legal` project (tests/configs/cla). Unknown is never turned into
//! missing, is announced once however many retries it takes, and clears on recovery; an older
//! agreement version is missing and says so; `@labelflow cla recheck` re-runs the check for
//! anyone; `cocreate::onboarding` needs `cla::signed`.

mod common;

use common::{Harness, repo_path};
use labelflow::sim::FaultRule;
use std::time::Duration;

const OPPORTUNITY: &str =
    "## Customer\nAcme GmbH\n\n## Customer engineers\n@dev1, @dev2\n\n## Problem\nSlow pipelines\n";

fn registry(version: &str) -> String {
    format!(
        "agreements:\n  - company: Acme Corporation, Inc.\n    gitlab_users: [dev1, dev2]\n    version: \"{version}\"\n    signed: 2024-03-01\n"
    )
}

/// Line 5 has a date that is not one.
const MALFORMED: &str = "agreements:\n  - company: Acme Corporation, Inc.\n    gitlab_users: [dev1, dev2]\n    version: \"2.0\"\n    signed: someday\n";

async fn harness() -> Harness {
    let h = Harness::start(&repo_path("tests/configs/cla/labelflow.yml")).await;
    for u in ["author", "dev1", "dev2"] {
        h.add_person(u);
    }
    h
}

fn put_registry(h: &Harness, text: &str) {
    h.sim
        .put_file(h.project("legal"), "registry.yml", "main", text)
        .expect("registry written");
}

fn labels(h: &Harness, p: u64, iid: u64) -> Vec<String> {
    let mut l = h.sim.issue(p, iid).expect("issue").labels;
    l.sort();
    l
}

/// Polls until `cond` holds (the service keeps retrying meanwhile, so `settle` cannot be used).
async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn count_notes(h: &Harness, p: u64, iid: u64, text: &str) -> usize {
    h.bot_notes(p, iid)
        .iter()
        .filter(|n| n.body.contains(text))
        .count()
}

async fn open_opportunity(h: &Harness) -> (u64, u64) {
    let p = h.project("opportunities");
    let iid = h
        .sim
        .as_user("author")
        .create_issue(p, "Acme co-create", OPPORTUNITY, &["cocreate::identified"])
        .expect("issue created");
    (p, iid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_500_then_recovery_is_unknown_then_signed_with_one_comment() {
    let mut h = harness().await;
    put_registry(&h, &registry("2.0"));
    let fault = h.sim.add_fault(
        FaultRule::status(500)
            .path_contains("/repository/files/")
            .times(100_000),
    );
    let (p, iid) = open_opportunity(&h).await;
    wait_for("cla::unknown", || {
        labels(&h, p, iid).contains(&"cla::unknown".to_string())
            && count_notes(&h, p, iid, "CLA check: unknown") == 1
    })
    .await;
    // Let the worker retry a few more times (backoff 50–400 ms in the harness).
    let reads_before = h
        .sim
        .requests()
        .iter()
        .filter(|r| r.path.contains("/repository/files/"))
        .count();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let reads_after = h
        .sim
        .requests()
        .iter()
        .filter(|r| r.path.contains("/repository/files/"))
        .count();
    assert!(
        reads_after > reads_before,
        "the event is retried while the source fails ({reads_before} → {reads_after} reads)"
    );
    assert_eq!(count_notes(&h, p, iid, "CLA check: unknown"), 1);
    assert_eq!(count_notes(&h, p, iid, "CLA check: missing"), 0);

    h.sim.remove_fault(fault);
    h.settle().await;
    assert_eq!(
        labels(&h, p, iid),
        vec![
            "cla::signed".to_string(),
            "cocreate::identified".to_string()
        ]
    );
    h.expect_comment(p, iid, "New Co-Create opportunity with **Acme GmbH**");
    let unknown = h.expect_comment(p, iid, "CLA check: unknown");
    assert!(
        unknown.contains(
            "gitlab:legal/cla-registry/-/blob/main/registry.yml: cannot read the CLA registry"
        ),
        "{unknown}"
    );
    assert!(unknown.contains("cla-managers@example.com"), "{unknown}");
    h.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_registry_is_unknown_with_file_and_line_and_no_false_missing() {
    let mut h = harness().await;
    put_registry(&h, MALFORMED);
    let (p, iid) = open_opportunity(&h).await;
    wait_for("cla::unknown", || {
        labels(&h, p, iid).contains(&"cla::unknown".to_string())
            && count_notes(&h, p, iid, "CLA check: unknown") == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(count_notes(&h, p, iid, "CLA check: unknown"), 1);
    assert_eq!(count_notes(&h, p, iid, "CLA check: missing"), 0);
    let unknown = h.expect_comment(p, iid, "CLA check: unknown");
    assert!(
        unknown.contains(
            "malformed CLA registry: gitlab:legal/cla-registry/-/blob/main/registry.yml:5:"
        ),
        "{unknown}"
    );
    assert!(
        unknown.contains("is not a date (expected YYYY-MM-DD)"),
        "{unknown}"
    );

    // The legal team fixes the file: the retried event finds the agreement.
    put_registry(&h, &registry("2.0"));
    h.settle().await;
    assert_eq!(
        labels(&h, p, iid),
        vec![
            "cla::signed".to_string(),
            "cocreate::identified".to_string()
        ]
    );
    h.expect_comment(p, iid, "New Co-Create opportunity");
    h.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_version_is_missing_onboarding_is_guarded_and_recheck_signs() {
    let mut h = harness().await;
    put_registry(&h, &registry("1.0"));
    let (p, iid) = open_opportunity(&h).await;
    h.settle().await;
    assert_eq!(
        labels(&h, p, iid),
        vec![
            "cla::missing".to_string(),
            "cocreate::identified".to_string()
        ]
    );
    h.expect_comment(p, iid, "New Co-Create opportunity");
    let missing = h.expect_comment(p, iid, "CLA check: missing");
    assert!(
        missing.contains("signed version 1.0 is older than the required version 2.0"),
        "{missing}"
    );
    assert!(missing.contains("company Acme GmbH"), "{missing}");
    assert!(
        missing.contains("GitLab user @\u{2060}dev1"),
        "mentions are defused: {missing}"
    );
    assert!(
        missing.contains("contact the CLA managers: cla-managers@example.com"),
        "{missing}"
    );

    // Onboarding before the CLA is signed is reverted.
    h.sim
        .as_user("author")
        .add_labels(p, iid, &["cocreate::onboarding"])
        .expect("label");
    h.settle().await;
    assert_eq!(
        labels(&h, p, iid),
        vec![
            "cla::missing".to_string(),
            "cocreate::identified".to_string()
        ]
    );
    let guard = h.expect_comment(p, iid, "applied before its prerequisites");
    assert!(
        guard.contains("a signed Corporate Contributor Agreement (cla::signed)"),
        "{guard}"
    );

    // The agreement is renewed; an engineer asks for a recheck (the cache would still hold
    // the old registry for five minutes: a recheck reads it again).
    put_registry(&h, &registry("2.1"));
    h.sim
        .as_user("dev1")
        .comment(p, iid, "@labelflow cla recheck")
        .expect("comment");
    h.settle().await;
    assert_eq!(
        labels(&h, p, iid),
        vec![
            "cla::signed".to_string(),
            "cocreate::identified".to_string()
        ]
    );
    let signed = h.expect_comment(p, iid, "CLA check: signed");
    assert!(
        signed.contains(
            "- company Acme GmbH: covered by Acme Corporation, Inc. (version 2.1, signed 2024-03-01) (company name)"
        ),
        "{signed}"
    );
    assert!(
        signed.contains("- GitLab user @\u{2060}dev2: covered by Acme Corporation, Inc. (version 2.1, signed 2024-03-01) (listed as a GitLab user)"),
        "{signed}"
    );
    assert_eq!(count_notes(&h, p, iid, "CLA check: missing"), 1);

    // Now onboarding goes ahead.
    h.sim
        .as_user("author")
        .add_labels(p, iid, &["cocreate::onboarding"])
        .expect("label");
    h.settle().await;
    assert_eq!(
        labels(&h, p, iid),
        vec![
            "cla::signed".to_string(),
            "cocreate::onboarding".to_string()
        ]
    );
    h.expect_comment(p, iid, "Onboarding for **Acme GmbH**");
    h.finish();
}
