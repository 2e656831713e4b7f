//! What can go wrong in the store.

/// Errors from the store. Always internal (never shown to GitLab users).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("invalid database url `{0}`: expected a file path, sqlite://PATH or postgres://…")]
    BadUrl(String),
    #[error("event {0} is not leased by this worker (lease expired and was taken over?)")]
    LeaseLost(i64),
}

pub type StoreResult<T> = Result<T, StoreError>;
