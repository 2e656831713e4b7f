//! Validation of `restricted_statuses:` and `status_guards:` (part of loading a
//! configuration). Status names themselves live in the namespace's lifecycle on GitLab, so
//! `labelflow setup` checks them against GitLab; here they only must not be empty.

use super::Validator;
use crate::engine::config::{ConfigFile, Sp, Workflow};

impl Validator {
    fn status_name(&mut self, s: &Sp, what: &str) {
        if s.value.trim().is_empty() {
            self.err(Some(s), format!("{what}: empty status name"));
        }
    }

    pub(super) fn check_statuses(&mut self, config: &ConfigFile, wf_name: &str, wf: &Workflow) {
        for r in &wf.restricted_statuses {
            let what = format!("workflow `{wf_name}` restricted_statuses");
            for s in &r.statuses {
                self.status_name(s, &what);
            }
            for role in &r.roles {
                self.role(config, &role.value, Some(role), &what);
            }
            if r.roles.is_empty()
                && !r.product_pms
                && let Some(first) = r.statuses.first()
            {
                self.err(
                    Some(first),
                    format!(
                        "{what}: nobody may set these statuses (expected `roles:` or `product_pms: true`)"
                    ),
                );
            }
        }
        for g in &wf.status_guards {
            let what = format!(
                "workflow `{wf_name}` status guard on \"{}\"",
                g.status.value
            );
            self.status_name(&g.status, &what);
            for req in &g.requires {
                self.condition(config, &req.condition, &g.status, &what);
                self.plain(&req.missing, &g.status, &what);
            }
        }
    }
}
