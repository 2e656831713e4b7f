//! CLA registry, sources and checks: parsing (with file/line errors), normalised company
//! lookups, usernames, email domains, GitHub organisation membership through the real octocrab
//! client against a simulated GitHub, GitLab repository files through the real `gitlab`
//! client against the simulated GitLab, expiry / revocation / versions, caching, and the
//! `labelflow cla check` command.

mod github_sim;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use github_sim::SimGithub;
use labelflow::cla::check::{CheckSettings, Checker};
use labelflow::cla::github::GithubApi;
use labelflow::cla::lookup::{Candidate, Coverage, evaluate};
use labelflow::cla::parse::parse_registry;
use labelflow::cla::{ClaRuntime, RegistryFormat, SourceSpec, Subjects, Verdict, VerdictStatus};
use labelflow::forge::{GitlabForge, RetryPolicy};
use labelflow::metrics::Metrics;
use labelflow::sim::{FaultRule, SimGitlab, SimOptions};
use std::path::Path;
use std::time::Duration;

const REGISTRY: &str = "\
agreements:
  - company: Acme Corporation, Inc.
    aliases: [ACME Cloud]
    email_domains: [acme.com]
    gitlab_users: [alice]
    github_users: [alice-gh]
    version: \"2.0\"
    signed: 2024-03-01
  - company: Globex GmbH
    github_orgs: [globex]
    version: 2
    signed: 2023-05-01
  - company: Initech LLC
    version: \"2.0\"
    signed: 2022-01-01
    expires: 2024-01-01
  - company: Umbrella Ltd
    version: \"2.0\"
    signed: 2022-01-01
    revoked: 2024-06-30
  - company: Hooli Inc
    gitlab_users: [gavin]
    version: \"1.0\"
    signed: 2021-01-01
";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0)
        .single()
        .expect("valid date")
}

fn company(name: &str) -> Subjects {
    Subjects {
        company: Some(name.to_string()),
        ..Subjects::default()
    }
}

fn local_settings(path: &Path) -> CheckSettings {
    CheckSettings {
        source: SourceSpec::Local {
            path: path.to_path_buf(),
        },
        format: RegistryFormat::Auto,
        cache_ttl_seconds: 300,
        github: GithubApi::default(),
        required_version: Some("2".to_string()),
    }
}

/// Checks `subjects` against `registry` written to a local file.
async fn check_local(registry: &str, file_name: &str, subjects: &Subjects) -> Verdict {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(file_name);
    std::fs::write(&path, registry).expect("write registry");
    let runtime = ClaRuntime::default();
    let settings = local_settings(&path);
    Checker {
        runtime: &runtime,
        forge: None,
        settings: &settings,
        fresh: false,
        now: now(),
    }
    .check(subjects)
    .await
}

fn covering(v: &Verdict) -> Vec<(String, String)> {
    v.subjects
        .iter()
        .filter_map(|s| {
            s.agreement
                .as_ref()
                .map(|a| (a.company.clone(), s.via.clone().unwrap_or_default()))
        })
        .collect()
}

#[tokio::test]
async fn company_name_matches_across_spelling_and_legal_suffix() {
    for (name, via) in [
        ("Acme Corporation, Inc.", "company name"),
        ("ACME corp", "company name"),
        ("acme inc.", "company name"),
        ("Acme", "company name"),
        ("Acme Cloud GmbH", "company alias"),
        ("globex", "company name"),
    ] {
        let v = check_local(REGISTRY, "cla.yml", &company(name)).await;
        assert_eq!(v.status, VerdictStatus::Signed, "{name}: {v:#?}");
        let expected_company = if name == "globex" {
            "Globex GmbH"
        } else {
            "Acme Corporation, Inc."
        };
        assert_eq!(
            covering(&v),
            vec![(expected_company.to_string(), via.to_string())],
            "{name}"
        );
    }
    // A different company sharing a word is not a match.
    let v = check_local(REGISTRY, "cla.yml", &company("Acme Labs")).await;
    assert_eq!(v.status, VerdictStatus::Missing);
    assert_eq!(
        v.subjects[0].reasons,
        vec!["no agreement in the registry names them".to_string()]
    );
}

