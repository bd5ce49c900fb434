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
