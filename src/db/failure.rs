//! A database error as its callers need it: an outage they may wait out
//! told apart from a failure that asking again won't mend, with what was
//! being done and the cause kept as its source.

use sea_orm::DbErr;

use super::is_retryable;

/// Why something the database was asked for did not happen.
#[derive(Debug, thiserror::Error)]
pub enum DbFailure {
    /// The database is out of reach or busy for now (no connection, a
    /// conflict that outlived its retries): the same request may work later.
    #[error("the database is unavailable while {doing}")]
    Unavailable {
        doing: &'static str,
        #[source]
        source: DbErr,
    },
    /// The database refused what was asked: trying again won't help.
    #[error("the database failed while {doing}")]
    Database {
        doing: &'static str,
        #[source]
        source: DbErr,
    },
}

impl DbFailure {
    /// Wraps a database error met while `doing` (for `map_err`), telling
    /// an outage or a conflict from a failure.
    pub fn db(doing: &'static str) -> impl FnOnce(DbErr) -> Self {
        move |source| {
            if is_retryable(&source) { DbFailure::Unavailable { doing, source } } else { DbFailure::Database { doing, source } }
        }
    }
}
