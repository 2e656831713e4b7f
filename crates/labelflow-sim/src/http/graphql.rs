//! `POST /api/graphql`: the part of GitLab's GraphQL API that statuses and work item types
//! need, with GitLab's names (its GraphQL reference):
//! - `project(fullPath)` → `workItems(iid)` → `nodes` of `WorkItem` (`id`, `iid`, `title`,
//!   `state`, `workItemType { name }`, `widgets`; `WorkItemWidgetStatus.status` is a
//!   `WorkItemStatus` with `id`, `name`, `category`, `color`, `description`, `iconName`,
//!   `position`);
//! - `project(fullPath)` → `workItemTypes` → `nodes` of `WorkItemType` (`name`,
//!   `widgetDefinitions`; `WorkItemWidgetDefinitionStatus.allowedStatuses`);
//! - `WorkItemWidgetCustomFields.customFieldValues`: `customField { id name fieldType
//!   selectOptions { id value } }` and, by type, `WorkItemTextFieldValue.value`,
//!   `WorkItemNumberFieldValue.value`, `WorkItemSelectFieldValue.selectedOptions`;
//! - `workItemUpdate(input: {id, statusWidget: {status}, customFieldsWidget: [{customFieldId,
//!   textValue | numberValue | selectedOptionIds}]})` → `{workItem, errors}`.
//!
//! A real (small) executor: the query is parsed, variables substituted, and only the selected
//! fields are answered; inline fragments (`... on WorkItemWidgetStatus`) apply by type. Errors
//! come back as GraphQL does, in `errors` with HTTP 200. Named fragments are not supported.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use graphql_parser::query::{
    Definition, Document, OperationDefinition, Selection, SelectionSet, TypeCondition,
    Value as GqlValue,
};
use serde_json::{Map, Value, json};

use super::{App, AuthUser, lock};
use crate::hook_payload::HookEvent;
use crate::model::{SimCustomField, SimIssue, SimStatus};
use crate::state::SimState;
use crate::work_items::has_status_widget;

type Gql<'a> = GqlValue<'a, String>;
type Set<'a> = SelectionSet<'a, String>;

/// What a field resolves to: a leaf, an object to select from, a list, or null.
enum Out {
    Leaf(Value),
    Obj(Obj),
    List(Vec<Out>),
}

/// The object types this simulator knows.
enum Obj {
    Project(u64),
    WorkItems(Vec<u64>),
    WorkItem(u64),
    /// A type as seen from a project (whose namespace's lifecycle its statuses follow).
    Type {
        project: u64,
        name: String,
    },
    Types {
        project: u64,
        names: Vec<String>,
    },
    Widget {
        issue: u64,
        kind: &'static str,
    },
    Definition {
        project: u64,
        work_item_type: String,
        kind: &'static str,
    },
    Status(SimStatus),
    FieldValue {
        issue: u64,
        field: SimCustomField,
    },
    CustomField(SimCustomField),
    SelectOption {
        id: String,
        value: String,
    },
    UpdatePayload {
        item: Option<u64>,
        errors: Vec<String>,
    },
}

const NOT_FOUND: &str = "The resource that you are attempting to access does not exist or you \
     don't have permission to perform this action";

/// Work item types every project has (GitLab's base types).
const TYPES: &[&str] = &[
    "Issue",
    "Incident",
    "Test case",
    "Requirement",
    "Task",
    "Objective",
    "Key Result",
    "Epic",
    "Ticket",
];

/// The widgets the simulator shows, with their `WorkItemWidgetType` names.
fn widget_kinds(state: &SimState, project: u64, work_item_type: &str) -> Vec<&'static str> {
    let mut kinds = vec!["DESCRIPTION", "LABELS"];
    if has_status_widget(work_item_type) {
        kinds.push("STATUS");
    }
    if !state.fields_for(project, work_item_type).is_empty() {
        kinds.push("CUSTOM_FIELDS");
    }
    kinds
}

struct Ctx<'s> {
    state: &'s mut SimState,
    user: u64,
    variables: Map<String, Value>,
    errors: Vec<Value>,
    events: Vec<HookEvent>,
}

pub(crate) async fn graphql(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    body: Bytes,
) -> Response {
    let (answer, events) = {
        let mut state = lock(&app.state);
        execute(&mut state, user, &body)
    };
    app.dispatch(events);
    axum::Json(answer).into_response()
}

