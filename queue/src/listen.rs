//! Hearing other processes' pushes: PostgreSQL `LISTEN` on apalis's insert
//! notification, or a Redis pub/sub subscription; each heard push wakes
//! this process's workers. A lost connection is opened again with backoff
//! (polling covers the gap); SQLite has no notification and relies on it.

use std::time::Duration;

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::backend::{JobQueue, Store};
use crate::wake::{POSTGRES_WAKE_CHANNEL, REDIS_WAKE_CHANNEL};

/// Forwards notifications of pushes to this process's workers until `shutdown`.
pub(crate) async fn forward_pushes(queue: JobQueue, shutdown: CancellationToken) {
    let mut failures = 0u32;
    loop {
        let heard = tokio::select! {
            _ = shutdown.cancelled() => return,
            heard = listen_once(&queue) => heard,
        };
        match heard {
            Ok(Heard::Nothing) => return,
            Ok(Heard::Closed) => failures = 0,
            Err(message) => {
                failures += 1;
                tracing::debug!(error = %message, "lost the push notifications; polling until they are back");
            }
        }
        let wait = Duration::from_millis(250).saturating_mul(2u32.saturating_pow(failures.min(7))).min(Duration::from_secs(30));
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

enum Heard {
    /// This backend has no notifications.
    Nothing,
    /// The subscription ended; subscribe again.
    Closed,
}

async fn listen_once(queue: &JobQueue) -> Result<Heard, String> {
    match &queue.store {
        Store::Sqlite { .. } => Ok(Heard::Nothing),
        Store::Postgres { pool } => {
            let mut listener = sqlx::postgres::PgListener::connect_with(pool).await.map_err(|e| e.to_string())?;
            listener.listen(POSTGRES_WAKE_CHANNEL).await.map_err(|e| e.to_string())?;
            // Anything pushed while we were not listening is found now.
            queue.wakeups.wake();
            loop {
                listener.recv().await.map_err(|e| e.to_string())?;
                queue.wakeups.wake();
            }
        }
        Store::Redis { client, .. } => {
            let mut pubsub = client.get_async_pubsub().await.map_err(|e| e.to_string())?;
            pubsub.subscribe(REDIS_WAKE_CHANNEL).await.map_err(|e| e.to_string())?;
            queue.wakeups.wake();
            let mut messages = pubsub.on_message();
            while messages.next().await.is_some() {
                queue.wakeups.wake();
            }
            Ok(Heard::Closed)
        }
    }
}
