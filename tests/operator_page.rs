//! The operator page in a real browser (Debian's `chromium` driven through `chromedriver` over
//! WebDriver), against the service running the shipped configuration: sign-in, each
//! workflow's diagram with its stages, a parked event retried with the button and then shown
//! done, and requests without the token or with a bad CSRF token refused. Screenshots go to
//! `target/screenshots/`. Without a browser: hostile text is escaped in the HTML.
//!
//! `scripts/test.sh` installs `chromium` and `chromium-driver` when they are missing; this
//! test fails without them (set LABELFLOW_SKIP_BROWSER=1 to leave the browser part out).

mod common;

use common::item::Item;
use common::shipped::{nimbus_inbound_request, shipped_config};
use common::{Harness, repo_path};
use fantoccini::{Client, ClientBuilder, Locator};
use labelflow::admin::AdminSettings;
use labelflow::service::ServeSettings;
use labelflow::sim::FaultRule;
use labelflow::store::EventStatus;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const TOKEN: &str = "operator-token-for-tests";
const PARTNER: &str = "partner-pat";
/// A title with a script tag, Markdown and a right-to-left override.
const HOSTILE_TITLE: &str =
    "Nimbus <script>alert(1)</script> **bold** [x](javascript:alert(1)) \u{202E}lanif";

fn with_admin(s: &mut ServeSettings) {
    s.admin = Some(AdminSettings {
        listen: "127.0.0.1:0".parse().expect("address"),
        token: Some(TOKEN.to_string().into()),
    });
}

struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("address")
        .port()
}

async fn start_driver() -> Option<Driver> {
    if std::env::var_os("LABELFLOW_SKIP_BROWSER").is_some() {
        eprintln!("SKIPPED: the browser part (LABELFLOW_SKIP_BROWSER is set)");
        return None;
    }
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect(
            "chromedriver runs (Debian's chromium-driver package; scripts/test.sh installs it)",
        );
    let driver = Driver { child, port };
    for _ in 0..100 {
        if reqwest::get(format!("http://127.0.0.1:{port}/status"))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Some(driver);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not answer on port {port}");
}

async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".to_string(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,1100"],
        }),
    );
    ClientBuilder::rustls()
        .expect("TLS roots")
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a browser session")
}

async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    let dir = repo_path("target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("screenshot written");
}

