//! Checks of command triggers' declared arguments and of the label names actions apply,
//! which may be templated from those arguments.

use super::Validator;
use crate::engine::command_args;
use crate::engine::config::{CommandTrigger, Sp, Trigger};
use std::collections::BTreeSet;

impl Validator {
    /// A string that is not templated must not look like one: `{{…}}` there would reach
    /// people as written.
    pub(super) fn plain(&mut self, text: &str, at: &Sp, what: &str) {
        if text.contains("{{") {
            self.err(
                Some(at),
                format!(
                    "{what}: `{text}` contains `{{{{`, but this text is not a template (only template files, `create_issue` titles and command-argument labels are)"
                ),
            );
        }
    }

    pub(super) fn command_args(&mut self, c: &CommandTrigger, at: &Sp, what: &str) {
        if let Some(u) = &c.usage {
            self.plain(u, at, what);
        }
        if c.args.is_empty() {
            return;
        }
        if c.min_args > 0 {
            self.err(
                Some(at),
                format!("{what}: `min_args` and `args` together (with `args`, the declared arguments say how many words the command takes)"),
            );
        }
        let mut names = BTreeSet::new();
        for (i, a) in c.args.iter().enumerate() {
            let ok_name = !a.name.is_empty()
                && a.name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-');
            if !ok_name {
                self.err(
                    Some(at),
                    format!(
                        "{what}: argument name `{}` (expected letters, digits, `_` or `-`)",
                        a.name
                    ),
                );
            }
            if !names.insert(a.name.as_str()) {
                self.err(
                    Some(at),
                    format!("{what}: argument `{}` declared twice", a.name),
                );
            }
            if a.rest && i + 1 != c.args.len() {
                self.err(
                    Some(at),
                    format!(
                        "{what}: argument `{}` has `rest: true` but is not the last one",
                        a.name
                    ),
                );
            }
            if a.rest && !a.one_of.is_empty() {
                self.err(
                    Some(at),
                    format!(
                        "{what}: argument `{}` has both `rest: true` and `one_of`",
                        a.name
                    ),
                );
            }
            if a.one_of
                .iter()
                .any(|v| v.trim().is_empty() || v.contains(char::is_whitespace))
            {
                self.err(
                    Some(at),
                    format!(
                        "{what}: argument `{}`: each `one_of` value must be one word",
                        a.name
                    ),
                );
            }
        }
    }

    /// A label an `add_labels` / `remove_labels` action applies: plain, or (in a command
    /// rule with declared arguments) a template whose every expansion is a valid label.
    pub(super) fn action_label(&mut self, on: &Trigger, label: &Sp, what: &str) {
        if !command_args::is_templated(&label.value) {
            self.label(label, what);
            return;
        }
        let args = match on {
            Trigger::Command(c) if !c.args.is_empty() => &c.args,
            _ => {
                self.label(label, what);
                return;
            }
        };
        match command_args::expansions(&label.value, args) {
            Ok(all) => {
                for l in all {
                    let mut sp = label.clone();
                    sp.value = l;
                    self.label(&sp, what);
                }
            }
            Err(e) => self.err(Some(label), format!("{what}: {e}")),
        }
    }
}