#[tokio::test]
async fn covered_by_gitlab_username_case_insensitively() {
    let subjects = Subjects {
        gitlab_users: vec!["Alice".to_string()],
        ..Subjects::default()
    };
    let v = check_local(REGISTRY, "cla.yml", &subjects).await;
    assert_eq!(v.status, VerdictStatus::Signed);
    assert_eq!(
        covering(&v),
        vec![(
            "Acme Corporation, Inc.".to_string(),
            "listed as a GitLab user".to_string()
        )]
    );
    let nobody = Subjects {
        gitlab_users: vec!["mallory".to_string()],
        ..Subjects::default()
    };
    let v = check_local(REGISTRY, "cla.yml", &nobody).await;
    assert_eq!(v.status, VerdictStatus::Missing);
    assert_eq!(v.subjects[0].subject, "GitLab user @mallory");
}

#[test]
fn covered_by_email_domain_including_subdomains() {
    let reg = parse_registry(REGISTRY, RegistryFormat::Yaml, "cla.yml").expect("parses");
    let today = NaiveDate::from_ymd_opt(2025, 6, 1).expect("date");
    let required = labelflow::cla::Version::parse("2").ok();
    for domain in ["acme.com", "eng.acme.com"] {
        let candidates: Vec<Candidate> = reg
            .by_email_domain(domain)
            .into_iter()
            .map(|a| Candidate {
                agreement: a,
                via: format!("public email domain {domain}"),
            })
            .collect();
        match evaluate(&candidates, required.as_ref(), today) {
            Coverage::Signed { agreement, via } => {
                assert_eq!(agreement.company, "Acme Corporation, Inc.");
                assert_eq!(via, format!("public email domain {domain}"));
            }
            other => panic!("{domain}: {other:?}"),
        }
    }
    assert_eq!(reg.by_email_domain("notacme.com").len(), 0);
    assert_eq!(reg.by_email_domain("acme.com.evil.example").len(), 0);
}

#[tokio::test]
async fn expired_revoked_and_old_versions_are_missing_and_say_why() {
    let cases = [
        (
            "Initech",
            "Initech LLC (version 2.0, signed 2022-01-01, expires 2024-01-01): expired on 2024-01-01",
        ),
        (
            "Umbrella",
            "Umbrella Ltd (version 2.0, signed 2022-01-01, revoked 2024-06-30): revoked on 2024-06-30",
        ),
        (
            "Hooli",
            "Hooli Inc (version 1.0, signed 2021-01-01): signed version 1.0 is older than the required version 2",
        ),
    ];
    for (name, reason) in cases {
        let v = check_local(REGISTRY, "cla.yml", &company(name)).await;
        assert_eq!(v.status, VerdictStatus::Missing, "{name}");
        assert_eq!(v.subjects[0].reasons, vec![reason.to_string()], "{name}");
        assert!(v.details().contains("older") == name.starts_with("Hooli"));
    }
    // The same old version is fine when no version is required.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cla.yml");
    std::fs::write(&path, REGISTRY).expect("write");
    let mut settings = local_settings(&path);
    settings.required_version = None;
    let runtime = ClaRuntime::default();
    let v = Checker {
        runtime: &runtime,
        forge: None,
        settings: &settings,
        fresh: false,
        now: now(),
    }
    .check(&company("Hooli"))
    .await;
    assert_eq!(v.status, VerdictStatus::Signed);
}

#[tokio::test]
async fn a_newer_valid_agreement_wins_over_an_old_one_of_the_same_company() {
    let reg = "agreements:\n  - company: Hooli Inc\n    version: 1\n    signed: 2021-01-01\n  - company: Hooli\n    version: 2\n    signed: 2025-01-01\n";
    let v = check_local(reg, "cla.yml", &company("hooli")).await;
    assert_eq!(v.status, VerdictStatus::Signed);
    assert_eq!(v.subjects[0].agreement.as_ref().map(|a| a.line), Some(5));
}