/// Waits until the browser shows `path` (after a form submission navigates).
async fn wait_for_path(c: &Client, path: &str) {
    for _ in 0..100 {
        if c.current_url().await.is_ok_and(|u| u.path() == path) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the browser never reached {path}");
}

async fn text(c: &Client) -> String {
    c.find(Locator::Css("body"))
        .await
        .expect("body")
        .text()
        .await
        .expect("text")
}

/// Waits until the event's status is `want` (the worker runs in the background).
async fn wait_for_status(h: &Harness, id: i64, want: EventStatus) {
    for _ in 0..100 {
        let e = h.store().get_event(id).await.expect("read").expect("event");
        if e.status == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("event {id} never became {}", want.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_page_shows_traces_draws_workflows_and_retries_parked_work() {
    let mut h = Harness::start_custom(&shipped_config(), 2, None, with_admin).await;
    h.add_person(PARTNER);
    let admin = h
        .service
        .as_ref()
        .and_then(|s| s.admin_addr)
        .expect("operator page listening");
    let base = format!("http://{admin}");

    // A request that GitLab refuses for good: the welcome comment gets a 403, so the event
    // is parked with the reason.
    let p = h.project("alliances");
    let refuse = h.sim.add_fault(
        FaultRule::status(403)
            .method("POST")
            .path_regex(r"/issues/\d+/notes$")
            .expect("regex"),
    );
    let iid = h
        .sim
        .as_user(PARTNER)
        .create_issue(p, HOSTILE_TITLE, &nimbus_inbound_request(), &[])
        .expect("opened");
    h.settle().await;
    let parked = h
        .store()
        .list_events(Some(EventStatus::Parked), 10)
        .await
        .expect("events");
    assert_eq!(parked.len(), 1, "{parked:#?}");
    let parked_id = parked[0].id;
    h.sim.remove_fault(refuse);

    // Without the token: refused, and nothing is leaked.
    let http = reqwest::Client::new();
    for path in [
        "/events",
        "/parked",
        "/workflows",
        &format!("/events/{parked_id}"),
    ] {
        let r = http
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("answer");
        assert_eq!(r.status(), 401, "{path}");
        assert!(!r.text().await.expect("body").contains("Nimbus"), "{path}");
    }
    let r = http
        .post(format!("{base}/events/{parked_id}/retry"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("csrf=anything")
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), 401);
    // With the token but a bad CSRF token: refused, and the event stays parked.
    let r = http
        .post(format!("{base}/events/{parked_id}/retry"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("csrf=not-the-token")
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), 403);
    let e = h
        .store()
        .get_event(parked_id)
        .await
        .expect("read")
        .expect("event");
    assert_eq!(e.status, EventStatus::Parked);
    // Hostile text is escaped: the title's script tag arrives as text.
    let page = http
        .get(format!("{base}/events"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("answer")
        .text()
        .await
        .expect("body");
    assert!(!page.contains("<script>"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    // Markdown shows as typed (no link, no bold), and the right-to-left override is isolated
    // in a <bdi> so it cannot reorder the page around it.
    assert!(page.contains("**bold** [x](javascript:alert(1))"), "{page}");
    assert!(
        !page.contains("<strong>bold") && !page.contains("href=\"javascript"),
        "{page}"
    );
    let rtl = page.find('\u{202E}').expect("the title is shown");
    let open = page[..rtl].rfind("<bdi>").expect("inside a bdi");
    assert!(
        !page[open..rtl].contains("</bdi>"),
        "the override is inside the bdi"
    );

    // Follow-ups due and the last sweep, as the store has them.
    let store = h.store();
    store
        .schedule_followup(labelflow::store::NewFollowup {
            key: "cocreate/triage/14#7/x/2".into(),
            issue_key: "14#7".into(),
            due_at: h.clock.now() + chrono::Duration::days(5),
            payload: labelflow::store::FollowupPayload {
                followup: "cocreate/buy-in-reminder".into(),
                project_id: 14,
                iid: 7,
                project_path: "co-create/opportunities".into(),
                key: "cocreate/triage/14#7/x/2".into(),
            },
        })
        .await
        .expect("scheduled");
    store
        .sweep_run_put(
            r#"{"items_seen":31,"items_exempt":2,"actions":4,"counts":{"nudged":3,"marked_stale":1,"closed":0}}"#,
            h.clock.now(),
        )
        .await
        .expect("recorded");
    let page = http
        .get(format!("{base}/followups"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("answer")
        .text()
        .await
        .expect("body");
    assert!(
        page.contains("<code>cocreate/buy-in-reminder</code>"),
        "{page}"
    );
    assert!(page.contains("co-create/opportunities#7"), "{page}");
    assert!(
        page.contains("31 items seen, 2 exempt by milestone"),
        "{page}"
    );
    assert!(
        page.contains("4 actions: 3 nudged, 1 marked stale, 0 closed"),
        "{page}"
    );

    let Some(driver) = start_driver().await else {
        h.stop_service().await;
        return;
    };
    let c = browser(&driver).await;
    c.goto(&format!("{base}/login")).await.expect("login page");
    c.find(Locator::Css("input[name=token]"))
        .await
        .expect("token field")
        .send_keys(TOKEN)
        .await
        .expect("typed");
    c.find(Locator::Css("form button[type=submit]"))
        .await
        .expect("button")
        .click()
        .await
        .expect("signed in");
    wait_for_path(&c, "/events").await;
    let events = text(&c).await;
    assert!(events.contains("Events"), "{events}");
    assert!(events.contains("parked"), "{events}");
    screenshot(&c, "events").await;

    // Each workflow's diagram shows its stages.
    c.goto(&format!("{base}/workflows"))
        .await
        .expect("workflows");
    for (wf, stages) in [
        (
            "cocreate",
            vec![
                "cocreate::identified",
                "cocreate::qualification",
                "cocreate::triage",
                "cocreate::presented",
                "cocreate::onboarding",
                "cocreate::onsite",
            ],
        ),
        (
            "mdf",
            vec![
                "mdf::requested",
                "mdf::partner-approved",
                "mdf::credit-acknowledged",
                "mdf::done",
            ],
        ),
        (
            "alliances",
            vec!["alliances::inbound", "alliances::lead-assigned"],
        ),
    ] {
        let labels: Vec<String> = {
            let mut out = Vec::new();
            for e in c
                .find_all(Locator::Css(&format!("#workflow-{wf} svg text.label")))
                .await
                .expect("diagram labels")
            {
                out.push(e.text().await.expect("label text"));
            }
            out
        };
        for s in &stages {
            assert!(
                labels.contains(&s.to_string()),
                "{wf}: {s} not drawn in {labels:?}"
            );
        }
    }
    let page = text(&c).await;
    assert!(
        page.contains("needs a pathway chosen by Contributor Success"),
        "{page}"
    );
    screenshot(&c, "workflows").await;

    // The parked event, its reason, and the Retry button.
    c.goto(&format!("{base}/parked"))
        .await
        .expect("parked page");
    let page = text(&c).await;
    assert!(page.contains(&format!("Event {parked_id}")), "{page}");
    assert!(page.contains("403"), "{page}");
    screenshot(&c, "parked").await;
    c.find(Locator::Css("form.retry button"))
        .await
        .expect("retry button")
        .click()
        .await
        .expect("retried");
    wait_for_path(&c, &format!("/events/{parked_id}")).await;
    wait_for_status(&h, parked_id, EventStatus::Done).await;
    h.settle().await;
    c.goto(&format!("{base}/events/{parked_id}"))
        .await
        .expect("event page");
    let page = text(&c).await;
    assert!(
        page.contains("Status\ndone") || page.contains("Status done"),
        "{page}"
    );
    assert!(page.contains("comment on the issue (done)"), "{page}");
    assert!(page.contains("Rule inbound: fired"), "{page}");
    screenshot(&c, "event").await;
    c.close().await.expect("browser closed");

    let item = Item { p, iid };
    item.expect_comment(&mut h, "**Inbound alliance request received.**");
    h.finish();
    h.stop_service().await;
}
