//! The registry model: signed agreements and what each one covers.

use super::normalise::{company_key, domain_covered, username_key};
use chrono::NaiveDate;
use serde::Serialize;
use std::cmp::Ordering;
use std::fmt;

/// An agreement version (`2`, `v2.1`): compared numerically part by part, trailing zeros
/// ignored, so `2` = `2.0` < `2.1` < `10`. Explicit versions, not content hashes: editing the
/// document's wording must not silently invalidate every signature (cla-assistant#376).
#[derive(Debug, Clone, Serialize)]
#[serde(into = "String")]
pub struct Version {
    text: String,
    parts: Vec<u64>,
}

impl Version {
    pub fn parse(text: &str) -> Result<Version, String> {
        let t = text.trim();
        let digits = t.strip_prefix(['v', 'V']).unwrap_or(t);
        let parts: Result<Vec<u64>, _> = digits.split('.').map(str::parse::<u64>).collect();
        match parts {
            Ok(mut parts) if !digits.is_empty() => {
                while parts.len() > 1 && parts.last() == Some(&0) {
                    parts.pop();
                }
                Ok(Version {
                    text: t.to_string(),
                    parts,
                })
            }
            _ => Err(format!(
                "`{text}` is not a version number (expected digits separated by dots, e.g. `2` or `2.1`)"
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.parts == other.parts
    }
}
impl Eq for Version {}
impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts.cmp(&other.parts)
    }
}
impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}
impl From<Version> for String {
    fn from(v: Version) -> String {
        v.text
    }
}

/// One signed Corporate Contributor Agreement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Agreement {
    pub company: String,
    /// Other names the company goes by (brands, former names, local entities).
    pub aliases: Vec<String>,
    /// Email domains whose addresses the agreement covers (subdomains included).
    pub email_domains: Vec<String>,
    pub gitlab_users: Vec<String>,
    /// GitHub organisations whose members are covered.
    pub github_orgs: Vec<String>,
    pub github_users: Vec<String>,
    pub version: Version,
    pub signed: NaiveDate,
    pub expires: Option<NaiveDate>,
    pub revoked: Option<NaiveDate>,
    /// Line in the registry file, so operators can find the entry.
    pub line: u64,
}

/// Whether an agreement covers anyone today, and if not, why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AgreementStatus {
    Valid,
    Expired {
        on: NaiveDate,
    },
    Revoked {
        on: NaiveDate,
    },
    OldVersion {
        signed: Version,
        required: Version,
    },
    /// Signed with a date still in the future (a typo or a pre-dated entry).
    NotYetSigned {
        on: NaiveDate,
    },
}

impl AgreementStatus {
    pub fn is_valid(&self) -> bool {
        matches!(self, AgreementStatus::Valid)
    }

    /// Why the agreement does not cover, in words.
    pub fn describe(&self) -> String {
        match self {
            AgreementStatus::Valid => "valid".to_string(),
            AgreementStatus::Expired { on } => format!("expired on {on}"),
            AgreementStatus::Revoked { on } => format!("revoked on {on}"),
            AgreementStatus::OldVersion { signed, required } => {
                format!("signed version {signed} is older than the required version {required}")
            }
            AgreementStatus::NotYetSigned { on } => {
                format!("signature dated {on} is in the future")
            }
        }
    }
}

impl Agreement {
    pub fn status(&self, required: Option<&Version>, today: NaiveDate) -> AgreementStatus {
        if let Some(on) = self.revoked.filter(|d| *d <= today) {
            return AgreementStatus::Revoked { on };
        }
        if let Some(on) = self.expires.filter(|d| *d <= today) {
            return AgreementStatus::Expired { on };
        }
        if self.signed > today {
            return AgreementStatus::NotYetSigned { on: self.signed };
        }
        if let Some(req) = required.filter(|r| self.version < **r) {
            return AgreementStatus::OldVersion {
                signed: self.version.clone(),
                required: req.clone(),
            };
        }
        AgreementStatus::Valid
    }

    /// The comparable company key of the agreement (its main name).
    pub fn company_key(&self) -> String {
        company_key(&self.company)
    }

    pub fn names_company(&self, key: &str) -> bool {
        self.company_key() == key || self.aliases.iter().any(|a| company_key(a) == key)
    }

    pub fn names_gitlab_user(&self, username: &str) -> bool {
        let u = username_key(username);
        self.gitlab_users.iter().any(|g| username_key(g) == u)
    }

    pub fn names_github_user(&self, username: &str) -> bool {
        let u = username_key(username);
        self.github_users.iter().any(|g| username_key(g) == u)
    }

    pub fn covers_domain(&self, domain: &str) -> bool {
        self.email_domains.iter().any(|d| domain_covered(domain, d))
    }

    /// One line for operators and comments: `Acme Inc (version 2, signed 2024-03-01)`.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} (version {}, signed {}",
            self.company, self.version, self.signed
        );
        if let Some(e) = self.expires {
            s.push_str(&format!(", expires {e}"));
        }
        if let Some(r) = self.revoked {
            s.push_str(&format!(", revoked {r}"));
        }
        s.push(')');
        s
    }
}

/// A parsed registry: every agreement, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registry {
    /// The file, for messages (`gitlab:legal/cla/-/blob/main/registry.yml`).
    pub origin: String,
    pub agreements: Vec<Agreement>,
}

impl Registry {
    pub fn by_company(&self, name: &str) -> Vec<&Agreement> {
        let key = company_key(name);
        if key.is_empty() {
            return Vec::new();
        }
        self.agreements
            .iter()
            .filter(|a| a.names_company(&key))
            .collect()
    }

    pub fn by_gitlab_user(&self, username: &str) -> Vec<&Agreement> {
        self.agreements
            .iter()
            .filter(|a| a.names_gitlab_user(username))
            .collect()
    }

    pub fn by_github_user(&self, username: &str) -> Vec<&Agreement> {
        self.agreements
            .iter()
            .filter(|a| a.names_github_user(username))
            .collect()
    }

    pub fn by_email_domain(&self, domain: &str) -> Vec<&Agreement> {
        self.agreements
            .iter()
            .filter(|a| a.covers_domain(domain))
            .collect()
    }

    /// Agreements covering GitHub organisations, with those organisations.
    pub fn org_agreements(&self) -> impl Iterator<Item = (&Agreement, &str)> {
        self.agreements
            .iter()
            .flat_map(|a| a.github_orgs.iter().map(move |o| (a, o.as_str())))
    }

    /// Whether any agreement covers email domains (so public emails are worth fetching).
    pub fn has_email_domains(&self) -> bool {
        self.agreements.iter().any(|a| !a.email_domains.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        let v = |s: &str| Version::parse(s).expect("version");
        assert_eq!(v("2"), v("2.0"));
        assert!(v("v2.1") > v("2"));
        assert!(v("10") > v("9.9"));
        assert_eq!(v("V3").as_str(), "V3");
        assert!(Version::parse("two").is_err());
        assert!(Version::parse("").is_err());
        assert!(Version::parse("2..1").is_err());
    }
}
