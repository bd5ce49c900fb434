//! Keeps the data dir from filling up: intermediate files of finished
//! generations go `KEEP_INTERMEDIATES_HOURS` after their asset became
//! available or failed, and video files no asset refers to (an older
//! generation's file left by a takeover, a half-fetched download, the file
//! of a cleared asset on another machine) are swept. A file of an asset
//! being generated is never touched: its generation may be writing it, or
//! (after a takeover) reuse it. Also reports the disk the data dir uses.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::Utc;
use sea_orm::{DatabaseConnection, DbErr};
use tokio_util::sync::CancellationToken;

use crate::db::assets;
use crate::domain::{AssetId, AssetStatus};
use crate::storage::{VideoStore, key_of};

/// What one sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Directories of intermediate files (one per generation).
    pub intermediates: usize,
    /// Video files no asset refers to.
    pub orphans: usize,
    pub bytes: u64,
}

pub struct Housekeeping {
    db: DatabaseConnection,
    store: VideoStore,
    work_dir: PathBuf,
    keep: Duration,
}

/// Half-fetched downloads older than this are removed whatever `keep` says.
const PART_GRACE: Duration = Duration::from_secs(3600);

impl Housekeeping {
    /// `work_dir`: the generators' intermediate files; videos are in the
    /// store's `videos_dir`.
    pub fn new(db: DatabaseConnection, store: VideoStore, work_dir: PathBuf, keep: Duration) -> Self {
        Self { db, store, work_dir, keep }
    }

    /// Sweeps every `every` until `shutdown`.
    pub async fn run(self, every: Duration, shutdown: CancellationToken) {
        loop {
            match self.sweep().await {
                Ok(swept) if swept != Swept::default() => tracing::info!(?swept, "swept files no asset needs"),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "could not sweep the data dir; will try again"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }

    /// One sweep; see the module docs.
    #[tracing::instrument(skip(self))]
    pub async fn sweep(&self) -> Result<Swept, DbErr> {
        let mut swept = Swept::default();
        self.sweep_intermediates(&mut swept).await?;
        self.sweep_videos(&mut swept).await?;
        Ok(swept)
    }

    /// `work/asset-<id>-g<n>`: removed `keep` after the asset settled.
    async fn sweep_intermediates(&self, swept: &mut Swept) -> Result<(), DbErr> {
        let cutoff = chrono::Duration::from_std(self.keep)
            .ok()
            .and_then(|keep| Utc::now().checked_sub_signed(keep))
            .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC);
        for (path, meta) in entries(&self.work_dir).await {
            let Some(asset_id) = path.file_name().and_then(|n| n.to_str()).and_then(intermediate_asset) else { continue };
            let remove = match assets::find(&self.db, asset_id).await? {
                None => age(&meta) >= self.keep,
                Some(asset) => match asset.status {
                    AssetStatus::Pending | AssetStatus::Generating | AssetStatus::Awaiting => false,
                    AssetStatus::Available | AssetStatus::Failed => asset.updated_at <= cutoff && age(&meta) >= self.keep,
                },
            };
            if remove {
                let bytes = tree_size(path.clone()).await;
                let removed =
                    if meta.is_dir() { tokio::fs::remove_dir_all(&path).await } else { tokio::fs::remove_file(&path).await };
                match removed {
                    Ok(()) => {
                        tracing::debug!(path = %path.display(), "intermediate files removed");
                        swept.intermediates += 1;
                        swept.bytes += bytes;
                    }
                    Err(err) => tracing::debug!(path = %path.display(), error = %err, "could not remove intermediate files"),
                }
            }
        }
        Ok(())
    }

    /// `videos/<key>-g<n>.mp4` no asset refers to, older than `keep`.
    async fn sweep_videos(&self, swept: &mut Swept) -> Result<(), DbErr> {
        for (path, meta) in entries(self.store.videos_dir()).await {
            if !meta.is_file() {
                continue;
            }
            let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else { continue };
            let remove = if name.starts_with('.') {
                name.ends_with(".part") && age(&meta) >= PART_GRACE.min(self.keep.max(Duration::from_secs(600)))
            } else {
                age(&meta) >= self.keep && !self.is_needed(&name).await?
            };
            if remove {
                match tokio::fs::remove_file(&path).await {
                    Ok(()) => {
                        tracing::info!(file = %name, "removed a video file no asset refers to");
                        swept.orphans += 1;
                        swept.bytes += meta.len();
                    }
                    Err(err) => tracing::debug!(file = %name, error = %err, "could not remove a video file"),
                }
            }
        }
        Ok(())
    }

    /// Whether an asset refers to the video file `name`, or may still
    /// write or reuse it (it is being generated).
    async fn is_needed(&self, name: &str) -> Result<bool, DbErr> {
        let Some((prefix, _)) = name.rsplit_once("-g") else { return Ok(false) };
        for asset in assets::with_key_prefix(&self.db, prefix).await? {
            if matches!(asset.status, AssetStatus::Pending | AssetStatus::Generating | AssetStatus::Awaiting) {
                return Ok(true);
            }
            if asset.file_path.as_deref().and_then(|p| key_of(Path::new(p))) == Some(name) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// `asset-<id>-g<n>` → the asset.
fn intermediate_asset(name: &str) -> Option<AssetId> {
    let (id, generation) = name.strip_prefix("asset-")?.split_once("-g")?;
    generation.parse::<i64>().ok()?;
    id.parse().ok().map(AssetId)
}

fn age(meta: &std::fs::Metadata) -> Duration {
    meta.modified().ok().and_then(|at| SystemTime::now().duration_since(at).ok()).unwrap_or(Duration::ZERO)
}

/// The entries of `dir` with their metadata; none if it does not exist.
async fn entries(dir: &Path) -> Vec<(PathBuf, std::fs::Metadata)> {
    let mut out = Vec::new();
    let Ok(mut read) = tokio::fs::read_dir(dir).await else { return out };
    while let Ok(Some(entry)) = read.next_entry().await {
        if let Ok(meta) = entry.metadata().await {
            out.push((entry.path(), meta));
        }
    }
    out
}

/// Bytes of the files under `path` (the file itself if it is one).
async fn tree_size(path: PathBuf) -> u64 {
    tokio::task::spawn_blocking(move || tree_size_blocking(&path)).await.unwrap_or(0)
}

fn tree_size_blocking(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else { return 0 };
    if meta.is_file() {
        return meta.len();
    }
    if !meta.is_dir() {
        return 0;
    }
    let Ok(read) = std::fs::read_dir(path) else { return 0 };
    read.filter_map(Result::ok).map(|entry| tree_size_blocking(&entry.path())).sum()
}

/// Bytes the data dir takes on this machine: database files, videos and
/// intermediate files. Shown by `/stats` and the console.
pub async fn disk_used(data_dir: &Path) -> u64 {
    tree_size(data_dir.to_path_buf()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intermediate_dirs_name_their_asset() {
        assert_eq!(intermediate_asset("asset-12-g3"), Some(AssetId(12)));
        assert_eq!(intermediate_asset("asset-12"), None);
        assert_eq!(intermediate_asset("asset-x-g1"), None);
        assert_eq!(intermediate_asset("other"), None);
    }
}
