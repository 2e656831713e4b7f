//! Listing issues for a sweep with GitLab's own filters, keyset-paginated (100 per page) and
//! streamed, plus the per-stage counts the summary needs. Every request goes through the
//! forge's `RetryingClient`, so rate limits and missing headers are handled in one place.
//!
//! The `gitlab` crate's `ProjectIssues` / `GroupIssues` only page by offset and have no
//! `not[labels]`; [`IssueListing`] wraps them to turn keyset pagination on and add the filters
//! the crate lacks.

use crate::forge::ForgeError;
use crate::forge::retry::RetryingClient;
use chrono::{DateTime, Utc};
use gitlab::api::common::{NameOrId, SortOrder};
use gitlab::api::issues::{GroupIssues, IssueOrderBy, IssueState, ProjectIssues};
use gitlab::api::{AsyncQuery, Endpoint, Pageable, QueryParams};
use http::Method;
use serde::Deserialize;
use std::borrow::Cow;

/// GitLab's largest page.
pub const PAGE_SIZE: usize = 100;

/// Where to look: a project or a group (with its subgroups), by full path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Project(String),
    Group(String),
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Project(p) => write!(f, "project {p}"),
            Scope::Group(g) => write!(f, "group {g}"),
        }
    }
}

/// The filters of one listing: open issues carrying every label in `labels` and none in
/// `not_labels`, oldest `updated_at` first.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub labels: Vec<String>,
    pub not_labels: Vec<String>,
    pub updated_before: Option<DateTime<Utc>>,
    /// `confidential=false`.
    pub exclude_confidential: bool,
    /// `milestone=None`.
    pub without_milestone: bool,
    /// `not[milestone]=…` (GitLab takes one title).
    pub not_milestone: Option<String>,
}

/// `t` rounded up to a whole second: the crate sends times with whole seconds, and cutting
/// the fraction off would drop items updated within that second. Listing a few items that are
/// not due yet is harmless (the planner decides); missing due ones is not.
fn ceil_second(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::{SubsecRound, Timelike};
    if t.nanosecond() == 0 {
        t
    } else {
        t.trunc_subsecs(0) + chrono::Duration::seconds(1)
    }
}

enum Inner<'a> {
    Project(ProjectIssues<'a>),
    Group(GroupIssues<'a>),
}

/// An issue listing with keyset pagination and the extra filters.
pub struct IssueListing<'a> {
    inner: Inner<'a>,
    extra: Vec<(&'static str, String)>,
}

fn builder_err(e: impl std::fmt::Display) -> ForgeError {
    ForgeError::Permanent {
        status: 0,
        message: format!("invalid request: {e}"),
    }
}

impl<'a> IssueListing<'a> {
    pub fn new(scope: &'a Scope, q: &'a ListQuery) -> Result<Self, ForgeError> {
        let inner = match scope {
            Scope::Project(path) => {
                let mut b = ProjectIssues::builder();
                b.project(path.as_str())
                    .state(IssueState::Opened)
                    .labels(q.labels.iter().map(String::as_str))
                    .order_by(IssueOrderBy::UpdatedAt)
                    .sort(SortOrder::Ascending);
                if let Some(t) = q.updated_before {
                    b.updated_before(ceil_second(t));
                }
                if q.exclude_confidential {
                    b.confidential(false);
                }
                Inner::Project(b.build().map_err(builder_err)?)
            }
            Scope::Group(path) => {
                let mut b = GroupIssues::builder();
                b.group(path.as_str())
                    .state(IssueState::Opened)
                    .labels(q.labels.iter().map(String::as_str))
                    .order_by(IssueOrderBy::UpdatedAt)
                    .sort(SortOrder::Ascending);
                if let Some(t) = q.updated_before {
                    b.updated_before(ceil_second(t));
                }
                if q.exclude_confidential {
                    b.confidential(false);
                }
                Inner::Group(b.build().map_err(builder_err)?)
            }
        };
        let mut extra = Vec::new();
        if !q.not_labels.is_empty() {
            extra.push(("not[labels]", q.not_labels.join(",")));
        }
        if q.without_milestone {
            extra.push(("milestone", "None".to_string()));
        }
        if let Some(m) = &q.not_milestone {
            extra.push(("not[milestone]", m.clone()));
        }
        Ok(IssueListing { inner, extra })
    }
}

impl Endpoint for IssueListing<'_> {
    fn method(&self) -> Method {
        Method::GET
    }

    fn endpoint(&self) -> Cow<'static, str> {
        match &self.inner {
            Inner::Project(e) => e.endpoint(),
            Inner::Group(e) => e.endpoint(),
        }
    }

    fn parameters(&self) -> QueryParams<'_> {
        let mut params = match &self.inner {
            Inner::Project(e) => e.parameters(),
            Inner::Group(e) => e.parameters(),
        };
        for (k, v) in &self.extra {
            params.push(*k, v.as_str());
        }
        params
    }
}

