//! Each workflow drawn from its configuration as an SVG state diagram, made on the server: the
//! stages top to bottom with arrows, beside each what its guard requires and who may apply it;
//! then the other guarded labels; then the follow-ups and stale policies as lists.
//!
//! Drawn by hand rather than with a layout engine: the diagram is a column of boxes, and an
//! engine (Graphviz, Mermaid) would mean a run-time dependency or JavaScript in the page.

use crate::domain::IssueState;
use crate::engine::Engine;
use crate::engine::config::{ActionSpec, Workflow};
use crate::engine::explain::{self, Readiness};
use maud::{Markup, html};

const WIDTH: u32 = 900;
const BOX_X: u32 = 20;
const BOX_W: u32 = 280;
const TEXT_X: u32 = 320;
const LINE: u32 = 16;
const GAP: u32 = 28;
/// Characters per line of the requirement text beside a box.
const WRAP: usize = 72;

/// What a box says beside it: guard requirements and who may apply the label.
fn notes(engine: &Engine, wf: &Workflow, label: &str) -> Vec<String> {
    // Evaluated against an empty issue: every guard requirement shows, as configured.
    let blank = blank_issue();
    let r: Readiness = explain::readiness(engine, wf, &blank, "", label);
    let mut out: Vec<String> = wf
        .guards
        .iter()
        .filter(|g| g.label.value == label)
        .flat_map(|g| g.requires.iter().map(|q| format!("needs {}", q.missing)))
        .collect();
    if let Some(who) = r.restricted_to {
        out.push(format!("only {who} may apply it"));
    }
    if wf
        .required_fields
        .iter()
        .any(|f| f.when_label.value == label)
    {
        out.push("checks its required fields".to_string());
    }
    out
}

fn blank_issue() -> IssueState {
    IssueState {
        id: 0,
        iid: 0,
        project_id: 0,
        project_path: String::new(),
        title: String::new(),
        description: String::new(),
        state: crate::domain::IssueStatus::Opened,
        labels: Vec::new(),
        assignees: Vec::new(),
        author: String::new(),
        confidential: false,
        web_url: String::new(),
        created_at: chrono::DateTime::UNIX_EPOCH,
        updated_at: chrono::DateTime::UNIX_EPOCH,
        status: None,
        work_item_type: "Issue".to_string(),
        custom_fields: Default::default(),
    }
}

fn wrap(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > WRAP {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

struct Node {
    label: String,
    lines: Vec<String>,
    stage: bool,
}

/// The workflow's diagram and lists.
pub(super) fn workflow(engine: &Engine, name: &str, wf: &Workflow) -> Markup {
    let stages = explain::stages(wf);
    let mut nodes: Vec<Node> = stages
        .iter()
        .map(|s| Node {
            label: s.clone(),
            lines: notes(engine, wf, s).iter().flat_map(|n| wrap(n)).collect(),
            stage: true,
        })
        .collect();
    for g in &wf.guards {
        let label = &g.label.value;
        if !stages.contains(label) && !nodes.iter().any(|n| &n.label == label) {
            nodes.push(Node {
                label: label.clone(),
                lines: notes(engine, wf, label)
                    .iter()
                    .flat_map(|n| wrap(n))
                    .collect(),
                stage: false,
            });
        }
    }
    let mut y = 20;
    let mut placed = Vec::new();
    for n in &nodes {
        let h = (LINE * n.lines.len() as u32 + 12).max(40);
        placed.push((y, h));
        y += h + GAP;
    }
    let height = y;
    html! {
        svg.diagram xmlns="http://www.w3.org/2000/svg" width=(WIDTH) height=(height)
            viewBox={ "0 0 " (WIDTH) " " (height) } role="img"
            aria-label={ "Workflow " (name) ": stages and their prerequisites" } {
            defs {
                marker #arrow viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto" {
                    path d="M 0 0 L 10 5 L 0 10 z" {}
                }
            }
            @for (i, (n, (y, h))) in nodes.iter().zip(&placed).enumerate() {
                g.{ @if n.stage { "stage" } @else { "guarded" } } {
                    rect x=(BOX_X) y=(y) width=(BOX_W) height=(h) rx="8" {}
                    text.label x=(BOX_X + 12) y=(y + 24) { (n.label) }
                    @for (k, line) in n.lines.iter().enumerate() {
                        text.note x=(TEXT_X) y=(y + 18 + LINE * k as u32) { (line) }
                    }
                }
                @if n.stage && nodes.get(i + 1).is_some_and(|next| next.stage) {
                    line.arrow x1=(BOX_X + BOX_W / 2) y1=(y + h) x2=(BOX_X + BOX_W / 2) y2=(y + h + GAP - 2) marker-end="url(#arrow)" {}
                }
            }
        }
        (lists(name, wf))
    }
}

fn lists(name: &str, wf: &Workflow) -> Markup {
    let followups: Vec<(String, String)> = wf
        .rules
        .iter()
        .flat_map(|r| r.actions.iter().map(move |a| (r, a)))
        .filter_map(|(r, a)| match a {
            ActionSpec::ScheduleFollowup(f) => Some((
                format!("{name}/{}", f.name),
                format!(
                    "scheduled by rule `{}`, due {} day(s) {} minute(s) {} second(s) later",
                    r.name.value, f.after_days, f.after_minutes, f.after_seconds
                ),
            )),
            _ => None,
        })
        .collect();
    html! {
        @if !followups.is_empty() {
            h3 { "Follow-ups" }
            ul { @for (n, what) in &followups { li { code { (n) } ": " (what) } } }
        }
        @if !wf.stale.is_empty() {
            h3 { "Stale policies" }
            ul { @for p in &wf.stale {
                li {
                    code { (p.stage.value) } ": nudge the " (p.owner_role.value) " role after " (p.idle_days) " idle day(s), mark stale "
                    (p.grace_days) " day(s) later"
                    @if let Some(c) = p.close_after_days { ", close " (c) " day(s) after that" }
                }
            } }
        }
    }
}
