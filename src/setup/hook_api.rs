//! Project hooks for setup: list them with the fields that say whether a hook can serve
//! labelflow, create one, and fix one. Our own endpoints: the crate's `CreateHook` and
//! `EditHook` have no `signing_token` parameter (GitLab 19.0+). Fields from GitLab's Project
//! webhooks API docs; `token_present` / `signing_token_present` from GitLab MR 231325 (older
//! versions omit them, and never return a token itself).

use super::api::builder_err;
use crate::forge::ForgeError;
use crate::forge::retry::RetryingClient;
use gitlab::api::projects::hooks::Hooks;
use gitlab::api::{self, AsyncQuery, BodyError, Endpoint, FormParams, Pagination};
use serde::Deserialize;
use std::borrow::Cow;

#[derive(Debug, Clone, Deserialize)]
pub struct ApiHook {
    pub id: u64,
    pub url: String,
    #[serde(default)]
    pub push_events: bool,
    #[serde(default)]
    pub issues_events: bool,
    #[serde(default)]
    pub confidential_issues_events: bool,
    #[serde(default)]
    pub note_events: bool,
    #[serde(default)]
    pub confidential_note_events: bool,
    /// Whether a secret token (`X-Gitlab-Token`) is set; `None` on GitLab that does not say.
    #[serde(default)]
    pub token_present: Option<bool>,
    /// Whether a signing token is set; `None` on GitLab that does not say.
    #[serde(default)]
    pub signing_token_present: Option<bool>,
}

impl ApiHook {
    /// Why this hook cannot serve labelflow, in words; empty when it can.
    pub fn shortcomings(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let events = [
            (self.issues_events, "no issue events"),
            (
                self.confidential_issues_events,
                "no confidential issue events",
            ),
            (self.note_events, "no comment events"),
            (
                self.confidential_note_events,
                "no confidential comment events",
            ),
        ];
        out.extend(events.iter().filter(|(on, _)| !on).map(|(_, why)| *why));
        if self.lacks_secrets() {
            out.push(
                "neither a secret token nor a signing token (labelflow refuses its deliveries)",
            );
        }
        out
    }

    /// GitLab says it has no secret at all.
    pub fn lacks_secrets(&self) -> bool {
        self.token_present == Some(false) && self.signing_token_present != Some(true)
    }
}

pub async fn hooks(client: &RetryingClient, project: u64) -> Result<Vec<ApiHook>, ForgeError> {
    let endpoint = Hooks::builder()
        .project(project)
        .build()
        .map_err(builder_err)?;
    Ok(api::paged(endpoint, Pagination::All)
        .query_async(client)
        .await?)
}

/// New secrets for a hook: a signing token (GitLab 19.0+, `webhook-signature`) and a secret
/// token (`X-Gitlab-Token`, which older GitLab versions send instead).
pub struct HookSecrets<'a> {
    pub signing_token: &'a str,
    pub secret_token: &'a str,
}

/// `POST /projects/:id/hooks` (no `hook`) or `PUT /projects/:id/hooks/:hook_id`: issue and
/// note events (confidential ones too) on, and new secrets when given.
struct LabelflowHook<'a> {
    project: u64,
    hook: Option<u64>,
    url: &'a str,
    secrets: Option<HookSecrets<'a>>,
}

impl Endpoint for LabelflowHook<'_> {
    fn method(&self) -> http::Method {
        match self.hook {
            None => http::Method::POST,
            Some(_) => http::Method::PUT,
        }
    }

    fn endpoint(&self) -> Cow<'static, str> {
        match self.hook {
            None => format!("projects/{}/hooks", self.project).into(),
            Some(id) => format!("projects/{}/hooks/{id}", self.project).into(),
        }
    }

    fn body(&self) -> Result<Option<(&'static str, Vec<u8>)>, BodyError> {
        let mut params = FormParams::default();
        params
            .push("url", self.url)
            .push("issues_events", true)
            .push("confidential_issues_events", true)
            .push("note_events", true)
            .push("confidential_note_events", true);
        if self.hook.is_none() {
            params
                .push("name", "labelflow")
                .push("description", "labelflow workflow automation")
                .push("push_events", false)
                .push("enable_ssl_verification", true);
        }
        if let Some(s) = &self.secrets {
            params
                .push("token", s.secret_token)
                .push("signing_token", s.signing_token);
        }
        params.into_body()
    }
}

pub async fn create_hook(
    client: &RetryingClient,
    project: u64,
    url: &str,
    secrets: HookSecrets<'_>,
) -> Result<(), ForgeError> {
    let endpoint = LabelflowHook {
        project,
        hook: None,
        url,
        secrets: Some(secrets),
    };
    api::ignore(endpoint).query_async(client).await?;
    Ok(())
}

/// Turns the events labelflow needs on; sets new secrets when given (the old ones are never
/// read: GitLab does not return them).
pub async fn fix_hook(
    client: &RetryingClient,
    project: u64,
    hook: u64,
    url: &str,
    secrets: Option<HookSecrets<'_>>,
) -> Result<(), ForgeError> {
    let endpoint = LabelflowHook {
        project,
        hook: Some(hook),
        url,
        secrets,
    };
    api::ignore(endpoint).query_async(client).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(e: &LabelflowHook<'_>) -> Vec<(String, String)> {
        let (_, body) = e.body().expect("body").expect("some body");
        url::form_urlencoded::parse(&body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    fn get<'a>(pairs: &'a [(String, String)], k: &str) -> Option<&'a str> {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_new_hook_carries_both_tokens_and_issue_events_only() {
        let e = LabelflowHook {
            project: 7,
            hook: None,
            url: "https://lf.example.com/webhooks/gitlab",
            secrets: Some(HookSecrets {
                signing_token: "whsec_abc",
                secret_token: "s3cret",
            }),
        };
        assert_eq!(e.endpoint(), "projects/7/hooks");
        assert_eq!(e.method(), http::Method::POST);
        let p = pairs(&e);
        assert_eq!(
            get(&p, "url"),
            Some("https://lf.example.com/webhooks/gitlab")
        );
        assert_eq!(get(&p, "signing_token"), Some("whsec_abc"));
        assert_eq!(get(&p, "token"), Some("s3cret"));
        assert_eq!(get(&p, "issues_events"), Some("true"));
        assert_eq!(get(&p, "note_events"), Some("true"));
        assert_eq!(get(&p, "push_events"), Some("false"));
    }

    #[test]
    fn a_fix_turns_events_on_and_leaves_secrets_alone_unless_given() {
        let e = LabelflowHook {
            project: 7,
            hook: Some(9),
            url: "https://lf.example.com/webhooks/gitlab",
            secrets: None,
        };
        assert_eq!(e.endpoint(), "projects/7/hooks/9");
        assert_eq!(e.method(), http::Method::PUT);
        let p = pairs(&e);
        assert_eq!(get(&p, "confidential_note_events"), Some("true"));
        assert_eq!(get(&p, "token"), None);
        assert_eq!(get(&p, "signing_token"), None);
        assert_eq!(get(&p, "push_events"), None);
    }

    #[test]
    fn a_push_only_hook_without_secrets_cannot_serve() {
        let hook = ApiHook {
            id: 1,
            url: "u".into(),
            push_events: true,
            issues_events: false,
            confidential_issues_events: false,
            note_events: false,
            confidential_note_events: false,
            token_present: Some(false),
            signing_token_present: Some(false),
        };
        assert_eq!(hook.shortcomings().len(), 5);
        assert!(hook.lacks_secrets());
    }
}
