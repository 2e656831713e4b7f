//! The workflow configuration (`labelflow.yml`): typed, strict (unknown keys are errors), with
//! source lines kept on the values that later validation may need to point at.
//!
//! A missing optional section means the feature is off, as in triagebot.
//!
//! Over 600 lines on purpose: the whole file format in one place, in the order
//! docs/configuration.md reads it (the status and custom-field shapes are in
//! `work_item_config`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use crate::spanned::Sp;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub bot: BotConfig,
    /// Directory holding the templates, relative to the configuration file.
    #[serde(default = "default_templates_dir")]
    pub templates_dir: String,
    /// Named projects (`name: group/project`) that rules refer to by name.
    #[serde(default)]
    pub projects: BTreeMap<String, String>,
    #[serde(default)]
    pub directory: Directory,
    #[serde(default)]
    pub workflows: BTreeMap<String, Workflow>,
    /// Colours and descriptions for the labels `labelflow setup` creates; a `scope::*` key
    /// sets them for a whole scoped family.
    #[serde(default)]
    pub labels: BTreeMap<String, LabelSpec>,
    /// CLA registry and checks; `cla_check` actions need it.
    #[serde(default)]
    pub cla: Option<crate::cla::config::ClaConfig>,
}

/// How `labelflow setup` should create a label (or a `scope::*` family).
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelSpec {
    /// `#RRGGBB`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub color: Option<Sp>,
    #[serde(default)]
    pub description: Option<String>,
}

fn default_templates_dir() -> String {
    "templates".to_string()
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BotConfig {
    /// The bot account's GitLab username; commands are written `@<username> <command>`.
    pub username: String,
    #[serde(default)]
    pub loop_guard: LoopGuard,
    /// Let label changes the bot made itself reach `label_added` / `label_removed` rules (one
    /// rule's label starting another). Off by default, because it makes loops possible: the
    /// loop guard then caps them. The bot's comments never run commands either way.
    #[serde(default)]
    pub react_to_own_label_changes: bool,
}

/// Caps the actions taken on one issue in a time window, so two rules that keep undoing each
/// other cannot spam an issue.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoopGuard {
    #[serde(default = "default_max_actions")]
    pub max_actions: u32,
    #[serde(default = "default_window_minutes")]
    pub window_minutes: u32,
}

impl Default for LoopGuard {
    fn default() -> Self {
        LoopGuard {
            max_actions: default_max_actions(),
            window_minutes: default_window_minutes(),
        }
    }
}

fn default_max_actions() -> u32 {
    40
}
fn default_window_minutes() -> u32 {
    10
}

/// Who is who: roles and product groups map to GitLab usernames.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Directory {
    /// Role name → GitLab usernames.
    #[serde(default)]
    pub roles: BTreeMap<String, Vec<String>>,
    /// Product-group label (e.g. `group::source code`) → the group's product managers.
    #[serde(default)]
    pub product_groups: BTreeMap<String, ProductGroup>,
}

impl Directory {
    /// Every username the directory names (roles, then product managers; repeats kept).
    pub fn people(&self) -> Vec<String> {
        self.roles
            .values()
            .flatten()
            .chain(self.product_groups.values().flat_map(|g| g.pms.iter()))
            .cloned()
            .collect()
    }
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductGroup {
    pub pms: Vec<String>,
}

/// A status that needs prerequisites: set before they hold, the item goes back to the status
/// it came from, with a comment naming what is missing.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusGuard {
    /// The guarded status (by name).
    #[schemars(with = "String")]
    pub status: Sp,
    /// All must hold when the status is set.
    pub requires: Vec<Requirement>,
}

/// Statuses only some people may set (in the UI too); others' changes are reverted to the
/// previous status and explained (GitLab cannot restrict them itself: gitlab issue 23974).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestrictedStatuses {
    /// Status names (compared case-insensitively).
    #[schemars(with = "Vec<String>")]
    pub statuses: Vec<Sp>,
    /// Roles allowed to set them.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub roles: Vec<Sp>,
    /// The product managers of the issue's `group::…` label may set them too.
    #[serde(default)]
    pub product_pms: bool,
}

