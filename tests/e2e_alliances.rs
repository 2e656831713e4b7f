//! The shipped Alliances workflows end to end (inbound requests, partner types, MDF
//! reimbursement, license requests, acquisition inquiries): people act in the simulated
//! GitLab, which fires signed webhooks at the real service, which acts back through the real
//! `gitlab` client. Every issue, comment and label is asserted; `finish()` fails on any bot
//! comment nobody asserted; every test ends by replaying all deliveries.

mod common;

use chrono::Months;
use common::Harness;
use common::shipped::{
    fill_template, issue_template, license_request, shipped_config, without_quick_actions,
};
use labelflow::sim::IssueStatus;

const PARTNER: &str = "partner-pat";
const VISITOR: &str = "visitor-vic";
const LEAD: &str = "example-alliances-lead";
const PRODUCTION: &str = "example-production-lead";
const CS_LEAD: &str = "example-cs-lead";

const ALLIANCES_MENTIONS: &str = "@example-alliances-lead @example-partner-manager";

async fn harness() -> Harness {
    let h = Harness::start(&shipped_config()).await;
    for u in [PARTNER, VISITOR] {
        h.add_person(u);
    }
    h
}

fn sorted(items: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = items.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn assert_contains(text: &str, needles: &[&str]) {
    for n in needles {
        assert!(text.contains(n), "expected {n:?} in:\n{text}");
    }
}

use common::item::Item;

/// Opens an issue in the alliances project.
async fn open_item(h: &Harness, who: &str, title: &str, description: &str) -> Item {
    let p = h.project("alliances");
    let iid = h
        .sim
        .as_user(who)
        .create_issue(p, title, description, &[])
        .expect("issue opened");
    h.settle().await;
    Item { p, iid }
}

/// The shipped inbound template, filled in; `skip` leaves those fields as the template has them.
fn inbound(skip: &[&str]) -> String {
    let values: Vec<(&str, &str)> = [
        ("Partner", "Nimbus Cloud"),
        ("Partner contact", "Dana Doe, dana@nimbus.example"),
        ("Summary", "A GitLab CI integration for Nimbus Kubernetes."),
        (
            "Technical integration",
            "A CI/CD component that deploys to Nimbus clusters.",
        ),
        (
            "End-user benefits",
            "One-click deployments from GitLab to Nimbus.",
        ),
        (
            "Business relationship",
            "Technology partnership with joint marketing.",
        ),
    ]
    .into_iter()
    .filter(|(k, _)| !skip.contains(k))
    .collect();
    fill_template(&issue_template("alliance-inbound-request.md"), &values)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_request_is_acknowledged_claimed_and_classified() {
    let mut h = harness().await;
    let h = &mut h;
    let item = open_item(
        h,
        PARTNER,
        "Partnership request: Nimbus Cloud",
        &inbound(&[]),
    )
    .await;
    assert_eq!(item.sorted_labels(h), sorted(&["alliances::inbound"]));
    let body = item.expect_comment(
        h,
        "**Inbound alliance request received.** Thanks @partner-pat, the Alliances team has it.",
    );
    assert_contains(
        &body,
        &[
            &format!(
                "I pinged the Alliances team ({ALLIANCES_MENTIONS}) so one of them can take the lead: comment `@labelflow claim`"
            ),
            "**Shared document:** please name the Google Doc shared with the partner **Nimbus Cloud and GitLab**",
            "- **Technical integration:** provided\n- **End-user benefits:** provided\n- **Business relationship:** provided",
        ],
    );

    // The lead label is the Alliances team's too, in the UI as by command.
    item.label(h, PARTNER, "alliances::lead-assigned").await;
    item.expect_comment(
        h,
        "@partner-pat, the label ~\"alliances::lead-assigned\" can only be applied by the alliances role (`example-alliances-lead`, `example-partner-manager`), so I removed it again.",
    );
    assert_eq!(item.sorted_labels(h), sorted(&["alliances::inbound"]));

    // Unknown commands get the list of those available here.
    item.comment(h, PARTNER, "@labelflow assign me").await;
    item.expect_comment(
        h,
        "@partner-pat, I don't know the command `assign me`. Commands available on this issue: `claim`.",
    );

    // Only the Alliances team may claim.
    item.comment(h, CS_LEAD, "@labelflow claim").await;
    item.expect_comment(
        h,
        "@example-cs-lead, I did not run `claim`: only the alliances role (`example-alliances-lead`, `example-partner-manager`) may use it here. Nothing was changed.",
    );
    assert_eq!(h.assignees(item.p, item.iid), Vec::<String>::new());
    assert_eq!(item.sorted_labels(h), sorted(&["alliances::inbound"]));

    item.comment(h, LEAD, "I'll take this one.\n\n@labelflow claim")
        .await;
    assert_eq!(h.assignees(item.p, item.iid), sorted(&[LEAD]));
    assert_eq!(item.sorted_labels(h), sorted(&["alliances::lead-assigned"]));
    let body = item.expect_comment(h, "**Lead assigned.** @example-alliances-lead claimed this request: I assigned them and applied ~\"alliances::lead-assigned\"");
    assert_contains(
        &body,
        &[
            "@example-alliances-lead, the next steps are yours: agree them with the partner in the shared document **Nimbus Cloud and GitLab**, and classify the partner with a `partner-type::` label.",
        ],
    );

    // A second claim: the request is no longer inbound.
    item.comment(h, "example-partner-manager", "@labelflow claim")
        .await;
    item.expect_comment(
        h,
        "@example-partner-manager, `claim` needs more: this issue is not at a stage where it applies. Nothing was changed.",
    );
    assert_eq!(h.assignees(item.p, item.iid), sorted(&[LEAD]));

    // Partner types are the Alliances team's call.
    item.label(h, PARTNER, "partner-type::cloud-platform").await;
    item.expect_comment(
        h,
        "@partner-pat, the label ~\"partner-type::cloud-platform\" can only be applied by the alliances role (`example-alliances-lead`, `example-partner-manager`), so I removed it again.",
    );
    assert_eq!(item.sorted_labels(h), sorted(&["alliances::lead-assigned"]));

    // Every category, one after the other (one scope: each replaces the previous).
    let types = [
        ("cloud-platform", "cloud platform", "technology partner"),
        (
            "kubernetes-platform",
            "Kubernetes platform",
            "technology partner",
        ),
        ("upstream", "upstream", "technology partner"),
        ("integrated", "integrated", "technology partner"),
        ("sell-to", "sell-to", "technology partner"),
        ("global-si", "global systems integrator", "services partner"),
        (
            "regional-si",
            "regional systems integrator",
            "services partner",
        ),
        (
            "boutique-si",
            "boutique systems integrator",
            "services partner",
        ),
        ("msp", "managed service provider", "services partner"),
        ("var-vad", "VAR/VAD", "reseller partner"),
        ("dmr", "DMR", "reseller partner"),
        ("training", "training", "reseller partner"),
    ];
    for (slug, name, family) in types {
        let label = format!("partner-type::{slug}");
        item.label(h, LEAD, &label).await;
        let body = item.expect_comment(
            h,
            &format!("**Partner type: {name}.** @example-alliances-lead classified Nimbus Cloud as ~\"{label}\" ({family})."),
        );
        assert_contains(
            &body,
            &[
                "**Definition:** ",
                "**What this partner needs to provide:**\n- ",
            ],
        );
        assert_eq!(
            item.sorted_labels(h),
            sorted(&["alliances::lead-assigned", &label])
        );
    }
    assert_eq!(item.bot_comments(h), 7 + types.len());
    assert!(h.sim.issues(h.project("plan_change_requests")).is_empty());
    h.replay_all_and_assert_unchanged().await;
    h.finish();
    h.stop_service().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incomplete_inbound_proposal_gets_needs_info_and_a_generic_document_name() {
    let mut h = harness().await;
    let h = &mut h;
    let item = open_item(
        h,
        PARTNER,
        "Partnership request",
        &inbound(&["Partner", "End-user benefits", "Business relationship"]),
    )
    .await;
    assert_eq!(
        item.sorted_labels(h),
        sorted(&["alliances::inbound", "needs-info"])
    );
    item.expect_comment(
        h,
        "@partner-pat, this issue is missing information the next step needs:\n- **Partner**\n- **End-user benefits**\n- **Business relationship**\n\nPlease fill these in the description.",
    );
    let body = item.expect_comment(h, "**Inbound alliance request received.**");
    assert_contains(
        &body,
        &[
            "**Shared document:** name the Google Doc shared with the partner \"PARTNER NAME and GitLab\"",
            "- **Technical integration:** provided\n- **End-user benefits:** missing\n- **Business relationship:** missing",
        ],
    );

    // Completed: needs-info goes.
    h.sim
        .as_user(PARTNER)
        .edit_description(item.p, item.iid, &without_quick_actions(&inbound(&[])))
        .expect("edited");
    h.settle().await;
    assert_eq!(item.sorted_labels(h), sorted(&["alliances::inbound"]));
    assert_eq!(item.bot_comments(h), 2);
    h.replay_all_and_assert_unchanged().await;
    h.finish();
    h.stop_service().await;
}

fn mdf(budget: &str, timeline: &str) -> String {
    fill_template(
        &issue_template("mdf-request.md"),
        &[
            ("Campaign topic", "GitLab on Nimbus Cloud workshops"),
            ("Timeline", timeline),
            ("Budget", budget),
            ("Cloud partner", "Nimbus Cloud"),
            ("Marketing targets", "4 workshops, 200 attendees, EMEA"),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mdf_request_goes_through_every_stage_and_refuses_the_wrong_acknowledger() {
    let mut h = harness().await;
    let h = &mut h;
    let item = open_item(
        h,
        LEAD,
        "MDF: Nimbus Cloud workshops",
        &mdf("USD 12,000", "2026-01-15 to 2026-03-31"),
    )
    .await;
    assert_eq!(item.sorted_labels(h), sorted(&["mdf::requested"]));
    let body = item.expect_comment(
        h,
        "**MDF cloud-credit reimbursement requested.** The request is complete",
    );
    assert_contains(
        &body,
        &[
            "| GitLab on Nimbus Cloud workshops | 2026-01-15 to 2026-03-31 | USD 12,000 | Nimbus Cloud |",
            &format!(
                "**Next (stage 2 of 4):** Alliances ({ALLIANCES_MENTIONS}), please get the budget spend approval and acknowledgement from Nimbus Cloud, then apply ~\"mdf::partner-approved\"."
            ),
        ],
    );

    item.label(h, LEAD, "mdf::partner-approved").await;
    let body = item.expect_comment(h, "**Cloud partner approved the budget.** @example-alliances-lead applied ~\"mdf::partner-approved\": Nimbus Cloud approved and acknowledged the budget spend of USD 12,000.");
    assert_contains(
        &body,
        &[
            "**Next (stage 3 of 4):** production team lead (@example-production-lead), please acknowledge the future cloud credit of USD 12,000",
        ],
    );

    // Only the production team lead acknowledges credits: back to partner-approved.
    item.label(h, LEAD, "mdf::credit-acknowledged").await;
    item.expect_comment(
        h,
        "@example-alliances-lead, the label ~\"mdf::credit-acknowledged\" can only be applied by the production-team-lead role (`example-production-lead`), so I removed it again.",
    );
    assert_eq!(item.sorted_labels(h), sorted(&["mdf::partner-approved"]));

    item.label(h, PRODUCTION, "mdf::credit-acknowledged").await;
    let body = item.expect_comment(
        h,
        "**Future credit acknowledged** by the production team lead @example-production-lead: I recorded ~\"mdf::credit-acknowledged\".",
    );
    assert_contains(
        &body,
        &[&format!(
            "**Next (stage 4 of 4):** Alliances ({ALLIANCES_MENTIONS}), run the campaign \"GitLab on Nimbus Cloud workshops\" and apply ~\"mdf::done\""
        )],
    );
    assert_eq!(item.sorted_labels(h), sorted(&["mdf::credit-acknowledged"]));

    item.label(h, LEAD, "mdf::done").await;
    item.expect_comment(
        h,
        "**MDF reimbursement done.** @example-alliances-lead applied ~\"mdf::done\": the request went through every stage",
    );
    assert_eq!(item.sorted_labels(h), sorted(&["mdf::done"]));
    assert_eq!(item.state(h).state, IssueStatus::Closed);
    assert_eq!(item.bot_comments(h), 5);
    h.replay_all_and_assert_unchanged().await;
    h.finish();
    h.stop_service().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mdf_skipped_stages_are_reverted_and_bad_amounts_need_info() {
    let mut h = harness().await;
    let h = &mut h;
    let item = open_item(
        h,
        LEAD,
        "MDF: Nimbus Cloud workshops",
        &mdf("twelve thousand", "next quarter"),
    )
    .await;
    assert_eq!(
        item.sorted_labels(h),
        sorted(&["mdf::requested", "needs-info"])
    );
    item.expect_comment(
        h,
        "@example-alliances-lead, this issue is missing information the next step needs:\n- **Budget as an amount (for example USD 5,000)**\n- **Timeline with dates (for example 2024-07-01 to 2024-09-30)**\n\n",
    );

    // Partner approval of an incomplete request: reverted.
    item.label(h, LEAD, "mdf::partner-approved").await;
    item.expect_comment(
        h,
        "@example-alliances-lead, ~\"mdf::partner-approved\" was applied before its prerequisites were met, so I moved the issue back.\n\nStill missing:\n- a complete request (see the needs-info comment)\n\n",
    );
    assert_eq!(
        item.sorted_labels(h),
        sorted(&["mdf::requested", "needs-info"])
    );

    // Fixed: needs-info goes and Alliances is pinged for the partner's approval.
    h.sim
        .as_user(LEAD)
        .edit_description(
            item.p,
            item.iid,
            &without_quick_actions(&mdf("$12k", "Jan 15 to Mar 31 2026")),
        )
        .expect("edited");
    h.settle().await;
    assert_eq!(item.sorted_labels(h), sorted(&["mdf::requested"]));
    item.expect_comment(
        h,
        "**MDF cloud-credit reimbursement requested.** The request is complete",
    );

    // The production team lead skips the partner's approval: back to requested.
    item.label(h, PRODUCTION, "mdf::credit-acknowledged").await;
    item.expect_comment(
        h,
        "@example-production-lead, ~\"mdf::credit-acknowledged\" was applied before its prerequisites were met, so I moved the issue back.\n\nStill missing:\n- the cloud partner's budget spend approval first (mdf::partner-approved)\n\n",
    );
    assert_eq!(item.sorted_labels(h), sorted(&["mdf::requested"]));

    // Done straight from requested: back to requested.
    item.label(h, LEAD, "mdf::done").await;
    item.expect_comment(
        h,
        "@example-alliances-lead, ~\"mdf::done\" was applied before its prerequisites were met, so I moved the issue back.\n\nStill missing:\n- the production team lead's future credit acknowledgement first (mdf::credit-acknowledged)\n\n",
    );
    assert_eq!(item.sorted_labels(h), sorted(&["mdf::requested"]));
    assert_eq!(item.state(h).state, IssueStatus::Opened);
    assert_eq!(item.bot_comments(h), 5);
    h.replay_all_and_assert_unchanged().await;
    h.finish();
    h.stop_service().await;
}

fn license(seats: &str, plan: &str, gitlab_com: bool) -> String {
    let mut values = vec![
        ("Partner", "Nimbus Cloud"),
        ("Purpose", "Build and test the Nimbus CI/CD component."),
    ];
    if !seats.is_empty() {
        values.push(("Seats", seats));
    }
    if !plan.is_empty() {
        values.push(("Plan", plan));
    }
    if gitlab_com {
        values.push(("GitLab.com namespace", "nimbus-cloud"));
    }
    license_request(&values, gitlab_com)
}

/// The expiry the workflow computes: six months from now, as a date.
fn six_months_from_now(h: &Harness) -> (String, String) {
    let now = h.clock.now();
    let expires = now.checked_add_months(Months::new(6)).expect("date");
    (
        now.format("%Y-%m-%d").to_string(),
        expires.format("%Y-%m-%d").to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_managed_licenses_default_seats_and_refuse_more_than_ten() {
    let mut h = harness().await;
    let h = &mut h;
    let (today, expires) = six_months_from_now(h);

    // 11 seats: refused, needs revision.
    let eleven = open_item(h, PARTNER, "License: 11 seats", &license("11", "", false)).await;
    assert_eq!(
        eleven.sorted_labels(h),
        sorted(&["license-type::self-managed", "license::needs-revision"])
    );
    let body = eleven.expect_comment(h, "**License request refused: too many seats.** The request asks for 11 seats, and partner licenses for building an integration are limited to at most 10 seats. I applied ~\"license::needs-revision\" instead of processing it.");
    assert_contains(
        &body,
        &["@partner-pat, please lower **Seats** to 10 or fewer"],
    );
    assert_eq!(h.assignees(eleven.p, eleven.iid), Vec::<String>::new());

    // Missing, "unknown" and a stated number with a stated plan.
    let cases = [
        ("", "", "Ultimate", 5),
        ("unknown", "", "Ultimate", 5),
        ("4", "premium", "Premium", 4),
    ];
    for (seats, plan, want_plan, want_seats) in cases {
        let item = open_item(
            h,
            PARTNER,
            &format!("License: seats {seats:?}"),
            &license(seats, plan, false),
        )
        .await;
        assert_eq!(
            item.sorted_labels(h),
            sorted(&["license-type::self-managed", "license::in-progress"]),
            "seats {seats:?}"
        );
        assert_eq!(
            h.assignees(item.p, item.iid),
            sorted(&["example-license-admin"])
        );
        let body = item.expect_comment(h, "**Self-managed license request.** I computed the license from the request, moved it to ~\"license::in-progress\" and assigned it to the license admin (@example-license-admin)");
        assert_contains(
            &body,
            &[
                &format!("| Nimbus Cloud | {want_plan} | {want_seats} | 6 months | {expires} |"),
                &format!("- [ ] Set the term to 6 months: {today} to {expires}"),
                &format!("- [ ] Set **{want_seats}** seats"),
                "- [ ] Describe the purpose in the free-form text box: Build and test the Nimbus CI/CD component.",
            ],
        );
        assert_eq!(item.bot_comments(h), 1);
    }
    assert!(h.sim.issues(h.project("plan_change_requests")).is_empty());
    h.replay_all_and_assert_unchanged().await;
    h.finish();
    h.stop_service().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_com_license_opens_a_linked_plan_change_request_in_the_support_project() {
    let mut h = harness().await;
    let h = &mut h;
    let (today, expires) = six_months_from_now(h);
    let item = open_item(h, PARTNER, "License: GitLab.com", &license("", "", true)).await;
    assert_eq!(
        item.sorted_labels(h),
        sorted(&["license-type::gitlab-com", "license::in-progress"])
    );
    let support = h.project("plan_change_requests");
    let requests = h.sim.issues(support);
    assert_eq!(requests.len(), 1, "{requests:#?}");
    let pcr = &requests[0];
    assert_eq!(
        pcr.title,
        format!("Plan change request: Nimbus Cloud — Ultimate, 5 seats until {expires}")
    );
    assert_eq!(
        pcr.labels,
        vec![
            "plan-change-request".to_string(),
            "partner-license".to_string()
        ]
    );
    assert_contains(
        &pcr.description,
        &[
            &format!(
                "Opened by labelflow for a partner license request: {}.",
                item.web_url(h)
            ),
            "- **Partner:** Nimbus Cloud",
            "- **GitLab.com namespace:** nimbus-cloud",
            "- **Plan:** Ultimate",
            "- **Seats:** 5",
            &format!("- **Term:** 6 months, from {today} to {expires}"),
            "<!-- labelflow:lf",
        ],
    );
    // Linked both ways: one GitLab issue link, and each issue names the other.
    let links = h.sim.links();
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0].source_issue_id, item.state(h).id);
    assert_eq!(links[0].target_issue_id, pcr.id);
    let pcr_url = h.sim.issue_state(support, pcr.iid).expect("pcr").web_url;
    item.expect_comment(
        h,
        &format!("**GitLab.com license request.** I moved this request to ~\"license::in-progress\" and opened the plan-change request {pcr_url} in the support project from its template, linked to this issue: **Ultimate**, **5** seats, 6 months until {expires}."),
    );
    assert_eq!(h.assignees(item.p, item.iid), Vec::<String>::new());

    // Without a license type: asked for one, nothing opened.
    let untyped = fill_template(
        &issue_template("license-request.md"),
        &[("Partner", "Nimbus Cloud"), ("Purpose", "Testing.")],
    )
    .replace("/label ~\"license-type::self-managed\"", "");
    let other = open_item(h, PARTNER, "License: which type?", &untyped).await;
    assert_eq!(other.sorted_labels(h), sorted(&["license::request"]));
    other.expect_comment(
        h,
        "**Which kind of license?** I can't process this request yet because it has no license type. @partner-pat, please apply one:",
    );
    other.label(h, PARTNER, "license-type::gitlab-com").await;
    assert_eq!(h.sim.issues(support).len(), 2);
    other.expect_comment(h, "**GitLab.com license request.**");
    h.replay_all_and_assert_unchanged().await;
    h.finish();
    h.stop_service().await;
}

fn acquisition() -> String {
    fill_template(
        &issue_template("acquisition-inquiry.md"),
        &[
            ("Company", "Tiny Tools Ltd"),
            ("Website", "https://tinytools.example"),
            ("Contact", "Sam Roe, sam@tinytools.example"),
            ("Inquiry", "We would like to discuss an acquisition."),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acquisition_inquiry_is_confidential_before_any_reply() {
    let mut h = harness().await;
    let h = &mut h;

    // A public issue gets the acquisition label: the bot makes it confidential first.
    let text = without_quick_actions(&acquisition());
    let item = open_item(h, VISITOR, "Acquisition inquiry: Tiny Tools", &text).await;
    assert!(!item.state(h).confidential);
    h.sim.clear_requests();
    item.label(h, VISITOR, "alliances::acquisition").await;

    let state = item.state(h);
    assert!(state.confidential);
    assert_eq!(state.assignees, vec!["example-corpdev-lead".to_string()]);
    assert_eq!(state.labels, vec!["alliances::acquisition".to_string()]);
    let body = item.expect_comment(h, "**Acquisition inquiry.** I made this issue confidential, because acquisition discussions are not public, and routed it to Corporate Development (@example-corpdev-lead), who is now assigned.");
    assert_contains(&body, &["Thank you @visitor-vic for your interest."]);

    // The bot's writes, in order: confidential first, the reply last.
    let issue_path = format!("/api/v4/projects/{}/issues/{}", item.p, item.iid);
    let writes: Vec<(String, String)> = h
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.is_write() && r.username.as_deref() == Some("labelflow"))
        .map(|r| (r.method, r.path))
        .collect();
    let notes_path = format!("{issue_path}/notes");
    assert_eq!(
        writes,
        vec![
            ("PUT".to_string(), issue_path.clone()),
            ("PUT".to_string(), issue_path.clone()),
            ("POST".to_string(), notes_path),
        ],
        "confidential, assign, then the reply"
    );
    // GitLab's own record agrees: the issue was confidential when the reply was posted, so
    // its Note Hook went to the confidential-note hooks.
    let notes = h.sim.notes(item.p, item.iid);
    let confidential_at = notes
        .iter()
        .position(|n| n.system && n.body == "made the issue confidential")
        .expect("system note for confidentiality");
    let reply_at = notes
        .iter()
        .position(|n| !n.system && n.body.contains("**Acquisition inquiry.**"))
        .expect("reply");
    assert!(confidential_at < reply_at, "{notes:#?}");
    let reply_hook = h
        .sim
        .deliveries()
        .into_iter()
        .filter(|d| d.body.contains("**Acquisition inquiry.**"))
        .map(|d| d.event)
        .collect::<Vec<_>>();
    assert_eq!(reply_hook, vec!["Confidential Note Hook".to_string()]);

    // From the template, the issue is confidential from the start: assigned and answered.
    let templated = open_item(
        h,
        VISITOR,
        "Acquisition inquiry: Tiny Tools",
        &acquisition(),
    )
    .await;
    let state = templated.state(h);
    assert!(state.confidential);
    assert_eq!(state.assignees, vec!["example-corpdev-lead".to_string()]);
    templated.expect_comment(h, "**Acquisition inquiry.** I made this issue confidential");
    h.replay_all_and_assert_unchanged().await;
    h.finish();
    h.stop_service().await;
}
