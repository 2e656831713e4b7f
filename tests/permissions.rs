//! Permissions: restricted labels (applied in the UI, not only by command) and restricted
//! commands from people outside the role are refused, including a user whose username is the
//! role's name and one whose username differs from the role member's only in case. Usernames
//! compare exactly.

mod common;

use common::{Harness, repo_path};

/// Applies `pathway::major` and then runs `@labelflow approve`, as `user`, on a new issue.
async fn try_both(h: &Harness, user: &str) -> u64 {
    let p = h.project("board");
    let iid = h
        .sim
        .as_user("author")
        .create_issue(p, &format!("Tried by {user}"), "", &[])
        .expect("issue");
    h.settle().await;
    h.sim
        .as_user(user)
        .add_labels(p, iid, &["pathway::major"])
        .expect("label");
    h.settle().await;
    h.sim
        .as_user(user)
        .comment(p, iid, "@labelflow approve")
        .expect("comment");
    h.settle().await;
    iid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_exact_role_member_may_apply_restricted_labels_and_run_commands() {
    let mut h = Harness::start(&repo_path("tests/configs/permissions/labelflow.yml")).await;
    let p = h.project("board");
    // `cs-lead` is the role's member (added by the harness from the directory).
    for u in ["author", "contributor-success", "CS-Lead"] {
        h.add_person(u);
    }

    for outsider in ["contributor-success", "CS-Lead", "author"] {
        let iid = try_both(&h, outsider).await;
        let who = format!("@{outsider}");
        let restricted = h.expect_comment(p, iid, "can only be applied by");
        assert!(restricted.starts_with(&who), "{restricted}");
        assert!(
            restricted.contains("the contributor-success role (") && restricted.contains("cs-lead"),
            "names who may: {restricted}"
        );
        assert!(
            !restricted.contains("@cs-lead"),
            "without pinging them: {restricted}"
        );
        let refused = h.expect_comment(p, iid, "I did not run `approve`");
        assert!(refused.starts_with(&who), "{refused}");
        assert_eq!(h.bot_notes(p, iid).len(), 2, "nothing else for {outsider}");
        let issue = h.sim.issue(p, iid).expect("issue");
        assert_eq!(
            issue.labels,
            Vec::<String>::new(),
            "{outsider}: reverted, not approved"
        );
    }

    let iid = try_both(&h, "cs-lead").await;
    h.expect_comment(p, iid, "Major pathway chosen by @cs-lead.");
    h.expect_comment(p, iid, "Approved by @cs-lead.");
    assert_eq!(h.bot_notes(p, iid).len(), 2);
    let mut labels = h.sim.issue(p, iid).expect("issue").labels;
    labels.sort();
    assert_eq!(
        labels,
        vec!["approved".to_string(), "pathway::major".to_string()]
    );
    assert_eq!(h.queue().await.parked, 0);
    h.finish();
    h.stop_service().await;
}
