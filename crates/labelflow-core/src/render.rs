//! Template rendering for bot comments and created issues.
//!
//! Strict mode: a template that names a variable the context lacks fails, rather than
//! printing an empty string. Every `{{value}}` goes through [`escape_user_text`], because
//! values come from what users typed: a line starting with `/` would run as a quick action with
//! the bot's rights, `@all` would notify everyone, and a forged `<!-- labelflow:… -->` marker
//! could suppress a real action. Helpers that emit mentions validate usernames themselves.

use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderError,
    RenderErrorReason,
};
use serde_json::Value;
use std::collections::BTreeMap;

/// Makes user text safe to embed in a GitLab comment: one line (newlines become spaces), HTML
/// special characters as entities (so no HTML comment, tag or marker), mentions broken with a
/// word joiner, backticks and pipes as entities (no code-fence or table break-out), bidi
/// embedding / override / isolate controls dropped (they could reverse the bot's own words
/// after them), and a leading `/` or `~~~` defused with a zero-width space (no quick action,
/// no tilde code fence that would swallow the rest of the template).
pub fn escape_user_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '`' => out.push_str("&#96;"),
            '|' => out.push_str("&#124;"),
            c => push_plain(&mut out, c),
        }
    }
    let head = out.trim_start();
    if head.starts_with('/') || head.starts_with("~~~") {
        out.insert(0, '\u{200B}');
    }
    out
}

/// An `@`: GitLab reads `@name` as a mention only where no word character (ASCII letter,
/// digit, `_`) comes before it (`User.reference_pattern`: `(?<!\w)@…`), so
/// an e-mail address (`eve@example.com`) stays as it is; any other `@` gets a word joiner
/// after it, which keeps the text readable and mentions nobody.
fn push_at(out: &mut String) {
    let in_word = out
        .chars()
        .last()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    out.push('@');
    if !in_word {
        out.push('\u{2060}');
    }
}

/// Makes user text safe in an issue title, which GitLab shows as plain text: one line, no
/// control or bidi characters, no mention; no HTML entities (they would show literally).
pub fn escape_title_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        push_plain(&mut out, c);
    }
    out
}

/// What both escapes do to a character: one line, no control or bidi character, no mention.
fn push_plain(out: &mut String, c: char) {
    match c {
        '@' => push_at(out),
        '\n' | '\r' | '\u{2028}' | '\u{2029}' => out.push(' '),
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => {}
        c if c.is_control() => {}
        c => out.push(c),
    }
}

/// Template names under this prefix are issue titles: rendered with [`escape_title_text`].
pub const TITLE_PREFIX: &str = "title:";

/// A GitLab username we are willing to mention: GitLab's charset, no group path, not one of
/// the special all-member mentions.
pub fn is_mentionable(username: &str) -> bool {
    !username.is_empty()
        && username.len() <= 255
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && username
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && !matches!(
            username.to_ascii_lowercase().as_str(),
            "all" | "here" | "channel" | "everyone"
        )
}

/// Usernames written in free text (`@jane, @john.doe`): only `@`-prefixed tokens count.
pub fn usernames_in_text(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for token in text.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')')) {
        if let Some(name) = token.strip_prefix('@') {
            let name = name.trim_end_matches(['.', ':', '!', '?']);
            // `@group/sub` is a group mention: never.
            if !token.contains('/') && is_mentionable(name) && !out.iter().any(|n| n == name) {
                out.push(name.to_string());
            }
        }
    }
    out
}

/// Lower-case ASCII slug for channel names: `Acme Corp, Inc.` → `acme-corp-inc`
/// (transliterated by the `slug` crate, so `Über` becomes `uber`).
pub fn slug(text: &str) -> String {
    slug::slugify(text)
}

/// A compiled set of templates plus the helpers they may use.
pub struct Renderer {
    hb: Handlebars<'static>,
    /// Issue titles: plain text, so a different escape (see [`TITLE_PREFIX`]).
    titles: Handlebars<'static>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer").finish_non_exhaustive()
    }
}

