//! Quick actions (`/label ~x`, `/close`, …) found the way GitLab's
//! `Gitlab::QuickActions::Extractor` finds them: a command counts only at the very start of a
//! line (`^\/(cmd)`, case-insensitive name, then a space or the end of the line), and never inside
//! fenced code blocks, `>>>` quote blocks or HTML blocks. Commands the author may not run are
//! not extracted and stay in the text, as in GitLab.

/// One command and its parsed arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuickAction {
    /// `/label` or `/labels`: add these labels.
    Label(Vec<String>),
    /// `/unlabel` or `/remove_label`: remove these labels (all when empty).
    Unlabel(Vec<String>),
    /// `/relabel`: replace all labels.
    Relabel(Vec<String>),
    Close,
    Reopen,
    /// `/assign @a @b` (usernames without `@`; `me` stays `me`).
    Assign(Vec<String>),
    /// `/unassign` (all when empty).
    Unassign(Vec<String>),
    Confidential,
    Title(String),
}

impl QuickAction {
    /// Whether running the command needs the right to set issue metadata (Reporter or more),
    /// rather than just the right to update the issue.
    pub fn sets_metadata(&self) -> bool {
        !matches!(
            self,
            QuickAction::Close | QuickAction::Reopen | QuickAction::Title(_)
        )
    }
}

/// A body split into the text that remains and the commands taken out of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub text: String,
    pub actions: Vec<QuickAction>,
}

/// Parses one line as a command, if it is one.
fn parse_command(line: &str) -> Option<QuickAction> {
    let rest = line.strip_prefix('/')?;
    let (name, arg) = match rest.find([' ', '\t']) {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest.trim_end_matches('\r'), ""),
    };
    let arg = arg.trim_end_matches('\r');
    let action = match name.to_ascii_lowercase().as_str() {
        "label" | "labels" => QuickAction::Label(parse_labels(arg)),
        "unlabel" | "remove_label" => QuickAction::Unlabel(parse_labels(arg)),
        "relabel" => QuickAction::Relabel(parse_labels(arg)),
        "close" => QuickAction::Close,
        "reopen" => QuickAction::Reopen,
        "assign" => QuickAction::Assign(parse_users(arg)),
        "unassign" => QuickAction::Unassign(parse_users(arg)),
        "confidential" => QuickAction::Confidential,
        "title" if !arg.is_empty() => QuickAction::Title(arg.to_string()),
        _ => return None,
    };
    Some(action)
}

/// `~a ~"b c" d` → `["a", "b c", "d"]`.
fn parse_labels(arg: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = arg.trim_start();
    while !rest.is_empty() {
        let token = rest.strip_prefix('~').unwrap_or(rest);
        if let Some(quoted) = token.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => {
                    out.push(quoted[..end].to_string());
                    rest = quoted[end + 1..].trim_start();
                }
                None => {
                    out.push(quoted.to_string());
                    rest = "";
                }
            }
        } else {
            let end = token.find(char::is_whitespace).unwrap_or(token.len());
            if end > 0 {
                out.push(token[..end].to_string());
            }
            rest = token[end..].trim_start();
        }
    }
    out
}

/// `@a @b me` → `["a", "b", "me"]`.
fn parse_users(arg: &str) -> Vec<String> {
    arg.split_whitespace()
        .map(|u| u.trim_start_matches('@').to_string())
        .filter(|u| !u.is_empty())
        .collect()
}

/// Where the scanner is: ordinary text, or inside a block whose lines are never commands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    Text,
    Fence,
    Quote,
    Html,
}

/// Takes the commands out of `body`. `available` decides, per command, whether the author may
/// run it; unavailable commands stay in the text untouched.
pub fn extract(body: &str, available: impl Fn(&QuickAction) -> bool) -> Extracted {
    let mut kept = Vec::new();
    let mut actions = Vec::new();
    let mut block = Block::Text;
    for line in body.split('\n') {
        let bare = line.trim_end_matches('\r');
        match block {
            Block::Fence => {
                if bare.trim_start().starts_with("```") {
                    block = Block::Text;
                }
                kept.push(line);
                continue;
            }
            Block::Quote => {
                if bare == ">>>" {
                    block = Block::Text;
                }
                kept.push(line);
                continue;
            }
            Block::Html => {
                if bare.starts_with("</") && bare.ends_with('>') {
                    block = Block::Text;
                }
                kept.push(line);
                continue;
            }
            Block::Text => {}
        }
        if bare.trim_start().starts_with("```") {
            block = Block::Fence;
        } else if bare == ">>>" {
            block = Block::Quote;
        } else if is_html_open_tag_line(bare) {
            block = Block::Html;
        } else if let Some(action) = parse_command(bare).filter(|a| available(a)) {
            actions.push(action);
            continue;
        }
        kept.push(line);
    }
    // Text without commands is left exactly as written.
    let text = if actions.is_empty() {
        body.to_string()
    } else {
        kept.join("\n").trim().to_string()
    };
    Extracted { text, actions }
}

/// A line that is just an opening HTML tag (`<details>`), which starts an HTML block.
fn is_html_open_tag_line(line: &str) -> bool {
    line.starts_with('<')
        && !line.starts_with("</")
        && line.ends_with('>')
        && line[1..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(body: &str) -> Extracted {
        extract(body, |_| true)
    }

    #[test]
    fn commands_at_line_start_are_taken_out() {
        let e = all("Hello\n/label ~a ~\"b c\" ~x::y\n/close\nbye");
        assert_eq!(e.text, "Hello\nbye");
        assert_eq!(
            e.actions,
            vec![
                QuickAction::Label(vec!["a".into(), "b c".into(), "x::y".into()]),
                QuickAction::Close
            ]
        );
    }

    #[test]
    fn commands_not_at_line_start_or_in_blocks_stay_text() {
        let body = " /close\nsay /close\n`/close`\n```\n/close\n```\n>>>\n/close\n>>>\n<div>\n/close\n</div>";
        let e = all(body);
        assert_eq!(e.actions, Vec::<QuickAction>::new());
        assert_eq!(e.text, body);
    }

    #[test]
    fn names_are_case_insensitive_and_must_end_at_a_space() {
        let e = all("/CLOSE\n/closed\n/Assign @alice me");
        assert_eq!(
            e.actions,
            vec![
                QuickAction::Close,
                QuickAction::Assign(vec!["alice".into(), "me".into()])
            ]
        );
        assert_eq!(e.text, "/closed");
    }

    #[test]
    fn unavailable_commands_stay_in_the_text() {
        let e = extract("/label ~a\n/close", |a| !a.sets_metadata());
        assert_eq!(e.actions, vec![QuickAction::Close]);
        assert_eq!(e.text, "/label ~a");
    }

    #[test]
    fn unlabel_without_arguments_means_all() {
        let e = all("/unlabel\n/title New name here");
        assert_eq!(
            e.actions,
            vec![
                QuickAction::Unlabel(vec![]),
                QuickAction::Title("New name here".into())
            ]
        );
        assert_eq!(e.text, "");
    }
}
