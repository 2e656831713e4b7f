//! Target 2: `labelflow.yml` and its templates through `check-config` (`Engine::load`), on a
//! copy of the shipped configuration in a temporary directory. Mutates lines, keys, values
//! (extreme numbers, YAML tags, anchors, aliases, nesting) and template sources.
//!
//! The verdict is always either a loaded engine or errors in plain words, each with the line
//! of `labelflow.yml` it is about (or naming the template file it is about); never a panic. A
//! configuration that loads must also plan: the first event of every rule trigger is planned
//! against it, and that must not panic either.

use super::driver::Tally;
use super::mutate;
use chrono::{TimeZone, Utc};
use labelflow::domain::{Actor, Event, EventKind, IssueState, IssueStatus};
use labelflow::engine::config::Trigger;
use labelflow::engine::{ConfigErrors, Engine, plan};
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use std::path::{Path, PathBuf};

/// A mutated configuration: the YAML text, and maybe one template replaced.
#[derive(Debug, Clone)]
pub struct Mutant {
    pub yaml: String,
    pub template: Option<(PathBuf, String)>,
}

/// Values put in place of a scalar: limits of the integer types, other types, YAML's tags,
/// anchors and aliases, templates that do not compile or name unknown variables.
const VALUES: &[&str] = &[
    "0",
    "-1",
    "4294967295",
    "4294967296",
    "18446744073709551616",
    "2147483648",
    "1e400",
    ".nan",
    "-.inf",
    "0x10",
    "~",
    "null",
    "\"\"",
    "[]",
    "{}",
    "yes",
    "[a, [b, [c]]]",
    "*nowhere",
    "&anchor x",
    "!!binary aGk=",
    "!custom x",
    "\"\\u0000\"",
    "\"{{issue.nope}}\"",
    "\"{{#if x}}\"",
    "\"{{mention_role \\\"nobody\\\"}}\"",
    "\"{{{issue.title}}}\"",
    "\"../../etc/passwd\"",
    "\"/absolute/template.md.hbs\"",
    "\"(unclosed\"",
    "\"[z-a]\"",
    "\"**/[\"",
    "\"a, b\"",
    "\" padded \"",
    "\"cocreate::identified\"",
    "contributor-success",
];

/// Keys inserted into flow mappings (`{ … }`).
const KEYS: &[&str] = &[
    "days",
    "months",
    "after_days",
    "after_minutes",
    "after_seconds",
    "idle_days",
    "grace_days",
    "close_after_days",
    "max_actions",
    "window_minutes",
    "default",
    "allowed",
    "once",
    "labels",
    "linked",
    "min_args",
    "usage",
    "args",
    "one_of",
    "rest",
    "allow",
    "roles",
    "value",
    "pattern",
    "unknown_key",
];

/// Pieces of template source.
const TEMPLATE_PIECES: &[&str] = &[
    "{{",
    "}}",
    "{{{",
    "}}}",
    "{{#if issue.title}}",
    "{{/if}}",
    "{{else}}",
    "{{#each issue.labels}}",
    "{{/each}}",
    "{{this}}",
    "{{issue.nope}}",
    "{{mention}}",
    "{{mention issue.author}}",
    "{{mention_role \"nobody\"}}",
    "{{mention_role}}",
    "{{slug 3}}",
    "{{quote}}",
    "{{> partial}}",
    "{{!-- comment",
    "--}}",
    "{{lookup issue \"title\"}}",
    "{{issue.[0]}}",
    "{{../../x}}",
    "{{@root.issue.title}}",
    "\\{{escaped}}",
    "{{#with issue}}{{title}}{{/with}}",
    "{{args.severity}}",
    "{{#each issue.labels as |l|}}{{l}}{{/each}}",
];

/// A copy of the shipped `labelflow.yml` and `templates/` in a temporary directory.
pub struct Workspace {
    _dir: tempfile::TempDir,
    pub config: PathBuf,
    pub shipped: String,
    pub templates: Vec<PathBuf>,
}

impl Workspace {
    pub fn new() -> Workspace {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = tempfile::tempdir().expect("temp dir");
        let mut templates = Vec::new();
        copy_tree(
            &repo.join("templates"),
            &dir.path().join("templates"),
            &mut templates,
        );
        let shipped = std::fs::read_to_string(repo.join("labelflow.yml")).expect("shipped");
        let config = dir.path().join("labelflow.yml");
        Workspace {
            _dir: dir,
            config,
            shipped,
            templates,
        }
    }
}

