use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use apalis::prelude::*;
use apalis_postgres::{PgPool, PostgresStorage};
use apalis_redis::{ConnectionManager, RedisStorage};
use apalis_sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteStorage};

use crate::generate_video::{GenerateVideo, QUEUE_NAME};
use crate::wake::{REDIS_WAKE_CHANNEL, Wakeups};

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("cannot open the job queue at {location}: {message}")]
    Open { location: String, message: String },
    #[error("cannot push job {key}: {message}")]
    Push { key: String, message: String },
    #[error("cannot count jobs: {0}")]
    Count(String),
    #[error("the job queue does not answer: {0}")]
    Ping(String),
}

/// A Redis connection that is opened on first use, not now (so a process
/// starts while Redis is away), and opened again after a loss. A command
/// while Redis is away fails within about a second instead of waiting
/// through a long series of reconnection attempts.
pub fn lazy_redis(url: &str) -> Result<ConnectionManager, redis::RedisError> {
    let client = redis::Client::open(url)?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_number_of_retries(2)
        .set_min_delay(Duration::from_millis(100))
        .set_max_delay(Duration::from_millis(500))
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(Duration::from_secs(2)));
    ConnectionManager::new_lazy_with_config(client, config)
}

/// apalis heartbeats only while a worker has a free slot, so a worker busy
/// with long jobs looks dead to the others after a few missed beats and is
/// dropped. Abandoned generations are recovered by the service's own lease
/// in the database; apalis's orphan recovery is only a late safety net.
const MISSED_HEARTBEATS: usize = 120;

/// Where generation jobs wait for a worker: SQLite (embedded default),
/// PostgreSQL, or Redis; and how its workers are woken.
#[derive(Clone)]
pub struct JobQueue {
    pub(crate) store: Store,
    heartbeat: Duration,
    /// The fallback poll, for pushes no notification announced.
    pub(crate) poll: Duration,
    pub(crate) wakeups: Wakeups,
}

#[derive(Clone)]
pub(crate) enum Store {
    Sqlite {
        pool: SqlitePool,
    },
    Postgres {
        pool: PgPool,
    },
    /// `client` opens the pub/sub connection that hears other processes' pushes.
    Redis {
        conn: ConnectionManager,
        client: redis::Client,
    },
}

impl std::fmt::Debug for JobQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.store {
            Store::Sqlite { .. } => "JobQueue(sqlite)",
            Store::Postgres { .. } => "JobQueue(postgres)",
            Store::Redis { .. } => "JobQueue(redis)",
        })
    }
}

fn open_err(location: &str, e: impl std::fmt::Display) -> QueueError {
    // Never echo a URL: it may carry a password.
    QueueError::Open { location: location.to_owned(), message: e.to_string() }
}