fn error(message: impl Into<String>) -> Value {
    json!({ "errors": [{ "message": message.into() }] })
}

fn execute(state: &mut SimState, user: u64, body: &[u8]) -> (Value, Vec<HookEvent>) {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return (error("Invalid JSON in the request body"), Vec::new());
    };
    let Some(query) = request["query"].as_str() else {
        return (error("No query string was present"), Vec::new());
    };
    let doc: Document<String> = match graphql_parser::parse_query(query) {
        Ok(d) => d,
        Err(e) => return (error(format!("Parse error: {e}")), Vec::new()),
    };
    let wanted = request["operationName"].as_str();
    let ops: Vec<&OperationDefinition<String>> = doc
        .definitions
        .iter()
        .filter_map(|d| match d {
            Definition::Operation(op) => Some(op),
            Definition::Fragment(_) => None,
        })
        .collect();
    let op = ops.iter().find(|op| {
        let name = match op {
            OperationDefinition::Query(q) => q.name.as_deref(),
            OperationDefinition::Mutation(m) => m.name.as_deref(),
            _ => None,
        };
        wanted.is_none() || name == wanted
    });
    let (set, mutation) = match op {
        Some(OperationDefinition::Query(q)) => (&q.selection_set, false),
        Some(OperationDefinition::SelectionSet(s)) => (s, false),
        Some(OperationDefinition::Mutation(m)) => (&m.selection_set, true),
        _ => return (error("No operation to run"), Vec::new()),
    };
    let mut ctx = Ctx {
        state,
        user,
        variables: request["variables"]
            .as_object()
            .cloned()
            .unwrap_or_default(),
        errors: Vec::new(),
        events: Vec::new(),
    };
    let data = root(&mut ctx, set, mutation);
    let mut answer = json!({ "data": data });
    if !ctx.errors.is_empty() {
        answer["errors"] = Value::Array(ctx.errors);
    }
    (answer, ctx.events)
}

fn arg_value(ctx: &Ctx, v: &Gql) -> Value {
    match v {
        GqlValue::Variable(name) => ctx.variables.get(name).cloned().unwrap_or(Value::Null),
        GqlValue::Int(n) => json!(n.as_i64()),
        GqlValue::Float(f) => json!(f),
        GqlValue::String(s) => json!(s),
        GqlValue::Boolean(b) => json!(b),
        GqlValue::Null => Value::Null,
        GqlValue::Enum(e) => json!(e),
        GqlValue::List(items) => Value::Array(items.iter().map(|i| arg_value(ctx, i)).collect()),
        GqlValue::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), arg_value(ctx, v)))
                .collect(),
        ),
    }
}

fn root(ctx: &mut Ctx, set: &Set, mutation: bool) -> Value {
    let mut out = Map::new();
    for sel in &set.items {
        let Selection::Field(f) = sel else { continue };
        let args: Map<String, Value> = f
            .arguments
            .iter()
            .map(|(k, v)| (k.clone(), arg_value(ctx, v)))
            .collect();
        let key = f.alias.clone().unwrap_or_else(|| f.name.clone());
        let resolved = match (mutation, f.name.as_str()) {
            (false, "project") => project(ctx, &args),
            (false, "__typename") => Some(Out::Leaf(json!("Query"))),
            (true, "workItemUpdate") => Some(work_item_update(ctx, &args)),
            (true, "__typename") => Some(Out::Leaf(json!("Mutation"))),
            (_, other) => {
                ctx.errors.push(json!({
                    "message": format!("Field '{other}' doesn't exist on this simulator")
                }));
                None
            }
        };
        out.insert(key, render(ctx, resolved, &f.selection_set));
    }
    Value::Object(out)
}

fn project(ctx: &mut Ctx, args: &Map<String, Value>) -> Option<Out> {
    let path = args.get("fullPath")?.as_str()?;
    let pid = ctx.state.resolve_project(path).ok()?;
    // Like GitLab, a project the caller cannot see is null, not an error.
    ctx.state
        .require_access(pid, ctx.user, crate::model::access::GUEST)
        .ok()?;
    Some(Out::Obj(Obj::Project(pid)))
}

