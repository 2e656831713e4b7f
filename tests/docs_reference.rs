//! docs/configuration.md is the complete reference: every key of the configuration schema
//! appears in it, and the documents point only at files that exist.

use labelflow::engine::schema::json_schema;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every property name, and every string a value may be (`opened`, `csv`), of the schema.
fn schema_words(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Object(props)) = m.get("properties") {
                out.extend(props.keys().cloned());
            }
            for key in ["enum", "const"] {
                match m.get(key) {
                    Some(Value::Array(values)) => {
                        out.extend(values.iter().filter_map(Value::as_str).map(str::to_string))
                    }
                    Some(Value::String(s)) => {
                        out.insert(s.clone());
                    }
                    _ => {}
                }
            }
            m.values().for_each(|v| schema_words(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| schema_words(v, out)),
        _ => {}
    }
}

#[test]
fn every_key_of_the_schema_is_documented() {
    let schema: Value = serde_json::from_str(&json_schema()).expect("schema is JSON");
    let mut words = BTreeSet::new();
    schema_words(&schema, &mut words);
    assert!(
        words.len() > 100,
        "{} keys: the walk found too few",
        words.len()
    );
    // The words inside code spans and code blocks of the document.
    let doc = read("docs/configuration.md");
    let code = regex::Regex::new(r"(?s)```.*?```|`[^`]+`").unwrap();
    let word = regex::Regex::new(r"[A-Za-z0-9_]+").unwrap();
    let documented: BTreeSet<&str> = code
        .find_iter(&doc)
        .flat_map(|span| word.find_iter(span.as_str()).map(|w| w.as_str()))
        .collect();
    let undocumented: Vec<&String> = words
        .iter()
        .filter(|w| !documented.contains(w.as_str()))
        .collect();
    assert!(
        undocumented.is_empty(),
        "docs/configuration.md does not mention (in code): {undocumented:?}"
    );
}

#[test]
fn references_lead_somewhere() {
    let files = [
        "README.md",
        "docs/configuration.md",
        "docs/sweeps.md",
        "docs/cla.md",
        "labelflow.yml",
        "examples/security/labelflow.yml",
        "examples/cocreate-statuses/labelflow.yml",
        "examples/cocreate-statuses/README.md",
    ];
    let path = regex::Regex::new(r"\b(?:docs|examples)/[A-Za-z0-9_./-]+\.(?:md|yml|json)").unwrap();
    for f in files {
        let text = read(f);
        for m in path.find_iter(&text) {
            assert!(
                repo().join(m.as_str()).exists(),
                "{f} refers to {}, which does not exist",
                m.as_str()
            );
        }
        // DESIGN.md is not part of the repository: a reader cannot follow "DESIGN §2".
        assert!(!text.contains("DESIGN §"), "{f} refers to DESIGN sections");
    }
    // Links relative to docs/ in the docs.
    let link = regex::Regex::new(r"\]\(([A-Za-z0-9_-]+\.md)").unwrap();
    for f in ["docs/configuration.md", "docs/sweeps.md", "docs/cla.md"] {
        for c in link.captures_iter(&read(f)) {
            assert!(
                repo().join("docs").join(&c[1]).exists(),
                "{f} links to {}",
                &c[1]
            );
        }
    }
}
