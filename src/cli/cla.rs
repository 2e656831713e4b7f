//! `labelflow cla check`: what the CLA registry says about a company or a username, for
//! operators answering "why does this issue say cla::missing?".

use super::config_arg::ConfigArg;
use crate::cla::check::{Checker, SubjectResult};
use crate::cla::source::SourceSpec;
use crate::cla::{ClaRuntime, Subjects, VerdictStatus};
use crate::engine::Engine;
use crate::forge::{GitlabForge, RetryPolicy};
use crate::metrics::Metrics;
use crate::render::is_mentionable;
use secrecy::ExposeSecret;

#[derive(Debug, clap::Args)]
pub struct ClaArgs {
    #[command(subcommand)]
    pub command: ClaCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ClaCommand {
    /// Print the verdict and the matching agreement for a company or a username
    /// (`@name` for usernames only). Exit code: 0 signed, 1 missing, 2 unknown.
    Check(ClaCheckArgs),
}

#[derive(Debug, clap::Args)]
pub struct ClaCheckArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Company name, or GitLab / GitHub username (`@name` to skip the company lookup).
    pub subject: String,
    #[command(flatten)]
    pub gitlab: super::gitlab_args::GitlabArgs,
}

pub async fn run(args: ClaArgs) -> anyhow::Result<i32> {
    match args.command {
        ClaCommand::Check(a) => check(a).await,
    }
}

/// The lookups `subject` stands for: a company name and/or usernames.
pub fn subjects_for(subject: &str) -> Vec<Subjects> {
    let subject = subject.trim();
    let (name, users_only) = match subject.strip_prefix('@') {
        Some(n) => (n, true),
        None => (subject, false),
    };
    let mut out = Vec::new();
    if !users_only {
        out.push(Subjects {
            company: Some(name.to_string()),
            ..Subjects::default()
        });
    }
    if is_mentionable(name) {
        out.push(Subjects {
            gitlab_users: vec![name.to_string()],
            ..Subjects::default()
        });
    }
    if !crate::engine::cla_plan::github_usernames(name).is_empty()
        && !name.contains(char::is_whitespace)
    {
        out.push(Subjects {
            github_users: vec![name.to_string()],
            ..Subjects::default()
        });
    }
    out
}

async fn check(args: ClaCheckArgs) -> anyhow::Result<i32> {
    let engine = Engine::load(&args.config.config)
        .map_err(|e| anyhow::anyhow!("invalid configuration:\n{e}"))?;
    let cla = engine.config.cla.as_ref().ok_or_else(|| {
        anyhow::anyhow!(
            "{} has no `cla:` section: nothing to check against",
            args.config.config.display()
        )
    })?;
    let settings = cla.settings(&engine.path, &engine.config.projects);
    let forge = match (&settings.source, &args.gitlab.gitlab_url) {
        (SourceSpec::Gitlab { .. }, Some(url)) => {
            let token = args.gitlab.token()?;
            Some(
                GitlabForge::connect(
                    url,
                    token.expose_secret(),
                    RetryPolicy::default(),
                    Metrics::new(),
                )
                .await?,
            )
        }
        (SourceSpec::Gitlab { .. }, None) => anyhow::bail!(
            "the registry is in GitLab ({}): set --gitlab-url / LABELFLOW_GITLAB_URL and LABELFLOW_GITLAB_TOKEN",
            settings.source.origin()
        ),
        _ => None,
    };
    let runtime = ClaRuntime::default();
    let checker = Checker {
        runtime: &runtime,
        forge: forge.as_ref(),
        settings: &settings,
        fresh: true,
        now: chrono::Utc::now(),
    };
    println!("registry: {}", settings.source.origin());
    if let Some(v) = &settings.required_version {
        println!("required version: {v}");
    }
    let mut statuses = Vec::new();
    for subjects in subjects_for(&args.subject) {
        let verdict = checker.check(&subjects).await;
        if let Some(reason) = &verdict.reason {
            println!("unknown: {reason}");
            println!("verdict: unknown");
            return Ok(2);
        }
        for r in &verdict.subjects {
            println!("{}", describe(r));
        }
        statuses.push(verdict.status);
    }
    let overall = if statuses.contains(&VerdictStatus::Signed) {
        VerdictStatus::Signed
    } else if statuses.contains(&VerdictStatus::Unknown) {
        VerdictStatus::Unknown
    } else {
        VerdictStatus::Missing
    };
    println!("verdict: {}", overall.as_str());
    Ok(match overall {
        VerdictStatus::Signed => 0,
        VerdictStatus::Missing => 1,
        VerdictStatus::Unknown => 2,
    })
}

fn describe(r: &SubjectResult) -> String {
    match &r.agreement {
        Some(a) => format!(
            "{}: {} by {} via {} (registry line {})",
            r.subject,
            r.status.as_str(),
            a.summary(),
            r.via.as_deref().unwrap_or("listing"),
            a.line
        ),
        None => format!(
            "{}: {} ({})",
            r.subject,
            r.status.as_str(),
            r.reasons.join("; ")
        ),
    }
}
