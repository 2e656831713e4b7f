//! The description fields a workflow knows: named in `fields`, `required_fields`, conditions
//! and `vars`. Templates may read exactly these as `fields.<name>`.

use crate::engine::config::{Condition, VarSpec, Workflow};
use crate::engine::fields::field_key;
use std::collections::BTreeSet;

/// Every field name a workflow mentions, as `field_key`s.
pub(super) fn workflow_fields(wf: &Workflow) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = wf.fields.iter().map(|f| field_key(f)).collect();
    for rf in &wf.required_fields {
        out.extend(rf.fields.iter().map(|f| field_key(f)));
    }
    fn walk(c: &Condition, out: &mut BTreeSet<String>) {
        match c {
            Condition::FieldsPresent(fs) | Condition::FieldsMissing(fs) => {
                out.extend(fs.iter().map(|f| field_key(f)))
            }
            Condition::FieldMatches { field, .. }
            | Condition::FieldNotMatches { field, .. }
            | Condition::FieldAbove { field, .. }
            | Condition::FieldEquals { field, .. } => {
                out.insert(field_key(field));
            }
            Condition::All(cs) | Condition::Any(cs) => cs.iter().for_each(|c| walk(c, out)),
            Condition::Not(c) => walk(c, out),
            _ => {}
        }
    }
    for rule in &wf.rules {
        rule.conditions.iter().for_each(|c| walk(c, &mut out));
        for spec in rule.vars.values() {
            match spec {
                VarSpec::Field { field, .. } | VarSpec::Number { field, .. } => {
                    out.insert(field_key(field));
                }
                VarSpec::DateFromNow { .. } => {}
            }
        }
    }
    for g in &wf.guards {
        g.requires.iter().for_each(|r| walk(&r.condition, &mut out));
    }
    for rf in &wf.required_fields {
        rf.requires
            .iter()
            .for_each(|r| walk(&r.condition, &mut out));
    }
    out
}
