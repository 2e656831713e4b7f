//! Which database a `--database` value names.

use super::error::{StoreError, StoreResult};
use std::path::PathBuf;

/// The parsed form of a `--database` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    /// A SQLite file, created if missing.
    SqliteFile(PathBuf),
    /// A private in-memory SQLite database (tests).
    SqliteMemory,
    /// A PostgreSQL connection URL, passed to the driver as is.
    Postgres(String),
}

impl DatabaseTarget {
    /// Accepts `postgres://…` / `postgresql://…`, `sqlite::memory:`, `sqlite://PATH`,
    /// `sqlite:PATH`, or a bare file path. Any other `scheme://` is refused rather than being
    /// taken for a file name.
    pub fn parse(url: &str) -> StoreResult<Self> {
        let url = url.trim();
        let bad = || StoreError::BadUrl(url.to_string());
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseTarget::Postgres(url.to_string()));
        }
        if url == "sqlite::memory:" || url == "sqlite://:memory:" {
            return Ok(DatabaseTarget::SqliteMemory);
        }
        let path = if let Some(rest) = url.strip_prefix("sqlite://") {
            rest
        } else if let Some(rest) = url.strip_prefix("sqlite:") {
            rest
        } else if url.contains("://") {
            return Err(bad());
        } else {
            url
        };
        if path.is_empty() || path.contains('?') {
            return Err(bad());
        }
        Ok(DatabaseTarget::SqliteFile(PathBuf::from(path)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_accepted_form() {
        let file = |p: &str| DatabaseTarget::SqliteFile(PathBuf::from(p));
        assert_eq!(
            DatabaseTarget::parse("labelflow.db").unwrap(),
            file("labelflow.db")
        );
        assert_eq!(
            DatabaseTarget::parse("sqlite:///var/lib/lf.db").unwrap(),
            file("/var/lib/lf.db")
        );
        assert_eq!(
            DatabaseTarget::parse("sqlite://data/lf.db").unwrap(),
            file("data/lf.db")
        );
        assert_eq!(
            DatabaseTarget::parse("sqlite:lf.db").unwrap(),
            file("lf.db")
        );
        assert_eq!(
            DatabaseTarget::parse("sqlite::memory:").unwrap(),
            DatabaseTarget::SqliteMemory
        );
        assert_eq!(
            DatabaseTarget::parse("postgres://u@127.0.0.1:5432/db").unwrap(),
            DatabaseTarget::Postgres("postgres://u@127.0.0.1:5432/db".into())
        );
    }

    #[test]
    fn refuses_unknown_schemes_and_empty_paths() {
        for bad in ["mysql://h/db", "", "sqlite://", "sqlite:lf.db?mode=ro"] {
            let err = DatabaseTarget::parse(bad).unwrap_err();
            assert!(matches!(err, StoreError::BadUrl(_)), "{bad}: {err}");
        }
    }
}
