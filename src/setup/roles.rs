//! GitLab's roles as setup needs them: the access levels of the Members API docs, their names,
//! the role each setup write needs (GitLab's permissions page), and protected-branch name
//! matching.

pub const GUEST: u32 = 10;
pub const REPORTER: u32 = 20;
pub const DEVELOPER: u32 = 30;
pub const MAINTAINER: u32 = 40;
pub const ADMIN: u32 = 60;

/// GitLab's name for an access level.
pub fn role_name(level: u32) -> &'static str {
    match level {
        0 => "no role",
        1..=GUEST => "Guest",
        11..=15 => "Planner",
        16..=REPORTER => "Reporter",
        21..=DEVELOPER => "Developer",
        31..=MAINTAINER => "Maintainer",
        41..=50 => "Owner",
        _ => "Administrator",
    }
}

/// Whether a protected-branch rule (`main`, `release-*`) covers `branch`: GitLab's only
/// wildcard is `*`.
pub fn branch_matches(rule: &str, branch: &str) -> bool {
    let pattern: Vec<String> = rule.split('*').map(globset::escape).collect();
    globset::GlobBuilder::new(&pattern.join("*"))
        .literal_separator(false)
        .build()
        .is_ok_and(|g| g.compile_matcher().is_match(branch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_names_and_wildcards_only() {
        assert!(branch_matches("main", "main"));
        assert!(!branch_matches("main", "main2"));
        assert!(branch_matches("release/*", "release/1.0/x"));
        assert!(branch_matches("*-stable", "16-stable"));
        assert!(!branch_matches("[ab]", "a"));
    }

    #[test]
    fn names_follow_gitlab() {
        assert_eq!(role_name(0), "no role");
        assert_eq!(role_name(30), "Developer");
        assert_eq!(role_name(40), "Maintainer");
    }
}
