//! Keeps the data dir from filling up: intermediate files of finished
//! generations go `KEEP_INTERMEDIATES_HOURS` after their asset became
//! available or failed, and video files no asset refers to (an older
//! generation's file left by a takeover, a half-fetched download, the file
//! of a cleared asset on another machine) are swept. With object storage
//! (`STORAGE_URL=s3://…`) the object is the truth: this machine's copy of
//! a finished asset's video goes after the same time too, once the store
//! is seen to hold it (whoever needs it again fetches it back), and the
//! bucket's videos no asset refers to (an older generation's video, a
//! cleared asset's whose delete failed) are deleted once older than the
//! same time — and never younger than [`STORED_GRACE`], so a video being
//! uploaded before its asset row points at it is safe. A file of an asset
//! being generated or waiting for an approval is never touched: its
//! generation may be writing it, or (after a takeover or an approval)
//! reuse it. Also reports the disk the data dir uses.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::Utc;
use sea_orm::{DatabaseConnection, DbErr};
use tokio_util::sync::CancellationToken;

use crate::db::assets::{self, Asset};
use crate::db::stages;
use crate::domain::{AssetId, AssetStatus};
use crate::storage::{VideoStore, key_of};

/// What one sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Directories of intermediate files (one per generation).
    pub intermediates: usize,
    /// Video files no asset refers to.
    pub orphans: usize,
    /// This machine's copies of finished videos the object store holds.
    pub local_copies: usize,
    /// Objects of the store no asset refers to.
    pub stored: usize,
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

/// A local copy of a stored video written (rendered or fetched) less than
/// this ago stays whatever `keep` says: whoever fetched it is about to
/// upload it.
const LOCAL_COPY_GRACE: Duration = Duration::from_secs(120);

/// An object of the store no asset refers to stays at least this long
/// after it was written, whatever `keep` says: its asset row may not point
/// at it yet.
pub const STORED_GRACE: Duration = Duration::from_secs(15 * 60);

/// Whether a generation of the asset may still write or reuse its files.
fn in_progress(status: AssetStatus) -> bool {
    matches!(status, AssetStatus::Pending | AssetStatus::Generating | AssetStatus::Awaiting)
}