impl Renderer {
    /// A renderer knowing the directory's roles (for `{{mention_role "name"}}`).
    pub fn new(roles: BTreeMap<String, Vec<String>>) -> Self {
        let mut hb = Handlebars::new();
        hb.register_escape_fn(escape_user_text);
        let mut titles = Handlebars::new();
        titles.register_escape_fn(escape_title_text);
        register_helpers(&mut hb, roles.clone());
        register_helpers(&mut titles, roles);
        Renderer { hb, titles }
    }

    fn registry(&self, name: &str) -> &Handlebars<'static> {
        if name.starts_with(TITLE_PREFIX) {
            &self.titles
        } else {
            &self.hb
        }
    }

    /// Compiles and registers a template under `name`.
    pub fn add(&mut self, name: &str, source: &str) -> Result<(), String> {
        let hb = if name.starts_with(TITLE_PREFIX) {
            &mut self.titles
        } else {
            &mut self.hb
        };
        hb.register_template_string(name, source)
            .map_err(|e| e.to_string())
    }

    pub fn has(&self, name: &str) -> bool {
        self.registry(name).has_template(name)
    }

    pub fn render(&self, name: &str, data: &Value) -> Result<String, RenderError> {
        self.registry(name).render(name, data)
    }

    /// The compiled template `name`, for checks that read its variables.
    pub fn template(&self, name: &str) -> Option<&handlebars::Template> {
        self.registry(name).get_template(name)
    }

    /// Whether `name` is a helper (`mention`, `if`, …) rather than a variable.
    pub fn is_helper(name: &str) -> bool {
        HELPERS.contains(&name)
    }
}

/// A render error in words: what went wrong, plus the template line when known. Handlebars
/// words a missing variable with Rust's debug formatting (`Some("vars.plan")`); that one is
/// said plainly here.
pub fn render_error(e: &RenderError) -> String {
    let mut s = match e.reason() {
        RenderErrorReason::MissingVariable(Some(path)) => {
            format!("unknown variable `{path}` (strict mode: a template may only use variables that exist)")
        }
        RenderErrorReason::MissingVariable(None) => {
            "a variable that does not exist (strict mode: a template may only use variables that exist)"
                .to_string()
        }
        other => other.to_string(),
    };
    if let Some(line) = e.line_no {
        s.push_str(&format!(" (template line {line})"));
    }
    s
}

/// Helper names: handlebars' own, then ours (registered below).
const HELPERS: &[&str] = &[
    "if",
    "unless",
    "each",
    "with",
    "lookup",
    "raw",
    "log",
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "and",
    "or",
    "not",
    "len",
    "mention",
    "slug",
    "quote",
    "mention_role",
];

/// Strict mode and the helpers templates may use.
fn register_helpers(hb: &mut Handlebars<'static>, roles: BTreeMap<String, Vec<String>>) {
    {
        hb.set_strict_mode(true);
        hb.register_helper("mention", Box::new(mention_helper));
        hb.register_helper("slug", Box::new(slug_helper));
        hb.register_helper("quote", Box::new(quote_helper));
        hb.register_helper(
            "mention_role",
            Box::new(
                move |h: &Helper,
                      _: &Handlebars,
                      _: &Context,
                      _: &mut RenderContext,
                      out: &mut dyn Output|
                      -> HelperResult {
                    let role = h
                        .param(0)
                        .and_then(|p| p.value().as_str())
                        .ok_or_else(|| helper_error("mention_role", "expects a role name"))?;
                    let users = roles.get(role).ok_or_else(|| {
                        helper_error("mention_role", &format!("unknown role `{role}`"))
                    })?;
                    out.write(&mentions(users.iter().map(String::as_str)))?;
                    Ok(())
                },
            ),
        );
    }
}

fn helper_error(helper: &str, msg: &str) -> RenderError {
    RenderErrorReason::Other(format!("{helper}: {msg}")).into()
}

