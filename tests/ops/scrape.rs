//! A small reader for the Prometheus text format, so tests assert exact sample values.

use std::collections::BTreeMap;

/// Samples by name and label set.
#[derive(Debug, Default)]
pub struct Scrape {
    pub text: String,
    samples: BTreeMap<(String, Vec<(String, String)>), f64>,
}

impl Scrape {
    pub fn parse(text: &str) -> Scrape {
        let mut samples = BTreeMap::new();
        for line in text.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (name, labels, rest) = match line.find('{') {
                Some(open) => {
                    let (labels, after) = parse_labels(&line[open + 1..])
                        .unwrap_or_else(|| panic!("bad label set in {line:?}"));
                    (line[..open].to_string(), labels, after)
                }
                None => {
                    let (name, rest) = line.split_once(' ').expect("name and value");
                    (name.to_string(), Vec::new(), rest)
                }
            };
            let value: f64 = rest
                .split_whitespace()
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("bad value in {line:?}"));
            let mut labels = labels;
            labels.sort();
            samples.insert((name, labels), value);
        }
        Scrape {
            text: text.to_string(),
            samples,
        }
    }

    /// The sample with exactly these labels; 0 when absent (a counter never bumped).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let mut key: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        key.sort();
        self.samples
            .get(&(name.to_string(), key))
            .copied()
            .unwrap_or(0.0)
    }

    /// Sum over every sample of `name` whose labels include `labels`.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|((n, ls), _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| ls.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, v)| *v)
            .sum()
    }
}

/// `k="v",k2="v2"} rest` → labels and the rest after `}`.
fn parse_labels(s: &str) -> Option<(Vec<(String, String)>, &str)> {
    let mut out = Vec::new();
    let mut rest = s;
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return Some((out, after));
        }
        let eq = rest.find('=')?;
        let key = rest[..eq].trim_start_matches(',').to_string();
        let mut chars = rest[eq + 1..].char_indices();
        if chars.next()?.1 != '"' {
            return None;
        }
        let mut value = String::new();
        let mut end = None;
        let mut escaped = false;
        for (i, c) in chars {
            match (escaped, c) {
                (true, 'n') => {
                    value.push('\n');
                    escaped = false;
                }
                (true, c) => {
                    value.push(c);
                    escaped = false;
                }
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = Some(eq + 1 + i + 1);
                    break;
                }
                (false, c) => value.push(c),
            }
        }
        out.push((key, value));
        rest = rest[end?..].trim_start_matches(',');
    }
}

/// GETs `/metrics` from a running service.
pub async fn scrape(addr: std::net::SocketAddr) -> Scrape {
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics body");
    Scrape::parse(&text)
}

#[test]
fn parses_labels_with_spaces_quotes_and_slashes() {
    let s = Scrape::parse(
        "# TYPE x counter\nx_total{outcome=\"accepted\",reason=\"Issue Hook\"} 3\n\
         y{endpoint=\"projects/:id/issues\",q=\"a\\\"b\"} 1.5\nz 7\n",
    );
    assert_eq!(
        s.value(
            "x_total",
            &[("reason", "Issue Hook"), ("outcome", "accepted")]
        ),
        3.0
    );
    assert_eq!(
        s.value("y", &[("endpoint", "projects/:id/issues"), ("q", "a\"b")]),
        1.5
    );
    assert_eq!(s.value("z", &[]), 7.0);
    assert_eq!(s.value("x_total", &[("outcome", "accepted")]), 0.0);
    assert_eq!(s.sum("x_total", &[("outcome", "accepted")]), 3.0);
}
