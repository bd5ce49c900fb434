//! Keeps this replica's cache coherent with the database: warmed at start,
//! and every few hundred milliseconds the keys of assets that some replica
//! cleared (or that are being made again) are dropped.

use std::time::Duration;

use sea_orm::{DatabaseConnection, DbErr};
use tokio_util::sync::CancellationToken;

use crate::cache::{CachedVideo, VideoCache};
use crate::db::assets;

/// Fills the cache with the most recently finished videos.
pub async fn warm(db: &DatabaseConnection, cache: &VideoCache, limit: u64) -> Result<(), DbErr> {
    for (asset_id, key, file_id) in assets::recent_available(db, limit).await? {
        cache.insert(key, CachedVideo { asset_id, file_id }).await;
    }
    Ok(())
}

/// Every `every`, drops the keys of assets that stopped being available.
/// A /clear anywhere is seen everywhere within `every` plus a query.
pub async fn follow_invalidations(db: DatabaseConnection, cache: VideoCache, every: Duration, shutdown: CancellationToken) {
    // Look back a little past the last check: clocks of replicas differ and
    // a transaction may commit a row stamped just before our previous query.
    let overlap = chrono::Duration::seconds(2);
    let mut since = chrono::Utc::now() - overlap;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let now = chrono::Utc::now();
        match assets::unavailable_since(&db, since).await {
            Ok(keys) => {
                for key in keys {
                    cache.invalidate(&key).await;
                }
                since = now - overlap;
            }
            Err(err) => tracing::debug!(error = %err, "could not check for cleared assets"),
        }
    }
}
