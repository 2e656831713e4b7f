//! Fuzzing at depth, on stable Rust: webhook deliveries through the real router, mutated
//! configurations through `check-config`, comment commands through the planner, and the
//! renderer's escaping (docs/reliability.md, "Fuzzing").
//!
//! `cargo test --test fuzz` runs a smoke depth of a few seconds; `scripts/fuzz.sh N` runs N
//! webhook cases and N/10 of every other target in a release build. A failure prints its
//! input and how to replay it alone (`LABELFLOW_FUZZ_SEED`, `LABELFLOW_FUZZ_CASE`); what the
//! fuzzers found is kept below as regression cases.

#[path = "common/text.rs"]
pub mod text;

mod fuzz {
    pub mod comments;
    pub mod config;
    pub mod driver;
    pub mod mutate;
    pub mod render;
    pub mod router;
    pub mod shipped;
    pub use super::text;
}

use fuzz::{comments, config, driver, render, router};

#[test]
fn webhook_deliveries_through_the_router() {
    let fixtures = router::fixtures();
    let mut route = router::Route::new();
    driver::run(
        "webhooks",
        driver::cases(1),
        |rng| router::generate(rng, &fixtures),
        |d| route.check(d),
    );
    route
        .end_batch()
        .expect("the last batch stored what was accepted");
    println!("fuzz webhooks: answers by status {:?}", route.statuses);
}

#[test]
fn configurations_through_check_config() {
    let ws = config::Workspace::new();
    driver::run(
        "configurations",
        driver::cases(10),
        |rng| config::generate(rng, &ws),
        |m| config::check(&ws, m),
    );
    println!(
        "fuzz configurations: {} mutants loaded and were planned against",
        config::LOADED.get()
    );
}

#[test]
fn comments_through_commands_and_the_planner() {
    driver::run(
        "comments",
        driver::cases(10),
        comments::generate,
        comments::check,
    );
    println!(
        "fuzz comments: {} plans had a text for GitLab",
        comments::ANSWERED.get()
    );
}

#[test]
fn user_text_through_the_renderer() {
    driver::run(
        "rendering",
        driver::cases(10),
        render::generate,
        render::check,
    );
}

// ---- regressions: what the fuzzers found, kept as fixed cases -----------------------------

/// The shipped configuration with `from` replaced by `to` (exactly once).
fn shipped_with(from: &str, to: &str) -> config::Mutant {
    let ws_text = std::fs::read_to_string(format!("{}/labelflow.yml", env!("CARGO_MANIFEST_DIR")))
        .expect("shipped");
    assert_eq!(
        ws_text.matches(from).count(),
        1,
        "{from:?} once in labelflow.yml"
    );
    config::Mutant {
        yaml: ws_text.replace(from, to),
        template: None,
    }
}

/// The error texts of loading `m`.
fn load_errors(m: &config::Mutant) -> Vec<String> {
    let ws = config::Workspace::new();
    config::check(&ws, m).expect("a clean verdict, and no panic when planning");
    match config::load(&ws, m).expect("no panic") {
        Ok(_) => vec![],
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

/// Found while writing the configuration target (its value edit puts 4294967295 in place of
/// any number): `after_days: 4294967295` loaded, and planning the rule panicked (`DateTime + TimeDelta overflowed`): every live event of that rule would have died.
/// Now an error naming the rule's line; the planner adds with overflow checks too.
#[test]
fn regression_follow_up_days_beyond_the_calendar() {
    let m = shipped_with("after_days: 5 }", "after_days: 4294967295 }");
    let errors = load_errors(&m);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].ends_with(
            "workflow `cocreate` rule `triage`: follow-up `buy-in-reminder` is due more than 36500 days after it is scheduled (after_days, after_minutes and after_seconds add up)"
        ),
        "{errors:?}"
    );
}

/// Found with the one above (the target's key insertion adds `days:` to a flow mapping):
/// `date_from_now` with `days: 4294967295` made check-config itself panic in its sample
/// render. Stale-policy days had the same overflow in `labelflow sweep`.
#[test]
fn regression_date_from_now_beyond_the_calendar() {
    let m = shipped_with(
        "expires_on: { date_from_now: { months: 6 } }",
        "expires_on: { date_from_now: { days: 4294967295, months: 6 } }",
    );
    let errors = load_errors(&m);
    // Two rules share these variables (a YAML alias): one error each, with its line.
    assert_eq!(errors.len(), 2, "{errors:?}");
    for e in &errors {
        assert!(
            e.contains("variable `expires_on`: `date_from_now` must stay within 36500 days"),
            "{e}"
        );
    }
}

/// Found by the configuration fuzzer's first smoke run: a template naming a variable the rule does not set was
/// reported in Rust's debug formatting (`Failed to access variable in strict mode
/// Some("vars.plan")`).
#[test]
fn regression_unknown_template_variables_are_named_in_plain_words() {
    let m = shipped_with(
        "          plan: { field: { field: Plan, default: Ultimate, allowed: [Free, Premium, Ultimate] } }\n",
        "",
    );
    let errors = load_errors(&m);
    assert!(!errors.is_empty());
    for e in &errors {
        assert!(
            e.contains("unknown variable `vars.plan` (template line"),
            "{e}"
        );
        assert!(e.contains("known here: vars.expires_on, vars.seats"), "{e}");
        assert!(!e.contains("Some("), "{e}");
    }
}
