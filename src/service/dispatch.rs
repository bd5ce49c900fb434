//! The queue boundary: a generation the database decided is pushed as a
//! job, and the push is recorded (the outbox marker). The queue's message
//! type is converted here and nowhere else.

use queue::{GenerateVideo, JobQueue};
use sea_orm::DatabaseConnection;

use crate::db::assets;
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
        if let Err(err) = assets::mark_dispatched(&self.db, job).await {
            tracing::warn!(error = %err, "could not mark a job dispatched; it will be pushed again (idempotently)");
        }
    }
}
