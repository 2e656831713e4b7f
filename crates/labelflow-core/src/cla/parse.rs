//! Reading a registry file (YAML or CSV) strictly: unknown keys or columns, bad dates and bad
//! versions are errors that name the file and line, so a broken registry is fixed rather than
//! half-read.

use super::model::{Agreement, Registry, Version};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use std::fmt;

/// The registry file's format.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RegistryFormat {
    /// By the file name: `.csv` is CSV, anything else YAML.
    #[default]
    Auto,
    Yaml,
    Csv,
}

impl RegistryFormat {
    /// The concrete format for a file called `path`.
    pub fn resolve(self, path: &str) -> RegistryFormat {
        match self {
            RegistryFormat::Auto if path.to_ascii_lowercase().ends_with(".csv") => {
                RegistryFormat::Csv
            }
            RegistryFormat::Auto => RegistryFormat::Yaml,
            other => other,
        }
    }
}

/// A registry file that cannot be used, with where the problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryError {
    pub origin: String,
    pub line: Option<u64>,
    pub message: String,
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.origin, self.message),
            None => write!(f, "{}: {}", self.origin, self.message),
        }
    }
}

impl std::error::Error for RegistryError {}

/// Parses `text` as a registry in `format` (resolved against `origin`'s file name).
pub fn parse_registry(
    text: &str,
    format: RegistryFormat,
    origin: &str,
) -> Result<Registry, RegistryError> {
    let agreements = match format.resolve(origin) {
        RegistryFormat::Csv => parse_csv(text, origin)?,
        _ => parse_yaml(text, origin)?,
    };
    Ok(Registry {
        origin: origin.to_string(),
        agreements,
    })
}

fn error(origin: &str, line: Option<u64>, message: impl Into<String>) -> RegistryError {
    RegistryError {
        origin: origin.to_string(),
        line,
        message: message.into(),
    }
}

/// The fields of one agreement as written, before validation, with the lines of the values
/// validation may reject.
struct RawAgreement {
    line: u64,
    version_line: u64,
    /// Lines of `signed`, `expires`, `revoked`.
    dates_line: [u64; 3],
    company: String,
    aliases: Vec<String>,
    email_domains: Vec<String>,
    gitlab_users: Vec<String>,
    github_orgs: Vec<String>,
    github_users: Vec<String>,
    version: String,
    signed: String,
    expires: Option<String>,
    revoked: Option<String>,
}

fn date(origin: &str, line: u64, what: &str, text: &str) -> Result<NaiveDate, RegistryError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        error(
            origin,
            Some(line),
            format!("`{what}`: `{text}` is not a date (expected YYYY-MM-DD)"),
        )
    })
}

fn optional_date(
    origin: &str,
    line: u64,
    what: &str,
    text: Option<&str>,
) -> Result<Option<NaiveDate>, RegistryError> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => date(origin, line, what, t).map(Some),
    }
}

fn clean(v: Vec<String>) -> Vec<String> {
    v.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn validate(origin: &str, raw: RawAgreement) -> Result<Agreement, RegistryError> {
    let line = raw.line;
    let [signed_line, expires_line, revoked_line] = raw.dates_line;
    let company = raw.company.trim().to_string();
    if company.is_empty() {
        return Err(error(origin, Some(line), "`company` is empty"));
    }
    let version = Version::parse(&raw.version)
        .map_err(|m| error(origin, Some(raw.version_line), format!("`version`: {m}")))?;
    let signed = date(origin, signed_line, "signed", &raw.signed)?;
    let expires = optional_date(origin, expires_line, "expires", raw.expires.as_deref())?;
    let revoked = optional_date(origin, revoked_line, "revoked", raw.revoked.as_deref())?;
    if let Some(e) = expires
        && e < signed
    {
        return Err(error(
            origin,
            Some(expires_line),
            format!("agreement `{company}`: expires ({e}) before it was signed ({signed})"),
        ));
    }
    Ok(Agreement {
        company,
        aliases: clean(raw.aliases),
        email_domains: clean(raw.email_domains),
        gitlab_users: clean(raw.gitlab_users),
        github_orgs: clean(raw.github_orgs),
        github_users: clean(raw.github_users),
        version,
        signed,
        expires,
        revoked,
        line,
    })
}

// ---- YAML ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YamlFile {
    agreements: Vec<Spanned<YamlAgreement>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YamlAgreement {
    company: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    email_domains: Vec<String>,
    #[serde(default)]
    gitlab_users: Vec<String>,
    #[serde(default)]
    github_orgs: Vec<String>,
    #[serde(default)]
    github_users: Vec<String>,
    version: Spanned<ScalarText>,
    signed: Spanned<ScalarText>,
    #[serde(default)]
    expires: Option<Spanned<ScalarText>>,
    #[serde(default)]
    revoked: Option<Spanned<ScalarText>>,
}

/// A scalar as text: `version: 2` and `version: "2"` mean the same.
struct ScalarText(String);

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = String;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number or date")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
                Ok(v.to_string())
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<String, E> {
                Ok(v.to_string())
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<String, E> {
                Ok(v.to_string())
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<String, E> {
                Ok(v.to_string())
            }
        }
        d.deserialize_any(V).map(ScalarText)
    }
}

