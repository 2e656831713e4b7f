//! One CLA check: read the registry, evaluate every subject named on the issue, and combine
//! the results into one verdict with an explanation.

use super::cache::ClaRuntime;
use super::lookup::{Candidate, Coverage, company_candidates, evaluate};
use super::model::{Agreement, Registry, Version};
use super::normalise::email_domain;
use crate::forge::GitlabForge;
use crate::render::escape_user_text;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::BTreeSet;

pub use labelflow_core::cla::spec::{CheckSettings, Subjects};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictStatus {
    Signed,
    Missing,
    Unknown,
}

impl VerdictStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictStatus::Signed => "signed",
            VerdictStatus::Missing => "missing",
            VerdictStatus::Unknown => "unknown",
        }
    }
}

/// The result for one subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubjectResult {
    /// `company Acme`, `GitLab user @alice`, `GitHub user alice`.
    pub subject: String,
    pub status: VerdictStatus,
    pub agreement: Option<Agreement>,
    /// How the agreement covers the subject (`email domain acme.com`).
    pub via: Option<String>,
    /// Why not covered, or why unknown.
    pub reasons: Vec<String>,
    /// For unknown: whether trying again later may help.
    #[serde(skip)]
    pub retryable: bool,
}

/// The combined verdict: unknown if any subject is unknown (never a partial guess), else
/// missing if any is missing, else signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub status: VerdictStatus,
    pub subjects: Vec<SubjectResult>,
    /// Why the whole check is unknown (registry unreadable, nothing to check).
    pub reason: Option<String>,
    /// Whether trying again later may change the answer (source failures, not ambiguity).
    pub retryable: bool,
    pub origin: String,
}

impl Verdict {
    fn unknown(origin: String, reason: String, retryable: bool) -> Verdict {
        Verdict {
            status: VerdictStatus::Unknown,
            subjects: vec![],
            reason: Some(reason),
            retryable,
            origin,
        }
    }

    /// Markdown bullet list explaining the verdict; every value is escaped (company names
    /// come from issue descriptions and registry files).
    pub fn details(&self) -> String {
        let mut lines = Vec::new();
        if let Some(r) = &self.reason {
            lines.push(format!("- {}", escape_user_text(r)));
        }
        for s in &self.subjects {
            let what = escape_user_text(&s.subject);
            let line = match (&s.status, &s.agreement) {
                (VerdictStatus::Signed, Some(a)) => format!(
                    "- {what}: covered by {} ({})",
                    escape_user_text(&a.summary()),
                    escape_user_text(s.via.as_deref().unwrap_or("listed"))
                ),
                _ if s.reasons.is_empty() => {
                    format!("- {what}: {}", s.status.as_str())
                }
                _ => format!("- {what}: {}", escape_user_text(&s.reasons.join("; "))),
            };
            lines.push(line);
        }
        lines.join("\n")
    }

    /// The agreements that cover, one line each (for the signed comment and the CLI).
    pub fn agreements(&self) -> String {
        let mut seen = BTreeSet::new();
        self.subjects
            .iter()
            .filter_map(|s| s.agreement.as_ref())
            .map(|a| a.summary())
            .filter(|s| seen.insert(s.clone()))
            .map(|s| escape_user_text(&s))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Runs a check.
pub struct Checker<'a> {
    pub runtime: &'a ClaRuntime,
    /// Needed for GitLab sources and public emails; `None` in CLI runs without GitLab.
    pub forge: Option<&'a GitlabForge>,
    pub settings: &'a CheckSettings,
    /// Bypass caches (a recheck).
    pub fresh: bool,
    pub now: DateTime<Utc>,
}

impl Checker<'_> {
    pub async fn check(&self, subjects: &Subjects) -> Verdict {
        let s = self.settings;
        let origin = s.source.origin();
        let required = match s
            .required_version
            .as_deref()
            .map(Version::parse)
            .transpose()
        {
            Ok(v) => v,
            Err(e) => {
                return Verdict::unknown(origin, format!("required_version: {e}"), false);
            }
        };
        let ttl = self.ttl();
        let registry = match self
            .runtime
            .registry(
                &s.source, s.format, ttl, self.fresh, self.forge, &s.github, self.now,
            )
            .await
        {
            Ok(r) => r,
            Err(e) => return Verdict::unknown(origin, e.to_string(), true),
        };
        if subjects.is_empty() {
            return Verdict::unknown(
                origin,
                "the issue names no company or usernames to check".to_string(),
                false,
            );
        }
        let today = self.now.date_naive();
        let mut results = Vec::new();
        if let Some(company) = &subjects.company {
            let c = company_candidates(&registry.agreements, company);
            results.push(result(
                format!("company {company}"),
                evaluate(&c, required.as_ref(), today),
            ));
        }
        for user in &subjects.gitlab_users {
            let subject = format!("GitLab user @{user}");
            match self.gitlab_candidates(&registry, user).await {
                Ok(c) => results.push(result(subject, evaluate(&c, required.as_ref(), today))),
                Err(e) => results.push(unknown(subject, e, true)),
            }
        }
        for user in &subjects.github_users {
            let subject = format!("GitHub user {user}");
            match self.github_candidates(&registry, user, ttl).await {
                Ok(c) => results.push(result(subject, evaluate(&c, required.as_ref(), today))),
                Err(e) => results.push(unknown(subject, e, true)),
            }
        }
        combine(results, origin)
    }