/// One business process: its rules plus the workflow-wide checks.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Workflow {
    #[serde(default)]
    pub description: Option<String>,
    /// Description fields templates may use as `fields.<name>`, besides those named in
    /// `required_fields`, conditions and `vars` (all of which are known already).
    #[serde(default)]
    pub fields: Vec<String>,
    /// Only issues of these projects (names from `projects:` or paths); empty = every project.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub projects: Vec<Sp>,
    /// Only work items of these types (`Issue`, `Task`, `Incident`, …); empty = every type.
    #[serde(default)]
    pub work_item_types: Vec<String>,
    /// Where `fields.*` come from: the description (default), GitLab custom fields, or custom
    /// fields first with the description as the fallback.
    #[serde(default)]
    pub fields_from: super::work_item_config::FieldSource,
    /// Outgoing chat webhook (Slack-compatible JSON); off when absent.
    #[serde(default)]
    pub chat: Option<ChatConfig>,
    /// Labels only some roles may apply (in the UI too); others' applications are reverted.
    #[serde(default)]
    pub restricted_labels: Vec<RestrictedLabels>,
    /// Stage labels that need prerequisites; premature ones are reverted.
    #[serde(default)]
    pub guards: Vec<Guard>,
    /// Statuses only some roles may set; others' changes are reverted.
    #[serde(default)]
    pub restricted_statuses: Vec<RestrictedStatuses>,
    /// Statuses that need prerequisites; premature ones are reverted.
    #[serde(default)]
    pub status_guards: Vec<StatusGuard>,
    /// Description fields an issue must fill once it carries a label.
    #[serde(default)]
    pub required_fields: Vec<RequiredFields>,
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Stale-item policies `labelflow sweep` applies (off when absent).
    #[serde(default)]
    pub stale: Vec<StalePolicy>,
    /// Where the weekly sweep summary issue goes (no summary when absent).
    #[serde(default)]
    pub sweep_summary: Option<SweepSummary>,
    /// Items every sweep visits whatever their idle time, so `on: tick` rules can act on them
    /// (off when absent).
    #[serde(default)]
    pub sweep_visits: Option<SweepVisits>,
}

/// One stage's stale policy: after `idle_days` without human activity the owners are nudged
/// (comment + `nudge_label`); after `grace_days` more the item gets `stale_label`; after
/// `close_after_days` more (when set) it is closed. Human activity removes both labels.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StalePolicy {
    /// The stage label the policy watches (`cocreate::triage`).
    #[schemars(with = "String")]
    pub stage: Sp,
    /// Role (from `directory.roles`) mentioned in the nudge and listed as owner.
    #[schemars(with = "String")]
    pub owner_role: Sp,
    /// Days without human activity before the nudge.
    pub idle_days: u32,
    /// Days after the nudge, still without activity, before the stale label.
    pub grace_days: u32,
    /// Days after the stale label, still without activity, before closing. Absent = never.
    #[serde(default)]
    pub close_after_days: Option<u32>,
    #[serde(default)]
    pub exempt: StaleExemptions,
    /// Projects to sweep (names from `projects:` or paths); default: the workflow's projects.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub projects: Vec<Sp>,
    /// Groups to sweep (full paths), in addition to `projects`.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub groups: Vec<Sp>,
    /// Label marking a nudged item; default `<workflow>-sweep::nudged`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub nudge_label: Option<Sp>,
    /// Label marking a stale item; default `<workflow>-sweep::stale`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub stale_label: Option<Sp>,
}

/// Items a stale policy never touches.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StaleExemptions {
    /// Any of these labels exempts the item.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub labels: Vec<Sp>,
    /// Items in any of these milestones (by title) are exempt.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub milestones: Vec<Sp>,
    /// Items in any milestone at all are exempt.
    #[serde(default)]
    pub any_milestone: bool,
    /// Confidential items are exempt.
    #[serde(default)]
    pub confidential: bool,
}

/// The weekly summary issue of a workflow's sweep.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SweepSummary {
    /// Project (name from `projects:` or path) the summary issue is opened in.
    #[schemars(with = "String")]
    pub project: Sp,
    /// Labels put on the summary issue.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub labels: Vec<Sp>,
}