impl Pageable for IssueListing<'_> {
    fn use_keyset_pagination(&self) -> bool {
        true
    }
}

/// `GET /projects/:id/issues_statistics` or `/groups/:id/issues_statistics` for issues
/// carrying every label in `labels` (the crate has no endpoint for it).
struct IssueStatistics<'a> {
    scope: &'a Scope,
    labels: String,
}

impl Endpoint for IssueStatistics<'_> {
    fn method(&self) -> Method {
        Method::GET
    }

    fn endpoint(&self) -> Cow<'static, str> {
        match self.scope {
            Scope::Project(p) => {
                format!("projects/{}/issues_statistics", NameOrId::from(p.as_str())).into()
            }
            Scope::Group(g) => {
                format!("groups/{}/issues_statistics", NameOrId::from(g.as_str())).into()
            }
        }
    }

    fn parameters(&self) -> QueryParams<'_> {
        let mut params = QueryParams::default();
        params.push("labels", self.labels.as_str());
        params
    }
}

#[derive(Deserialize)]
struct StatisticsBody {
    statistics: Statistics,
}

#[derive(Deserialize)]
struct Statistics {
    counts: Counts,
}

#[derive(Deserialize)]
struct Counts {
    #[serde(default)]
    opened: u64,
}

/// How many open issues in `scope` carry every label in `labels`.
pub async fn count_open(
    client: &RetryingClient,
    scope: &Scope,
    labels: &[String],
) -> Result<u64, ForgeError> {
    let body: StatisticsBody = IssueStatistics {
        scope,
        labels: labels.join(","),
    }
    .query_async(client)
    .await?;
    Ok(body.statistics.counts.opened)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_asks_for_keyset_and_the_extra_filters() {
        let scope = Scope::Project("co-create/opportunities".into());
        let q = ListQuery {
            labels: vec!["cocreate::triage".into()],
            not_labels: vec!["cocreate-sweep::stale".into(), "priority::1".into()],
            updated_before: None,
            exclude_confidential: true,
            without_milestone: true,
            not_milestone: None,
        };
        let listing = match IssueListing::new(&scope, &q) {
            Ok(l) => l,
            Err(e) => panic!("listing builds: {e}"),
        };
        assert!(listing.use_keyset_pagination());
        assert_eq!(
            listing.endpoint(),
            "projects/co-create%2Fopportunities/issues"
        );
        let mut url = match url::Url::parse("http://gitlab/api/v4/x") {
            Ok(u) => u,
            Err(e) => panic!("{e}"),
        };
        listing.parameters().add_to_url(&mut url);
        let query: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let get = |k: &str| {
            query
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("state"), Some("opened"));
        assert_eq!(get("labels"), Some("cocreate::triage"));
        assert_eq!(
            get("not[labels]"),
            Some("cocreate-sweep::stale,priority::1")
        );
        assert_eq!(get("confidential"), Some("false"));
        assert_eq!(get("milestone"), Some("None"));
        assert_eq!(get("order_by"), Some("updated_at"));
        assert_eq!(get("sort"), Some("asc"));
    }
}
