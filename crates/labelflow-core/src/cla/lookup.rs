//! Deciding coverage from the agreements that name a subject: pure, so every rule about
//! expiry, revocation, versions and ambiguity is tested without any network.

use super::model::{Agreement, AgreementStatus, Version};
use super::normalise::company_key;
use chrono::NaiveDate;
use std::collections::BTreeSet;

/// An agreement that names the subject, and how (for the explanation).
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    pub agreement: &'a Agreement,
    /// `listed by company name`, `email domain acme.com`, `member of GitHub organisation acme`.
    pub via: String,
}

/// What the registry says about one subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Coverage {
    Signed {
        agreement: Box<Agreement>,
        via: String,
    },
    /// No agreement covers: none names the subject (`reasons` empty), or each one that does
    /// has a problem (expired, revoked, old version).
    Missing { reasons: Vec<String> },
    /// Agreements of different companies name the subject and disagree: a person must decide
    /// which one applies, so no guess is made.
    Ambiguous { reason: String },
}

/// Evaluates the candidates for one subject on `today`.
pub fn evaluate(
    candidates: &[Candidate<'_>],
    required: Option<&Version>,
    today: NaiveDate,
) -> Coverage {
    let judged: Vec<(&Candidate, AgreementStatus)> = candidates
        .iter()
        .map(|c| (c, c.agreement.status(required, today)))
        .collect();
    let valid: Vec<&(&Candidate, AgreementStatus)> =
        judged.iter().filter(|(_, s)| s.is_valid()).collect();
    let invalid: Vec<&(&Candidate, AgreementStatus)> =
        judged.iter().filter(|(_, s)| !s.is_valid()).collect();
    if valid.is_empty() {
        let mut reasons: Vec<String> = invalid
            .iter()
            .map(|(c, s)| format!("{}: {}", c.agreement.summary(), s.describe()))
            .collect();
        reasons.dedup();
        return Coverage::Missing { reasons };
    }
    let valid_companies: BTreeSet<String> = valid
        .iter()
        .map(|(c, _)| c.agreement.company_key())
        .collect();
    let conflicting: Vec<&str> = invalid
        .iter()
        .filter(|(c, _)| !valid_companies.contains(&c.agreement.company_key()))
        .map(|(c, _)| c.agreement.company.as_str())
        .collect();
    if !conflicting.is_empty() {
        let valid_names: Vec<&str> = valid
            .iter()
            .map(|(c, _)| c.agreement.company.as_str())
            .collect();
        return Coverage::Ambiguous {
            reason: format!(
                "named by agreements of different companies: {} (valid) and {} (not valid)",
                valid_names.join(", "),
                conflicting.join(", ")
            ),
        };
    }
    // The newest valid agreement is the one to show.
    let best = valid
        .iter()
        .max_by(|a, b| {
            (&a.0.agreement.version, a.0.agreement.signed)
                .cmp(&(&b.0.agreement.version, b.0.agreement.signed))
        })
        .map(|(c, _)| *c);
    match best {
        Some(c) => Coverage::Signed {
            agreement: Box::new(c.agreement.clone()),
            via: c.via.clone(),
        },
        None => Coverage::Missing { reasons: vec![] },
    }
}

/// Agreements naming a company, by normalised name or alias.
pub fn company_candidates<'a>(agreements: &'a [Agreement], name: &str) -> Vec<Candidate<'a>> {
    let key = company_key(name);
    if key.is_empty() {
        return Vec::new();
    }
    agreements
        .iter()
        .filter(|a| a.names_company(&key))
        .map(|a| Candidate {
            agreement: a,
            via: if a.company_key() == key {
                "company name".to_string()
            } else {
                "company alias".to_string()
            },
        })
        .collect()
}
