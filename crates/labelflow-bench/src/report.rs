//! Renders [`Results`] as markdown tables, with labelflow / peer ratios and the targets from
//! issue 10.

use crate::load::LoadResult;
use crate::results::{Results, ServiceResults};
use crate::stats::Summary;
use std::fmt::Write;

fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

/// `a / b`, or a dash when either side is missing or zero.
fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if a > 0.0 && b > 0.0 => format!("{:.2}", a / b),
        _ => "–".to_string(),
    }
}

fn services(r: &Results) -> Vec<&ServiceResults> {
    std::iter::once(&r.labelflow)
        .chain(r.peer.as_ref())
        .chain(r.ceiling.as_ref())
        .collect()
}

/// A memory reading, or a dash when the service was not running then.
fn mib_or_dash(kib: u64) -> String {
    if kib == 0 { "–".into() } else { mib(kib) }
}

fn load_row(out: &mut String, name: &str, l: &LoadResult) {
    let other: Vec<String> = l
        .statuses
        .iter()
        .filter(|(s, _)| !(200..300).contains(*s))
        .map(|(s, n)| {
            if *s == 0 {
                format!("{n}× no answer")
            } else {
                format!("{n}× {s}")
            }
        })
        .collect();
    let _ = writeln!(
        out,
        "| {name} | {} | {} | {} | {:.0} | {} | {} | {} | {} |",
        if l.connections > 0 {
            format!("closed loop, {} conns", l.connections)
        } else {
            format!("{:.0}/s", l.offered_per_s)
        },
        l.sent,
        l.duplicates_sent,
        l.acked_per_s,
        ms(l.ack.p50_ms),
        ms(l.ack.p99_ms),
        ms(l.ack.max_ms),
        if other.is_empty() {
            "none".to_string()
        } else {
            other.join(", ")
        },
    );
}

