//! The database: connection, schema, and the queries the service runs.
//!
//! The database is the truth: asset states, which generation is current,
//! which requests still wait and which were delivered. Everything else
//! (the moka cache, the job queue) can be rebuilt from it.

pub mod admission;
pub mod approvals;
mod asset_moves;
pub mod assets;
pub mod cancel;
pub mod choices;
pub mod claims;
pub mod clear;
pub mod console;
pub mod credits;
pub mod entities;
pub mod extensions;
mod failure;
pub mod generations;
pub mod inbox;
pub mod languages;
#[cfg(test)]
mod plans;
pub mod recorder;
pub mod refusals;
pub mod remixes;
pub mod requests;
mod retry;
pub mod search;
pub mod stages;

use std::time::Duration;

use crate::config::DataStore;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, TransactionTrait};

pub use failure::DbFailure;
pub use retry::{is_retryable, serializable};

/// Opens the database `store` (SQLite or PostgreSQL) and applies pending migrations.
///
/// Migrations run on a connection of their own, closed before the pool
/// opens: a pooled SQLite connection that cached the schema before a
/// migration could otherwise fail to prepare a statement against a table or
/// index the migration added (SQLite only re-reads the schema for some errors).
///
/// An error never carries the URL's credentials: a driver's message that
/// echoes the connection string is scrubbed ([`scrub`]).
#[tracing::instrument(skip_all, fields(store = %store.url()))]
pub async fn connect(store: &DataStore) -> Result<DatabaseConnection, DbErr> {
    let migrator = Database::connect(options(store).max_connections(1).to_owned()).await.map_err(|e| scrub(store, e))?;
    migrate(&migrator).await?;
    migrator.close().await?;
    // The migration just proved the server answers; the pool's kept
    // connections are opened by [`warm`], beside the rest of the start-up
    // (eight fresh PostgreSQL connections one after another took ~0.8 s).
    Database::connect(options(store).connect_lazy(true).to_owned()).await.map_err(|e| scrub(store, e))
}

/// `err` as it may be logged: when its text holds `store`'s URL (or any
/// URL with credentials), a [`DbErr::Conn`] with the URLs redacted.
fn scrub(store: &DataStore, err: DbErr) -> DbErr {
    let text = err.to_string();
    let scrubbed = crate::config::scrub_urls(&text.replace(store.url().expose(), &store.url().redacted()));
    if scrubbed == text {
        return err;
    }
    DbErr::Conn(sea_orm::RuntimeErr::Internal(scrubbed))
}

/// Opens the connections the pool keeps, all at once, and returns when
/// they are open (or failed: the pool then opens them on demand). The
/// service starts this right after [`connect`] and waits for it last, so the
/// first requests don't wait for a connection.
pub async fn warm(db: DatabaseConnection) {
    async fn open_all<DB: sea_orm::sqlx::Database>(pool: &sea_orm::sqlx::Pool<DB>) {
        let kept = pool.options().get_min_connections();
        let opened = futures::future::join_all((0..kept).map(|_| pool.acquire())).await;
        if let Some(Err(err)) = opened.iter().find(|c| c.is_err()) {
            tracing::debug!(error = %err, "could not open every kept connection; the pool opens them on demand");
        }
    }
    match db.get_database_backend() {
        DbBackend::Postgres => open_all(db.get_postgres_connection_pool()).await,
        DbBackend::Sqlite => open_all(db.get_sqlite_connection_pool()).await,
        _ => {}
    }
}

fn options(store: &DataStore) -> ConnectOptions {
    let mut options = ConnectOptions::new(store.url().expose().to_owned());
    // Connections are opened before they are needed: a PostgreSQL
    // connection opened on demand costs a new server process, a handshake
    // and an empty statement cache — tens of milliseconds that land on
    // whichever request first needed one more connection.
    let (pool, warm) = match store {
        DataStore::Sqlite(_) => (8, 2),
        DataStore::Postgres(_) => (16, 8),
    };
    options
        .min_connections(warm)
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        .max_connections(pool)
        .map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .create_if_missing(true)
        });
    options
}

/// Applies pending migrations. On PostgreSQL several replicas may start at
/// once: an advisory lock makes them migrate one after the other.
async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Migrator::up(db, None).await;
    }
    let txn = db.begin().await?;
    txn.execute_unprepared("SELECT pg_advisory_xact_lock(727202611)").await?;
    Migrator::up(&txn, None).await?;
    txn.commit().await
}
