//! The catalog of what can be sent: each asset's `file_id`, in the database
//! (the truth) and in this replica's cache (the hot path). The one writer
//! of the cache: every change of what an asset can be sent as — a finished
//! video published, a `file_id` renewed or found gone, a hit read from the
//! database, assets cleared — goes through a [`Catalog`], which mirrors
//! the database row into the cache. It also warms the cache at start and
//! follows the clears of other replicas.

use std::time::Duration;

use sea_orm::{DatabaseConnection, DbErr};
use tokio_util::sync::CancellationToken;

use crate::cache::{CachedVideo, VideoCache};
use crate::db::assets::{self, Asset};
use crate::domain::{AssetId, FileId, PromptKey};

/// The database and this replica's cache of sendable videos, kept alike.
#[derive(Clone)]
pub struct Catalog {
    db: DatabaseConnection,
    cache: VideoCache,
}

impl Catalog {
    pub fn new(db: DatabaseConnection, cache: VideoCache) -> Self {
        Self { db, cache }
    }

    /// The cached video of a key (the hot path; the database decides on a miss).
    pub async fn lookup(&self, key: &PromptKey) -> Option<CachedVideo> {
        self.cache.get(key).await
    }

    /// Mirrors an asset row just read or written: cached when it can be
    /// sent, dropped from the cache otherwise.
    pub async fn learn(&self, asset: &Asset) {
        match asset.sendable() {
            Some(file_id) => {
                self.cache.insert(asset.prompt_key.clone(), CachedVideo { asset_id: asset.id, file_id: file_id.clone() }).await
            }
            None => self.cache.invalidate(&asset.prompt_key).await,
        }
    }

    /// A new upload of the stored video replaced the `file_id` Telegram
    /// refused (`stale`). False when the asset changed meanwhile (renewed
    /// by another sender, cleared): nothing is written then.
    pub async fn renew(&self, asset: AssetId, stale: &FileId, file_id: &FileId, file_unique_id: &str) -> Result<bool, DbErr> {
        match assets::replace_file_id(&self.db, asset, stale, file_id, file_unique_id).await? {
            Some(row) => {
                self.learn(&row).await;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Telegram refused `stale` and no copy of the video is stored: the
    /// asset stays available without a video, so its next request makes
    /// it again.
    pub async fn forget(&self, asset: &Asset, stale: &FileId) -> Result<bool, DbErr> {
        let forgotten = assets::forget_file_id(&self.db, asset.id, stale).await?;
        self.cache.invalidate(&asset.prompt_key).await;
        Ok(forgotten)
    }

    /// Keys whose videos were cleared (by this replica; the others follow
    /// with [`follow_invalidations`]).
    pub async fn drop_keys(&self, keys: &[PromptKey]) {
        for key in keys {
            self.cache.invalidate(key).await;
        }
    }

    /// Fills the cache with the most recently finished videos.
    pub async fn warm(&self, limit: u64) -> Result<(), DbErr> {
        for (asset_id, key, file_id) in assets::recent_available(&self.db, limit).await? {
            self.cache.insert(key, CachedVideo { asset_id, file_id }).await;
        }
        Ok(())
    }

    /// Every `every`, drops the keys of assets that stopped being available.
    /// A /clear anywhere is seen everywhere within `every` plus a query.
    pub async fn follow_invalidations(self, every: Duration, shutdown: CancellationToken) {
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
            match assets::unavailable_since(&self.db, since).await {
                Ok(keys) => {
                    self.drop_keys(&keys).await;
                    since = now - overlap;
                }
                Err(err) => tracing::debug!(error = %err, "could not check for cleared assets"),
            }
        }
    }
}
