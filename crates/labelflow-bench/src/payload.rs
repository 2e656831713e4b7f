//! Ingest request bodies: GitLab's documented Issue Hook example
//! (`tests/fixtures/gitlab-docs/issue_open.json`, about 4 KB) varied per issue, and the
//! delivery ids, a fixed share of which repeat an earlier delivery as GitLab's retries do.

use anyhow::Context;
use bytes::Bytes;
use serde_json::Value;
use std::path::Path;

/// The bodies to cycle through and how often a delivery is a duplicate.
pub struct Shots {
    bodies: Vec<Bytes>,
    /// Every `duplicate_every`-th delivery repeats the previous one (0: none).
    duplicate_every: usize,
    run: String,
}

/// One delivery to send.
pub struct Shot {
    pub body: Bytes,
    /// `webhook-id` / `Idempotency-Key`.
    pub webhook_id: String,
    pub duplicate: bool,
}

impl Shots {
    /// `variants` bodies made from the fixture, each for another issue (id, iid, title).
    pub fn from_fixture(
        path: &Path,
        variants: usize,
        duplicate_percent: u32,
        run: &str,
    ) -> anyhow::Result<Shots> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the payload fixture {}", path.display()))?;
        let template: Value = serde_json::from_str(&text)
            .with_context(|| format!("parsing the payload fixture {}", path.display()))?;
        let mut bodies = Vec::with_capacity(variants.max(1));
        for n in 0..variants.max(1) {
            let mut body = template.clone();
            let attrs = body
                .get_mut("object_attributes")
                .and_then(Value::as_object_mut)
                .context("the fixture has no object_attributes object")?;
            let iid = n as u64 + 1;
            attrs.insert("id".into(), Value::from(100_000 + iid));
            attrs.insert("iid".into(), Value::from(iid));
            let title = format!("Bench issue {iid}: create/update/delete file");
            attrs.insert("title".into(), Value::from(title));
            bodies.push(Bytes::from(serde_json::to_vec(&body)?));
        }
        let duplicate_every = match duplicate_percent {
            0 => 0,
            p => (100 / p.min(100)) as usize,
        };
        Ok(Shots {
            bodies,
            duplicate_every,
            run: run.to_string(),
        })
    }

    /// Delivery number `i` of a load run: deterministic, so every target gets the same mix.
    pub fn shot(&self, i: usize) -> Shot {
        let duplicate = self.duplicate_every > 0 && i > 0 && i.is_multiple_of(self.duplicate_every);
        let source = if duplicate { i - 1 } else { i };
        Shot {
            body: self.bodies[source % self.bodies.len()].clone(),
            webhook_id: format!("{}-{source}", self.run),
            duplicate,
        }
    }

    pub fn body_bytes(&self) -> usize {
        self.bodies.first().map(Bytes::len).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/gitlab-docs/issue_open.json")
    }

    #[test]
    fn every_tenth_delivery_repeats_the_previous_one() {
        let shots = Shots::from_fixture(&fixture(), 4, 10, "r1").expect("fixture");
        let dups: Vec<usize> = (0..30).filter(|i| shots.shot(*i).duplicate).collect();
        assert_eq!(dups, vec![10, 20]);
        let (a, b) = (shots.shot(9), shots.shot(10));
        assert_eq!(b.webhook_id, "r1-9");
        assert_eq!(a.webhook_id, b.webhook_id);
        assert_eq!(a.body, b.body);
        assert_eq!(shots.shot(11).webhook_id, "r1-11");
    }

    #[test]
    fn bodies_are_the_documented_issue_hook_with_another_issue() {
        let shots = Shots::from_fixture(&fixture(), 3, 0, "r").expect("fixture");
        let v: Value = serde_json::from_slice(&shots.shot(2).body).expect("json");
        assert_eq!(v["object_kind"], "issue");
        assert_eq!(v["object_attributes"]["iid"], 3);
        assert_eq!(v["object_attributes"]["id"], 100_003);
        assert_eq!(v["changes"]["labels"]["current"][0]["title"], "Platform");
        assert!(shots.body_bytes() > 3000, "{}", shots.body_bytes());
        assert!((0..50).all(|i| !shots.shot(i).duplicate));
    }
}
