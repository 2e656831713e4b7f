//! The configuration's regular expressions and label globs, compiled once when it loads
//! (validation already compiles them to report errors; matching reuses those).

use globset::{Glob, GlobMatcher};
use regex::{Regex, RegexBuilder};
use std::collections::HashMap;

/// Compiled patterns by their source text.
#[derive(Debug, Clone, Default)]
pub struct Patterns {
    regexes: HashMap<String, Regex>,
    globs: HashMap<String, GlobMatcher>,
}

impl Patterns {
    /// Compiles a field pattern (matched case-insensitively); the error is the regex crate's.
    pub fn add_regex(&mut self, pattern: &str) -> Result<(), regex::Error> {
        if !self.regexes.contains_key(pattern) {
            let re = RegexBuilder::new(pattern).case_insensitive(true).build()?;
            self.regexes.insert(pattern.to_string(), re);
        }
        Ok(())
    }

    /// Compiles a label glob (`cocreate-pathway::*`).
    pub fn add_glob(&mut self, glob: &str) -> Result<(), globset::Error> {
        if !self.globs.contains_key(glob) {
            let m = Glob::new(glob)?.compile_matcher();
            self.globs.insert(glob.to_string(), m);
        }
        Ok(())
    }

    /// Whether `value` matches `pattern`. A pattern the configuration did not declare (an
    /// engine assembled by hand) is compiled on the spot; an invalid one matches nothing.
    pub fn regex_matches(&self, pattern: &str, value: &str) -> bool {
        match self.regexes.get(pattern) {
            Some(re) => re.is_match(value),
            None => RegexBuilder::new(pattern)
                .case_insensitive(true)
                .build()
                .is_ok_and(|re| re.is_match(value)),
        }
    }

    /// Whether `label` matches `glob` (same fallback as [`Patterns::regex_matches`]).
    pub fn glob_matches(&self, glob: &str, label: &str) -> bool {
        match self.globs.get(glob) {
            Some(m) => m.is_match(label),
            None => Glob::new(glob).is_ok_and(|g| g.compile_matcher().is_match(label)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_once_and_matched_case_insensitively() {
        let mut p = Patterns::default();
        p.add_regex(r"^usd \d+$").unwrap();
        p.add_glob("cla::*").unwrap();
        assert!(p.regex_matches(r"^usd \d+$", "USD 12"));
        assert!(p.glob_matches("cla::*", "cla::signed"));
        assert!(!p.glob_matches("cla::*", "clas"));
        assert!(p.add_regex("(").is_err());
    }
}
