//! Planning a `cla_check` action. The planner stays pure: it names the subjects, resolves the
//! source and renders the three possible comments with placeholders for what only the lookup
//! can know; the executor reads the registry and picks the outcome.

use super::Engine;
use super::conditions::Facts;
use super::planner::PlanError;
use crate::actions::Action;
use crate::actions::cla::{ClaCheck, ClaComments, cla_placeholder};
use crate::cla::Subjects;
use crate::cla::config::ClaCheckSpec;
use crate::render::usernames_in_text;
use serde_json::{Value, json};

pub const SIGNED_TEMPLATE: &str = "builtin/cla_signed.md.hbs";
pub const MISSING_TEMPLATE: &str = "builtin/cla_missing.md.hbs";
pub const UNKNOWN_TEMPLATE: &str = "builtin/cla_unknown.md.hbs";

/// The `cla_check` action for this issue; `None` without a `cla:` section (validation
/// rejects such a configuration, so this only guards against an engine built by hand).
pub fn cla_action(
    engine: &Engine,
    spec: &ClaCheckSpec,
    facts: &Facts,
    ctx: &Value,
    recheck: bool,
    render: impl Fn(&str, &Value) -> Result<String, PlanError>,
) -> Result<Option<Action>, PlanError> {
    let Some(cla) = &engine.config.cla else {
        return Ok(None);
    };
    let fields = spec.resolve(&cla.subject);
    let subjects = Subjects {
        company: fields
            .company_field
            .as_deref()
            .map(|f| facts.field(f).trim().to_string())
            .filter(|c| !c.is_empty()),
        gitlab_users: fields
            .usernames_field
            .as_deref()
            .map(|f| usernames_in_text(facts.field(f)))
            .unwrap_or_default(),
        github_users: fields
            .github_users_field
            .as_deref()
            .map(|f| github_usernames(facts.field(f)))
            .unwrap_or_default(),
    };
    let mut ctx = ctx.clone();
    ctx["cla"] = json!({
        "labels": cla.labels,
        "managers": cla.managers,
        "required_version": cla.required_version.as_ref().map(|v| v.value.clone()).unwrap_or_default(),
        "details": cla_placeholder("details"),
        "agreements": cla_placeholder("agreements"),
    });
    let comments = ClaComments {
        signed: render(SIGNED_TEMPLATE, &ctx)?,
        missing: render(MISSING_TEMPLATE, &ctx)?,
        unknown: render(UNKNOWN_TEMPLATE, &ctx)?,
    };
    Ok(Some(Action::ClaCheck(Box::new(ClaCheck {
        settings: cla.settings(&engine.path, &engine.config.projects),
        subjects,
        labels: cla.labels.clone(),
        comments,
        recheck,
    }))))
}

/// GitHub usernames in free text: `@octocat, hubot` → both. GitHub's charset only
/// (alphanumerics and single hyphens, at most 39 characters).
pub fn github_usernames(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for token in text.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';')) {
        let name = token.trim_start_matches('@').trim_end_matches(['.', ':']);
        let valid = !name.is_empty()
            && name.len() <= 39
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !name.starts_with('-')
            && !name.ends_with('-')
            && !name.contains("--");
        if valid && !out.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            out.push(name.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::github_usernames;

    #[test]
    fn github_names_from_text() {
        assert_eq!(
            github_usernames("@octocat, hubot; bad_name -x @octocat"),
            vec!["octocat".to_string(), "hubot".to_string()]
        );
    }
}