#[tokio::test]
async fn conflicting_companies_under_one_name_are_unknown_not_a_guess() {
    let reg = "agreements:\n  - company: Acme Inc\n    version: 2\n    signed: 2024-01-01\n  - company: Acme Labs\n    aliases: [Acme]\n    version: 2\n    signed: 2020-01-01\n    revoked: 2021-01-01\n";
    let v = check_local(reg, "cla.yml", &company("Acme")).await;
    assert_eq!(v.status, VerdictStatus::Unknown);
    assert!(!v.retryable, "ambiguity needs a person, not a retry");
    assert_eq!(
        v.subjects[0].reasons,
        vec![
            "named by agreements of different companies: Acme Inc (valid) and Acme Labs (not valid)"
                .to_string()
        ]
    );
}

#[tokio::test]
async fn nothing_named_on_the_issue_is_unknown() {
    let v = check_local(REGISTRY, "cla.yml", &Subjects::default()).await;
    assert_eq!(v.status, VerdictStatus::Unknown);
    assert!(!v.retryable);
    assert_eq!(
        v.reason.as_deref(),
        Some("the issue names no company or usernames to check")
    );
}

#[test]
fn malformed_yaml_names_file_and_line() {
    let bad_date = REGISTRY.replace("signed: 2023-05-01", "signed: 2023-13-01");
    let e = parse_registry(&bad_date, RegistryFormat::Yaml, "legal/cla.yml").expect_err("bad");
    assert_eq!(
        e.to_string(),
        "legal/cla.yml:12: `signed`: `2023-13-01` is not a date (expected YYYY-MM-DD)"
    );
    let bad_version = REGISTRY.replace("version: 2\n", "version: two\n");
    let e = parse_registry(&bad_version, RegistryFormat::Yaml, "cla.yml").expect_err("bad");
    assert_eq!(e.line, Some(11));
    assert!(e.message.contains("`two` is not a version number"), "{e}");
    let unknown_key = REGISTRY.replace("    aliases: [ACME Cloud]", "    alias: [ACME Cloud]");
    let e = parse_registry(&unknown_key, RegistryFormat::Yaml, "cla.yml").expect_err("bad");
    assert_eq!(e.line, Some(3), "{e}");
    assert!(e.message.contains("alias"), "{e}");
    let broken = "agreements:\n  - company: [unclosed\n";
    let e = parse_registry(broken, RegistryFormat::Yaml, "cla.yml").expect_err("bad");
    assert_eq!(e.origin, "cla.yml");
    assert!(e.line.is_some(), "{e}");
}

const CSV: &str = "\
company,aliases,email_domains,gitlab_users,github_orgs,github_users,version,signed,expires,revoked
# comments are allowed
Acme Corporation Inc.,ACME Cloud;Acme Europe,acme.com,alice;bob,,alice-gh,2.0,2024-03-01,,
Initech LLC,,,,,,2.0,2022-01-01,2024-01-01,
";

#[test]
fn csv_registry_parses_lists_and_reports_lines() {
    let reg = parse_registry(CSV, RegistryFormat::Auto, "cla.csv").expect("parses");
    assert_eq!(reg.agreements.len(), 2);
    let acme = &reg.agreements[0];
    assert_eq!(acme.aliases, vec!["ACME Cloud", "Acme Europe"]);
    assert_eq!(acme.gitlab_users, vec!["alice", "bob"]);
    assert_eq!(acme.github_orgs, Vec::<String>::new());
    assert_eq!(acme.line, 3);
    assert_eq!(
        reg.agreements[1].expires,
        NaiveDate::from_ymd_opt(2024, 1, 1)
    );
    assert_eq!(reg.by_company("acme europe ltd").len(), 1);

    let bad = CSV.replace("2022-01-01,2024-01-01", "2022-01-01,soon");
    let e = parse_registry(&bad, RegistryFormat::Auto, "cla.csv").expect_err("bad");
    assert_eq!(
        e.to_string(),
        "cla.csv:4: `expires`: `soon` is not a date (expected YYYY-MM-DD)"
    );
    let short = CSV.replace(
        "Initech LLC,,,,,,2.0,2022-01-01,2024-01-01,",
        "Initech LLC,2.0",
    );
    let e = parse_registry(&short, RegistryFormat::Auto, "cla.csv").expect_err("bad");
    assert_eq!(e.line, Some(4));
    assert_eq!(e.message, "the row has 2 fields, the header has 10");
    let e = parse_registry(
        "name,version,signed\nAcme,2,2024-01-01\n",
        RegistryFormat::Csv,
        "x",
    )
    .expect_err("bad");
    assert_eq!(e.line, Some(1));
    assert!(e.message.starts_with("unknown column `name`"), "{e}");
}

