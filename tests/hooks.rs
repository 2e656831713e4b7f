//! Payload parsing and normalisation, on GitLab's documented payloads
//! (`tests/fixtures/gitlab-docs/`) and variants derived from them (`tests/fixtures/derived/`,
//! made by `tests/fixtures/derive.py`).

use chrono::{DateTime, TimeZone, Utc};
use labelflow::domain::{Actor, Event, EventKind, IssueKey};
use labelflow::hooks::{self, Hook, HookError};
use proptest::prelude::*;
use serde_json::Value;

fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("reading {full}: {e}"))
}

fn fixture_json(path: &str) -> Value {
    serde_json::from_slice(&fixture(path)).expect("fixtures are valid JSON")
}

/// A documented payload with one edit applied at a JSON pointer (`None` removes the field).
fn edited(path: &str, pointer: &str, value: Option<Value>) -> Vec<u8> {
    let mut json = fixture_json(path);
    let (parent, field) = pointer.rsplit_once('/').expect("pointer has a parent");
    let parent = json
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .expect("parent exists");
    match value {
        Some(v) => {
            parent.insert(field.to_string(), v);
        }
        None => {
            parent.remove(field).expect("field existed");
        }
    }
    serde_json::to_vec(&json).expect("serialisable")
}

fn parse_some(header: Option<&str>, body: &[u8]) -> Hook {
    hooks::parse(header, body)
        .expect("parses")
        .expect("is a kind labelflow handles")
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("test date")
        .with_timezone(&Utc)
}