fn parse_yaml(text: &str, origin: &str) -> Result<Vec<Agreement>, RegistryError> {
    let file: YamlFile = serde_saphyr::from_str(text).map_err(|e| {
        let message = e.to_string();
        error(
            origin,
            e.location().map(|l| l.line()),
            message
                .lines()
                .next()
                .unwrap_or(&message)
                .trim()
                .to_string(),
        )
    })?;
    file.agreements
        .into_iter()
        .map(|s| {
            let line = s.referenced.line();
            let a = s.value;
            let at = |v: &Option<Spanned<ScalarText>>| {
                v.as_ref().map(|s| s.referenced.line()).unwrap_or(line)
            };
            let dates_line = [a.signed.referenced.line(), at(&a.expires), at(&a.revoked)];
            validate(
                origin,
                RawAgreement {
                    line,
                    version_line: a.version.referenced.line(),
                    dates_line,
                    company: a.company,
                    aliases: a.aliases,
                    email_domains: a.email_domains,
                    gitlab_users: a.gitlab_users,
                    github_orgs: a.github_orgs,
                    github_users: a.github_users,
                    version: a.version.value.0,
                    signed: a.signed.value.0,
                    expires: a.expires.map(|s| s.value.0),
                    revoked: a.revoked.map(|s| s.value.0),
                },
            )
        })
        .collect()
}

// ---- CSV ----

/// Columns a CSV registry may have; list columns separate values with `;`.
const CSV_COLUMNS: &[&str] = &[
    "company",
    "aliases",
    "email_domains",
    "gitlab_users",
    "github_orgs",
    "github_users",
    "version",
    "signed",
    "expires",
    "revoked",
];
const CSV_REQUIRED: &[&str] = &["company", "version", "signed"];

#[derive(Deserialize)]
struct CsvRow {
    company: String,
    #[serde(default)]
    aliases: String,
    #[serde(default)]
    email_domains: String,
    #[serde(default)]
    gitlab_users: String,
    #[serde(default)]
    github_orgs: String,
    #[serde(default)]
    github_users: String,
    version: String,
    signed: String,
    #[serde(default)]
    expires: String,
    #[serde(default)]
    revoked: String,
}

fn list(s: &str) -> Vec<String> {
    s.split(';').map(|p| p.trim().to_string()).collect()
}

fn parse_csv(text: &str, origin: &str) -> Result<Vec<Agreement>, RegistryError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| csv_error(origin, text, &e))?
        .clone();
    for h in &headers {
        if !CSV_COLUMNS.contains(&h) {
            return Err(error(
                origin,
                Some(1),
                format!(
                    "unknown column `{h}` (expected some of: {})",
                    CSV_COLUMNS.join(", ")
                ),
            ));
        }
    }
    for r in CSV_REQUIRED {
        if !headers.iter().any(|h| h == *r) {
            return Err(error(
                origin,
                Some(1),
                format!(
                    "missing column `{r}` (required: {})",
                    CSV_REQUIRED.join(", ")
                ),
            ));
        }
    }
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(origin, text, &e))?;
        let line = record
            .position()
            .map(|p| line_at(text, p.byte()))
            .unwrap_or(0);
        let row: CsvRow = record
            .deserialize(Some(&headers))
            .map_err(|e| csv_error(origin, text, &e))?;
        let optional = |s: String| (!s.is_empty()).then_some(s);
        out.push(validate(
            origin,
            RawAgreement {
                line,
                version_line: line,
                dates_line: [line; 3],
                company: row.company,
                aliases: list(&row.aliases),
                email_domains: list(&row.email_domains),
                gitlab_users: list(&row.gitlab_users),
                github_orgs: list(&row.github_orgs),
                github_users: list(&row.github_users),
                version: row.version,
                signed: row.signed,
                expires: optional(row.expires),
                revoked: optional(row.revoked),
            },
        )?);
    }
    Ok(out)
}

/// The 1-based line of the record starting at byte offset `byte`. The csv crate's positions
/// include the comment lines skipped before a record (and its line numbers do not count
/// them), which would point operators at the wrong line.
fn line_at(text: &str, byte: u64) -> u64 {
    let end = usize::try_from(byte).unwrap_or(usize::MAX).min(text.len());
    let mut line = text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count() as u64
        + 1;
    for rest in text[end..].split('\n') {
        if !rest.trim_start().starts_with('#') {
            break;
        }
        line += 1;
    }
    line
}

fn csv_error(origin: &str, text: &str, e: &csv::Error) -> RegistryError {
    let line = e.position().map(|p| line_at(text, p.byte()));
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("the row has {len} fields, the header has {expected_len}"),
        csv::ErrorKind::Deserialize { err, .. } => err.to_string(),
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_string(),
        _ => e.to_string(),
    };
    error(origin, line, message)
}
