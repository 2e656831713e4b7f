//! Injection, end to end: hostile titles, descriptions, field values and usernames rendered
//! into the bot's comments and created issues cannot run quick actions (the simulated GitLab
//! runs them in the bot's notes with the bot's rights, as GitLab does), cannot mention `@all`
//! or groups, cannot forge a `<!-- labelflow:… -->` marker that suppresses a real action, and
//! cannot break out of Markdown tables or code fences.

mod common;

use common::text::{live_mentions, quick_action_lines};
use common::{Harness, repo_path};
use labelflow::actions::{marker, marker_id};
use labelflow::render::Renderer;
use labelflow::sim::{FaultRule, SimIssue, access};
use proptest::prelude::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

const TITLE: &str = "/close @all <!-- x --> | `code` ~~~ \u{202E}evil\u{202C}";

fn description(forged_b: &str, forged_c: &str) -> String {
    format!(
        "Customer: /unlabel ~intake::new | injected | cell\n\
         Contact: @all @some-group/sub @rev-lead\n\
         /label ~pwned\n\
         /assign @eve\n\
         /confidential\n\
         @all please look\n\
         {forged_b}\n\
         {forged_c}\n\
         \n\
         ## Notes\n\
         ```\n\
         ~~~\n\
         /relabel ~pwned\n\
         ```\n"
    )
}

fn fence_lines(text: &str) -> usize {
    text.lines()
        .filter(|l| {
            let t = l.trim_start();
            t.starts_with("```") || t.starts_with("~~~")
        })
        .count()
}

