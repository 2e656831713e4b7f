//! Versioned schema migrations. Each backend has its own SQL (the dialects differ), but both
//! lists carry the same versions so the two schemas move together. Applied versions are
//! recorded in `labelflow_schema_migrations`; a version is applied once, in one transaction
//! with its record.

/// One schema step.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// The table that records applied versions (same shape on both backends).
pub(crate) const CREATE_MIGRATIONS_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS labelflow_schema_migrations (
    version    BIGINT PRIMARY KEY,
    name       TEXT   NOT NULL,
    applied_at BIGINT NOT NULL
)";

pub(crate) const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("migrations/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "plans",
        sql: include_str!("migrations/sqlite/0002_plans.sql"),
    },
    Migration {
        version: 3,
        name: "traces",
        sql: include_str!("migrations/sqlite/0003_traces.sql"),
    },
];

pub(crate) const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "plans",
        sql: include_str!("migrations/postgres/0002_plans.sql"),
    },
    Migration {
        version: 3,
        name: "traces",
        sql: include_str!("migrations/postgres/0003_traces.sql"),
    },
];

/// The version a fully migrated database reports (checked by `ready`).
pub(crate) fn latest(migrations: &[Migration]) -> i64 {
    migrations.iter().map(|m| m.version).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_increasing_and_match_across_backends() {
        for list in [SQLITE, POSTGRES] {
            assert!(list.windows(2).all(|w| w[0].version < w[1].version));
        }
        let sqlite: Vec<i64> = SQLITE.iter().map(|m| m.version).collect();
        let postgres: Vec<i64> = POSTGRES.iter().map(|m| m.version).collect();
        assert_eq!(sqlite, postgres);
        assert_eq!(latest(SQLITE), 3);
    }
}
