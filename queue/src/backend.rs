use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use apalis::prelude::*;
use apalis_sqlite::{Config, SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteStorage};

use crate::generate_video::{GenerateVideo, QUEUE_NAME};

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("cannot open the job queue at {location}: {source}")]
    Open {
        location: String,
        #[source]
        source: apalis_sqlite::Error,
    },
    #[error("cannot push job {key}: {message}")]
    Push { key: String, message: String },
    #[error("cannot count jobs: {0}")]
    Count(#[source] apalis_sqlite::SqlxError),
}

/// Where generation jobs wait for a worker.
#[derive(Clone, Debug)]
pub struct JobQueue {
    storage: SqliteStorage<GenerateVideo>,
    pool: SqlitePool,
    config: Config,
}

impl JobQueue {
    /// Opens (creating if needed) the SQLite-backed queue in `file`.
    pub async fn open_sqlite(file: &Path, heartbeat: Duration) -> Result<Self, QueueError> {
        let location = file.display().to_string();
        let open = |source| QueueError::Open { location: location.clone(), source };
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", file.display()))
            .map_err(|e| open(e.into()))?
            .create_if_missing(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await.map_err(|e| open(e.into()))?;
        SqliteStorage::setup(&pool).await.map_err(open)?;
        let config = Config::default().queue(QUEUE_NAME).heartbeat_interval(heartbeat).missed_heartbeats(3).batch_size(4);
        let storage = SqliteStorage::new(&pool).with_config(config.clone());
        Ok(Self { storage, pool, config })
    }

    /// Pushes `job` unless a job with the same idempotency key already exists.
    pub async fn push(&self, job: GenerateVideo) -> Result<(), QueueError> {
        let key = job.idempotency_key();
        let task = TaskBuilder::new(job).idempotency_key(&key).build();
        let mut storage = self.storage.clone();
        storage.push_task(task).await.map_err(|e| QueueError::Push { key, message: e.to_string() })
    }

    /// How many jobs were ever enqueued (any status), for tests and benchmarks.
    pub async fn count_jobs(&self) -> Result<i64, QueueError> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM Jobs WHERE job_type = ?1")
            .bind(QUEUE_NAME)
            .fetch_one(&self.pool)
            .await
            .map_err(QueueError::Count)?;
        Ok(n)
    }

    pub(crate) fn storage(&self) -> SqliteStorage<GenerateVideo> {
        SqliteStorage::new(&self.pool).with_config(self.config.clone())
    }
}
