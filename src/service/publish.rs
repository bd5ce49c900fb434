//! Publishing a finished video: the one owner that takes a generation's
//! file to Telegram (the one upload), its `file_id` to the database and the
//! cache, and the waiting requests to the fan-out. The worker hands over
//! the rendered file and learns only what became of it: the `file_id`
//! travels down from here, never back up.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use sea_orm::DbErr;

use super::catalog::Catalog;
use super::delivery::{Delivery, UploadError, Uploaded};
use super::generations::{Asset, Generations};
use crate::domain::Generation;
use crate::telemetry::measure;

/// What became of a finished video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// Uploaded once, recorded available, and handed to a fan-out for the
    /// `waiting` requests that did not get the upload itself.
    FannedOut { waiting: usize },
    /// Nobody waits and there is no cache chat: the file is kept for the
    /// next request, which uploads it.
    Kept,
    /// Uploaded, but the generation was taken over meanwhile (its lease
    /// lost): the new owner records it.
    TakenOver,
}

/// Why a finished video was not published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Upload(#[from] UploadError),
    /// Recording it failed: the generation is handed back and published by
    /// whoever resumes it (the upload's request is delivered already).
    #[error("could not record the published video")]
    Record(#[from] DbErr),
}

/// Publishes finished videos for one worker (its leases).
#[derive(Clone)]
pub struct Publisher {
    generations: Arc<Generations>,
    delivery: Arc<Delivery>,
    catalog: Catalog,
}

impl Publisher {
    pub fn new(generations: Arc<Generations>, delivery: Arc<Delivery>, catalog: Catalog) -> Self {
        Self { generations, delivery, catalog }
    }

    /// Uploads `path` once (to the first waiting user, else the cache
    /// chat), marks `job`'s asset available with the `file_id` Telegram
    /// gave it, mirrors that into the cache and starts the fan-out.
    #[tracing::instrument(skip_all, fields(asset_id = %job.asset, generation = job.number))]
    pub async fn publish(&self, job: Generation, asset: &Asset, path: &Path) -> Result<Published, PublishError> {
        let started = Instant::now();
        let uploaded = self.delivery.upload_once(asset.id, path, asset.typed()).await;
        if !matches!(uploaded, Ok(Uploaded::NobodyWaiting)) {
            measure::stage("upload", uploaded.is_ok(), started.elapsed());
        }
        let video = match uploaded? {
            Uploaded::Video(video) => video,
            Uploaded::NobodyWaiting => {
                self.generations.set_file(job, &path.to_string_lossy()).await;
                self.generations.mark_available(job, None).await?;
                return Ok(Published::Kept);
            }
        };
        let file = (&video.file_id, video.file_unique_id.as_str());
        let Some(finished) = self.generations.mark_available(job, Some(file)).await? else {
            return Ok(Published::TakenOver);
        };
        self.catalog.learn(&finished.asset).await;
        self.delivery.start_fan_out(asset.id);
        Ok(Published::FannedOut { waiting: finished.waiting.len() })
    }
}