/// What a video file under `videos/` is to the assets.
enum VideoUse {
    /// An asset being generated may write or reuse it.
    Live,
    /// A finished asset's video (its `file_path`).
    Finished(Box<Asset>),
    /// No asset refers to it.
    Unreferenced,
}

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
        self.sweep_stored(Utc::now(), &mut swept).await?;
        Ok(swept)
    }

    /// The store's part of a sweep as if it ran at `now` (a test's later
    /// time): deletes the objects no asset refers to that were written
    /// before `now` less `keep` (at least [`STORED_GRACE`]). Nothing with
    /// the data dir.
    #[tracing::instrument(skip(self))]
    pub async fn sweep_store_at(&self, now: chrono::DateTime<Utc>) -> Result<Swept, DbErr> {
        let mut swept = Swept::default();
        self.sweep_stored(now, &mut swept).await?;
        Ok(swept)
    }

    async fn sweep_stored(&self, now: chrono::DateTime<Utc>, swept: &mut Swept) -> Result<(), DbErr> {
        if !self.store.is_remote() {
            return Ok(());
        }
        let objects = match self.store.list_stored().await {
            Ok(objects) => objects,
            Err(err) => {
                tracing::warn!(error = %err, "could not list the stored videos; will try again");
                return Ok(());
            }
        };
        let cutoff = chrono::Duration::from_std(self.keep.max(STORED_GRACE))
            .ok()
            .and_then(|keep| now.checked_sub_signed(keep))
            .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC);
        for object in objects {
            if object.last_modified > cutoff || !matches!(self.video_use(&object.key).await?, VideoUse::Unreferenced) {
                continue;
            }
            match self.store.delete_stored(&object.key).await {
                Ok(()) => {
                    tracing::info!(key = %object.key, "deleted a stored video no asset refers to");
                    swept.stored += 1;
                    swept.bytes += object.size;
                }
                Err(err) => tracing::warn!(key = %object.key, error = %err, "could not delete a stored video no asset refers to"),
            }
        }
        Ok(())
    }

    /// When an asset must have finished for its files to go.
    fn cutoff(&self) -> chrono::DateTime<Utc> {
        chrono::Duration::from_std(self.keep)
            .ok()
            .and_then(|keep| Utc::now().checked_sub_signed(keep))
            .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC)
    }

    /// `work/asset-<id>-g<n>`: removed `keep` after the asset settled.
    async fn sweep_intermediates(&self, swept: &mut Swept) -> Result<(), DbErr> {
        let cutoff = self.cutoff();
        for (path, meta) in entries(&self.work_dir).await {
            let Some(asset_id) = path.file_name().and_then(|n| n.to_str()).and_then(intermediate_asset) else { continue };
            let remove = match assets::find(&self.db, asset_id).await? {
                None => age(&meta) >= self.keep,
                Some(asset) if in_progress(asset.status) => false,
                Some(asset) => asset.updated_at <= cutoff && age(&meta) >= self.keep,
            };
            if remove {
                let bytes = tree_size(path.clone()).await;
                let removed =
                    if meta.is_dir() { tokio::fs::remove_dir_all(&path).await } else { tokio::fs::remove_file(&path).await };
                match removed {
                    Ok(()) => {
                        // with them goes the voice-over kept for a takeover elsewhere
                        stages::drop_payloads(&self.db, asset_id).await?;
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

    /// `videos/<key>-g<n>.mp4` no asset refers to, older than `keep`; with
    /// object storage also the local copies of finished assets' videos.
    async fn sweep_videos(&self, swept: &mut Swept) -> Result<(), DbErr> {
        let cutoff = self.cutoff();
        for (path, meta) in entries(self.store.videos_dir()).await {
            if !meta.is_file() {
                continue;
            }
            let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else { continue };
            if name.starts_with('.') {
                if name.ends_with(".part") && age(&meta) >= PART_GRACE.min(self.keep.max(Duration::from_secs(600))) {
                    self.remove_video(
                        &path,
                        &name,
                        meta.len(),
                        "removed a half-fetched video",
                        &mut swept.orphans,
                        &mut swept.bytes,
                    )
                    .await;
                }
                continue;
            }
            if age(&meta) < self.keep {
                continue;
            }
            match self.video_use(&name).await? {
                VideoUse::Live => {}
                VideoUse::Unreferenced => {
                    self.remove_video(
                        &path,
                        &name,
                        meta.len(),
                        "removed a video file no asset refers to",
                        &mut swept.orphans,
                        &mut swept.bytes,
                    )
                    .await;
                }
                VideoUse::Finished(asset) => {
                    if !self.store.is_remote() || asset.updated_at > cutoff || age(&meta) < LOCAL_COPY_GRACE {
                        continue;
                    }
                    match self.store.contains(&name).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(file = %name, asset_id = %asset.id, "a finished video is not in storage; keeping this machine's copy");
                            continue;
                        }
                        Err(err) => {
                            tracing::debug!(file = %name, error = %err, "could not ask the store; keeping the local copy");
                            continue;
                        }
                    }
                    // asked again after the store: a new generation may have just claimed it
                    if !matches!(self.video_use(&name).await?, VideoUse::Finished(_)) {
                        continue;
                    }
                    self.remove_video(
                        &path,
                        &name,
                        meta.len(),
                        "removed this machine's copy of a stored video",
                        &mut swept.local_copies,
                        &mut swept.bytes,
                    )
                    .await;
                }
            }
        }
        Ok(())
    }

    async fn remove_video(&self, path: &Path, name: &str, len: u64, what: &str, count: &mut usize, bytes: &mut u64) {
        match tokio::fs::remove_file(path).await {
            Ok(()) => {
                tracing::info!(file = %name, "{what}");
                *count += 1;
                *bytes += len;
            }
            Err(err) => tracing::debug!(file = %name, error = %err, "could not remove a video file"),
        }
    }

    /// What the video file `name` is to the assets whose key it starts with.
    async fn video_use(&self, name: &str) -> Result<VideoUse, DbErr> {
        if let Some(prefix) = name.strip_suffix("-parent.mp4") {
            // an extension's download of its parent's video (from Telegram)
            let parents: Vec<AssetId> = assets::with_key_prefix(&self.db, prefix).await?.iter().map(|a| a.id).collect();
            let live = assets::extension_in_progress(&self.db, &parents).await?;
            return Ok(if live { VideoUse::Live } else { VideoUse::Unreferenced });
        }
        let Some((prefix, _)) = name.rsplit_once("-g") else { return Ok(VideoUse::Unreferenced) };
        let mut finished = None;
        let mut named = assets::with_key_prefix(&self.db, prefix).await?;
        if !named.iter().any(|a| a.file_path.as_deref().and_then(|p| key_of(Path::new(p))) == Some(name)) {
            // a file named after the key its asset had before the upgrade
            // re-keyed it: the asset whose path is this file's (by its index)
            let path = self.store.videos_dir().join(name);
            named.extend(assets::with_file_path(&self.db, &path.to_string_lossy()).await?);
        }
        for asset in named {
            if in_progress(asset.status) {
                return Ok(VideoUse::Live);
            }
            if asset.file_path.as_deref().and_then(|p| key_of(Path::new(p))) == Some(name) {
                finished = Some(asset);
            }
        }
        Ok(finished.map_or(VideoUse::Unreferenced, |asset| VideoUse::Finished(Box::new(asset))))
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
