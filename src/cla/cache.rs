//! The registry cache and GitHub clients, shared by every check in a process.
//!
//! A registry is re-read after its TTL; a failed read is never cached (the next check tries
//! again) and never falls back to "missing". A recheck bypasses the cache, so someone who has
//! just signed is not told to wait for the TTL.

use super::github::{GithubApi, GithubClient, GithubError};
use super::model::Registry;
use super::parse::{RegistryFormat, parse_registry};
use super::source::{self, SourceError, SourceSpec};
use crate::forge::GitlabForge;
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

type MembershipKey = (GithubApi, String, String);
type RegistryKey = (SourceSpec, RegistryFormat);
/// When it was read, and what.
type CachedRegistry = (DateTime<Utc>, Arc<Registry>);

#[derive(Default)]
struct Inner {
    registries: Mutex<HashMap<RegistryKey, CachedRegistry>>,
    github: Mutex<HashMap<GithubApi, GithubClient>>,
    memberships: Mutex<HashMap<MembershipKey, (DateTime<Utc>, bool)>>,
}

/// Cached registries and GitHub answers. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct ClaRuntime {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ClaRuntime {
    /// The registry at `spec`: cached if younger than `ttl` (and `fresh` is false), read and
    /// parsed otherwise.
    #[allow(clippy::too_many_arguments)]
    pub async fn registry(
        &self,
        spec: &SourceSpec,
        format: RegistryFormat,
        ttl: Duration,
        fresh: bool,
        forge: Option<&GitlabForge>,
        github: &GithubApi,
        now: DateTime<Utc>,
    ) -> Result<Arc<Registry>, SourceError> {
        let key = (spec.clone(), format);
        if !fresh
            && let Some((at, reg)) = lock(&self.inner.registries).get(&key)
            && now - *at < ttl
        {
            return Ok(reg.clone());
        }
        let src = source::open(spec, forge, || {
            self.github(github).map_err(|e| e.to_string())
        })?;
        let text = src.read().await?;
        let registry =
            Arc::new(parse_registry(&text, format, &src.origin()).map_err(SourceError::Malformed)?);
        lock(&self.inner.registries).insert(key, (now, registry.clone()));
        Ok(registry)
    }

    /// A GitHub client for `api` (built once per process).
    pub fn github(&self, api: &GithubApi) -> Result<GithubClient, GithubError> {
        if let Some(c) = lock(&self.inner.github).get(api) {
            return Ok(c.clone());
        }
        let client = GithubClient::connect(api)?;
        lock(&self.inner.github).insert(api.clone(), client.clone());
        Ok(client)
    }

    /// Whether `user` is a member of `org`, cached for `ttl` unless `fresh`.
    pub async fn is_org_member(
        &self,
        api: &GithubApi,
        org: &str,
        user: &str,
        ttl: Duration,
        fresh: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, GithubError> {
        let key = (api.clone(), org.to_lowercase(), user.to_lowercase());
        if !fresh
            && let Some((at, member)) = lock(&self.inner.memberships).get(&key)
            && now - *at < ttl
        {
            return Ok(*member);
        }
        let member = self.github(api)?.is_org_member(org, user).await?;
        lock(&self.inner.memberships).insert(key, (now, member));
        Ok(member)
    }
}