pub fn markdown(r: &Results) -> String {
    let mut out = String::new();
    let s = &r.settings;
    let peer = r.peer.as_ref();
    let lf = &r.labelflow;

    let _ = writeln!(out, "### Ingest: webhooks acknowledged\n");
    let _ = writeln!(
        out,
        "Issue Hook bodies of {} bytes (GitLab's documented example, varied per issue), every \
         {}th delivery a duplicate of the one before (same `webhook-id`); `X-Gitlab-Token` \
         checked by both. labelflow runs with `--workers 0` here, so the numbers are ingest \
         alone (verify, parse, dedupe, durable SQLite append, ack). Fixed rates are open loop, \
         {} s each; latency counts from each request's scheduled send time.\n",
        s.body_bytes,
        if s.duplicate_percent == 0 {
            "–".to_string()
        } else {
            (100 / s.duplicate_percent.min(100)).to_string()
        },
        s.rate_seconds
    );
    let _ = writeln!(
        out,
        "| service | load | sent | duplicates | acked/s | p50 ms | p99 ms | max ms | not 2xx |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    for rate in &s.rates {
        for svc in services(r) {
            if let Some(l) = svc.rate(*rate) {
                load_row(&mut out, &svc.name, l);
            }
        }
    }
    for svc in services(r) {
        if let Some(l) = &svc.saturation {
            load_row(&mut out, &svc.name, l);
        }
    }

    let others: Vec<&ServiceResults> = peer.into_iter().chain(r.ceiling.as_ref()).collect();
    if !others.is_empty() {
        let names: Vec<String> = others
            .iter()
            .map(|o| format!("labelflow / {}", o.name))
            .collect();
        let _ = writeln!(out, "\nRatios:\n");
        let _ = writeln!(out, "| measure | {} |", names.join(" | "));
        let _ = writeln!(out, "|---|{}", "---|".repeat(others.len()));
        let sat = |x: &ServiceResults| x.saturation.as_ref().map(|l| l.acked_per_s);
        let cells: Vec<String> = others.iter().map(|o| ratio(sat(lf), sat(o))).collect();
        let _ = writeln!(
            out,
            "| saturation throughput (higher is better) | {} |",
            cells.join(" | ")
        );
        for rate in &s.rates {
            let p99 = |x: &ServiceResults| x.rate(*rate).map(|l| l.ack.p99_ms);
            let cells: Vec<String> = others.iter().map(|o| ratio(p99(lf), p99(o))).collect();
            let _ = writeln!(
                out,
                "| ack p99 at {rate:.0}/s (lower is better) | {} |",
                cells.join(" | ")
            );
        }
    }

    let _ = writeln!(out, "\n### End to end: label added → comment exists\n");
    let _ = writeln!(
        out,
        "{} label-change webhooks (captured from the simulator, one per issue) sent at {}/s; \
         time from sending the webhook to the comment's creation in the simulator. labelflow \
         with {} workers.\n",
        s.e2e_events, s.e2e_rate, s.labelflow_workers
    );
    let _ = writeln!(
        out,
        "| simulator latency per API call | service | commented | duplicates | ack p50 ms | e2e p50 ms | e2e p99 ms | e2e max ms |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for latency in &s.sim_latencies_ms {
        for svc in services(r) {
            if let Some(e) = svc.e2e_at(*latency) {
                let _ = writeln!(
                    out,
                    "| {latency} ms | {} | {}/{} | {} | {} | {} | {} | {} |",
                    svc.name,
                    e.commented,
                    e.events,
                    e.duplicated,
                    ms(e.ack.p50_ms),
                    ms(e.end_to_end.p50_ms),
                    ms(e.end_to_end.p99_ms),
                    ms(e.end_to_end.max_ms),
                );
            }
        }
        if let Some(p) = peer {
            let get = |x: &ServiceResults, f: fn(&Summary) -> f64| {
                x.e2e_at(*latency).map(|e| f(&e.end_to_end))
            };
            let _ = writeln!(
                out,
                "| {latency} ms | labelflow / gidgetlab | | | | {} | {} | |",
                ratio(get(lf, |s| s.p50_ms), get(p, |s| s.p50_ms)),
                ratio(get(lf, |s| s.p99_ms), get(p, |s| s.p99_ms)),
            );
        }
    }

    let _ = writeln!(
        out,
        "\n### API economy: GitLab requests per workflow step\n"
    );
    let _ = writeln!(
        out,
        "The step needs one write (`POST …/notes`). labelflow also re-reads the issue once by \
         design (webhooks arrive late, twice or out of order; the tracker is the truth), so its \
         minimum is 2; the peer trusts the payload, so its minimum is 1.\n"
    );
    let _ = writeln!(
        out,
        "| service | simulator latency | requests / step | minimum | requests by route |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    for svc in services(r) {
        let minimum = if svc.name == "labelflow" { 2 } else { 1 };
        for e in &svc.e2e {
            let routes: Vec<String> = e
                .api
                .by_route
                .iter()
                .map(|(k, v)| format!("{v}× `{k}`"))
                .collect();
            let _ = writeln!(
                out,
                "| {} | {} ms | {:.2} | {minimum} | {} |",
                svc.name,
                e.sim_latency_ms,
                e.api.per_step,
                routes.join(", ")
            );
        }
    }

    if !r.processing.is_empty() {
        let _ = writeln!(
            out,
            "\n### Processing: queued events → comments, one SQLite file\n"
        );
        let _ = writeln!(
            out,
            "{} label-change events queued by an ingest-only instance; a second instance with N \
             workers then starts on the same file, timed from healthy until the last comment \
             exists in the simulator (at most {} s; the rate counts what was done by then). \
             Each event: claim, re-read the issue, plan, record the plan, post the comment, \
             record the ledger entry, the trace and the outcome.\n",
            s.processing_events, s.processing_seconds
        );
        let _ = writeln!(
            out,
            "| simulator latency | workers | processed | duplicates | seconds | events/s |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for p in &r.processing {
            let _ = writeln!(
                out,
                "| {} ms | {} | {}/{} | {} | {:.2} | {:.0} |",
                p.sim_latency_ms,
                p.workers,
                p.processed,
                p.queued,
                p.duplicated,
                p.elapsed_s,
                p.events_per_s
            );
        }
    }

    if let Some(b) = &r.rate_limits {
        let _ = writeln!(out, "\n{}", crate::burst::markdown(b));
    }

    let _ = writeln!(out, "\n### Footprint\n");
    let _ = writeln!(
        out,
        "| service | start-up to healthy, ms | to GitLab connected, ms | idle RSS MiB | RSS after e2e MiB | RSS after ingest MiB | peak RSS MiB |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for svc in services(r) {
        let peak = svc.after_e2e.peak_kib.max(svc.after_ingest.peak_kib);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            svc.name,
            ms(svc.startup_ms),
            svc.gitlab_connected_ms
                .map(ms)
                .unwrap_or_else(|| "–".into()),
            mib_or_dash(svc.idle.rss_kib),
            mib_or_dash(svc.after_e2e.rss_kib),
            mib_or_dash(svc.after_ingest.rss_kib),
            mib_or_dash(peak),
        );
    }
    if let Some(p) = peer {
        let _ = writeln!(
            out,
            "\nlabelflow / gidgetlab: start-up {}, idle RSS {}.",
            ratio(Some(lf.startup_ms), Some(p.startup_ms)),
            ratio(Some(lf.idle.rss_kib as f64), Some(p.idle.rss_kib as f64))
        );
    }

    targets_table(&mut out, "Targets (issue 21)", &targets_21(r));
    targets_table(&mut out, "Targets (issue 10)", &targets(r));
    out
}

fn targets_table(out: &mut String, title: &str, targets: &[Target]) {
    let _ = writeln!(out, "\n### {title}\n");
    let _ = writeln!(out, "| target | measured | met |");
    let _ = writeln!(out, "|---|---|---|");
    for t in targets {
        let met = match t.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "not measured",
        };
        let _ = writeln!(out, "| {} | {} | {met} |", t.name, t.measured);
    }
}