fn work_item_update(ctx: &mut Ctx, args: &Map<String, Value>) -> Out {
    let input = args.get("input").cloned().unwrap_or(Value::Null);
    let issue_id = input["id"]
        .as_str()
        .and_then(|gid| gid.strip_prefix("gid://gitlab/WorkItem/"))
        .and_then(|n| n.parse::<u64>().ok());
    let Some(issue) = issue_id.and_then(|id| ctx.state.issues.get(&id).cloned()) else {
        ctx.errors.push(json!({ "message": NOT_FOUND }));
        return Out::Leaf(Value::Null);
    };
    if ctx
        .state
        .visible_issue(issue.project_id, issue.iid, ctx.user)
        .is_err()
    {
        ctx.errors.push(json!({ "message": NOT_FOUND }));
        return Out::Leaf(Value::Null);
    }
    let mut errors = Vec::new();
    if let Some(gid) = input["statusWidget"]["status"].as_str() {
        match ctx
            .state
            .set_status(ctx.user, issue.project_id, issue.iid, gid)
        {
            Ok((_, events)) => ctx.events.extend(events),
            Err(crate::state::SimError::Forbidden) => {
                ctx.errors.push(json!({ "message": NOT_FOUND }));
                return Out::Leaf(Value::Null);
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    for value in input["customFieldsWidget"].as_array().into_iter().flatten() {
        match ctx.state.set_custom_value(ctx.user, &issue, value) {
            Ok(()) => {}
            Err(crate::state::SimError::Forbidden) => {
                ctx.errors.push(json!({ "message": NOT_FOUND }));
                return Out::Leaf(Value::Null);
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    Out::Obj(Obj::UpdatePayload {
        item: Some(issue.id),
        errors,
    })
}

/// Answers `set` on a resolved value.
fn render(ctx: &mut Ctx, out: Option<Out>, set: &Set) -> Value {
    match out {
        None => Value::Null,
        Some(Out::Leaf(v)) => v,
        Some(Out::List(items)) => Value::Array(
            items
                .into_iter()
                .map(|i| render(ctx, Some(i), set))
                .collect(),
        ),
        Some(Out::Obj(obj)) => {
            let mut map = Map::new();
            select(ctx, &obj, set, &mut map);
            Value::Object(map)
        }
    }
}

fn select(ctx: &mut Ctx, obj: &Obj, set: &Set, map: &mut Map<String, Value>) {
    for sel in &set.items {
        match sel {
            Selection::Field(f) => {
                let args: Map<String, Value> = f
                    .arguments
                    .iter()
                    .map(|(k, v)| (k.clone(), arg_value(ctx, v)))
                    .collect();
                let key = f.alias.clone().unwrap_or_else(|| f.name.clone());
                let value = match field(ctx, obj, &f.name, &args) {
                    Ok(out) => render(ctx, out, &f.selection_set),
                    Err(message) => {
                        ctx.errors.push(json!({ "message": message }));
                        Value::Null
                    }
                };
                map.insert(key, value);
            }
            Selection::InlineFragment(frag) => {
                let applies = match &frag.type_condition {
                    None => true,
                    Some(TypeCondition::On(t)) => *t == typename(obj),
                };
                if applies {
                    select(ctx, obj, &frag.selection_set, map);
                }
            }
            Selection::FragmentSpread(s) => ctx.errors.push(json!({
                "message": format!("named fragments (`...{}`) are not supported by the simulator", s.fragment_name)
            })),
        }
    }
}

fn typename(obj: &Obj) -> String {
    match obj {
        Obj::Project(_) => "Project",
        Obj::WorkItems(_) => "WorkItemConnection",
        Obj::WorkItem(_) => "WorkItem",
        Obj::Type { .. } => "WorkItemType",
        Obj::Types { .. } => "WorkItemTypeConnection",
        Obj::Widget { kind: "STATUS", .. } => "WorkItemWidgetStatus",
        Obj::Widget { kind: "LABELS", .. } => "WorkItemWidgetLabels",
        Obj::Widget {
            kind: "CUSTOM_FIELDS",
            ..
        } => "WorkItemWidgetCustomFields",
        Obj::Widget { .. } => "WorkItemWidgetDescription",
        Obj::Definition { kind: "STATUS", .. } => "WorkItemWidgetDefinitionStatus",
        Obj::Definition { .. } => "WorkItemWidgetDefinitionGeneric",
        Obj::Status(_) => "WorkItemStatus",
        Obj::FieldValue { field, .. } => match field.field_type.as_str() {
            "NUMBER" => "WorkItemNumberFieldValue",
            "TEXT" => "WorkItemTextFieldValue",
            _ => "WorkItemSelectFieldValue",
        },
        Obj::CustomField(_) => "CustomField",
        Obj::SelectOption { .. } => "CustomFieldSelectOption",
        Obj::UpdatePayload { .. } => "WorkItemUpdatePayload",
    }
    .to_string()
}

fn leaf(v: Value) -> Result<Option<Out>, String> {
    Ok(Some(Out::Leaf(v)))
}

fn issue<'s>(ctx: &'s Ctx, id: u64) -> Result<&'s SimIssue, String> {
    ctx.state
        .issues
        .get(&id)
        .ok_or_else(|| NOT_FOUND.to_string())
}

fn field(
    ctx: &mut Ctx,
    obj: &Obj,
    name: &str,
    args: &Map<String, Value>,
) -> Result<Option<Out>, String> {
    if name == "__typename" {
        return leaf(json!(typename(obj)));
    }
    let unknown = || {
        Err(format!(
            "Field '{name}' doesn't exist on type '{}'",
            typename(obj)
        ))
    };
    match obj {
        Obj::Project(pid) => match name {
            "id" => leaf(json!(format!("gid://gitlab/Project/{pid}"))),
            "fullPath" => leaf(json!(ctx.state.projects[pid].path_with_namespace)),
            "workItems" => {
                let iid = args.get("iid").and_then(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .or(v.as_u64().map(|n| n.to_string()))
                });
                let user = ctx.user;
                let ids: Vec<u64> = ctx
                    .state
                    .issues
                    .values()
                    .filter(|i| i.project_id == *pid)
                    .filter(|i| iid.as_ref().is_none_or(|n| *n == i.iid.to_string()))
                    .filter(|i| ctx.state.visible_issue(*pid, i.iid, user).is_ok())
                    .map(|i| i.id)
                    .collect();
                Ok(Some(Out::Obj(Obj::WorkItems(ids))))
            }
            "workItemTypes" => {
                let types = TYPES
                    .iter()
                    .filter(|t| {
                        args.get("name")
                            .and_then(Value::as_str)
                            .is_none_or(|n| crate::work_items::type_enum(t) == n)
                    })
                    .map(|t| t.to_string())
                    .collect();
                Ok(Some(Out::Obj(Obj::Types {
                    project: *pid,
                    names: types,
                })))
            }
            _ => unknown(),
        },
        Obj::WorkItems(ids) => match name {
            "nodes" => Ok(Some(Out::List(
                ids.iter().map(|id| Out::Obj(Obj::WorkItem(*id))).collect(),
            ))),
            "count" => leaf(json!(ids.len())),
            _ => unknown(),
        },
        Obj::Types { project, names } => match name {
            "nodes" => Ok(Some(Out::List(
                names
                    .iter()
                    .map(|n| {
                        Out::Obj(Obj::Type {
                            project: *project,
                            name: n.clone(),
                        })
                    })
                    .collect(),
            ))),
            _ => unknown(),
        },
        Obj::WorkItem(id) => {
            let i = issue(ctx, *id)?.clone();
            match name {
                "id" => leaf(json!(format!("gid://gitlab/WorkItem/{}", i.id))),
                "iid" => leaf(json!(i.iid.to_string())),
                "title" => leaf(json!(i.title)),
                "state" => leaf(json!(match i.state {
                    crate::model::IssueStatus::Opened => "OPEN",
                    crate::model::IssueStatus::Closed => "CLOSED",
                })),
                "confidential" => leaf(json!(i.confidential)),
                "webUrl" => leaf(json!(ctx.state.issue_web_url(&i))),
                "workItemType" => Ok(Some(Out::Obj(Obj::Type {
                    project: i.project_id,
                    name: i.work_item_type.clone(),
                }))),
                "widgets" => Ok(Some(Out::List(
                    widget_kinds(ctx.state, i.project_id, &i.work_item_type)
                        .into_iter()
                        .map(|kind| Out::Obj(Obj::Widget { issue: i.id, kind }))
                        .collect(),
                ))),
                _ => unknown(),
            }
        }
        Obj::Type { project, name: t } => match name {
            "id" => leaf(json!(format!(
                "gid://gitlab/WorkItems::Type/{}",
                TYPES.iter().position(|x| x == t).map_or(0, |p| p + 1)
            ))),
            "name" => leaf(json!(t)),
            "widgetDefinitions" => Ok(Some(Out::List(
                widget_kinds(ctx.state, *project, t)
                    .into_iter()
                    .map(|kind| {
                        Out::Obj(Obj::Definition {
                            project: *project,
                            work_item_type: t.clone(),
                            kind,
                        })
                    })
                    .collect(),
            ))),
            _ => unknown(),
        },
        Obj::Widget { issue: id, kind } => {
            let i = issue(ctx, *id)?.clone();
            match (name, *kind) {
                ("type", k) => leaf(json!(k)),
                ("status", "STATUS") => Ok(i.status.clone().map(|s| Out::Obj(Obj::Status(s)))),
                ("description", "DESCRIPTION") => leaf(json!(i.description)),
                ("customFieldValues", "CUSTOM_FIELDS") => Ok(Some(Out::List(
                    ctx.state
                        .fields_for(i.project_id, &i.work_item_type)
                        .into_iter()
                        .map(|field| Out::Obj(Obj::FieldValue { issue: i.id, field }))
                        .collect(),
                ))),
                _ => unknown(),
            }
        }
        Obj::Definition {
            project,
            work_item_type,
            kind,
        } => match (name, *kind) {
            ("type", k) => leaf(json!(k)),
            ("allowedStatuses", "STATUS") if has_status_widget(work_item_type) => {
                Ok(Some(Out::List(
                    ctx.state
                        .lifecycle(*project)
                        .into_iter()
                        .map(|s| Out::Obj(Obj::Status(s)))
                        .collect(),
                )))
            }
            _ => unknown(),
        },
        Obj::Status(s) => match name {
            "id" => leaf(json!(s.gid)),
            "name" => leaf(json!(s.name)),
            // GraphQL writes the `WorkItemStatusCategoryEnum` value names upper case.
            "category" => leaf(json!(s.category.to_uppercase())),
            "color" => leaf(json!(s.color)),
            "description" => leaf(json!(s.description)),
            "iconName" => leaf(json!(format!("status-{}", s.category.replace('_', "-")))),
            "position" => leaf(json!(0)),
            _ => unknown(),
        },
        Obj::FieldValue { issue: id, field } => {
            let value = issue(ctx, *id)?
                .custom_values
                .get(&field.gid)
                .cloned()
                .unwrap_or(Value::Null);
            match (name, field.field_type.as_str()) {
                ("customField", _) => Ok(Some(Out::Obj(Obj::CustomField(field.clone())))),
                ("value", "NUMBER" | "TEXT") => leaf(value),
                ("selectedOptions", "SINGLE_SELECT" | "MULTI_SELECT") => Ok(Some(Out::List(
                    value
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .filter_map(|oid| field.options.iter().find(|(o, _)| o == oid))
                        .map(select_option)
                        .collect(),
                ))),
                _ => unknown(),
            }
        }
        Obj::CustomField(f) => match name {
            "id" => leaf(json!(f.gid)),
            "name" => leaf(json!(f.name)),
            "fieldType" => leaf(json!(f.field_type)),
            "active" => leaf(json!(true)),
            "selectOptions" => Ok(Some(Out::List(
                f.options.iter().map(select_option).collect(),
            ))),
            _ => unknown(),
        },
        Obj::SelectOption { id, value } => match name {
            "id" => leaf(json!(id)),
            "value" => leaf(json!(value)),
            _ => unknown(),
        },
        Obj::UpdatePayload { item, errors } => match name {
            "workItem" => Ok(item.map(|id| Out::Obj(Obj::WorkItem(id)))),
            "errors" => leaf(json!(errors)),
            _ => unknown(),
        },
    }
}

/// One option of a select custom field, as GraphQL answers it.
fn select_option((id, value): &(String, String)) -> Out {
    Out::Obj(Obj::SelectOption {
        id: id.clone(),
        value: value.clone(),
    })
}
