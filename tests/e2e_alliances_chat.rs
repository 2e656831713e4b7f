//! The Alliances chat post end to end: with `LABELFLOW_ALLIANCES_CHAT_WEBHOOK_URL` set, an
//! inbound request is posted once, as Slack-compatible JSON, to the team's incoming webhook.
//!
//! Its own test binary with a single test: the variable is set before anything else runs, so
//! no other thread reads the environment while it changes.

mod common;

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use common::Harness;
use common::shipped::{fill_template, issue_template, shipped_config};
use serde_json::Value;
use std::sync::{Arc, Mutex};

type Posts = Arc<Mutex<Vec<Value>>>;

async fn receive(State(posts): State<Posts>, Json(body): Json<Value>) -> &'static str {
    posts.lock().unwrap_or_else(|p| p.into_inner()).push(body);
    "ok"
}

#[test]
fn inbound_request_is_posted_to_the_chat_channel_once() {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
    let addr = std_listener.local_addr().expect("address");
    // SAFETY: the only test in this binary, and no runtime or other thread has started yet.
    unsafe {
        std::env::set_var(
            "LABELFLOW_ALLIANCES_CHAT_WEBHOOK_URL",
            format!("http://{addr}/chat"),
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let posts: Posts = Arc::default();
        std_listener.set_nonblocking(true).expect("non-blocking");
        let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
        let app = axum::Router::new()
            .route("/chat", post(receive))
            .with_state(posts.clone());
        let server = tokio::spawn(async move { axum::serve(listener, app).await });

        let mut h = Harness::start(&shipped_config()).await;
        h.add_person("partner-pat");
        let p = h.project("alliances");
        let description = fill_template(
            &issue_template("alliance-inbound-request.md"),
            &[
                ("Partner", "Nimbus Cloud"),
                ("Technical integration", "A CI/CD component."),
                ("End-user benefits", "One-click deployments."),
                ("Business relationship", "Technology partnership."),
            ],
        );
        let iid = h
            .sim
            .as_user("partner-pat")
            .create_issue(p, "Partnership request: Nimbus Cloud", &description, &[])
            .expect("opened");
        h.settle().await;
        h.expect_comment(p, iid, "**Inbound alliance request received.**");
        let url = h.sim.issue_state(p, iid).expect("issue").web_url;
        let expected = vec![serde_json::json!({
            "text": format!("New inbound alliance request: Partnership request: Nimbus Cloud (partner: Nimbus Cloud). {url} The lead claims it with \"@labelflow claim\" on the issue.")
        })];
        assert_eq!(*posts.lock().expect("posts"), expected);

        h.replay_all_and_assert_unchanged().await;
        assert_eq!(*posts.lock().expect("posts"), expected, "posted once");
        h.finish();
        h.stop_service().await;
        server.abort();
    });
}