fn copy_tree(from: &Path, to: &Path, files: &mut Vec<PathBuf>) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target, files);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
            files.push(target);
        }
    }
}

/// The shipped configuration with one to three edits, and sometimes a template mutated.
pub fn generate(rng: &mut StdRng, ws: &Workspace) -> Mutant {
    let mut lines: Vec<String> = ws.shipped.lines().map(str::to_string).collect();
    // Half the edits go to lines that set numbers or flow mappings, where limits live.
    let interesting: Vec<usize> = (0..lines.len())
        .filter(|&i| {
            let l = &lines[i];
            !l.trim_start().starts_with('#')
                && (l.contains("{ ") || l.bytes().any(|b| b.is_ascii_digit()))
        })
        .collect();
    for _ in 0..rng.random_range(1..=3) {
        let i = match interesting.choose(rng) {
            Some(&i) if rng.random_bool(0.5) && i < lines.len() => i,
            _ => rng.random_range(0..lines.len()),
        };
        match rng.random_range(0..10) {
            0 => {
                lines.remove(i);
            }
            1 => {
                let copy = lines[rng.random_range(0..lines.len())].clone();
                lines.insert(i, copy);
            }
            2 => {
                let j = rng.random_range(0..lines.len());
                lines.swap(i, j);
            }
            3 => {
                let pad = " ".repeat(rng.random_range(1..5));
                if rng.random_bool(0.5) {
                    lines[i].insert_str(0, &pad);
                } else {
                    let trimmed = lines[i].strip_prefix(pad.as_str()).map(str::to_string);
                    if let Some(t) = trimmed {
                        lines[i] = t;
                    }
                }
            }
            4 | 5 => replace_value(rng, &mut lines[i]),
            6 => {
                if let Some(at) = lines[i].find("{ ") {
                    let key = KEYS.choose(rng).expect("keys");
                    let value = VALUES.choose(rng).expect("values");
                    lines[i].insert_str(at + 2, &format!("{key}: {value}, "));
                }
            }
            7 => lines[i] = mutate::edit_text(rng, &lines[i]),
            8 => {
                let depth = *[50usize, 200, 5_000].choose(rng).expect("depth");
                let nested = format!("{}x{}", "[".repeat(depth), "]".repeat(depth));
                lines[i].push_str(&format!(" {nested}"));
            }
            _ => {
                // Exponential aliases ("billion laughs").
                let mut bomb = vec!["bomb0: &b0 [x, x, x, x, x, x, x, x, x, x]".to_string()];
                for n in 1..9 {
                    let p = n - 1;
                    bomb.push(format!(
                        "bomb{n}: &b{n} [*b{p}, *b{p}, *b{p}, *b{p}, *b{p}, *b{p}, *b{p}, *b{p}, *b{p}, *b{p}]"
                    ));
                }
                lines.splice(i..i, bomb);
            }
        }
    }
    let template = rng.random_bool(0.3).then(|| {
        let path = ws.templates.choose(rng).expect("templates").clone();
        let source = std::fs::read_to_string(&path).expect("template");
        let mut source = mutate::edit_text(rng, &source);
        for _ in 0..rng.random_range(0..3) {
            let b: Vec<usize> = (0..=source.len())
                .filter(|&i| source.is_char_boundary(i))
                .collect();
            let at = *b.choose(rng).expect("boundary");
            source.insert_str(at, TEMPLATE_PIECES.choose(rng).expect("pieces"));
        }
        (path, source)
    });
    Mutant {
        yaml: lines.join("\n"),
        template,
    }
}

/// Replaces one scalar of `line` (a number, or what follows a `key:`) with a hostile value.
fn replace_value(rng: &mut StdRng, line: &mut String) {
    let value = VALUES.choose(rng).expect("values");
    let digits: Vec<(usize, usize)> = {
        let b = line.as_bytes();
        let mut runs = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i].is_ascii_digit() {
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                runs.push((start, i));
            } else {
                i += 1;
            }
        }
        runs
    };
    if let Some(&(s, e)) = digits.choose(rng).filter(|_| rng.random_bool(0.5)) {
        line.replace_range(s..e, value);
    } else if let Some(colon) = line.find(": ") {
        line.truncate(colon + 2);
        line.push_str(value);
    }
}

