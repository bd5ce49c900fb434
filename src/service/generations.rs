//! The lifecycle of one generation as a worker sees it: take the asset's
//! lease, renew it, record the stage and the rendered file, and finish as
//! available or failed — every write guarded by the lease, so a worker that
//! lost its generation (taken over, cleared) changes nothing.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbErr};

use crate::db::approvals::{self, Approval, Requester};
use crate::db::assets;
pub use crate::db::generations::Claimed;
use crate::db::generations::{self, Finished};
use crate::domain::{AssetStatus, Failure, FileId, Gate, Generation, MadeWith, Stage, StageSink};
use crate::telemetry::measure::{self, RequestOutcome};

pub use crate::db::assets::Asset;

/// One worker process's hold on generations.
pub struct Generations {
    db: DatabaseConnection,
    /// This process's identity as a lease owner.
    owner: String,
    lease: Duration,
    /// `MAX_ACTIVE_GENERATIONS` (0: no cap).
    max_active: u32,
}

impl Generations {
    pub fn new(db: DatabaseConnection, owner: String, lease: Duration) -> Self {
        Self { db, owner, lease, max_active: 0 }
    }

    /// At most `max_active` generations run at once across every worker.
    pub fn with_max_active(mut self, max_active: u32) -> Self {
        self.max_active = max_active;
        self
    }

    fn lease_until(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::seconds(30))
    }

    /// Takes the lease on `job` if it is still current and nobody else
    /// holds a live lease: pending → generating.
    /// Under `MAX_ACTIVE_GENERATIONS`, a job with no free slot is moved on
    /// to wait for one ([`Claimed::Waiting`]).
    pub async fn claim(&self, job: Generation) -> Result<Claimed, DbErr> {
        generations::claim_generation_capped(&self.db, job, &self.owner, Utc::now(), self.lease_until(), self.max_active).await
    }

    /// Generations waiting for a slot that may start now (as many as are free).
    pub async fn ready_to_start(&self) -> Result<Vec<Generation>, DbErr> {
        generations::waiting_for_slots(&self.db, self.max_active, Utc::now()).await
    }

    /// Extends the lease; false when it was lost.
    pub async fn renew(&self, job: Generation) -> Result<bool, DbErr> {
        generations::renew_lease(&self.db, job, &self.owner, self.lease_until()).await
    }

    /// True when `job` finished as available (its lease ended with it).
    pub async fn is_published(&self, job: Generation) -> Result<bool, DbErr> {
        let asset = assets::find(&self.db, job.asset).await?;
        Ok(asset.is_some_and(|a| a.status == AssetStatus::Available && a.generation == job.number))
    }

    /// Gives the lease back at once (shutdown): the next start resumes it.
    pub async fn release(&self, job: Generation) -> Result<(), DbErr> {
        generations::release_lease(&self.db, job, &self.owner).await
    }

    pub async fn set_stage(&self, job: Generation, stage: Stage) {
        if let Err(err) = generations::set_stage(&self.db, job, &self.owner, stage).await {
            tracing::debug!(error = %err, "could not record a stage");
        }
    }

    /// Where `job` is now, as waiting users should see it; `None` once it
    /// is no longer the asset's current generation.
    pub async fn stage(&self, job: Generation) -> Result<Option<Stage>, DbErr> {
        Ok(assets::find(&self.db, job.asset).await?.filter(|a| a.generation == job.number).and_then(|a| a.stage))
    }

    /// A sink that records a generator's progress as the stage (latest wins).
    pub fn progress(self: &Arc<Self>, job: Generation) -> StageSink {
        let this = self.clone();
        Arc::new(move |stage: Stage| {
            let this = this.clone();
            tokio::spawn(async move { this.set_stage(job, stage).await });
        })
    }

    /// Remembers the rendered file, so a resumed job uploads it instead of rendering again.
    pub async fn set_file(&self, job: Generation, path: &str) {
        if let Err(err) = generations::set_file_path(&self.db, job, &self.owner, path).await {
            tracing::warn!(error = %err, "could not record the rendered file; a resume renders again");
        }
    }

    /// Records what this generation makes the video with.
    pub async fn set_made_with(&self, job: Generation, made: &MadeWith) {
        if let Err(err) = generations::set_made_with(&self.db, job, &self.owner, made).await {
            tracing::warn!(error = %err, "could not record what the video is made with");
        }
    }

    /// generating → available, with Telegram's `file_id` (or without one,
    /// the file kept for the next requester). `None` if the lease was lost.
    pub async fn mark_available(&self, job: Generation, file: Option<(&FileId, &str)>) -> Result<Option<Finished>, DbErr> {
        generations::mark_available(&self.db, job, &self.owner, file).await
    }

    /// generating → awaiting at `gate`: the lease is given up and a pending
    /// approval recorded. `None` if the lease was lost.
    pub async fn pause(
        &self,
        job: Generation,
        gate: Gate,
        requester: Option<Requester>,
        deadline: DateTime<Utc>,
    ) -> Result<Option<Approval>, DbErr> {
        approvals::pause(&self.db, job, &self.owner, gate, requester, deadline).await
    }

    /// generating → failed: every waiting request fails with `reason`.
    pub async fn mark_failed(&self, job: Generation, reason: &Failure) -> Result<Option<u64>, DbErr> {
        let failed = generations::mark_failed(&self.db, job, &self.owner, reason).await?;
        if let Some(n) = failed {
            measure::generation_ended("failed");
            measure::requests(RequestOutcome::Failed, n);
        }
        Ok(failed)
    }

    /// Generations whose worker died (lease run out), moved on to a new
    /// generation number for dispatch.
    pub async fn reclaim_expired(&self) -> Result<Vec<Generation>, DbErr> {
        generations::reclaim_expired(&self.db, Utc::now()).await
    }

    /// Pending generations pushed before `pushed_before` whose job never
    /// started: the queue may have lost them.
    pub async fn stalled_dispatches(&self, pushed_before: DateTime<Utc>) -> Result<Vec<Generation>, DbErr> {
        generations::stalled_dispatches(&self.db, pushed_before).await
    }

    /// Generations recorded as needed but not known to be pushed.
    pub async fn undispatched(&self) -> Result<Vec<Generation>, DbErr> {
        generations::undispatched(&self.db).await
    }
}
