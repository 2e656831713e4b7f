//! The decision trace: why the planner did what it did, and why it did nothing, in plain words
//! beside the actions. Live processing stores it with each event; `labelflow plan` prints it.
//!
//! Every `reason` and `detail` is a sentence for people; the `outcome` enums are the
//! machine-readable part (JSON, metrics).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why an event led to the actions it did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// The event, in plain words ("`alice` added ~\"cocreate::triage\"").
    pub event: String,
    /// Why the planner looked no further, when it stopped before the workflows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(default)]
    pub workflows: Vec<WorkflowTrace>,
}

/// One workflow's part of the decision.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkflowTrace {
    pub workflow: String,
    pub applies: bool,
    /// Why it does not apply (only when `applies` is false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why_not: Option<String>,
    /// Restricted labels, guards and required-fields checks this event ran.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckTrace>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleTrace>,
}

/// Which workflow-wide check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    RestrictedLabel,
    Guard,
    RequiredFields,
}

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckOutcome {
    /// The label stays.
    Passed,
    /// The label was taken off again.
    Reverted,
    /// Fields are missing: the needs-info label and comment.
    FieldsMissing,
    /// The fields are complete (the needs-info label comes off, if it was there).
    FieldsComplete,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckTrace {
    pub check: CheckKind,
    pub label: String,
    pub outcome: CheckOutcome,
    /// What was seen, in plain words.
    pub detail: String,
    /// What is missing (guards and required fields), as the configuration words it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

/// How a rule ended for one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleOutcome {
    Fired,
    /// The event is not what the rule waits for.
    NotTriggered,
    /// The triggering label was reverted by a guard or a restricted label.
    LabelReverted,
    /// A condition was false.
    ConditionFalse,
    /// A `once` rule that already ran for this issue.
    OnceDone,
    /// The loop guard stopped its actions.
    LoopGuard,
    /// A command the actor may not run: refused with a reply.
    Refused,
    /// A command without the arguments it needs: answered with its usage.
    Usage,
    /// Fired, but everything it would do is already so (labels present, already assigned…).
    NothingToDo,
}

impl RuleOutcome {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleOutcome::Fired => "fired",
            RuleOutcome::NotTriggered => "not_triggered",
            RuleOutcome::LabelReverted => "label_reverted",
            RuleOutcome::ConditionFalse => "condition_false",
            RuleOutcome::OnceDone => "once_done",
            RuleOutcome::LoopGuard => "loop_guard",
            RuleOutcome::Refused => "refused",
            RuleOutcome::Usage => "usage",
            RuleOutcome::NothingToDo => "nothing_to_do",
        }
    }
}

impl fmt::Display for RuleOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words = match self {
            RuleOutcome::Fired => "fired",
            RuleOutcome::NotTriggered => "not triggered",
            RuleOutcome::LabelReverted => "not fired: its label was reverted",
            RuleOutcome::ConditionFalse => "not fired: a condition is false",
            RuleOutcome::OnceDone => "not fired again",
            RuleOutcome::LoopGuard => "stopped by the loop guard",
            RuleOutcome::Refused => "refused",
            RuleOutcome::Usage => "answered with its usage",
            RuleOutcome::NothingToDo => "fired, with nothing left to change",
        };
        f.write_str(words)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleTrace {
    pub rule: String,
    pub outcome: RuleOutcome,
    /// Why, in plain words.
    pub reason: String,
    /// Each condition, when they were evaluated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ConditionTrace>,
    /// Whether the rule runs once per issue (the worker then checks the ledger).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub once: bool,
}

/// One condition and what it saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionTrace {
    /// The condition as the configuration writes it (`fields_present [Customer]`).
    pub condition: String,
    pub holds: bool,
    /// The values it looked at (`Customer` is missing; labels: …; `alice` holds no role).
    pub seen: String,
}

impl Trace {
    /// The rules (workflow, rule, outcome) for metrics and summaries.
    pub fn rule_outcomes(&self) -> impl Iterator<Item = (&str, &RuleTrace)> {
        self.workflows
            .iter()
            .flat_map(|w| w.rules.iter().map(move |r| (w.workflow.as_str(), r)))
    }

    /// Changes the outcome of a fired rule after planning (the ledger says it ran once
    /// already, the loop guard stopped it).
    pub fn set_outcome(
        &mut self,
        workflow: &str,
        rule: &str,
        outcome: RuleOutcome,
        reason: String,
    ) {
        for w in self.workflows.iter_mut().filter(|w| w.workflow == workflow) {
            for r in w.rules.iter_mut().filter(|r| r.rule == rule) {
                if matches!(r.outcome, RuleOutcome::Fired | RuleOutcome::NothingToDo) {
                    r.outcome = outcome;
                    r.reason = reason.clone();
                }
            }
        }
    }

    /// The trace as text for people (without the event line, which callers word their way):
    /// workflows, checks, rules that fired or were held back, and one line for the rules this
    /// event did not concern.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for n in &self.notes {
            out.push_str(&format!("  {n}\n"));
        }
        for w in &self.workflows {
            if !w.applies {
                out.push_str(&format!(
                    "workflow `{}`: does not apply ({})\n",
                    w.workflow,
                    w.why_not
                        .as_deref()
                        .unwrap_or("not configured for this project")
                ));
                continue;
            }
            out.push_str(&format!("workflow `{}`:\n", w.workflow));
            for c in &w.checks {
                let what = match c.check {
                    CheckKind::RestrictedLabel => "restricted label",
                    CheckKind::Guard => "guard on",
                    CheckKind::RequiredFields => "required fields for",
                };
                let outcome = match c.outcome {
                    CheckOutcome::Passed => "passed",
                    CheckOutcome::Reverted => "reverted",
                    CheckOutcome::FieldsMissing => "fields missing",
                    CheckOutcome::FieldsComplete => "complete",
                };
                out.push_str(&format!(
                    "  {what} `{}`: {outcome}: {}\n",
                    c.label, c.detail
                ));
            }
            let mut idle = Vec::new();
            for r in &w.rules {
                if r.outcome == RuleOutcome::NotTriggered {
                    idle.push(format!("`{}`", r.rule));
                    continue;
                }
                out.push_str(&format!(
                    "  rule `{}`: {}: {}\n",
                    r.rule, r.outcome, r.reason
                ));
            }
            if !idle.is_empty() {
                out.push_str(&format!(
                    "  not triggered by this event: {}\n",
                    idle.join(", ")
                ));
            }
        }
        out
    }
}
