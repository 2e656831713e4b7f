//! `@bot <command> [args]` lines in comments.

/// One command line found in a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    /// The words after the mention, as written.
    pub words: Vec<String>,
}

impl CommandLine {
    /// If this line runs command `name` (one or more words, case-insensitive), the remaining
    /// words.
    pub fn matches(&self, name: &str) -> Option<Vec<String>> {
        let want: Vec<&str> = name.split_whitespace().collect();
        if want.is_empty() || self.words.len() < want.len() {
            return None;
        }
        let hit = want
            .iter()
            .zip(&self.words)
            .all(|(w, got)| w.eq_ignore_ascii_case(got));
        hit.then(|| self.words[want.len()..].to_vec())
    }

    pub fn text(&self) -> String {
        self.words.join(" ")
    }
}

/// Finds the command lines addressed to `bot` in a comment. Lines in code blocks and quotes are
/// not commands (people quote earlier commands when they discuss them).
pub fn parse_commands(body: &str, bot: &str) -> Vec<CommandLine> {
    let mention = format!("@{bot}");
    let mut in_fence = false;
    let mut out = Vec::new();
    for line in body.lines() {
        let t = line.trim();
        if t.starts_with("```") || t.starts_with("~~~") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence || t.starts_with('>') {
            continue;
        }
        let Some(head) = t.get(..mention.len()) else {
            continue;
        };
        if !head.eq_ignore_ascii_case(&mention) {
            continue;
        }
        let rest = &t[mention.len()..];
        // `@labelflowX` is another user, not us.
        if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
            continue;
        }
        let words: Vec<String> = rest.split_whitespace().map(str::to_string).collect();
        if !words.is_empty() {
            out.push(CommandLine { words });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_commands() {
        let body = "Thanks!\n@labelflow buy-in approve\n> @labelflow claim\n```\n@labelflow x\n```\n@LabelFlow  decline   not now\n@labelflowbot claim\n";
        let cmds = parse_commands(body, "labelflow");
        assert_eq!(cmds.len(), 2);
        assert_eq!(cmds[0].matches("buy-in approve"), Some(vec![]));
        assert_eq!(cmds[0].matches("buy-in"), Some(vec!["approve".to_string()]));
        assert_eq!(
            cmds[1].matches("decline"),
            Some(vec!["not".to_string(), "now".to_string()])
        );
        assert_eq!(cmds[1].matches("claim"), None);
    }
}
