//! The ceiling does what ingest must, or its figures would flatter it: a durable answer only
//! with the right token and a JSON body, and a redelivery recognised by its id.

use std::time::Duration;

#[tokio::test]
async fn accepts_once_rejects_bad_tokens_and_bodies() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_labelflow-ceiling"))
        .arg(&addr)
        .arg(dir.path().join("ceiling.db"))
        .env("CEILING_WEBHOOK_SECRET", "s3cret")
        .kill_on_drop(true)
        .spawn()
        .expect("starts");
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/webhooks/gitlab");
    let mut up = false;
    for _ in 0..200 {
        if client
            .get(format!("http://{addr}/healthz"))
            .send()
            .await
            .is_ok()
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(up, "the ceiling answered its health check");
    let send = |token: &'static str, id: &'static str, body: &'static str| {
        client
            .post(&url)
            .header("x-gitlab-token", token)
            .header("webhook-id", id)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let status = |r: reqwest::Result<reqwest::Response>| r.expect("answered").status().as_u16();
    assert_eq!(
        status(send("s3cret", "a", r#"{"object_kind":"issue"}"#).await),
        202
    );
    assert_eq!(
        status(send("s3cret", "a", r#"{"object_kind":"issue"}"#).await),
        200
    );
    assert_eq!(
        status(send("wrong", "b", r#"{"object_kind":"issue"}"#).await),
        401
    );
    assert_eq!(status(send("s3cret", "c", "not json").await), 400);
    assert_eq!(
        status(send("s3cret", "d", r#"{"object_kind":"issue"}"#).await),
        202
    );
    let _ = child.kill().await;
}
