//! The reconciler: makes the queue and the deliveries agree with the
//! database after anything went wrong. It runs at start and then
//! periodically in every worker:
//! - a generation recorded as needed but never pushed is pushed (the outbox);
//! - a generation whose worker died (lease run out) is queued again;
//! - requests still waiting on an available asset are delivered;
//! - users whose request failed are told.

use std::sync::Arc;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::db::{assets, requests};
use crate::service::Service;

/// What one pass did, for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub dispatched: usize,
    pub reclaimed: usize,
    pub delivered: usize,
    pub notified: usize,
}

pub async fn reconcile_once(service: &Service) -> Result<Pass, crate::service::ServiceError> {
    let mut pass = Pass::default();
    let reclaimed = assets::reclaim_expired(&service.db, Utc::now()).await?;
    pass.reclaimed = reclaimed.len();
    for job in reclaimed {
        tracing::info!(asset_id = job.asset_id, generation = job.generation, "re-queued a generation whose worker stopped");
    }
    for job in assets::undispatched(&service.db).await? {
        service.dispatch(job).await;
        pass.dispatched += 1;
    }
    let settled_before = Utc::now() - service.settings.delivery_claim();
    for asset_id in requests::assets_with_stranded_requests(&service.db, 100, settled_before).await? {
        pass.delivered += service.deliver_waiting(asset_id).await?;
    }
    pass.notified = service.notify_failures().await?;
    Ok(pass)
}

/// Runs [`reconcile_once`] now and then every `every` until shutdown.
pub async fn run(service: Arc<Service>, every: std::time::Duration, shutdown: CancellationToken) {
    loop {
        match reconcile_once(&service).await {
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