#[tokio::test]
async fn malformed_registry_is_unknown_and_retryable_never_missing() {
    let bad = REGISTRY.replace("signed: 2023-05-01", "signed: someday");
    let v = check_local(&bad, "cla.yml", &company("Nobody Inc")).await;
    assert_eq!(v.status, VerdictStatus::Unknown);
    assert!(v.retryable);
    let reason = v.reason.expect("reason");
    assert!(reason.starts_with("malformed CLA registry: "), "{reason}");
    assert!(reason.contains("cla.yml:12: `signed`"), "{reason}");
    // And a file that is not there at all.
    let runtime = ClaRuntime::default();
    let settings = local_settings(Path::new("/nonexistent/cla.yml"));
    let v = Checker {
        runtime: &runtime,
        forge: None,
        settings: &settings,
        fresh: false,
        now: now(),
    }
    .check(&company("Acme"))
    .await;
    assert_eq!(v.status, VerdictStatus::Unknown);
    assert!(v.retryable);
}

#[tokio::test]
async fn cache_serves_within_ttl_and_recheck_bypasses_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cla.yml");
    std::fs::write(&path, "agreements: []\n").expect("write");
    let runtime = ClaRuntime::default();
    let settings = local_settings(&path);
    let check = |fresh: bool, at: DateTime<Utc>| {
        let runtime = &runtime;
        let settings = &settings;
        async move {
            Checker {
                runtime,
                forge: None,
                settings,
                fresh,
                now: at,
            }
            .check(&company("Acme"))
            .await
            .status
        }
    };
    assert_eq!(check(false, now()).await, VerdictStatus::Missing);
    std::fs::write(&path, REGISTRY).expect("write");
    // Cached: still the old answer within the TTL.
    assert_eq!(
        check(false, now() + chrono::Duration::seconds(60)).await,
        VerdictStatus::Missing
    );
    // A recheck reads again.
    assert_eq!(
        check(true, now() + chrono::Duration::seconds(61)).await,
        VerdictStatus::Signed
    );
    // After the TTL the file is read again too.
    std::fs::write(&path, "agreements: []\n").expect("write");
    assert_eq!(
        check(false, now() + chrono::Duration::seconds(400)).await,
        VerdictStatus::Missing
    );
}

// ---- GitHub through octocrab ----

fn github_settings(gh: &SimGithub) -> CheckSettings {
    CheckSettings {
        source: SourceSpec::Github {
            repo: "legal/cla".to_string(),
            path: "registry.yml".to_string(),
            git_ref: Some("main".to_string()),
        },
        format: RegistryFormat::Auto,
        cache_ttl_seconds: 300,
        github: GithubApi {
            api_url: Some(gh.url.clone()),
            token_env: None,
        },
        required_version: Some("2".to_string()),
    }
}

