//! Webhook secrets: `X-Gitlab-Token` secret tokens and Standard Webhooks signing keys. Several
//! of each may be configured at once, so a secret can be rotated without dropping deliveries.
//!
//! Secrets live in `secrecy` boxes (zeroed on drop, redacted in `Debug`) and are only ever
//! compared in constant time.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha2::Sha256;
use std::fmt;
use subtle::{Choice, ConstantTimeEq};

/// GitLab's signing tokens are `whsec_` + base64 of the HMAC key.
const SIGNING_TOKEN_PREFIX: &str = "whsec_";

/// The secrets ingest accepts.
pub struct WebhookSecrets {
    tokens: Vec<SecretString>,
    signing_keys: Vec<SecretSlice<u8>>,
}

impl WebhookSecrets {
    /// `tokens` are GitLab secret tokens (sent back verbatim in `X-Gitlab-Token`; line breaks
    /// are removed, as GitLab removes them before sending). `signing_tokens` are
    /// `whsec_<base64>`; a malformed one is an error naming which (by position, never echoing
    /// the secret).
    pub fn new(tokens: Vec<String>, signing_tokens: Vec<String>) -> Result<Self, String> {
        let mut kept_tokens = Vec::with_capacity(tokens.len());
        for (index, token) in tokens.into_iter().enumerate() {
            let token: String = token
                .chars()
                .filter(|c| !matches!(c, '\r' | '\n'))
                .collect();
            if token.is_empty() {
                return Err(format!("webhook token #{} is empty", index + 1));
            }
            kept_tokens.push(SecretString::from(token));
        }

        let mut signing_keys = Vec::with_capacity(signing_tokens.len());
        for (index, signing_token) in signing_tokens.into_iter().enumerate() {
            let position = index + 1;
            let signing_token = SecretString::from(signing_token);
            let encoded = signing_token
                .expose_secret()
                .trim()
                .strip_prefix(SIGNING_TOKEN_PREFIX)
                .ok_or_else(|| {
                    format!("webhook signing token #{position} does not start with `whsec_`")
                })?;
            let key = STANDARD.decode(encoded).map_err(|_| {
                format!("webhook signing token #{position} is not valid base64 after `whsec_`")
            })?;
            if key.is_empty() {
                return Err(format!(
                    "webhook signing token #{position} has an empty key after `whsec_`"
                ));
            }
            signing_keys.push(SecretSlice::from(key));
        }

        Ok(WebhookSecrets {
            tokens: kept_tokens,
            signing_keys,
        })
    }

    /// No token and no signing key: requests cannot be authenticated.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty() && self.signing_keys.is_empty()
    }

    pub(crate) fn has_tokens(&self) -> bool {
        !self.tokens.is_empty()
    }

    pub(crate) fn has_signing_keys(&self) -> bool {
        !self.signing_keys.is_empty()
    }

    /// Whether `presented` equals any configured token. Every token is compared, in constant
    /// time, so the timing tells nothing about which (or whether one) matched.
    pub(crate) fn token_matches(&self, presented: &[u8]) -> bool {
        let matched = self.tokens.iter().fold(Choice::from(0), |acc, token| {
            acc | token.expose_secret().as_bytes().ct_eq(presented)
        });
        matched.into()
    }

    /// Whether any of `signatures` is the HMAC-SHA256 of `{id}.{timestamp}.{body}` under any
    /// configured signing key (Standard Webhooks). Tags are checked with `verify_slice`, which
    /// compares in constant time.
    pub(crate) fn signature_matches(
        &self,
        id: &[u8],
        timestamp: &[u8],
        body: &[u8],
        signatures: &[Vec<u8>],
    ) -> bool {
        self.signing_keys.iter().any(|key| {
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.expose_secret()) else {
                return false;
            };
            mac.update(id);
            mac.update(b".");
            mac.update(timestamp);
            mac.update(b".");
            mac.update(body);
            signatures
                .iter()
                .any(|signature| mac.clone().verify_slice(signature).is_ok())
        })
    }
}

impl fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSecrets")
            .field("tokens", &self.tokens.len())
            .field("signing_keys", &self.signing_keys.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_signing_tokens_are_named_by_position_without_the_secret() {
        let err = WebhookSecrets::new(
            vec![],
            vec![
                "whsec_c2VjcmV0".to_string(),
                "not-a-signing-token-s3cr3t".to_string(),
            ],
        )
        .expect_err("second is malformed");
        assert_eq!(err, "webhook signing token #2 does not start with `whsec_`");
        assert!(!err.contains("s3cr3t"));

        let err = WebhookSecrets::new(vec![], vec!["whsec_!!not base64!!".to_string()])
            .expect_err("bad base64");
        assert_eq!(
            err,
            "webhook signing token #1 is not valid base64 after `whsec_`"
        );
    }

    #[test]
    fn empty_token_is_an_error() {
        let err = WebhookSecrets::new(vec!["a".into(), "\n".into()], vec![]).expect_err("empty");
        assert_eq!(err, "webhook token #2 is empty");
    }

    #[test]
    fn tokens_lose_line_breaks_and_any_of_them_matches() {
        let secrets =
            WebhookSecrets::new(vec!["first\n".into(), "second".into()], vec![]).expect("valid");
        assert!(secrets.token_matches(b"first"));
        assert!(secrets.token_matches(b"second"));
        assert!(!secrets.token_matches(b"secon"));
        assert!(!secrets.token_matches(b""));
        assert!(!secrets.is_empty());
    }

    #[test]
    fn debug_shows_counts_only() {
        let secrets = WebhookSecrets::new(vec!["hunter2".into()], vec!["whsec_c2VjcmV0".into()])
            .expect("valid");
        assert_eq!(
            format!("{secrets:?}"),
            "WebhookSecrets { tokens: 1, signing_keys: 1 }"
        );
    }
}