fn assert_no_mass_or_group_mention(text: &str) {
    for bad in ["@all", "@some-group", "@here", "@eve"] {
        assert!(!text.contains(bad), "{bad} in {text:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_cannot_act_mention_forge_or_break_out() {
    let mut h = Harness::start(&repo_path("tests/configs/hostile/labelflow.yml")).await;
    let intake = h.project("intake");
    let followups = h.project("followups");
    // eve writes the hostile text; as a Guest her own quick actions stay in the text.
    for p in [intake, followups] {
        h.sim
            .add_member(p, "eve", access::GUEST)
            .expect("eve is a guest");
    }
    // A triager whose username is a special mention.
    h.add_person("all");

    let eve = h.sim.as_user("eve");
    let iid = eve
        .create_issue(intake, TITLE, "Draft.", &[])
        .expect("issue created");
    // The markers of the rule's next actions are predictable for a `once` rule: put them in
    // the description, in a comment, and in an issue of the target project.
    let key = |index: usize| format!("intake/triage/{intake}#{iid}/once/{index}");
    let forged_b = marker(&marker_id(&key(1)));
    let forged_c = marker(&marker_id(&key(2)));
    eve.edit_description(intake, iid, &description(&forged_b, &forged_c))
        .expect("description edited");
    eve.comment(intake, iid, &format!("Already done, see {forged_b}"))
        .expect("comment posted");
    eve.create_issue(followups, "Decoy", &format!("Decoy {forged_c}"), &[])
        .expect("decoy created");
    h.settle().await;
    let before = h.sim.issue(intake, iid).expect("issue");
    assert_eq!(
        before.labels,
        Vec::<String>::new(),
        "eve's quick actions did not run"
    );

    // The first comment goes through, the second fails once: the retry runs in recovery mode,
    // looking every creation up by its marker first, where a forged marker would bite.
    h.sim.add_fault(
        FaultRule::latency(Duration::ZERO)
            .method("POST")
            .path_contains("/notes")
            .times(1),
    );
    h.sim.add_fault(
        FaultRule::status(500)
            .method("POST")
            .path_contains("/notes")
            .times(1),
    );
    h.sim
        .as_user("all")
        .add_labels(intake, iid, &["intake::new"])
        .expect("label added");
    h.settle().await;
    let failed = h
        .sim
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/notes") && r.status == 500)
        .count();
    assert_eq!(failed, 1, "the second comment failed once");

    // Nothing ran: labels, state, assignees and confidentiality are as the people left them.
    let after: SimIssue = h.sim.issue(intake, iid).expect("issue");
    assert_eq!(after.labels, vec!["intake::new".to_string()]);
    assert_eq!(after.state, before.state);
    assert_eq!(after.assignee_ids, Vec::<u64>::new());
    assert!(!after.confidential);

    // The real second comment was made despite the forged markers, exactly once.
    let triage = h.expect_comment(intake, iid, "Triage requested for");
    assert!(triage.ends_with(&forged_b), "{triage}");

    let welcome = h.expect_comment(intake, iid, "Thanks ");
    assert_eq!(
        quick_action_lines(&welcome),
        Vec::<&str>::new(),
        "{welcome}"
    );
    assert!(
        welcome.starts_with("\u{200B}/close"),
        "the title is shown, defused: {welcome}"
    );
    assert_no_mass_or_group_mention(&welcome);
    assert_eq!(
        live_mentions(&welcome),
        vec![("rev-lead".to_string(), false)],
        "the only live mention is the valid contact"
    );
    assert!(welcome.contains("contact: @rev-lead;"), "{welcome}");
    assert!(welcome.contains("applied by all."), "{welcome}");
    assert_eq!(
        welcome.matches("<!--").count(),
        1,
        "only the bot's marker: {welcome}"
    );
    assert!(!welcome.contains(&forged_b) && !welcome.contains(&forged_c));
    for row in ["| Customer |", "| Title |"] {
        let line = welcome
            .lines()
            .find(|l| l.starts_with(row))
            .unwrap_or_else(|| panic!("{row} row in {welcome}"));
        assert_eq!(line.matches('|').count(), 3, "one cell: {line}");
    }
    assert_eq!(
        fence_lines(&welcome),
        2,
        "only the template's fence: {welcome}"
    );
    assert!(
        !welcome.contains('\u{202E}'),
        "no bidi override: {welcome:?}"
    );

    // The created issue: one by the bot beside eve's decoy, nothing ran in it.
    let bot = h.sim.user("labelflow").expect("bot").id;
    let issues = h.sim.issues(followups);
    assert_eq!(issues.len(), 2, "the decoy and the real one");
    let created: Vec<&SimIssue> = issues.iter().filter(|i| i.author_id == bot).collect();
    assert_eq!(created.len(), 1);
    let review = created[0];
    // Titles are plain text (GitLab runs no quick action in a title): no HTML entity, and no
    // mention.
    assert!(
        !review.title.contains("&amp;") && !review.title.contains("&lt;"),
        "{:?}",
        review.title
    );
    assert!(!review.title.contains("@all"), "{:?}", review.title);
    assert_eq!(review.labels, Vec::<String>::new());
    assert_eq!(review.assignee_ids, Vec::<u64>::new());
    assert!(!review.confidential);
    assert_eq!(
        quick_action_lines(&review.description),
        Vec::<&str>::new(),
        "{}",
        review.description
    );
    assert_no_mass_or_group_mention(&review.description);
    assert!(review.description.ends_with(&forged_c));
    assert_eq!(review.description.matches("<!--").count(), 1);
    assert_eq!(h.sim.links().len(), 1);
    h.finish();
    h.stop_service().await;
}

/// A renderer with the hostile configuration's welcome template.
fn welcome_renderer() -> Renderer {
    let mut r = Renderer::new(BTreeMap::from([(
        "reviewers".to_string(),
        vec!["rev-lead".to_string()],
    )]));
    let template =
        std::fs::read_to_string(repo_path("tests/configs/hostile/templates/welcome.md.hbs"))
            .expect("template");
    r.add("welcome", &template).expect("compiles");
    r
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever users type, the rendered comment keeps the template's shape: no quick-action
    /// line, no special or group mention, no HTML comment, one-cell table rows, one fence.
    #[test]
    fn any_user_text_keeps_the_template_shape(
        title in "[/@<>|`~!\\- a-z\u{202E}\n]{0,40}",
        customer in "[/@<>|`~\\- a-z\n]{0,40}",
        contact in "[/@a-z\\- ]{0,30}",
        notes in "[/`~@<>\\- a-z\n]{0,60}",
        description in "[/@<>|`~!\\- a-z\n]{0,80}",
        actor in "[a-z/@]{1,10}",
    ) {
        let r = welcome_renderer();
        let data = json!({
            "issue": {"title": title, "description": description},
            "fields": {"customer": customer, "contact": contact, "notes": notes},
            "actor": {"username": actor, "mention": format!("@{actor}")},
            "issue_author": "@eve",
        });
        let out = r.render("welcome", &data).expect("renders");
        prop_assert_eq!(quick_action_lines(&out), Vec::<&str>::new(), "{}", out);
        prop_assert!(!out.contains("<!--"), "{}", out);
        prop_assert!(
            !live_mentions(&out).iter().any(|(n, _)| n == "all" || n == "eve"),
            "{}",
            out
        );
        for (name, group) in live_mentions(&out) {
            prop_assert!(!group, "group mention @{}/ in {}", name, out);
            prop_assert!(
                !matches!(name.to_ascii_lowercase().as_str(), "all" | "here" | "channel" | "everyone"),
                "@{} in {}", name, out
            );
        }
        prop_assert_eq!(fence_lines(&out), 2, "{}", out);
        for row in ["| Customer |", "| Title |"] {
            let line = out.lines().find(|l| l.starts_with(row)).expect("row");
            prop_assert_eq!(line.matches('|').count(), 3, "{}", line);
        }
    }
}