fn root(id: Option<u64>) -> Actor {
    Actor {
        id,
        username: "root".to_string(),
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The event for `issue_open.json` (and its variants, which change only what each test says).
fn issue_open_event() -> Event {
    Event {
        issue: IssueKey {
            project_id: 14,
            iid: 23,
        },
        project_path: "gitlabhq/gitlab-test".to_string(),
        actor: root(Some(1)),
        kind: EventKind::Opened,
        labels_added: strings(&["Platform"]),
        labels_removed: strings(&["API"]),
        title_changed: false,
        description_changed: false,
        change_id: "open@2013-12-03T17:15:43Z".to_string(),
        confidential: false,
        occurred_at: Some(utc("2013-12-03T17:15:43Z")),
        changes_unknown: false,
        // `changes.labels.current`: the labels after the change.
        labels_now: Some(strings(&["Platform"])),
        status_change: None,
    }
}

// ---- documented payloads ----------------------------------------------------------------

#[test]
fn documented_issue_open_normalises_to_opened_with_label_change() {
    let hook = parse_some(Some("Issue Hook"), &fixture("gitlab-docs/issue_open.json"));
    assert_eq!(hook.kind_name(), "Issue Hook");
    assert_eq!(hook.issue_key().to_string(), "14#23");
    assert_eq!(hooks::normalise(&hook), issue_open_event());
}

#[test]
fn documented_legacy_issue_parses_without_event_type_user_id_or_attribute_labels() {
    let hook = parse_some(
        Some("Issue Hook"),
        &fixture("gitlab-docs/issue_open_legacy_v11_doc.json"),
    );
    let Hook::Issue(issue) = &hook else {
        panic!("expected an issue hook, got {hook:?}");
    };
    assert_eq!(issue.payload.event_type, None);
    assert_eq!(issue.payload.user.id, None);
    assert!(issue.payload.object_attributes.labels.is_none());
    let expected = Event {
        actor: root(None),
        ..issue_open_event()
    };
    assert_eq!(hooks::normalise(&hook), expected);
}

#[test]
fn documented_note_becomes_a_comment_on_5_17() {
    let hook = parse_some(
        Some("Note Hook"),
        &fixture("gitlab-docs/note_on_issue.json"),
    );
    assert_eq!(hook.kind_name(), "Note Hook");
    assert_eq!(hook.issue_key().to_string(), "5#17");
    let expected = Event {
        issue: IssueKey {
            project_id: 5,
            iid: 17,
        },
        project_path: "gitlab-org/gitlab-test".to_string(),
        actor: root(Some(1)),
        kind: EventKind::Comment {
            note_id: 1241,
            body: "Hello world".to_string(),
            internal: false,
        },
        labels_added: vec![],
        labels_removed: vec![],
        title_changed: false,
        description_changed: false,
        change_id: "note:1241".to_string(),
        confidential: false,
        occurred_at: Some(Utc.with_ymd_and_hms(2015, 5, 17, 17, 6, 40).unwrap()),
        changes_unknown: false,
        labels_now: None,
        status_change: None,
    };
    assert_eq!(hooks::normalise(&hook), expected);
}

#[test]
fn missing_event_header_is_fine() {
    let hook = parse_some(None, &fixture("gitlab-docs/issue_open.json"));
    assert_eq!(hooks::normalise(&hook), issue_open_event());
}

#[test]
fn body_wins_over_a_disagreeing_header() {
    let hook = parse_some(
        Some("Push Hook"),
        &fixture("gitlab-docs/note_on_issue.json"),
    );
    assert_eq!(hook.kind_name(), "Note Hook");
}

#[test]
fn opened_issue_without_label_changes_adds_every_current_label() {
    // An issue created from a template whose `/label` applied the stage label.
    let body = edited("gitlab-docs/issue_open.json", "/changes/labels", None);
    let event = hooks::normalise(&parse_some(Some("Issue Hook"), &body));
    assert_eq!(event.kind, EventKind::Opened);
    assert_eq!(event.labels_added, strings(&["API"]));
    assert_eq!(event.labels_removed, Vec::<String>::new());
}

// ---- derived variants -------------------------------------------------------------------

#[test]
fn update_with_label_title_and_description_changes() {
    let hook = parse_some(
        Some("Issue Hook"),
        &fixture("derived/issue_update_labels.json"),
    );
    let expected = Event {
        kind: EventKind::Updated,
        labels_added: strings(&["cocreate::identified"]),
        labels_removed: strings(&["API"]),
        title_changed: true,
        description_changed: true,
        change_id: "update@2013-12-04T09:00:00Z".to_string(),
        occurred_at: Some(utc("2013-12-04T09:00:00Z")),
        labels_now: Some(strings(&["Platform", "cocreate::identified"])),
        status_change: None,
        ..issue_open_event()
    };
    assert_eq!(hooks::normalise(&hook), expected);
}

#[test]
fn close_without_label_changes() {
    let hook = parse_some(Some("Issue Hook"), &fixture("derived/issue_close.json"));
    let expected = Event {
        kind: EventKind::Closed,
        labels_added: vec![],
        labels_removed: vec![],
        labels_now: Some(strings(&["API"])),
        status_change: None,
        change_id: "close@2013-12-05T10:00:00Z".to_string(),
        occurred_at: Some(utc("2013-12-05T10:00:00Z")),
        ..issue_open_event()
    };
    assert_eq!(hooks::normalise(&hook), expected);
}

#[test]
fn reopen_without_label_changes() {
    let hook = parse_some(Some("Issue Hook"), &fixture("derived/issue_reopen.json"));
    let expected = Event {
        kind: EventKind::Reopened,
        labels_added: vec![],
        labels_removed: vec![],
        labels_now: Some(strings(&["API"])),
        status_change: None,
        change_id: "reopen@2013-12-06T11:30:00Z".to_string(),
        occurred_at: Some(utc("2013-12-06T11:30:00Z")),
        ..issue_open_event()
    };
    assert_eq!(hooks::normalise(&hook), expected);
}

#[test]
fn confidential_issue_from_the_body() {
    let hook = parse_some(
        Some("Confidential Issue Hook"),
        &fixture("derived/issue_confidential.json"),
    );
    assert_eq!(hook.kind_name(), "Issue Hook");
    let expected = Event {
        kind: EventKind::Updated,
        change_id: "update@2013-12-03T17:15:43Z".to_string(),
        confidential: true,
        ..issue_open_event()
    };
    assert_eq!(hooks::normalise(&hook), expected);
    // Stored as "Issue Hook" and parsed again by the worker: still confidential.
    let reparsed = parse_some(
        Some(hook.kind_name()),
        &fixture("derived/issue_confidential.json"),
    );
    assert!(hooks::normalise(&reparsed).confidential);
}

#[test]
fn confidential_header_alone_marks_the_event_confidential() {
    let hook = parse_some(
        Some("Confidential Issue Hook"),
        &fixture("gitlab-docs/issue_open.json"),
    );
    let expected = Event {
        confidential: true,
        ..issue_open_event()
    };
    assert_eq!(hooks::normalise(&hook), expected);
}

#[test]
fn work_item_is_an_issue_hook() {
    let hook = parse_some(Some("Issue Hook"), &fixture("derived/work_item_task.json"));
    assert_eq!(hook.kind_name(), "Issue Hook");
    assert_eq!(hook.issue_key().to_string(), "14#23");
    assert_eq!(hooks::normalise(&hook), issue_open_event());
}

#[test]
fn a_work_item_status_change_carries_the_statuses_moved_between() {
    let body = fixture("derived/work_item_status_changed.json");
    let hook = parse_some(Some("Issue Hook"), &body);
    let event = hooks::normalise(&hook);
    assert_eq!(event.kind, EventKind::Updated);
    assert!(event.labels_added.is_empty() && event.labels_removed.is_empty());
    let change = event.status_change.clone().expect("a status change");
    let from = change.from.expect("previous status");
    let to = change.to.expect("current status");
    assert_eq!(
        (from.name.as_str(), from.category.as_str()),
        ("To do", "to_do")
    );
    assert_eq!(
        (to.name.as_str(), to.category.as_str()),
        ("In progress", "in_progress")
    );
    assert_eq!(
        to.id.as_deref(),
        Some("gid://gitlab/WorkItems::Statuses::SystemDefined::Status/2")
    );
    // Offline planning (`labelflow plan`) reads the status and the type from the payload.
    let issue = hooks::issue_from_payload(&body, &event).expect("issue");
    assert_eq!(issue.work_item_type, "Task");
    assert_eq!(
        issue.status.map(|s| s.name),
        Some("In progress".to_string())
    );
}

#[test]
fn a_status_change_without_a_previous_status_has_none() {
    let body = edited(
        "derived/work_item_status_changed.json",
        "/changes/status/previous",
        Some(Value::Null),
    );
    let event = hooks::normalise(&parse_some(None, &body));
    let change = event.status_change.expect("a status change");
    assert!(change.from.is_none());
    assert_eq!(change.to.map(|s| s.name), Some("In progress".to_string()));
}

#[test]
fn group_level_work_item_without_project_is_ignored() {
    let mut json = fixture_json("derived/work_item_task.json");
    json["object_attributes"]
        .as_object_mut()
        .expect("object")
        .remove("project_id");
    json.as_object_mut().expect("object").remove("project");
    let body = serde_json::to_vec(&json).expect("serialisable");
    assert!(
        hooks::parse(Some("Issue Hook"), &body)
            .expect("parses")
            .is_none()
    );
}

#[test]
fn issue_without_any_project_id_is_an_error() {
    let mut json = fixture_json("gitlab-docs/issue_open.json");
    json["object_attributes"]
        .as_object_mut()
        .expect("object")
        .remove("project_id");
    json.as_object_mut().expect("object").remove("project");
    let body = serde_json::to_vec(&json).expect("serialisable");
    let err = hooks::parse(Some("Issue Hook"), &body).expect_err("no project id");
    assert_eq!(err, HookError::NoProjectId);
}

#[test]
fn issue_falls_back_to_project_id_when_attributes_lack_it() {
    let body = edited(
        "gitlab-docs/issue_open.json",
        "/object_attributes/project_id",
        None,
    );
    let hook = parse_some(Some("Issue Hook"), &body);
    assert_eq!(hook.issue_key().to_string(), "1#23");
}

#[test]
fn confidential_internal_note() {
    let hook = parse_some(
        Some("Confidential Note Hook"),
        &fixture("derived/note_confidential.json"),
    );
    assert_eq!(hook.kind_name(), "Note Hook");
    let event = hooks::normalise(&hook);
    assert!(event.confidential);
    assert_eq!(
        event.kind,
        EventKind::Comment {
            note_id: 1241,
            body: "Hello world".to_string(),
            internal: true,
        }
    );
}

#[test]
fn note_on_merge_request_is_ignored() {
    let parsed = hooks::parse(
        Some("Note Hook"),
        &fixture("derived/note_on_merge_request.json"),
    )
    .expect("parses");
    assert!(parsed.is_none(), "got {parsed:?}");
}

#[test]
fn push_hook_is_ignored() {
    let parsed =
        hooks::parse(Some("Push Hook"), &fixture("derived/push_object_kind.json")).expect("parses");
    assert!(parsed.is_none(), "got {parsed:?}");
}

#[test]
fn object_without_object_kind_is_ignored() {
    let parsed = hooks::parse(None, b"{\"event_name\": \"project_create\"}").expect("parses");
    assert!(parsed.is_none());
}

/// System notes ("added ~25 label") are skipped, not turned into events: the change they
/// describe arrives as its own Issue Hook.
#[test]
fn system_note_is_skipped() {
    let parsed =
        hooks::parse(Some("Note Hook"), &fixture("derived/note_system.json")).expect("parses");
    assert!(parsed.is_none(), "got {parsed:?}");
}

#[test]
fn fractional_updated_at_keeps_its_fraction_in_change_id() {
    let body = edited(
        "gitlab-docs/issue_open.json",
        "/object_attributes/updated_at",
        Some("2019-06-05T14:32:20.211Z".into()),
    );
    let event = hooks::normalise(&parse_some(None, &body));
    assert_eq!(event.change_id, "open@2019-06-05T14:32:20.211Z");
}

#[test]
fn gitlab_utc_date_format_in_issue_updated_at() {
    let body = edited(
        "gitlab-docs/issue_open.json",
        "/object_attributes/updated_at",
        Some("2017-09-15 16:52:00 UTC".into()),
    );
    let event = hooks::normalise(&parse_some(None, &body));
    assert_eq!(event.change_id, "open@2017-09-15T16:52:00Z");
}

// ---- errors name the problem ------------------------------------------------------------

#[test]
fn bad_json_names_line_and_column() {
    let body = b"{\n  \"object_kind\": \"issue\",\n  \"user\" {}\n}";
    let err = hooks::parse(None, body).expect_err("bad JSON");
    assert_eq!(
        err.to_string(),
        "invalid JSON at line 3, column 10: expected `:`"
    );
}

#[test]
fn missing_comma_names_line_and_column() {
    let body = b"{\n  \"object_kind\": \"issue\"\n  \"user\": {}\n}";
    let err = hooks::parse(None, body).expect_err("bad JSON");
    assert_eq!(
        err.to_string(),
        "invalid JSON at line 3, column 3: expected `,` or `}`"
    );
}

#[test]
fn truncated_json_names_the_end() {
    let full = fixture("gitlab-docs/note_on_issue.json");
    let err = hooks::parse(Some("Note Hook"), &full[..200]).expect_err("truncated");
    let HookError::Syntax { line, message, .. } = &err else {
        panic!("expected a syntax error, got {err:?}");
    };
    assert_eq!(*line, 8);
    assert_eq!(message, "EOF while parsing a string");
}

#[test]
fn trailing_garbage_is_a_syntax_error() {
    let mut body = fixture("gitlab-docs/issue_open.json");
    body.extend_from_slice(b" x");
    let err = hooks::parse(None, &body).expect_err("trailing characters");
    assert!(
        err.to_string().ends_with(": trailing characters"),
        "got {err}"
    );
}

#[test]
fn empty_body_is_a_syntax_error() {
    let err = hooks::parse(None, b"").expect_err("empty");
    assert_eq!(
        err.to_string(),
        "invalid JSON at line 1, column 0: EOF while parsing a value"
    );
}

#[test]
fn wrong_type_names_the_field_path() {
    let body = edited(
        "gitlab-docs/issue_open.json",
        "/object_attributes/iid",
        Some("x".into()),
    );
    let err = hooks::parse(Some("Issue Hook"), &body).expect_err("wrong type");
    assert_eq!(
        err.to_string(),
        "field `object_attributes.iid`: invalid type: string \"x\", expected u64"
    );
}

#[test]
fn wrong_type_inside_a_list_names_the_index() {
    let body = edited(
        "gitlab-docs/issue_open.json",
        "/changes/labels/current/0/title",
        Some(7.into()),
    );
    let err = hooks::parse(Some("Issue Hook"), &body).expect_err("wrong type");
    assert_eq!(
        err.to_string(),
        "field `changes.labels.current[0].title`: invalid type: integer `7`, expected a string"
    );
}

#[test]
fn missing_field_names_the_full_path() {
    let body = edited(
        "gitlab-docs/issue_open.json",
        "/object_attributes/iid",
        None,
    );
    let err = hooks::parse(Some("Issue Hook"), &body).expect_err("missing iid");
    assert_eq!(err.to_string(), "missing field `object_attributes.iid`");

    let body = edited("gitlab-docs/note_on_issue.json", "/user/username", None);
    let err = hooks::parse(Some("Note Hook"), &body).expect_err("missing username");
    assert_eq!(err.to_string(), "missing field `user.username`");

    let body = edited("gitlab-docs/note_on_issue.json", "/issue", None);
    let err = hooks::parse(Some("Note Hook"), &body).expect_err("missing issue");
    assert_eq!(err.to_string(), "missing field `issue`");
}

#[test]
fn unreadable_date_names_the_field() {
    let body = edited(
        "gitlab-docs/issue_open.json",
        "/object_attributes/updated_at",
        Some("yesterday".into()),
    );
    let err = hooks::parse(Some("Issue Hook"), &body).expect_err("bad date");
    let HookError::InvalidField { path, .. } = &err else {
        panic!("expected a field error, got {err:?}");
    };
    assert_eq!(path, "object_attributes.updated_at");
}

#[test]
fn non_object_body_says_so() {
    let err = hooks::parse(None, b"[1, 2]").expect_err("array");
    assert_eq!(
        err.to_string(),
        "invalid payload: expected a JSON object, got an array"
    );
    // Positional (array) input must not be read into the structs field by field.
    let err = hooks::parse(None, b" [\"note\", null]").expect_err("array");
    assert_eq!(err, HookError::NotAnObject { found: "an array" });
    let err = hooks::parse(None, b"42").expect_err("number");
    assert_eq!(err, HookError::NotAnObject { found: "a number" });
}

// ---- robustness -------------------------------------------------------------------------

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        prop_oneof![
            Just("issue".to_string()),
            Just("work_item".to_string()),
            Just("note".to_string()),
            Just("Issue".to_string()),
            Just("2013-12-03T17:15:43Z".to_string()),
            ".*",
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("object_kind".to_string()),
                    Just("object_attributes".to_string()),
                    Just("noteable_type".to_string()),
                    Just("iid".to_string()),
                    Just("project_id".to_string()),
                    Just("labels".to_string()),
                    Just("changes".to_string()),
                    Just("user".to_string()),
                    Just("issue".to_string()),
                    "[a-z_]{1,12}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every JSON pointer to a value inside `v`.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(child, p, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(child, p, out);
            }
        }
        _ => {}
    }
}