fn mentions<'a>(users: impl Iterator<Item = &'a str>) -> String {
    users
        .filter(|u| is_mentionable(u))
        .map(|u| format!("@{u}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `{{mention x}}`: `x` is a username list (from the directory) or free text with
/// `@username`s (from an issue field). Only valid, non-special usernames are emitted; free
/// text without any is printed escaped.
fn mention_helper(
    h: &Helper,
    _: &Handlebars,
    _: &Context,
    _: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    let value = h
        .param(0)
        .map(|p| p.value().clone())
        .ok_or_else(|| helper_error("mention", "expects a value"))?;
    let text = match &value {
        Value::Array(items) => mentions(items.iter().filter_map(Value::as_str)),
        Value::String(s) => {
            let names = usernames_in_text(s);
            if names.is_empty() {
                escape_user_text(s)
            } else {
                mentions(names.iter().map(String::as_str))
            }
        }
        Value::Null => String::new(),
        other => escape_user_text(&other.to_string()),
    };
    out.write(&text)?;
    Ok(())
}

fn slug_helper(
    h: &Helper,
    _: &Handlebars,
    _: &Context,
    _: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    let s = h
        .param(0)
        .and_then(|p| p.value().as_str())
        .ok_or_else(|| helper_error("slug", "expects a string"))?;
    out.write(&slug(s))?;
    Ok(())
}

/// `{{quote text}}`: multi-line user text as a Markdown block quote, every line escaped.
fn quote_helper(
    h: &Helper,
    _: &Handlebars,
    _: &Context,
    _: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    let s = h
        .param(0)
        .and_then(|p| p.value().as_str())
        .ok_or_else(|| helper_error("quote", "expects a string"))?;
    let quoted: Vec<String> = s
        .lines()
        .map(|l| format!("> {}", escape_user_text(l)))
        .collect();
    out.write(&quoted.join("\n"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escaping_defuses_quick_actions_mentions_and_markers() {
        let e = escape_user_text("/close\n/label ~x @all <!-- labelflow:abc --> `x` | y");
        assert!(!e.lines().any(|l| l.trim_start().starts_with('/')));
        assert!(!e.contains("@all"));
        assert!(!e.contains("<!--"));
        assert!(!e.contains('`'));
        assert!(!e.contains('|'));
        assert!(!e.contains('\n'));
        assert_eq!(escape_user_text("~~~ rust"), "\u{200B}~~~ rust");
        assert_eq!(escape_user_text("a\u{202E}b\u{2066}c"), "abc");
    }

    #[test]
    fn email_addresses_stay_intact_but_mentions_do_not() {
        assert_eq!(escape_user_text("eve@example.com"), "eve@example.com");
        assert_eq!(escape_user_text("(@eve)"), "(@\u{2060}eve)");
    }

    #[test]
    fn titles_are_plain_text() {
        let mut r = Renderer::new(BTreeMap::new());
        r.add("title:w/r/i", "Triage: {{c}}").unwrap();
        let out = r
            .render(
                "title:w/r/i",
                &json!({"c": "Johnson & Johnson — \"monorepo\" <x> @all\n/close"}),
            )
            .unwrap();
        assert_eq!(
            out,
            "Triage: Johnson & Johnson — \"monorepo\" <x> @\u{2060}all /close"
        );
    }

    #[test]
    fn mentions_are_validated() {
        assert_eq!(
            usernames_in_text("@jane, @john.doe and @all @grp/sub"),
            vec!["jane", "john.doe"]
        );
        assert!(!is_mentionable("All"));
        assert!(is_mentionable("user_1"));
    }

    #[test]
    fn strict_mode_rejects_unknown_variables() {
        let mut r = Renderer::new(BTreeMap::from([(
            "cs".to_string(),
            vec!["rhook".to_string()],
        )]));
        r.add(
            "t",
            "Hi {{issue.title}} {{mention_role \"cs\"}} {{mention fields.csm}}",
        )
        .unwrap();
        let out = r
            .render(
                "t",
                &json!({"issue": {"title": "/close"}, "fields": {"csm": "@jane"}}),
            )
            .unwrap();
        assert_eq!(out, "Hi \u{200B}/close @rhook @jane");
        r.add("bad", "{{issue.nope}}").unwrap();
        let err = r.render("bad", &json!({"issue": {}})).unwrap_err();
        assert_eq!(
            render_error(&err),
            "unknown variable `issue.nope` (strict mode: a template may only use variables that exist) (template line 1)"
        );
        r.add("badrole", "{{mention_role \"nobody\"}}").unwrap();
        assert!(r.render("badrole", &json!({})).is_err());
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("Acme Corp, Inc."), "acme-corp-inc");
        assert_eq!(slug("  ÜberCo  GmbH "), "uberco-gmbh");
    }
}
