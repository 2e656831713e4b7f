//! Target 3: comment bodies through command parsing and the planner of the shipped
//! configuration. Starts from the real commands (`@labelflow buy-in approve`, `claim`,
//! `cla recheck`, …) and mutates them with mentions, quick actions, markers, quotes, fences,
//! Unicode, case and size, on issues made from the shipped issue templates with hostile
//! fields, by people with and without the roles the commands need.
//!
//! A third of the cases add one of the issue's labels instead, so the label rules, guards and
//! required-field checks read the same hostile issue.
//!
//! Never a panic, never a template that fails on what users wrote, and no text of the plan
//! (comments, created issues, chat messages) starts a line with `/`, mentions everyone or a
//! group, or carries a marker or HTML of the users' making.

use super::driver::Tally;
use super::mutate;
use super::shipped::{self, ACTORS};
use labelflow::domain::{EventKind, IssueState};
use labelflow::engine::command::parse_commands;
use labelflow::engine::plan;
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;

/// Comments people write to the bot.
const COMMENTS: &[&str] = &[
    "@labelflow buy-in approve",
    "@labelflow buy-in decline not on this year's roadmap",
    "@labelflow buy-in decline",
    "@labelflow claim",
    "@labelflow cla recheck",
    "Thanks!\n@labelflow claim\n",
    "> @labelflow claim\n\nquoted, not a command",
    "```\n@labelflow buy-in approve\n```",
    "@LabelFlow  BUY-IN   approve",
    "@labelflow frobnicate now",
    "@labelflow",
    "LGTM @labelflow buy-in approve",
];

#[derive(Debug, Clone)]
pub struct Case {
    pub issue: IssueState,
    pub actor: String,
    pub body: String,
    /// Instead of the comment, one of the issue's labels was just added (the label rules,
    /// guards and required-field checks then read the same hostile issue).
    pub label_added: Option<String>,
}

pub fn generate(rng: &mut StdRng) -> Case {
    let mut body = COMMENTS.choose(rng).expect("comments").to_string();
    for _ in 0..rng.random_range(0..3) {
        body = mutate::edit_text(rng, &body);
    }
    if rng.random_bool(0.1) {
        body = body.repeat(rng.random_range(2..200));
    }
    let mut issue = shipped::issue(rng);
    let label_added = rng.random_bool(0.3).then(|| {
        let label = shipped::labels().choose(rng).expect("labels").clone();
        issue.labels.push(label.clone());
        label
    });
    Case {
        issue,
        actor: ACTORS.choose(rng).expect("actors").to_string(),
        body,
        label_added,
    }
}

/// Cases whose plan had a text for GitLab (a reply, a refusal, a created issue).
pub static ANSWERED: Tally = Tally::new();

pub fn check(c: &Case) -> Result<(), String> {
    let engine = shipped::engine();
    let commands = parse_commands(&c.body, engine.bot());
    for line in &commands {
        if line.words.is_empty() || line.words.iter().any(|w| w.is_empty()) {
            return Err(format!("an empty command word in {line:?}"));
        }
    }
    let event = match &c.label_added {
        Some(label) => shipped::event(&c.issue, &c.actor, EventKind::Updated, vec![label.clone()]),
        None => shipped::event(
            &c.issue,
            &c.actor,
            EventKind::Comment {
                note_id: 42,
                body: c.body.clone(),
                internal: false,
            },
            vec![],
        ),
    };
    let plan = plan(engine, &event, &c.issue, shipped::now())
        .map_err(|e| format!("the shipped templates failed on user text: {e}"))?;
    let texts = shipped::texts(&plan.actions);
    if !texts.is_empty() {
        ANSWERED.add();
    }
    for (what, text) in texts {
        shipped::check_text(what, text)?;
    }
    Ok(())
}
