//! Prints the simulated tracker as people would read it: each issue with its labels and
//! assignees, then who did what, in order.

use super::DemoWorld;
use crate::sim::LabelAction;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

struct Entry {
    at: DateTime<Utc>,
    order: u64,
    who: String,
    what: String,
}

/// Lines of a bot comment worth showing: markers and blank lines dropped, at most `max`.
fn excerpt(body: &str, max: usize) -> Vec<String> {
    let lines: Vec<&str> = body
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("<!--"))
        .collect();
    let mut out: Vec<String> = lines.iter().take(max).map(|l| l.to_string()).collect();
    if lines.len() > max {
        out.push(format!("… ({} more lines)", lines.len() - max));
    }
    out
}

pub fn print(w: &DemoWorld) {
    let mut names: BTreeMap<u64, String> = BTreeMap::new();
    let mut usernames: Vec<String> = w.engine.config.directory.people();
    usernames.extend(super::scenario::PEOPLE.iter().map(|s| s.to_string()));
    usernames.push(w.engine.bot().to_string());
    for u in usernames {
        if let Some(user) = w.sim.user(&u) {
            names.insert(user.id, user.username);
        }
    }
    let name = |id: u64| {
        names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("user{id}"))
    };
    let mut refs: BTreeMap<u64, String> = BTreeMap::new();
    for (pname, pid) in &w.projects {
        let path = w
            .engine
            .config
            .projects
            .get(pname)
            .cloned()
            .unwrap_or_default();
        for i in w.sim.issues(*pid) {
            refs.insert(i.id, format!("{path}#{}", i.iid));
        }
    }

    println!("Tracker state and history");
    println!("=========================");
    for (pname, pid) in &w.projects {
        let path = w
            .engine
            .config
            .projects
            .get(pname)
            .cloned()
            .unwrap_or_default();
        let issues = w.sim.issues(*pid);
        if issues.is_empty() {
            continue;
        }
        let labels: BTreeMap<u64, String> = w
            .sim
            .labels(*pid)
            .into_iter()
            .map(|l| (l.id, l.title))
            .collect();
        for issue in issues {
            println!();
            println!(
                "{path}#{}  \"{}\"  [{}{}]",
                issue.iid,
                issue.title,
                match issue.state {
                    crate::sim::IssueStatus::Opened => "open",
                    crate::sim::IssueStatus::Closed => "closed",
                },
                if issue.confidential {
                    ", confidential"
                } else {
                    ""
                }
            );
            println!(
                "  labels:    {}",
                if issue.labels.is_empty() {
                    "—".to_string()
                } else {
                    issue
                        .labels
                        .iter()
                        .map(|l| format!("~\"{l}\""))
                        .collect::<Vec<_>>()
                        .join(" ")
                }
            );
            let assignees: Vec<String> = issue
                .assignee_ids
                .iter()
                .map(|id| format!("@{}", name(*id)))
                .collect();
            println!(
                "  assignees: {}",
                if assignees.is_empty() {
                    "—".to_string()
                } else {
                    assignees.join(" ")
                }
            );
            let linked: Vec<String> = w
                .sim
                .links()
                .iter()
                .filter_map(|l| {
                    if l.source_issue_id == issue.id {
                        refs.get(&l.target_issue_id).cloned()
                    } else if l.target_issue_id == issue.id {
                        refs.get(&l.source_issue_id).cloned()
                    } else {
                        None
                    }
                })
                .collect();
            if !linked.is_empty() {
                println!("  linked:    {}", linked.join(", "));
            }
            let mut entries = vec![Entry {
                at: issue.created_at,
                order: 0,
                who: name(issue.author_id),
                what: "opened the issue".to_string(),
            }];
            for e in w.sim.label_events(*pid, issue.iid) {
                let title = labels.get(&e.label_id).cloned().unwrap_or_default();
                entries.push(Entry {
                    at: e.created_at,
                    order: 1,
                    who: name(e.user_id),
                    what: match e.action {
                        LabelAction::Add => format!("added ~\"{title}\""),
                        LabelAction::Remove => format!("removed ~\"{title}\""),
                    },
                });
            }
            for n in w.sim.notes(*pid, issue.iid) {
                if n.system {
                    if n.body.contains("label") {
                        continue;
                    }
                    entries.push(Entry {
                        at: n.created_at,
                        order: 2,
                        who: name(n.author_id),
                        what: n.body.clone(),
                    });
                    continue;
                }
                let mut what = String::from("commented:");
                for l in excerpt(&n.body, 6) {
                    what.push_str("\n                 │ ");
                    what.push_str(&l);
                }
                entries.push(Entry {
                    at: n.created_at,
                    order: 3,
                    who: name(n.author_id),
                    what,
                });
            }
            entries.sort_by(|a, b| a.at.cmp(&b.at).then(a.order.cmp(&b.order)));
            for e in entries {
                println!("  {}  @{:<24} {}", e.at.format("%H:%M:%S"), e.who, e.what);
            }
        }
    }
}