impl JobQueue {
    /// Opens (creating if needed) the SQLite-backed queue in `file`.
    pub async fn open_sqlite(file: &Path, heartbeat: Duration) -> Result<Self, QueueError> {
        let location = file.display().to_string();
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", file.display()))
            .map_err(|e| open_err(&location, e))?
            .create_if_missing(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await.map_err(|e| open_err(&location, e))?;
        SqliteStorage::setup(&pool).await.map_err(|e| open_err(&location, e))?;
        Ok(Self::new(Store::Sqlite { pool }, heartbeat))
    }

    /// Opens the queue in a PostgreSQL database (schema `apalis`).
    pub async fn open_postgres(url: &str, heartbeat: Duration) -> Result<Self, QueueError> {
        // Lazy: the set-up below opens the first connection (and fails
        // there if the server does not answer); the second is opened beside
        // the start-up instead of before it.
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .min_connections(2)
            .connect_lazy(url)
            .map_err(|e| open_err("postgres", e))?;
        PostgresStorage::setup(&pool).await.map_err(|e| open_err("postgres", e))?;
        let warm = pool.clone();
        tokio::spawn(async move {
            let kept = warm.options().get_min_connections();
            let opened = futures::future::join_all((0..kept).map(|_| warm.acquire())).await;
            drop(opened);
        });
        Ok(Self::new(Store::Postgres { pool }, heartbeat))
    }

    /// Opens the queue in Redis. Redis need not be up: the connection is
    /// made on first use and made again after every loss, and the worker
    /// waits (backing off) until Redis answers; the database is the truth.
    pub async fn open_redis(url: &str, heartbeat: Duration) -> Result<Self, QueueError> {
        let conn = lazy_redis(url).map_err(|e| open_err("redis", e))?;
        let client = redis::Client::open(url).map_err(|e| open_err("redis", e))?;
        Ok(Self::new(Store::Redis { conn, client }, heartbeat))
    }

    fn new(store: Store, heartbeat: Duration) -> Self {
        Self { store, heartbeat, poll: Duration::from_secs(1), wakeups: Wakeups::default() }
    }

    /// Polls at least every `poll` besides the wake-ups (default 1 s).
    #[must_use]
    pub fn with_poll_interval(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    fn heartbeat(&self) -> Duration {
        self.heartbeat
    }

    pub(crate) fn sqlite(&self, pool: &SqlitePool) -> SqliteStorage<GenerateVideo> {
        let config = apalis_sqlite::Config::default()
            .queue(QUEUE_NAME)
            .heartbeat_interval(self.heartbeat())
            .missed_heartbeats(MISSED_HEARTBEATS)
            .batch_size(4);
        SqliteStorage::new(pool).with_config(config)
    }

    pub(crate) fn postgres(&self, pool: &PgPool) -> PostgresStorage<GenerateVideo> {
        let config = apalis_postgres::Config::default()
            .queue(QUEUE_NAME)
            .heartbeat_interval(self.heartbeat())
            .missed_heartbeats(MISSED_HEARTBEATS)
            .batch_size(4);
        PostgresStorage::new(pool).with_config(config)
    }

    pub(crate) fn redis(&self, conn: &ConnectionManager) -> RedisStorage<GenerateVideo, ConnectionManager> {
        RedisStorage::new(conn.clone()).with_config(self.redis_config())
    }

    pub(crate) fn redis_config(&self) -> apalis_redis::Config {
        // apalis-redis passes a TTL of 0 ("forever") to EXPIRE, which deletes
        // the idempotency key at once; a long TTL keeps it. Keys name a
        // generation, so they never need to be reused.
        apalis_redis::Config::default()
            .queue(QUEUE_NAME)
            .heartbeat_interval(self.heartbeat())
            .missed_heartbeats(MISSED_HEARTBEATS)
            .idempotency_ttl(Some(Duration::from_secs(90 * 24 * 3600)))
    }

    /// Pushes `job` unless a job with the same idempotency key already
    /// exists, then wakes the workers: this process's at once, other
    /// processes' by the backend's notification.
    pub async fn push(&self, job: GenerateVideo) -> Result<(), QueueError> {
        let key = job.idempotency_key();
        let task = TaskBuilder::new(job).idempotency_key(&key).build();
        let pushed = match &self.store {
            Store::Sqlite { pool } => self.sqlite(pool).push_task(task).await.map_err(|e| e.to_string()),
            // apalis's insert trigger notifies the other processes.
            Store::Postgres { pool } => self.postgres(pool).push_task(task).await.map_err(|e| e.to_string()),
            Store::Redis { conn, .. } => self.redis(conn).push_task(task).await.map_err(|e| e.to_string()),
        };
        match pushed {
            Ok(()) => {}
            // PostgreSQL reports the idempotency key's unique index instead of skipping.
            Err(message) if message.contains("idx_jobs_idempotency_key") || message.contains("duplicate key") => {}
            Err(message) => return Err(QueueError::Push { key, message }),
        }
        self.wakeups.wake();
        if let Store::Redis { conn, .. } = &self.store {
            let mut conn = conn.clone();
            let published: Result<i64, _> = redis::cmd("PUBLISH").arg(REDIS_WAKE_CHANNEL).arg(&key).query_async(&mut conn).await;
            if let Err(err) = published {
                tracing::debug!(error = %err, "could not announce a push; other processes find it at their next poll");
            }
        }
        Ok(())
    }

    /// How many jobs were ever enqueued (any status), for tests and benchmarks.
    pub async fn count_jobs(&self) -> Result<i64, QueueError> {
        let count = |e: &dyn std::fmt::Display| QueueError::Count(e.to_string());
        match &self.store {
            Store::Sqlite { pool } => {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM Jobs WHERE job_type = ?1")
                    .bind(QUEUE_NAME)
                    .fetch_one(pool)
                    .await
                    .map_err(|e| count(&e))?;
                Ok(n)
            }
            Store::Postgres { pool } => {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM apalis.jobs WHERE job_type = $1")
                    .bind(QUEUE_NAME)
                    .fetch_one(pool)
                    .await
                    .map_err(|e| count(&e))?;
                Ok(n)
            }
            Store::Redis { conn, .. } => {
                let mut conn = conn.clone();
                let n: i64 =
                    redis::cmd("HLEN").arg(format!("{QUEUE_NAME}:data")).query_async(&mut conn).await.map_err(|e| count(&e))?;
                Ok(n)
            }
        }
    }

    /// Asks the queue's store for a trivial answer (`SELECT 1`, `PING`):
    /// for readiness checks.
    pub async fn ping(&self) -> Result<(), QueueError> {
        let failed = |e: &dyn std::fmt::Display| QueueError::Ping(e.to_string());
        match &self.store {
            Store::Sqlite { pool } => {
                sqlx::query("SELECT 1").execute(pool).await.map_err(|e| failed(&e))?;
            }
            Store::Postgres { pool } => {
                sqlx::query("SELECT 1").execute(pool).await.map_err(|e| failed(&e))?;
            }
            Store::Redis { conn, .. } => {
                let mut conn = conn.clone();
                let _: String = redis::cmd("PING").query_async(&mut conn).await.map_err(|e| failed(&e))?;
            }
        }
        Ok(())
    }
}
