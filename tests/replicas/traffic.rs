//! Replays recorded GitLab deliveries at the replicas, as a load balancer in front of them
//! would: each delivery freshly signed (Standard Webhooks), spread over the replicas, a failed
//! one sent again to the next live replica, duplicates included. One issue's deliveries go out
//! one after the other (GitLab sends a project's hooks in order); different issues in parallel.

use labelflow::sim::sign;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;

/// One recorded delivery.
#[derive(Debug, Clone)]
pub struct Hook {
    /// `X-Gitlab-Event`.
    pub event: String,
    /// `webhook-id` / `Idempotency-Key`: the same on every resend, which is what dedupe keys on.
    pub webhook_id: String,
    pub body: String,
}

/// Which deliveries of one issue to send, in order: each once, every third one again at once
/// (a retry after a lost answer), and every fifth followed by an older one again (a late
/// resend, out of order). Only the first send of each may take effect.
pub fn send_order(count: usize) -> Vec<usize> {
    let mut order = Vec::new();
    for j in 0..count {
        order.push(j);
        if j % 3 == 2 {
            order.push(j);
        }
        if j % 5 == 4 {
            order.push(j - 2);
        }
    }
    order
}

/// The load balancer.
pub struct Balancer {
    client: reqwest::Client,
    signing_token: String,
    replicas: Vec<Endpoint>,
    sent: AtomicUsize,
}

struct Endpoint {
    url: String,
    alive: AtomicBool,
    accepted: AtomicUsize,
}

impl Balancer {
    pub fn new(urls: Vec<String>, signing_token: &str) -> Arc<Balancer> {
        Arc::new(Balancer {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("HTTP client"),
            signing_token: signing_token.to_string(),
            replicas: urls
                .into_iter()
                .map(|url| Endpoint {
                    url,
                    alive: AtomicBool::new(true),
                    accepted: AtomicUsize::new(0),
                })
                .collect(),
            sent: AtomicUsize::new(0),
        })
    }

    /// Deliveries acknowledged so far (all replicas).
    pub fn sent(&self) -> usize {
        self.sent.load(Ordering::SeqCst)
    }

    /// Deliveries replica `i` acknowledged.
    pub fn accepted_by(&self, i: usize) -> usize {
        self.replicas[i].accepted.load(Ordering::SeqCst)
    }

    /// Stops routing to replica `i` (it is about to be killed).
    pub fn mark_dead(&self, i: usize) {
        self.replicas[i].alive.store(false, Ordering::SeqCst);
    }

    /// Sends `hook` to replica `prefer` or, when that one is dead or fails, the next live one,
    /// until one acknowledges it with 2xx. A 4xx is a bug in the service or the test: error.
    pub async fn deliver(&self, hook: &Hook, prefer: usize) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let n = self.replicas.len();
        let mut attempt = 0usize;
        let mut last_problem = String::new();
        while tokio::time::Instant::now() < deadline {
            let i = (prefer + attempt) % n;
            attempt += 1;
            let endpoint = &self.replicas[i];
            if !endpoint.alive.load(Ordering::SeqCst) {
                continue;
            }
            match self.post(&endpoint.url, hook).await {
                Ok(status) if (200..300).contains(&status) => {
                    endpoint.accepted.fetch_add(1, Ordering::SeqCst);
                    self.sent.fetch_add(1, Ordering::SeqCst);
                    return Ok(());
                }
                Ok(status) if (400..500).contains(&status) => {
                    return Err(format!(
                        "{} answered {status} to delivery {} ({})",
                        endpoint.url, hook.webhook_id, hook.event
                    ));
                }
                Ok(status) => last_problem = format!("{} answered {status}", endpoint.url),
                Err(e) => last_problem = format!("{}: {e}", endpoint.url),
            }
            if attempt.is_multiple_of(n) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Err(format!(
            "delivery {} not acknowledged within 60 s; last problem: {last_problem}",
            hook.webhook_id
        ))
    }

    async fn post(&self, url: &str, hook: &Hook) -> Result<u16, reqwest::Error> {
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let signature = sign(
            &self.signing_token,
            &hook.webhook_id,
            &timestamp,
            &hook.body,
        )
        .expect("the test signing token is valid");
        let rsp = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("user-agent", "GitLab/19.1.0")
            .header("x-gitlab-event", &hook.event)
            .header("webhook-id", &hook.webhook_id)
            .header("idempotency-key", &hook.webhook_id)
            .header("webhook-timestamp", &timestamp)
            .header("webhook-signature", signature)
            .body(hook.body.clone())
            .send()
            .await?;
        Ok(rsp.status().as_u16())
    }
}

/// Sends every issue's deliveries (in [`send_order`]), `parallel` issues at a time, spreading
/// consecutive sends of an issue over the replicas. Returns the first error, if any.
pub async fn send_all(
    balancer: Arc<Balancer>,
    issues: Vec<Vec<Hook>>,
    parallel: usize,
) -> Result<(), String> {
    let gate = Arc::new(Semaphore::new(parallel));
    let mut tasks = Vec::new();
    for (n, hooks) in issues.into_iter().enumerate() {
        let balancer = balancer.clone();
        let gate = gate.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.map_err(|e| e.to_string())?;
            for (k, j) in send_order(hooks.len()).into_iter().enumerate() {
                balancer.deliver(&hooks[j], n + k).await?;
            }
            Ok::<(), String>(())
        }));
    }
    for task in tasks {
        task.await
            .map_err(|e| format!("sender task failed: {e}"))??;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::send_order;

    #[test]
    fn send_order_sends_each_and_some_twice() {
        assert_eq!(send_order(6), vec![0, 1, 2, 2, 3, 4, 2, 5, 5]);
    }
}
