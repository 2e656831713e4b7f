//! Validation of every duration a configuration sets: follow-up delays, `date_from_now`
//! variables and stale-policy days. Each must stay within [`MAX_DAYS`], so the times computed
//! from them (a follow-up's due time, an expiry date, a sweep's cut-off) exist on the calendar.
//! A `u32` of days reaches eleven million years, past the last date `chrono` can represent.

use super::Validator;
use crate::engine::config::{ActionSpec, VarSpec, Workflow};

/// The longest duration a configuration may set: 100 years, in days.
pub const MAX_DAYS: u64 = 36_500;

const MAX_SECONDS: u64 = MAX_DAYS * 86_400;

impl Validator {
    pub(super) fn check_durations(&mut self, wf_name: &str, wf: &Workflow) {
        for rule in &wf.rules {
            let what = format!("workflow `{wf_name}` rule `{}`", rule.name.value);
            for a in &rule.actions {
                if let ActionSpec::ScheduleFollowup(f) = a {
                    let seconds = u64::from(f.after_days) * 86_400
                        + u64::from(f.after_minutes) * 60
                        + u64::from(f.after_seconds);
                    if seconds > MAX_SECONDS {
                        self.err(
                            Some(&rule.name),
                            format!(
                                "{what}: follow-up `{}` is due more than {MAX_DAYS} days after it is scheduled (after_days, after_minutes and after_seconds add up)",
                                f.name
                            ),
                        );
                    }
                }
            }
            for (name, spec) in &rule.vars {
                if let VarSpec::DateFromNow { months, days } = spec
                    && u64::from(*months) * 31 + u64::from(*days) > MAX_DAYS
                {
                    self.err(
                        Some(&rule.name),
                        format!(
                            "{what}: variable `{name}`: `date_from_now` must stay within {MAX_DAYS} days (months count as 31 days)"
                        ),
                    );
                }
            }
        }
        for p in &wf.stale {
            let what = format!("workflow `{wf_name}` stale policy for `{}`", p.stage.value);
            let days = [
                ("idle_days", Some(p.idle_days)),
                ("grace_days", Some(p.grace_days)),
                ("close_after_days", p.close_after_days),
            ];
            for (name, value) in days {
                if value.is_some_and(|d| u64::from(d) > MAX_DAYS) {
                    self.err(
                        Some(&p.stage),
                        format!("{what}: `{name}` must be at most {MAX_DAYS}"),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::Engine;
    use std::path::Path;

    fn errors(yaml: &str) -> Vec<String> {
        match Engine::from_yaml(yaml, Path::new("/nonexistent/labelflow.yml")) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }

    const BASE: &str = r#"
bot: { username: labelflow }
directory:
  roles:
    cs: [cs-lead]
workflows:
  w:
    projects: [g/p]
    stale:
      - stage: "w::triage"
        owner_role: cs
        idle_days: IDLE
        grace_days: 7
    rules:
      - name: remind
        on: { label_added: "w::triage" }
        vars:
          until: { date_from_now: { months: MONTHS, days: 1 } }
        do:
          - schedule_followup: { name: later, after_days: AFTER }
      - name: later
        on: { followup: later }
        do:
          - add_labels: ["w::late"]
"#;

    fn config(idle: u64, months: u64, after: u64) -> String {
        BASE.replace("IDLE", &idle.to_string())
            .replace("MONTHS", &months.to_string())
            .replace("AFTER", &after.to_string())
    }

    #[test]
    fn durations_within_a_hundred_years_load() {
        assert_eq!(errors(&config(36_500, 1_000, 36_500)), Vec::<String>::new());
    }

    #[test]
    fn durations_past_the_calendar_are_errors_with_their_line() {
        assert_eq!(
            errors(&config(4_294_967_295, 4_294_967_295, 4_294_967_295)),
            vec![
                "/nonexistent/labelflow.yml:15:15: workflow `w` rule `remind`: follow-up `later` is due more than 36500 days after it is scheduled (after_days, after_minutes and after_seconds add up)",
                "/nonexistent/labelflow.yml:15:15: workflow `w` rule `remind`: variable `until`: `date_from_now` must stay within 36500 days (months count as 31 days)",
                "/nonexistent/labelflow.yml:10:16: workflow `w` stale policy for `w::triage`: `idle_days` must be at most 36500",
            ]
        );
    }
}
