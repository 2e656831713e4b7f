//! The store's single-statement writes, as values: SQL text and its parameters, run by
//! whichever write path the backend has. SQLite sends them to its writer thread, which
//! group-commits them (many workers' writes share one commit and one fsync, with no thread
//! hop per statement); PostgreSQL binds them to a sqlx query on its pool (its server already
//! groups concurrent commits).
//!
//! Written by hand because the two paths use two drivers (`rusqlite` for the SQLite writer
//! thread, sqlx elsewhere) and no crate describes a statement for both.

use futures::future::BoxFuture;
use std::borrow::Cow;

/// A bound parameter. Nulls keep their type, since PostgreSQL checks it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SqlValue {
    Int(Option<i64>),
    Text(Option<String>),
}

impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        SqlValue::Int(Some(v))
    }
}

impl From<Option<i64>> for SqlValue {
    fn from(v: Option<i64>) -> Self {
        SqlValue::Int(v)
    }
}

impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        SqlValue::Text(Some(v.to_string()))
    }
}

impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(Some(v))
    }
}

impl From<&String> for SqlValue {
    fn from(v: &String) -> Self {
        SqlValue::Text(Some(v.clone()))
    }
}

/// One write statement with `$1…$N` placeholders.
#[derive(Debug, Clone)]
pub(crate) struct Write {
    pub sql: Cow<'static, str>,
    pub params: Vec<SqlValue>,
}

/// What a write did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Written {
    rows: u64,
}

impl Written {
    pub fn new(rows: u64) -> Self {
        Written { rows }
    }

    pub fn rows_affected(&self) -> u64 {
        self.rows
    }
}

impl Write {
    pub fn new(sql: &'static str) -> Self {
        Write {
            sql: Cow::Borrowed(sql),
            params: Vec::new(),
        }
    }

    /// Binds the next parameter (`$1`, then `$2`, …).
    pub fn bind(mut self, value: impl Into<SqlValue>) -> Self {
        self.params.push(value.into());
        self
    }

    /// Runs the statement on `store`'s write path.
    pub fn execute_on<S: WritePath>(
        self,
        store: &S,
    ) -> BoxFuture<'_, Result<Written, sqlx::Error>> {
        store.run_write(self)
    }

    /// The statement as a sqlx query on PostgreSQL.
    pub fn to_postgres(
        &self,
    ) -> sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments> {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(self.sql.to_string()));
        for p in &self.params {
            query = match p {
                SqlValue::Int(v) => query.bind(*v),
                SqlValue::Text(v) => query.bind(v.clone()),
            };
        }
        query
    }
}

/// How a backend runs one write statement.
pub(crate) trait WritePath: Sync {
    fn run_write(&self, write: Write) -> BoxFuture<'_, Result<Written, sqlx::Error>>;
}