    fn ttl(&self) -> Duration {
        Duration::seconds(i64::try_from(self.settings.cache_ttl_seconds).unwrap_or(i64::MAX / 1000))
    }

    async fn gitlab_candidates<'r>(
        &self,
        registry: &'r Registry,
        user: &str,
    ) -> Result<Vec<Candidate<'r>>, String> {
        let mut out: Vec<Candidate> = registry
            .by_gitlab_user(user)
            .into_iter()
            .map(|a| Candidate {
                agreement: a,
                via: "listed as a GitLab user".to_string(),
            })
            .collect();
        if out.is_empty()
            && registry.has_email_domains()
            && let Some(forge) = self.forge
        {
            let email = forge
                .public_email(user)
                .await
                .map_err(|e| format!("cannot read the public email of @{user}: {e}"))?;
            if let Some(domain) = email.as_deref().and_then(email_domain) {
                out.extend(
                    registry
                        .by_email_domain(&domain)
                        .into_iter()
                        .map(|a| Candidate {
                            agreement: a,
                            via: format!("public email domain {domain}"),
                        }),
                );
            }
        }
        Ok(out)
    }

    async fn github_candidates<'r>(
        &self,
        registry: &'r Registry,
        user: &str,
        ttl: Duration,
    ) -> Result<Vec<Candidate<'r>>, String> {
        let mut out: Vec<Candidate> = registry
            .by_github_user(user)
            .into_iter()
            .map(|a| Candidate {
                agreement: a,
                via: "listed as a GitHub user".to_string(),
            })
            .collect();
        if out
            .iter()
            .any(|c| c.agreement.status(None, self.now.date_naive()).is_valid())
        {
            return Ok(out);
        }
        for (agreement, org) in registry.org_agreements() {
            let member = self
                .runtime
                .is_org_member(&self.settings.github, org, user, ttl, self.fresh, self.now)
                .await
                .map_err(|e| format!("cannot check GitHub organisation {org}: {e}"))?;
            if member {
                out.push(Candidate {
                    agreement,
                    via: format!("member of GitHub organisation {org}"),
                });
            }
        }
        Ok(out)
    }
}

fn result(subject: String, coverage: Coverage) -> SubjectResult {
    match coverage {
        Coverage::Signed { agreement, via } => SubjectResult {
            subject,
            status: VerdictStatus::Signed,
            agreement: Some(*agreement),
            via: Some(via),
            reasons: vec![],
            retryable: false,
        },
        Coverage::Missing { reasons } => SubjectResult {
            reasons: if reasons.is_empty() {
                vec!["no agreement in the registry names them".to_string()]
            } else {
                reasons
            },
            subject,
            status: VerdictStatus::Missing,
            agreement: None,
            via: None,
            retryable: false,
        },
        Coverage::Ambiguous { reason } => unknown(subject, reason, false),
    }
}

fn unknown(subject: String, reason: String, retryable: bool) -> SubjectResult {
    SubjectResult {
        subject,
        status: VerdictStatus::Unknown,
        agreement: None,
        via: None,
        reasons: vec![reason],
        retryable,
    }
}

fn combine(results: Vec<SubjectResult>, origin: String) -> Verdict {
    let any = |s: VerdictStatus| results.iter().any(|r| r.status == s);
    let status = if any(VerdictStatus::Unknown) {
        VerdictStatus::Unknown
    } else if any(VerdictStatus::Missing) {
        VerdictStatus::Missing
    } else {
        VerdictStatus::Signed
    };
    Verdict {
        status,
        retryable: results.iter().any(|r| r.retryable),
        subjects: results,
        reason: None,
        origin,
    }
}