/// Open items the sweep hands to the planner as a `Tick` on every run, by label, besides the
/// stale policies' idle items: `on: tick` rules that must see an item whatever its idle time
/// (rechecking `cla::unknown`, say) need a way to be visited.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SweepVisits {
    /// Items carrying any of these labels are visited (one listing per label).
    #[schemars(with = "Vec<String>")]
    pub labels: Vec<Sp>,
    /// Projects to look in (names from `projects:` or paths); default: the workflow's projects.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub projects: Vec<Sp>,
    /// Groups to look in (full paths), in addition to `projects`.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub groups: Vec<Sp>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatConfig {
    /// Environment variable holding the incoming-webhook URL (a secret; never in the file).
    pub webhook_url_env: String,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestrictedLabels {
    /// Label names or globs (`cocreate-pathway::*`).
    #[schemars(with = "Vec<String>")]
    pub labels: Vec<Sp>,
    /// Roles allowed to apply them.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub roles: Vec<Sp>,
    /// The product managers of the issue's `group::…` label may apply them too (their
    /// decision labels, such as a buy-in outcome).
    #[serde(default)]
    pub product_pms: bool,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Guard {
    /// The guarded label.
    #[schemars(with = "String")]
    pub label: Sp,
    /// All must hold when the label is applied.
    pub requires: Vec<Requirement>,
    /// Label to put back when the guarded one is reverted (the previous stage).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub revert_to: Option<Sp>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    #[serde(rename = "if")]
    pub condition: Condition,
    /// What to tell people when it does not hold ("a pathway label").
    pub missing: String,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequiredFields {
    /// The check runs while the issue carries this label (and on edits of its description).
    #[schemars(with = "String")]
    pub when_label: Sp,
    /// Field names as they appear in the template (`Customer`, `Product area`).
    pub fields: Vec<String>,
    /// Further checks listed together with the missing fields (a field that must look like
    /// an amount, a `group::` label that may stand in for a field), so people get one list.
    #[serde(default)]
    pub requires: Vec<Requirement>,
    /// Label applied while fields are missing.
    #[serde(default = "default_needs_info")]
    pub label: String,
}

fn default_needs_info() -> String {
    "needs-info".to_string()
}

/// What makes a rule fire.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    LabelAdded(String),
    LabelRemoved(String),
    /// This change added one of these labels and the issue now carries all of them: a
    /// combination (`license::request` + `license-type::self-managed`) fires once, in whichever
    /// order its labels arrive.
    LabelsPresent(Vec<String>),
    Opened,
    Closed,
    Reopened,
    /// Description or title edited.
    Edited,
    /// `@bot <command> …` in a comment.
    Command(CommandTrigger),
    /// The issue carries this label (or all of these labels), at least one of which has a
    /// `required_fields` entry, and as of this change none of their required fields or checks
    /// is missing: a label was just added to a complete issue, or an edit filled in the last
    /// missing field of an issue marked as lacking some.
    FieldsCompleted(OneOrMore),
    /// A delayed follow-up scheduled by `schedule_followup` with this name came due.
    Followup(String),
    /// A sweep visited the issue.
    Tick,
    /// The work item's status changed (GitLab 18.2+ statuses).
    StatusChanged(super::work_item_config::StatusChangeTrigger),
}

/// One label, or a list of labels.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(untagged, expecting = "a label or a list of labels")]
pub enum OneOrMore {
    One(String),
    More(Vec<String>),
}

impl OneOrMore {
    pub fn all(&self) -> &[String] {
        match self {
            OneOrMore::One(s) => std::slice::from_ref(s),
            OneOrMore::More(v) => v,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandTrigger {
    /// The command word(s): `buy-in approve` matches `@bot buy-in approve …`.
    pub name: String,
    /// Who may run it. Absent = anyone.
    #[serde(default)]
    pub allow: Option<Allow>,
    /// Minimum number of words after the command (e.g. a decline reason).
    #[serde(default)]
    pub min_args: usize,
    /// Usage shown when arguments are missing or wrong (default: made from `args`).
    #[serde(default)]
    pub usage: Option<String>,
    /// The arguments' shape, in order: templates read them as `args.<name>`, and labels in
    /// `add_labels` / `remove_labels` may use `{{args.<name>}}`. A command with `args` takes
    /// exactly these words; a wrong or missing one gets the usage reply.
    #[serde(default)]
    pub args: Vec<ArgSpec>,
}

/// One declared command argument.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArgSpec {
    /// The name templates use (`args.<name>`).
    pub name: String,
    /// The allowed values (compared case-insensitively); empty = any one word.
    #[serde(default)]
    pub one_of: Vec<String>,
    /// Takes all the remaining words (a reason, say); only the last argument may.
    #[serde(default)]
    pub rest: bool,
}

/// A permission: any of these grants it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Allow {
    #[serde(default)]
    pub roles: Vec<String>,
    /// The product managers of the issue's `group::…` label.
    #[serde(default)]
    pub product_pms: bool,
    /// The issue's author.
    #[serde(default)]
    pub author: bool,
}

/// A condition on the issue, the event or the actor.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    #[schemars(with = "String")]
    HasLabel(Sp),
    #[schemars(with = "String")]
    LacksLabel(Sp),
    #[schemars(with = "Vec<String>")]
    HasAnyLabel(Vec<Sp>),
    /// Some label with this scope (`cocreate-pathway`) is present.
    HasScope(String),
    /// This change removed one of these labels: the stage the issue moves from, since adding a
    /// scoped label drops its sibling (`mdf::credit-acknowledged` only after
    /// `mdf::partner-approved`).
    #[schemars(with = "Vec<String>")]
    ChangedFrom(Vec<Sp>),
    /// All of these description fields are filled.
    FieldsPresent(Vec<String>),
    /// At least one of these description fields is empty or absent.
    FieldsMissing(Vec<String>),
    /// A description field matches a regular expression (case-insensitive).
    FieldMatches {
        field: String,
        #[schemars(with = "String")]
        pattern: Sp,
    },
    /// A description field does not match (or is absent).
    FieldNotMatches {
        field: String,
        #[schemars(with = "String")]
        pattern: Sp,
    },
    /// A field equals a value (compared case-insensitively, surrounding spaces ignored).
    FieldEquals {
        field: String,
        value: String,
    },
    /// A description field, read as a number, is above / at most a value.
    FieldAbove {
        field: String,
        value: f64,
    },
    /// The actor holds permission.
    Actor(Allow),
    /// The actor does not hold permission.
    NotActor(Allow),
    State(crate::domain::IssueStatus),
    Confidential(bool),
    /// The work item's status is this one (by name, compared case-insensitively).
    Status(String),
    /// The work item's status is in this category.
    StatusCategory(super::work_item_config::StatusCategory),
    /// The work item is of one of these types (`Issue`, `Task`, `Incident`, …).
    WorkItemType(Vec<String>),
    /// Every condition holds.
    All(Vec<Condition>),
    /// At least one holds.
    Any(Vec<Condition>),
    Not(Box<Condition>),
}

/// A rule: trigger, conditions, actions.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[schemars(with = "String")]
    pub name: Sp,
    pub on: Trigger,
    #[serde(default, rename = "if")]
    pub conditions: Vec<Condition>,
    /// At most once per issue, whatever the triggering change (e.g. opening the triage issue).
    #[serde(default)]
    pub once: bool,
    /// Computed values available to templates as `vars.*`.
    #[serde(default)]
    pub vars: BTreeMap<String, VarSpec>,
    #[serde(rename = "do")]
    pub actions: Vec<ActionSpec>,
}

