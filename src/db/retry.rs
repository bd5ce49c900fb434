use std::future::Future;
use std::time::Duration;

use sea_orm::{
    AccessMode, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, IsolationLevel, RuntimeErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};

/// An error from a transaction body: either the database's, or the body's own.
#[derive(Debug, thiserror::Error)]
pub enum TxError<E> {
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    #[error(transparent)]
    Body(E),
}

const MAX_ATTEMPTS: u32 = 12;

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
pub async fn serializable<T, E, F>(db: &DatabaseConnection, mut body: F) -> Result<T, TxError<E>>
where
    F: for<'t> FnMut(&'t DatabaseTransaction) -> std::pin::Pin<Box<dyn Future<Output = Result<T, TxError<E>>> + Send + 't>>,
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
    let mut attempt = 0;
    loop {
        attempt += 1;
        let outcome = async {
            let txn = db.begin_with_options(options).await?;
            let value = body(&txn).await?;
            txn.commit().await?;
            Ok::<T, TxError<E>>(value)
        }
        .await;
        match outcome {
            Err(TxError::Db(err)) if attempt < MAX_ATTEMPTS && is_retryable(&err) => {
                tracing::debug!(attempt, error = %err, "transaction conflict, retrying");
                tokio::time::sleep(backoff(attempt)).await;
            }
            other => return other,
        }
    }
}

fn backoff(attempt: u32) -> Duration {
    let base_ms = 2u64.saturating_pow(attempt.min(8)).min(200);
    Duration::from_millis(base_ms / 2 + fastrand::u64(0..=base_ms))
}