#[tokio::test]
async fn github_source_and_org_membership_through_octocrab() {
    let gh = SimGithub::start().await;
    gh.put_file("legal/cla", "registry.yml", Some("main"), REGISTRY);
    gh.add_member("globex", "hank");
    let settings = github_settings(&gh);
    let runtime = ClaRuntime::default();
    let checker = |fresh| Checker {
        runtime: &runtime,
        forge: None,
        settings: &settings,
        fresh,
        now: now(),
    };
    let users = |names: &[&str]| Subjects {
        github_users: names.iter().map(|s| s.to_string()).collect(),
        ..Subjects::default()
    };
    let v = checker(false).check(&users(&["hank"])).await;
    assert_eq!(v.status, VerdictStatus::Signed, "{v:#?}");
    assert_eq!(
        covering(&v),
        vec![(
            "Globex GmbH".to_string(),
            "member of GitHub organisation globex".to_string()
        )]
    );
    let v = checker(false).check(&users(&["alice-gh"])).await;
    assert_eq!(
        covering(&v),
        vec![(
            "Acme Corporation, Inc.".to_string(),
            "listed as a GitHub user".to_string()
        )]
    );
    let v = checker(false).check(&users(&["stranger"])).await;
    assert_eq!(v.status, VerdictStatus::Missing);
    assert_eq!(
        gh.requests(),
        vec![
            "GET /repos/legal/cla/contents/registry.yml?ref=main",
            "GET /orgs/globex/members/hank",
            "GET /orgs/globex/members/stranger",
        ],
        "the registry is read once (cached) and listed users need no membership call"
    );
}

#[tokio::test]
async fn github_500_is_unknown_then_recovers() {
    let gh = SimGithub::start().await;
    gh.put_file("legal/cla", "registry.yml", Some("main"), REGISTRY);
    gh.set_failing(true);
    let settings = github_settings(&gh);
    let runtime = ClaRuntime::default();
    let v = Checker {
        runtime: &runtime,
        forge: None,
        settings: &settings,
        fresh: false,
        now: now(),
    }
    .check(&company("Acme"))
    .await;
    assert_eq!(v.status, VerdictStatus::Unknown);
    assert!(v.retryable);
    let reason = v.reason.clone().expect("reason");
    assert!(
        reason
            == "github:legal/cla/blob/main/registry.yml: cannot read the CLA registry: \
                GitHub did not answer: legal/cla/registry.yml: 500 Internal Server Error Server Error",
        "{reason}"
    );
    gh.set_failing(false);
    let v = Checker {
        runtime: &runtime,
        forge: None,
        settings: &settings,
        fresh: false,
        now: now(),
    }
    .check(&company("Acme"))
    .await;
    assert_eq!(v.status, VerdictStatus::Signed);

    // Membership checks failing are unknown as well, not "not a member".
    gh.set_failing(true);
    let v = Checker {
        runtime: &runtime,
        forge: None,
        settings: &settings,
        fresh: false,
        now: now(),
    }
    .check(&Subjects {
        github_users: vec!["hank".to_string()],
        ..Subjects::default()
    })
    .await;
    assert_eq!(v.status, VerdictStatus::Unknown);
    assert!(v.retryable);
}

// ---- GitLab repository files through the `gitlab` client ----

async fn gitlab() -> (SimGitlab, GitlabForge, u64) {
    let sim = SimGitlab::start(SimOptions::default())
        .await
        .expect("simulator");
    let bot = sim.add_user("labelflow");
    let project = sim.add_project("legal/cla-registry");
    let policy = RetryPolicy {
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        ..RetryPolicy::default()
    };
    let forge = GitlabForge::connect(&sim.base_url(), &bot.token, policy, Metrics::new())
        .await
        .expect("forge");
    (sim, forge, project)
}

