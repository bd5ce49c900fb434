//! The hot path: prompt key → Telegram `file_id` of an available asset.
//! The database stays the truth; this only saves the lookup.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedVideo {
    pub asset_id: i64,
    pub file_id: String,
}

#[derive(Clone, Debug)]
pub struct VideoCache {
    inner: moka::future::Cache<String, CachedVideo>,
}

impl VideoCache {
    pub fn new(capacity: u64) -> Self {
        Self { inner: moka::future::Cache::builder().max_capacity(capacity).time_to_idle(Duration::from_secs(24 * 3600)).build() }
    }

    pub async fn get(&self, key: &str) -> Option<CachedVideo> {
        self.inner.get(key).await
    }

    pub async fn insert(&self, key: &str, video: CachedVideo) {
        self.inner.insert(key.to_owned(), video).await;
    }

    pub async fn invalidate(&self, key: &str) {
        self.inner.invalidate(key).await;
    }

    pub fn entry_count(&self) -> u64 {
        self.inner.entry_count()
    }
}

/// Keeps this replica's cache coherent with the others: every `every`, drops
/// the keys of assets that some replica cleared (or that are being made
/// again). A /clear anywhere is seen everywhere within `every` plus a query.
pub async fn follow_invalidations(
    service: std::sync::Arc<crate::service::Service>,
    every: Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
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
        match crate::db::assets::unavailable_since(&service.db, since).await {
            Ok(keys) => {
                for key in keys {
                    service.cache.invalidate(&key).await;
                }
                since = now - overlap;
            }
            Err(err) => tracing::debug!(error = %err, "could not check for cleared assets"),
        }
    }
}