/// A value computed from the issue for templates.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum VarSpec {
    /// A description field, or `default` when it is empty, absent or not in `allowed`
    /// (compared case-insensitively).
    Field {
        field: String,
        #[serde(default)]
        default: Option<String>,
        #[serde(default)]
        allowed: Vec<String>,
    },
    /// A number from a description field; `default` when absent or unparseable.
    Number { field: String, default: f64 },
    /// A date `months` / `days` from now (ISO 8601).
    DateFromNow {
        #[serde(default)]
        months: u32,
        #[serde(default)]
        days: u32,
    },
}

/// One step of a rule.
// Parsed once at start-up and never moved in bulk: boxing `CreateIssue` would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionSpec {
    /// Comment on the issue from a template.
    Comment(TemplateRef),
    /// Open an issue in another project from a template, linked to this one.
    CreateIssue(Box<CreateIssueSpec>),
    #[schemars(with = "Vec<String>")]
    AddLabels(Vec<Sp>),
    #[schemars(with = "Vec<String>")]
    RemoveLabels(Vec<Sp>),
    Close(TargetSpec),
    Reopen(TargetSpec),
    /// Assign the issue to everyone in these roles.
    #[schemars(with = "Vec<String>")]
    AssignRoles(Vec<Sp>),
    /// Assign the issue to the person who triggered the rule (e.g. `@bot claim`).
    AssignActor(Empty),
    SetConfidential(bool),
    /// Schedule a follow-up that fires the rules with `on: { followup: name }` later.
    ScheduleFollowup(FollowupSpec),
    /// Post to the workflow's chat webhook.
    Chat(TemplateRef),
    /// Check the CLA registry for the issue's company / people (needs the `cla:` section).
    ClaCheck(crate::cla::config::ClaCheckSpec),
    /// Set the work item's status (by name), through GraphQL.
    SetStatus(String),
    /// Set a custom field (by name) to a value, through GraphQL.
    SetField(super::work_item_config::SetFieldSpec),
}

/// `{}` in YAML, for actions without options.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateRef {
    /// Path below `templates_dir`.
    #[schemars(with = "String")]
    pub template: Sp,
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// `created` issue id of an earlier `create_issue` in this workflow (found through the
    /// issue links); absent = the issue itself.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub linked: Option<Sp>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIssueSpec {
    /// Name for referring to the created issue (`created.<id>` in later templates).
    pub id: String,
    /// Project name from `projects:` (or a path).
    #[schemars(with = "String")]
    pub project: Sp,
    /// Title, a handlebars template string.
    #[schemars(with = "String")]
    pub title: Sp,
    /// Description template file.
    #[schemars(with = "String")]
    pub template: Sp,
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub labels: Vec<Sp>,
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub assign_roles: Vec<Sp>,
    #[serde(default)]
    pub confidential: bool,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowupSpec {
    pub name: String,
    #[serde(default)]
    pub after_days: u32,
    #[serde(default)]
    pub after_minutes: u32,
    /// Seconds on top (short delays, e.g. for tests of follow-ups across replicas).
    #[serde(default)]
    pub after_seconds: u32,
}
