//! The permission check between plan and writes: every planned write's role against the bot's
//! role where it is needed. Any shortfall refuses the whole run before its first write, so a
//! run never stops half-way for want of a role it could have known about.

use super::facts::Facts;
use super::plan::{NOBODY, Step};
use super::report::{ItemKind, Place};
use super::roles::role_name;

/// One line per planned write the bot may not make.
pub fn permission_problems(steps: &[Step], facts: &Facts) -> Vec<String> {
    let mut out = Vec::new();
    for s in steps.iter().filter(|s| s.item.verdict.is_write()) {
        let Some(need) = &s.item.needs else {
            continue;
        };
        let has = match &need.place {
            Place::Project(_) => facts.project_level,
            Place::Group(group) => facts.group_levels.get(group).copied().unwrap_or(0),
            Place::UnknownGroup(_) => 0,
        };
        if has >= need.level {
            continue;
        }
        let kind = match s.item.kind {
            ItemKind::Label => "label",
            ItemKind::GroupLabel => "group label",
            ItemKind::Template => "template",
            ItemKind::Webhook => "webhook",
        };
        let has = match has {
            0 => "no role there".to_string(),
            l => format!("the {} role there", role_name(l)),
        };
        let needs = match need.level {
            NOBODY => format!("{}; the bot has {has}", need.because),
            l => format!(
                "needs at least the {} role in {} ({}); the bot has {has}",
                role_name(l),
                need.place,
                need.because
            ),
        };
        out.push(format!("{kind} {}: {needs}", s.item.name));
    }
    out
}