/// One of issue 10's targets and what this run measured for it.
pub struct Target {
    pub name: &'static str,
    pub measured: String,
    pub met: Option<bool>,
}

pub fn targets(r: &Results) -> Vec<Target> {
    let lf = &r.labelflow;
    let sat = lf.saturation.as_ref().map(|l| l.acked_per_s);
    let p99_1000 = lf.rate(1000.0).map(|l| l.ack.p99_ms);
    let e2e0 = lf.e2e_at(0).map(|e| e.end_to_end.p50_ms);
    let per_step = lf.e2e_at(0).map(|e| e.api.per_step);
    let idle = lf.idle.rss_kib;
    let show = |v: Option<f64>, unit: &str| {
        v.map(|v| format!("{} {unit}", ms(v)))
            .unwrap_or_else(|| "–".into())
    };
    vec![
        Target {
            name: "ingest ≥ 5,000 durable webhooks/s",
            measured: show(sat, "/s"),
            met: sat.map(|v| v >= 5000.0),
        },
        Target {
            name: "ack p99 < 10 ms at 1,000/s",
            measured: show(p99_1000, "ms"),
            met: p99_1000.map(|v| v < 10.0),
        },
        Target {
            name: "end-to-end p50 < 20 ms, simulator at 0 ms",
            measured: show(e2e0, "ms"),
            met: e2e0.map(|v| v < 20.0),
        },
        Target {
            name: "requests per step = the minimum (2)",
            measured: per_step
                .map(|v| format!("{v:.2}"))
                .unwrap_or_else(|| "–".into()),
            met: per_step.map(|v| (v - 2.0).abs() < 1e-9),
        },
        Target {
            name: "note burst ≤ 1.1× the minimum the rate limits allow, no 429",
            measured: r
                .rate_limits
                .as_ref()
                .map(|b| {
                    format!(
                        "{:.1} s of {:.1} s ({:.3}×), {} 429s",
                        b.seconds, b.minimum_seconds, b.ratio, b.too_many_requests
                    )
                })
                .unwrap_or_else(|| "–".into()),
            met: r
                .rate_limits
                .as_ref()
                .map(|b| b.ratio <= 1.1 && b.too_many_requests == 0 && b.commented == b.events),
        },
        Target {
            name: "idle RSS < 30 MB",
            measured: format!("{} MiB", mib(idle)),
            met: (idle > 0).then_some(idle < 30 * 1000 * 1000 / 1024),
        },
    ]
}

/// Issue 21's targets: ingest against the peer and the ceiling, processing, memory.
pub fn targets_21(r: &Results) -> Vec<Target> {
    let lf = &r.labelflow;
    let sat =
        |x: Option<&ServiceResults>| x.and_then(|x| x.saturation.as_ref()).map(|l| l.acked_per_s);
    let times = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    };
    let vs_peer = times(sat(Some(lf)), sat(r.peer.as_ref()));
    let vs_ceiling = times(sat(Some(lf)), sat(r.ceiling.as_ref()));
    let show_ratio = |v: Option<f64>| v.map(|v| format!("{v:.2}×")).unwrap_or_else(|| "–".into());
    let mut out = vec![
        Target {
            name: "saturation ≥ 2× the peer",
            measured: show_ratio(vs_peer),
            met: vs_peer.map(|v| v >= 2.0),
        },
        Target {
            name: "saturation ≥ 0.9× the ceiling",
            measured: show_ratio(vs_ceiling),
            met: vs_ceiling.map(|v| v >= 0.9),
        },
    ];
    for (rate, name) in [
        (500.0, "ack p99 ≤ the peer's at 500/s"),
        (1000.0, "ack p99 ≤ the peer's at 1,000/s"),
        (2000.0, "ack p99 ≤ the peer's at 2,000/s"),
    ] {
        let mine = lf.rate(rate).map(|l| l.ack.p99_ms);
        let theirs = r
            .peer
            .as_ref()
            .and_then(|p| p.rate(rate))
            .map(|l| l.ack.p99_ms);
        out.push(Target {
            name,
            measured: match (mine, theirs) {
                (Some(a), Some(b)) => format!("{} ms vs {} ms", ms(a), ms(b)),
                _ => "–".into(),
            },
            met: mine.zip(theirs).map(|(a, b)| a <= b),
        });
    }
    let best0 = r
        .processing
        .iter()
        .filter(|p| p.sim_latency_ms == 0)
        .map(|p| p.events_per_s)
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    out.push(Target {
        name: "processing ≥ 2,000 events/s, simulator at 0 ms",
        measured: best0
            .map(|v| format!("{v:.0}/s"))
            .unwrap_or_else(|| "–".into()),
        met: best0.map(|v| v >= 2000.0),
    });
    let idle = lf.idle.rss_kib;
    out.push(Target {
        name: "idle RSS ≤ 15 MiB",
        measured: format!("{} MiB", mib(idle)),
        met: (idle > 0).then_some(idle <= 15 * 1024),
    });
    out
}