const DOC_FIXTURES: [&str; 3] = [
    "gitlab-docs/issue_open.json",
    "gitlab-docs/issue_open_legacy_v11_doc.json",
    "gitlab-docs/note_on_issue.json",
];

fn parse_and_normalise(header: Option<&str>, body: &[u8]) {
    if let Ok(Some(hook)) = hooks::parse(header, body) {
        let event = hooks::normalise(&hook);
        assert_eq!(event.issue, hook.issue_key());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        parse_and_normalise(Some("Issue Hook"), &body);
        parse_and_normalise(None, &body);
    }

    #[test]
    fn arbitrary_json_never_panics(value in any_json()) {
        let body = serde_json::to_vec(&value).expect("serialisable");
        parse_and_normalise(Some("Note Hook"), &body);
    }

    /// Documented payloads with one value anywhere replaced by arbitrary JSON: reaches the deep
    /// fields that random objects rarely hit.
    #[test]
    fn mutated_documented_payloads_never_panic(
        which in 0..DOC_FIXTURES.len(),
        pick in any::<prop::sample::Index>(),
        replacement in any_json(),
    ) {
        let mut json = fixture_json(DOC_FIXTURES[which]);
        let mut all = Vec::new();
        pointers(&json, String::new(), &mut all);
        let target = pick.get(&all).clone();
        if let Some(slot) = json.pointer_mut(&target) {
            *slot = replacement;
        }
        let body = serde_json::to_vec(&json).expect("serialisable");
        parse_and_normalise(None, &body);
    }
}

