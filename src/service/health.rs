//! Is this process ready to work: do the database and the job queue
//! answer? And the backlog figures the metrics show, read from the
//! database (the truth), not from the queue.

use std::time::Duration;

use queue::JobQueue;
use sea_orm::{DatabaseConnection, DbErr};

use crate::db::{assets, refusals, requests};
use crate::domain::{AssetStatus, RequestStatus};

/// How long a readiness check waits for each answer.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Clone)]
pub struct Health {
    db: DatabaseConnection,
    queue: JobQueue,
}

/// The answer of one dependency: `Err` says why it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    pub database: Result<(), String>,
    pub queue: Result<(), String>,
}

impl Readiness {
    pub fn ready(&self) -> bool {
        self.database.is_ok() && self.queue.is_ok()
    }
}

/// Generations and requests still to be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    /// Assets `pending`: a generation recorded, no worker on it yet.
    pub jobs_queued: u64,
    /// Assets `generating`.
    pub generations_running: u64,
    /// Requests `pending`: not yet answered with their video.
    pub requests_waiting: u64,
}

impl Health {
    pub fn new(db: DatabaseConnection, queue: JobQueue) -> Self {
        Self { db, queue }
    }

    /// Asks the database and the queue, at once, each within a few seconds.
    #[tracing::instrument(skip(self))]
    pub async fn readiness(&self) -> Readiness {
        let database = async {
            match tokio::time::timeout(CHECK_TIMEOUT, self.db.ping()).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(err)) => Err(err.to_string()),
                Err(_) => Err(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
            }
        };
        let queue = async {
            match tokio::time::timeout(CHECK_TIMEOUT, self.queue.ping()).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(err)) => Err(err.to_string()),
                Err(_) => Err(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
            }
        };
        let (database, queue) = tokio::join!(database, queue);
        Readiness { database, queue }
    }

    /// The refusal totals, for the `/metrics` gauges.
    #[tracing::instrument(skip(self))]
    pub async fn refusals(&self) -> Result<refusals::RefusalTotals, DbErr> {
        refusals::totals(&self.db).await
    }

    #[tracing::instrument(skip(self))]
    pub async fn backlog(&self) -> Result<Backlog, DbErr> {
        Ok(Backlog {
            jobs_queued: assets::count_by_status(&self.db, AssetStatus::Pending).await?,
            generations_running: assets::count_by_status(&self.db, AssetStatus::Generating).await?,
            requests_waiting: requests::count_by_status(&self.db, RequestStatus::Pending).await?,
        })
    }
}
