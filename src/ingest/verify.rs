//! Authenticates a delivery on its raw bytes, before anything is parsed.
//!
//! GitLab 19.0+ signs deliveries (Standard Webhooks) when a signing token is configured, and
//! still sends `X-Gitlab-Token` when a secret token is configured too. The policy
//! (`docs/operations.md`): once a signing token is configured, a delivery needs a valid
//! signature, because the plain token travels in every delivery and anyone who saw one could
//! forge others; when a secret token is configured as well, it must match too. Only
//! `allow_token_only` (an explicit migration setting) lets a delivery without any signature
//! in on a valid token.

use super::rejection::AuthFailure;
use super::state::IngestConfig;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use http::HeaderMap;

/// How a delivery proved where it came from (for logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authenticated {
    Signature,
    Token,
    /// Nothing configured and the operator allowed it explicitly.
    Unauthenticated,
}

impl Authenticated {
    pub fn as_str(self) -> &'static str {
        match self {
            Authenticated::Signature => "signature",
            Authenticated::Token => "token",
            Authenticated::Unauthenticated => "none",
        }
    }
}

const SIGNATURE: &str = "webhook-signature";
const MESSAGE_ID: &str = "webhook-id";
const TIMESTAMP: &str = "webhook-timestamp";
const TOKEN: &str = "x-gitlab-token";

/// Decides whether a delivery is authentic.
pub fn authenticate(
    headers: &HeaderMap,
    body: &[u8],
    config: &IngestConfig,
    now: DateTime<Utc>,
) -> Result<Authenticated, AuthFailure> {
    let secrets = &config.secrets;
    if secrets.is_empty() {
        return if config.allow_unauthenticated {
            Ok(Authenticated::Unauthenticated)
        } else {
            Err(AuthFailure::NotConfigured)
        };
    }

    let token = headers.get(TOKEN).map(|v| v.as_bytes());
    if !secrets.has_signing_keys() {
        return match token {
            None => Err(AuthFailure::MissingCredentials),
            Some(t) => check_token(config, Some(t)).map(|()| Authenticated::Token),
        };
    }
    match headers.get(SIGNATURE) {
        Some(signature) => {
            verify_signature(headers, signature.as_bytes(), body, config, now)?;
            if secrets.has_tokens() {
                check_token(config, token)?;
            }
            Ok(Authenticated::Signature)
        }
        None if config.allow_token_only && secrets.has_tokens() && token.is_some() => {
            check_token(config, token).map(|()| Authenticated::Token)
        }
        None => Err(AuthFailure::MissingSignature),
    }
}

/// The secret token must be present and match one configured token.
fn check_token(config: &IngestConfig, token: Option<&[u8]>) -> Result<(), AuthFailure> {
    match token {
        Some(t) if config.secrets.token_matches(t) => Ok(()),
        Some(_) => Err(AuthFailure::BadToken),
        None => Err(AuthFailure::MissingToken),
    }
}

/// Standard Webhooks: `webhook-signature` is a space-separated list of `v1,<base64>`; any one
/// that verifies under any configured key wins. The timestamp must be within the tolerance
/// either way, so a captured delivery cannot be replayed later.
fn verify_signature(
    headers: &HeaderMap,
    signature_header: &[u8],
    body: &[u8],
    config: &IngestConfig,
    now: DateTime<Utc>,
) -> Result<(), AuthFailure> {
    let id = headers
        .get(MESSAGE_ID)
        .map(|v| v.as_bytes())
        .filter(|v| !v.is_empty())
        .ok_or(AuthFailure::IncompleteSignatureHeaders)?;
    let timestamp = headers
        .get(TIMESTAMP)
        .map(|v| v.as_bytes())
        .ok_or(AuthFailure::IncompleteSignatureHeaders)?;
    let sent_at: i64 = std::str::from_utf8(timestamp)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(AuthFailure::IncompleteSignatureHeaders)?;
    if now.timestamp().abs_diff(sent_at) > config.timestamp_tolerance.as_secs() {
        return Err(AuthFailure::TimestampOutOfTolerance);
    }

    let signatures: Vec<Vec<u8>> = signature_header
        .split(|b| *b == b' ')
        .filter_map(|entry| entry.strip_prefix(b"v1,"))
        .filter_map(|encoded| STANDARD.decode(encoded).ok())
        .collect();
    if config
        .secrets
        .signature_matches(id, timestamp, body, &signatures)
    {
        Ok(())
    } else {
        Err(AuthFailure::BadSignature)
    }
}
