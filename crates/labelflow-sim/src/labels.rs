//! Label arithmetic as GitLab does it: scoped-label exclusivity and the wording of the label
//! system notes.

/// The scope (GitLab calls it the key) of a scoped label, if it is one. GitLab treats any
/// label whose title contains `::` as scoped, and the last `::` splits the key from the value:
/// `workflow::backend::review` has the key `workflow::backend` (GitLab docs, "Scoped labels",
/// nested scopes; gitlab-ui merge request 1117). Written here on its own, not shared with
/// labelflow's code, so the simulator checks labelflow rather than agreeing with it.
fn scope_of(label: &str) -> Option<&str> {
    label.rfind("::").map(|at| &label[..at])
}

/// Pushes `label` onto `labels`, dropping any other label of the same scope first, as GitLab
/// replaces a scoped label's sibling. Already present labels are left where they are.
fn push_exclusive(labels: &mut Vec<String>, label: &str) {
    if labels.iter().any(|l| l == label) {
        return;
    }
    if let Some(scope) = scope_of(label) {
        labels.retain(|l| scope_of(l) != Some(scope));
    }
    labels.push(label.to_string());
}

/// The label list after an update: the replacement list (`labels`) if given, else the current
/// list; minus `remove`; plus `add`. Every label that ends up added replaces its scoped sibling.
pub fn apply_label_change(
    current: &[String],
    replace: Option<&[String]>,
    add: &[String],
    remove: &[String],
) -> Vec<String> {
    let mut result = match replace {
        Some(list) => {
            let mut out = Vec::new();
            for l in list {
                push_exclusive(&mut out, l);
            }
            out
        }
        None => current.to_vec(),
    };
    result.retain(|l| !remove.contains(l));
    for l in add {
        push_exclusive(&mut result, l);
    }
    result
}

/// GitLab's label reference: `~name` for a plain word, `~"name"` otherwise.
pub fn label_reference(title: &str) -> String {
    if !title.is_empty() && title.chars().all(|c| c.is_alphanumeric() || c == '_') {
        format!("~{title}")
    } else {
        format!("~\"{title}\"")
    }
}

/// The body of the system note GitLab writes for a label change, e.g.
/// `added ~"a::b" label and removed ~x ~y labels`. `None` when nothing changed.
pub fn label_change_note(added: &[String], removed: &[String]) -> Option<String> {
    fn part(verb: &str, labels: &[String]) -> Option<String> {
        if labels.is_empty() {
            return None;
        }
        let refs: Vec<String> = labels.iter().map(|l| label_reference(l)).collect();
        let noun = if labels.len() == 1 { "label" } else { "labels" };
        Some(format!("{verb} {} {noun}", refs.join(" ")))
    }
    match (part("added", added), part("removed", removed)) {
        (Some(a), Some(r)) => Some(format!("{a} and {r}")),
        (Some(a), None) => Some(a),
        (None, Some(r)) => Some(r),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn adding_a_scoped_label_replaces_its_sibling() {
        let out = apply_label_change(
            &v(&["bug", "cocreate::identified"]),
            None,
            &v(&["cocreate::triage"]),
            &[],
        );
        assert_eq!(out, v(&["bug", "cocreate::triage"]));
    }

    #[test]
    fn nested_scopes_use_the_last_separator() {
        let out = apply_label_change(
            &v(&["workflow::backend::review", "workflow::frontend::review"]),
            None,
            &v(&["workflow::backend::development"]),
            &[],
        );
        assert_eq!(
            out,
            v(&[
                "workflow::frontend::review",
                "workflow::backend::development"
            ])
        );
    }

    #[test]
    fn replacement_list_keeps_the_last_of_a_scope_and_remove_applies_before_add() {
        let out = apply_label_change(
            &v(&["old"]),
            Some(&v(&["s::a", "x", "s::b"])),
            &v(&["y"]),
            &v(&["x"]),
        );
        assert_eq!(out, v(&["s::b", "y"]));
    }

    #[test]
    fn adding_a_present_label_changes_nothing() {
        let out = apply_label_change(&v(&["a", "b"]), None, &v(&["a"]), &[]);
        assert_eq!(out, v(&["a", "b"]));
    }

    #[test]
    fn system_note_wording() {
        assert_eq!(
            label_change_note(&v(&["bug"]), &[]).as_deref(),
            Some("added ~bug label")
        );
        assert_eq!(
            label_change_note(&v(&["a::b", "c d"]), &v(&["x"])).as_deref(),
            Some("added ~\"a::b\" ~\"c d\" labels and removed ~x label")
        );
        assert_eq!(label_change_note(&[], &[]), None);
    }
}
