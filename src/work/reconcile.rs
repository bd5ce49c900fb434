//! The reconciler: makes the queue and the deliveries agree with the
//! database after anything went wrong. It runs at start and then
//! periodically in every worker:
//! - a generation recorded as needed but never pushed is pushed (the outbox);
//! - a pushed generation whose job has not started within twice the lease
//!   is pushed again with the same idempotency key, and a job of that key
//!   the queue keeps but no worker will take (failed, done, killed, locked
//!   by a worker that died before taking the lease) is put back in line
//!   (the queue is only a way to wake workers: a Redis restart, a wiped
//!   job table or a job apalis gave up on loses nothing);
//! - a generation whose worker died (lease run out) is queued again;
//! - requests still waiting on an available asset are delivered;
//! - users whose request failed are told, and credits still held for a
//!   request that ended are released (failed) or captured (delivered);
//! - approvals past their deadline cancel their generation, and approval
//!   prompts that never went out are sent.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use queue::PushedAgain;
use sea_orm::DbErr;
use tokio_util::sync::CancellationToken;

use crate::service::{Approvals, Delivery, Dispatcher, Generations};

/// What one pass did, for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub dispatched: usize,
    /// Pushed again because their job never started.
    pub repushed: usize,
    pub reclaimed: usize,
    pub delivered: usize,
    pub notified: usize,
    /// Approvals timed out or prompted again.
    pub approvals: usize,
    /// Holds of ended requests settled (released or captured).
    pub settled: u64,
}

/// The parts a reconciler works with.
#[derive(Clone)]
pub struct Reconciler {
    pub generations: Arc<Generations>,
    pub dispatcher: Arc<Dispatcher>,
    pub delivery: Arc<Delivery>,
    pub approvals: Arc<Approvals>,
    /// How long a sender holds a delivery: a fan-out younger than this is
    /// left to finish on its own.
    pub claim: chrono::Duration,
    /// A pushed job that has not started after this is pushed again.
    pub stall: chrono::Duration,
}

impl Reconciler {
    #[tracing::instrument(name = "reconcile", skip(self))]
    pub async fn once(&self) -> Result<Pass, DbErr> {
        let mut pass = Pass::default();
        let reclaimed = self.generations.reclaim_expired().await?;
        pass.reclaimed = reclaimed.len();
        for job in reclaimed {
            tracing::info!(asset_id = %job.asset, generation = job.number, "re-queued a generation whose worker stopped");
        }
        for job in self.generations.undispatched().await? {
            self.dispatcher.dispatch(job).await;
            pass.dispatched += 1;
        }
        for job in self.generations.ready_to_start().await? {
            tracing::debug!(asset_id = %job.asset, generation = job.number, "a generation waiting for a slot may start");
            self.dispatcher.dispatch(job).await;
            pass.dispatched += 1;
        }
        for job in self.generations.stalled_dispatches(Utc::now() - self.stall).await? {
            match self.dispatcher.redispatch(job).await {
                Some(PushedAgain::Revived) => tracing::info!(
                    asset_id = %job.asset,
                    generation = job.number,
                    "a queued generation never started and its job was stuck; put it back in line"
                ),
                Some(PushedAgain::Pushed) => tracing::info!(
                    asset_id = %job.asset,
                    generation = job.number,
                    "a queued generation never started; pushed it again"
                ),
                None => continue,
            }
            pass.repushed += 1;
        }
        pass.approvals = self.approvals.sweep().await?;
        pass.delivered = self.delivery.sweep(Utc::now() - self.claim).await?;
        pass.notified = self.delivery.notify_failures().await?;
        pass.settled = self.delivery.settle_ended_holds().await?;
        Ok(pass)
    }

    /// Runs [`Reconciler::once`] now and then every `every` until shutdown.
    pub async fn run(self, every: Duration, shutdown: CancellationToken) {
        loop {
            match self.once().await {
                Ok(pass) if pass != Pass::default() => tracing::info!(?pass, "reconciled"),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "reconciliation failed; will try again"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }
}