/// Whether the header announces the kind (one pass over the body) or not (the envelope is read
/// first), every documented and derived payload parses to the same hook, or the same error.
#[test]
fn the_announced_kind_and_the_envelope_path_agree_on_every_fixture() {
    let mut checked = 0;
    for dir in ["gitlab-docs", "derived"] {
        let full = format!("{}/tests/fixtures/{dir}", env!("CARGO_MANIFEST_DIR"));
        for entry in std::fs::read_dir(&full).expect("fixture dir") {
            let path = entry.expect("entry").path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let body = std::fs::read(&path).expect("readable");
            let plain = format!("{:?}", hooks::parse(None, &body));
            for header in [
                "Issue Hook",
                "Confidential Issue Hook",
                "Note Hook",
                "Confidential Note Hook",
            ] {
                let announced = format!("{:?}", hooks::parse(Some(header), &body));
                let confidential = header.starts_with("Confidential");
                // The confidential flag comes from the header alone; all else must match.
                let expected = if confidential {
                    plain.replace(
                        "delivered_as_confidential: false",
                        "delivered_as_confidential: true",
                    )
                } else {
                    plain.clone()
                };
                let same_kind = (header.contains("Issue") && plain.contains("Issue("))
                    || (header.contains("Note") && plain.contains("Note("));
                if same_kind {
                    assert_eq!(announced, expected, "{} as {header}", path.display());
                } else if !plain.starts_with("Ok(Some") {
                    assert_eq!(announced, plain, "{} as {header}", path.display());
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 40, "only {checked} parses compared");
}
