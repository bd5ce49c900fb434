use std::future::Future;
use std::time::Duration;

use sea_orm::{
    AccessMode, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, IsolationLevel, RuntimeErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};

use crate::config::RetryPolicy;

/// Conflicts are retried quickly: 12 tries, 1 ms doubling up to 200 ms.
fn conflict_retry() -> RetryPolicy {
    RetryPolicy::new(12, Duration::from_millis(1), Duration::from_millis(200))
}

/// True for errors that mean "run the whole transaction again": PostgreSQL
/// serialization failure (40001), deadlock (40P01), a unique violation from
/// a concurrent insert the snapshot could not see (23505), and SQLite's
/// busy/locked answers.
pub fn is_retryable(err: &DbErr) -> bool {
    let sqlx_err = match err {
        DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e))
        | DbErr::Conn(RuntimeErr::SqlxError(e)) => e,
        DbErr::ConnectionAcquire(_) => return true,
        _ => return false,
    };
    match sqlx_err.as_ref() {
        sea_orm::sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            matches!(code.as_str(), "40001" | "40P01" | "23505" | "5" | "6" | "261" | "262" | "517" | "2067")
                || db.message().contains("database is locked")
        }
        sea_orm::sqlx::Error::PoolTimedOut | sea_orm::sqlx::Error::Io(_) | sea_orm::sqlx::Error::PoolClosed => true,
        _ => false,
    }
}

/// Runs `body` in a serializable transaction (PostgreSQL `SERIALIZABLE`,
/// SQLite `BEGIN IMMEDIATE`), committing at the end, and runs it again from
/// the start when the database reports a serialization conflict — at any
/// statement or at COMMIT. Gives up after a bounded number of attempts with
/// jittered exponential backoff.
pub async fn serializable<T, F>(db: &DatabaseConnection, mut body: F) -> Result<T, DbErr>
where
    F: for<'t> FnMut(&'t DatabaseTransaction) -> std::pin::Pin<Box<dyn Future<Output = Result<T, DbErr>> + Send + 't>>,
{
    let options = match db.get_database_backend() {
        DbBackend::Sqlite => TransactionOptions {
            isolation_level: None,
            access_mode: None,
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        },
        _ => TransactionOptions {
            isolation_level: Some(IsolationLevel::Serializable),
            access_mode: Some(AccessMode::ReadWrite),
            sqlite_transaction_mode: None,
        },
    };
    let retry = conflict_retry();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let outcome = async {
            let txn = db.begin_with_options(options).await?;
            let value = body(&txn).await?;
            txn.commit().await?;
            Ok::<T, DbErr>(value)
        }
        .await;
        match outcome {
            Err(err) if retry.retries_after(attempt) && is_retryable(&err) => {
                tracing::debug!(attempt, error = %err, "transaction conflict, retrying");
                tokio::time::sleep(retry.backoff(attempt)).await;
            }
            other => return other,
        }
    }
}