#[tokio::test]
async fn gitlab_source_reads_the_file_at_a_ref_and_500_is_unknown() {
    let (sim, forge, project) = gitlab().await;
    sim.put_file(project, "cla/registry.csv", "legal-v2", CSV)
        .expect("file");
    let settings = CheckSettings {
        source: SourceSpec::Gitlab {
            project: "legal/cla-registry".to_string(),
            path: "cla/registry.csv".to_string(),
            git_ref: "legal-v2".to_string(),
        },
        format: RegistryFormat::Auto,
        cache_ttl_seconds: 0,
        github: GithubApi::default(),
        required_version: None,
    };
    let runtime = ClaRuntime::default();
    let run = || Checker {
        runtime: &runtime,
        forge: Some(&forge),
        settings: &settings,
        fresh: false,
        now: now(),
    };
    let v = run().check(&company("Acme Europe")).await;
    assert_eq!(v.status, VerdictStatus::Signed, "{v:#?}");
    assert_eq!(
        v.origin,
        "gitlab:legal/cla-registry/-/blob/legal-v2/cla/registry.csv"
    );

    let fault = sim.add_fault(
        FaultRule::status(500)
            .path_contains("/repository/files/")
            .times(1000),
    );
    let v = run().check(&company("Acme Europe")).await;
    assert_eq!(v.status, VerdictStatus::Unknown);
    assert!(v.retryable);
    sim.remove_fault(fault);
    let v = run().check(&company("Acme Europe")).await;
    assert_eq!(v.status, VerdictStatus::Signed);

    // A wrong ref is unknown too: the registry is unreadable, which says nothing about Acme.
    let mut wrong = settings.clone();
    wrong.source = SourceSpec::Gitlab {
        project: "legal/cla-registry".to_string(),
        path: "cla/registry.csv".to_string(),
        git_ref: "nope".to_string(),
    };
    let v = Checker {
        runtime: &runtime,
        forge: Some(&forge),
        settings: &wrong,
        fresh: false,
        now: now(),
    }
    .check(&company("Acme Europe"))
    .await;
    assert_eq!(v.status, VerdictStatus::Unknown);
    assert_eq!(
        v.reason.as_deref(),
        Some(
            "gitlab:legal/cla-registry/-/blob/nope/cla/registry.csv: cannot read the CLA registry: file or project not found"
        )
    );
}

#[tokio::test]
async fn public_email_is_read_from_the_profile() {
    let (sim, forge, _) = gitlab().await;
    sim.add_user("dana");
    // The simulator's users show no public email (GitLab's default), so none is used.
    assert_eq!(forge.public_email("dana").await.expect("answer"), None);
    assert_eq!(
        forge.public_email("nobody-here").await.expect("answer"),
        None
    );
}

// ---- `labelflow cla check` ----

fn cli(dir: &Path, github: &SimGithub, registry: &str, subject: &str) -> (i32, String) {
    std::fs::write(dir.join("cla.yml"), registry).expect("registry");
    std::fs::write(
        dir.join("labelflow.yml"),
        format!(
            "bot:\n  username: labelflow\ncla:\n  source:\n    local: {{ path: cla.yml }}\n  \
             required_version: \"2\"\n  managers: cla@example.com\n  github: {{ api_url: \"{}\" }}\n",
            github.url
        ),
    )
    .expect("config");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_labelflow"))
        .args(["cla", "check", "--config"])
        .arg(dir.join("labelflow.yml"))
        .arg(subject)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).replace(&dir.display().to_string(), "DIR"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_prints_verdict_and_matching_agreement() {
    let gh = SimGithub::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    let run = |registry: &'static str, subject: &'static str| {
        let (path, gh) = (path.clone(), gh.clone());
        tokio::task::spawn_blocking(move || cli(&path, &gh, registry, subject))
    };
    let (code, out) = run(REGISTRY, "ACME corp.").await.expect("cli");
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out,
        "registry: DIR/cla.yml\nrequired version: 2\n\
         company ACME corp.: signed by Acme Corporation, Inc. (version 2.0, signed 2024-03-01) via company name (registry line 2)\n\
         verdict: signed\n"
    );
    let (code, out) = run(REGISTRY, "@gavin").await.expect("cli");
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        out,
        "registry: DIR/cla.yml\nrequired version: 2\n\
         GitLab user @gavin: missing (Hooli Inc (version 1.0, signed 2021-01-01): signed version 1.0 is older than the required version 2)\n\
         GitHub user gavin: missing (no agreement in the registry names them)\n\
         verdict: missing\n"
    );
    assert_eq!(gh.requests(), vec!["GET /orgs/globex/members/gavin"]);
    let (code, out) = run(
        "agreements:\n  - company: X\n    version: 2\n    signed: nope\n",
        "X",
    )
    .await
    .expect("cli");
    assert_eq!(code, 2, "{out}");
    assert_eq!(
        out,
        "registry: DIR/cla.yml\nrequired version: 2\n\
         unknown: malformed CLA registry: DIR/cla.yml:4: `signed`: `nope` is not a date (expected YYYY-MM-DD)\n\
         verdict: unknown\n"
    );
}