/// Writes the mutant into the workspace and loads it (the template is restored after).
pub fn load(ws: &Workspace, m: &Mutant) -> std::thread::Result<Result<Engine, ConfigErrors>> {
    std::fs::write(&ws.config, &m.yaml).expect("write labelflow.yml");
    let original = m.template.as_ref().map(|(path, source)| {
        let before = std::fs::read_to_string(path).expect("template");
        std::fs::write(path, source).expect("write template");
        (path, before)
    });
    let verdict = std::panic::catch_unwind(|| Engine::load(&ws.config));
    if let Some((path, before)) = original {
        std::fs::write(path, before).expect("restore template");
    }
    verdict
}

/// Mutants that loaded (and were planned against).
pub static LOADED: Tally = Tally::new();

/// Loads the mutant and judges the verdict.
pub fn check(ws: &Workspace, m: &Mutant) -> Result<(), String> {
    match load(ws, m).map_err(|_| "Engine::load panicked".to_string())? {
        Ok(engine) => {
            LOADED.add();
            plans_without_panicking(&engine)
        }
        Err(errors) => {
            for e in &errors.0 {
                let text = e.to_string();
                if e.message.trim().is_empty()
                    || ["Some(", "None", "Error {", "Utf8Error"]
                        .iter()
                        .any(|debug| e.message.contains(debug))
                {
                    return Err(format!("not a plain message: {text}"));
                }
                if e.line.is_none() && !e.message.contains("template") {
                    return Err(format!("an error without a line: {text}"));
                }
            }
            Ok(())
        }
    }
}

/// Plans, against the loaded engine, an issue in each workflow's project getting each label a
/// rule triggers on, a tick, and a comment: none may panic (errors are allowed: a template can
/// fail on real data, and the event is then parked with the reason).
fn plans_without_panicking(engine: &Engine) -> Result<(), String> {
    let now = Utc
        .with_ymd_and_hms(2026, 3, 2, 12, 0, 0)
        .single()
        .expect("time");
    for wf in engine.config.workflows.values() {
        let project = wf
            .projects
            .first()
            .and_then(|p| engine.project_path(&p.value))
            .unwrap_or_else(|| "group/project".to_string());
        for rule in &wf.rules {
            let (labels, kind) = match &rule.on {
                Trigger::LabelAdded(l) => (vec![l.clone()], EventKind::Updated),
                Trigger::LabelsPresent(ls) => (ls.clone(), EventKind::Updated),
                Trigger::Followup(name) => (
                    vec![],
                    EventKind::Tick {
                        followup: Some(name.clone()),
                    },
                ),
                Trigger::Command(c) => (
                    vec![],
                    EventKind::Comment {
                        note_id: 1,
                        body: format!("@{} {} because", engine.bot(), c.name),
                        internal: false,
                    },
                ),
                _ => (vec![], EventKind::Tick { followup: None }),
            };
            let issue = IssueState {
                id: 1,
                iid: 1,
                project_id: 1,
                project_path: project.clone(),
                title: "Title".to_string(),
                description: "Customer: Acme\nSeats: 4294967296".to_string(),
                state: IssueStatus::Opened,
                labels: labels.clone(),
                assignees: vec![],
                author: "author".to_string(),
                confidential: false,
                web_url: "https://gitlab.example.com/g/p/-/issues/1".to_string(),
                created_at: now,
                updated_at: now,
                status: None,
                work_item_type: "Issue".to_string(),
                custom_fields: Default::default(),
            };
            let event = Event {
                issue: issue.key(),
                project_path: project.clone(),
                actor: Actor {
                    id: Some(2),
                    username: "someone".to_string(),
                },
                kind,
                labels_added: labels,
                labels_removed: vec![],
                title_changed: false,
                description_changed: false,
                change_id: "c1".to_string(),
                confidential: false,
                occurred_at: Some(now),
                changes_unknown: false,
                labels_now: None,
                status_change: None,
            };
            let _ = plan(engine, &event, &issue, now);
        }
    }
    Ok(())
}
