//! The hot path: prompt key → Telegram `file_id` of an available asset.
//! The database stays the truth; this only saves the lookup.

use std::time::Duration;

use crate::domain::{AssetId, FileId, PromptKey};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedVideo {
    pub asset_id: AssetId,
    pub file_id: FileId,
}

#[derive(Clone, Debug)]
pub struct VideoCache {
    inner: moka::future::Cache<PromptKey, CachedVideo>,
}

impl VideoCache {
    pub fn new(capacity: u64) -> Self {
        Self { inner: moka::future::Cache::builder().max_capacity(capacity).time_to_idle(Duration::from_secs(24 * 3600)).build() }
    }

    pub async fn get(&self, key: &PromptKey) -> Option<CachedVideo> {
        self.inner.get(key).await
    }

    pub async fn insert(&self, key: PromptKey, video: CachedVideo) {
        self.inner.insert(key, video).await;
    }

    pub async fn invalidate(&self, key: &PromptKey) {
        self.inner.invalidate(key).await;
    }
}
