//! The queue boundary: a generation the database decided is pushed as a
//! job, and the push is recorded (the outbox marker). The queue's message
//! type is converted here and nowhere else.

use queue::{GenerateVideo, JobQueue, PushedAgain};
use sea_orm::DatabaseConnection;

use crate::db::generations;
use crate::domain::{AssetId, Generation};

impl From<Generation> for GenerateVideo {
    fn from(job: Generation) -> Self {
        GenerateVideo { asset_id: job.asset.0, generation: job.number }
    }
}

impl From<GenerateVideo> for Generation {
    fn from(message: GenerateVideo) -> Self {
        Generation { asset: AssetId(message.asset_id), number: message.generation }
    }
}

/// Pushes generation jobs.
pub struct Dispatcher {
    db: DatabaseConnection,
    queue: JobQueue,
}

impl Dispatcher {
    pub fn new(db: DatabaseConnection, queue: JobQueue) -> Self {
        Self { db, queue }
    }

    pub fn queue(&self) -> &JobQueue {
        &self.queue
    }

    /// Pushes `job` and records that it was pushed. A failure is logged,
    /// not returned: the reconciler pushes what was not recorded.
    #[tracing::instrument(skip(self), fields(asset_id = %job.asset, generation = job.number))]
    pub async fn dispatch(&self, job: Generation) {
        if let Err(err) = self.queue.push(job.into()).await {
            tracing::error!(error = %err, "could not enqueue a generation; the reconciler will retry");
            return;
        }
        tracing::debug!("pushed");
        if let Err(err) = generations::mark_dispatched(&self.db, job).await {
            tracing::warn!(error = %err, "could not mark a job dispatched; it will be pushed again (idempotently)");
        }
    }

    /// Pushes `job` again because it was pushed long ago and never started
    /// (the database holds it pending, with no lease): its job is put back
    /// in line whatever state the queue left it in, or created again when
    /// the queue lost it. A failure is logged; the next pass tries again.
    #[tracing::instrument(skip(self), fields(asset_id = %job.asset, generation = job.number))]
    pub async fn redispatch(&self, job: Generation) -> Option<PushedAgain> {
        let pushed = match self.queue.push_again(job.into()).await {
            Ok(pushed) => pushed,
            Err(err) => {
                tracing::warn!(error = %err, "could not push a stalled generation again; the reconciler will retry");
                return None;
            }
        };
        if let Err(err) = generations::mark_dispatched(&self.db, job).await {
            tracing::warn!(error = %err, "could not record a push again; it will be pushed again");
        }
        Some(pushed)
    }
}
