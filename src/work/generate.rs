//! One generation job: take the asset's lease, render (or reuse the file a
//! crashed predecessor rendered), upload once, publish the `file_id`, fan
//! out to every waiting request. Failures after the last attempt fail the
//! asset and tell every waiting user.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use queue::{BoxError, GenerateVideo, JobHandler};
use tokio_util::sync::CancellationToken;

use crate::cache::CachedVideo;
use crate::db::assets::{self, Asset};
use crate::db::requests;
use crate::generator::{GenerateError, GenerationRequest, Generator};
use crate::service::Service;
use crate::telegram::sender::SendError;
use crate::telegram::texts;

/// Telegram's upload limit for bots.
pub const MAX_UPLOAD_BYTES: u64 = 50 * 1024 * 1024;

#[derive(Clone)]
pub struct GenerationJob {
    service: Arc<Service>,
    generator: Arc<dyn Generator>,
    /// This process's identity as a lease owner.
    owner: String,
    shutdown: CancellationToken,
}

/// Why a generation ended without a video.
enum Outcome {
    /// Recorded as failed; users are told.
    Failed(String),
    /// Shutdown or lost lease: someone will pick it up again.
    HandedBack,
}

impl GenerationJob {
    pub fn new(service: Arc<Service>, generator: Arc<dyn Generator>, owner: String, shutdown: CancellationToken) -> Self {
        Self { service, generator, owner, shutdown }
    }

    fn lease_until(&self) -> chrono::DateTime<Utc> {
        Utc::now() + chrono::Duration::from_std(self.service.settings.job_lease).unwrap_or(chrono::Duration::seconds(30))
    }

    async fn run(self: Arc<Self>, job: GenerateVideo) -> Result<(), BoxError> {
        let db = &self.service.db;
        let Some(asset) = assets::claim_generation(db, job, &self.owner, Utc::now(), self.lease_until()).await? else {
            tracing::debug!(asset_id = job.asset_id, generation = job.generation, "job is stale or taken; skipping");
            return Ok(());
        };
        tracing::info!(asset_id = asset.id, generation = job.generation, "generation started");
        // The lease is renewed by the same future that does the work: if the
        // job stalls or is dropped, renewals stop and the lease runs out.
        let result = tokio::select! {
            result = self.produce_and_publish(job, &asset) => result,
            () = self.keep_lease(job) => Err(Outcome::HandedBack),
        };
        match result {
            Ok(()) => {
                // The fan-out runs beside the queue: the job's slot is free
                // for the next generation, and a fan-out that dies is
                // finished by the reconciler (deliveries are claimed).
                let service = self.service.clone();
                let asset_id = asset.id;
                tokio::spawn(async move {
                    if let Err(err) = service.deliver_waiting(asset_id).await {
                        tracing::warn!(error = %err, "fan-out interrupted; the sweeper will finish it");
                    }
                });
                Ok(())
            }
            Err(Outcome::HandedBack) => {
                let service = self.service.clone();
                let asset_id = asset.id;
                // If it was published before the hand-back, its waiters still get it now.
                tokio::spawn(async move {
                    if let Err(err) = service.deliver_waiting(asset_id).await {
                        tracing::warn!(error = %err, "fan-out interrupted; the sweeper will finish it");
                    }
                });
                if let Err(err) = assets::release_lease(db, job, &self.owner).await {
                    tracing::warn!(error = %err, "could not release a lease; it will expire");
                }
                tracing::info!(asset_id = asset.id, "generation handed back");
                Ok(())
            }
            Err(Outcome::Failed(reason)) => {
                tracing::warn!(asset_id = asset.id, %reason, "generation failed");
                assets::mark_failed(db, job, &self.owner, &reason).await?;
                self.service.notify_failures().await?;
                Ok(())
            }
        }
    }

    /// Renews the lease every third of it; returns only when it was lost
    /// (taken over after this worker stalled, or the asset was cleared).
    async fn keep_lease(&self, job: GenerateVideo) {
        let every = self.service.settings.job_lease / 3;
        loop {
            tokio::time::sleep(every).await;
            match assets::renew_lease(&self.service.db, job, &self.owner, self.lease_until()).await {
                Ok(true) => {}
                Ok(false) => {
                    // Published already (the lease ends with it): let the
                    // job finish on its own rather than cut it short.
                    if let Ok(Some(asset)) = assets::find(&self.service.db, job.asset_id).await {
                        if asset.status == crate::domain::AssetStatus::Available && asset.generation == job.generation {
                            return std::future::pending().await;
                        }
                    }
                    tracing::warn!(asset_id = job.asset_id, "lease lost; stopping this generation");
                    return;
                }
                Err(err) => tracing::warn!(error = %err, "could not renew a lease; will try again"),
            }
        }
    }

    /// Edits the waiting users' "being made" notes in place when the stage
    /// changes: at most once per `PROGRESS_EDIT_INTERVAL_MS`, each round
    /// paced at half the flood rate (the other half is for videos and
    /// answers). Runs until the video is made.
    async fn show_progress(&self, job: GenerateVideo) -> std::convert::Infallible {
        let service = &self.service;
        let every = service.settings.progress_edit_interval;
        let pace = Duration::from_secs_f64(2.0 / f64::from(service.settings.global_send_rate.max(1)));
        let mut shown: Option<String> = None;
        loop {
            tokio::time::sleep(every).await;
            let stage = match assets::find(&service.db, job.asset_id).await {
                Ok(Some(asset)) if asset.generation == job.generation => asset.stage,
                Ok(_) => None,
                Err(err) => {
                    tracing::debug!(error = %err, "could not read the stage");
                    None
                }
            };
            let Some(stage) = stage.filter(|stage| shown.as_ref() != Some(stage)) else { continue };
            let notes = match requests::progress_notes(&service.db, job.asset_id, 10_000).await {
                Ok(notes) => notes,
                Err(err) => {
                    tracing::debug!(error = %err, "could not list the progress notes");
                    continue;
                }
            };
            let text: Arc<str> = texts::being_made(Some(&stage)).into();
            let start = tokio::time::Instant::now();
            let edits = notes.into_iter().zip(0u32..).map(|((chat_id, message_id), slot)| {
                let (service, text) = (service.clone(), text.clone());
                async move {
                    tokio::time::sleep_until(start + pace * slot).await;
                    if let Err(err) = service.sender.edit(chat_id, message_id, &text).await {
                        tracing::debug!(chat_id, error = %err, "could not update a progress note");
                    }
                }
            });
            futures::stream::iter(edits).buffer_unordered(8).collect::<()>().await;
            shown = Some(stage);
        }
    }

    fn output_path(&self, asset: &Asset, job: GenerateVideo) -> PathBuf {
        self.service.settings.videos_dir().join(format!(
            "{}-g{}.mp4",
            &asset.prompt_key[..16.min(asset.prompt_key.len())],
            job.generation
        ))
    }

    async fn produce_and_publish(&self, job: GenerateVideo, asset: &Asset) -> Result<(), Outcome> {
        let path = match reusable_file(asset).await {
            Some(path) => {
                tracing::info!(asset_id = asset.id, "reusing the video rendered before an interruption");
                path
            }
            // The notes follow the making, not the upload: the video itself follows.
            None => tokio::select! {
                path = self.produce(job, asset) => path?,
                never = self.show_progress(job) => match never {},
            },
        };
        self.publish(job, asset, &path).await
    }

    /// Runs the generator with a timeout per attempt and exponential backoff.
    async fn produce(&self, job: GenerateVideo, asset: &Asset) -> Result<PathBuf, Outcome> {
        let settings = &self.service.settings;
        let path = self.output_path(asset, job);
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(|e| Outcome::Failed(format!("cannot create {}: {e}", dir.display())))?;
        }
        let attempts = settings.generation_attempts;
        let mut last_error = String::new();
        for attempt in 1..=attempts {
            self.stage(job, &format!("generating, attempt {attempt} of {attempts}")).await;
            let request = GenerationRequest {
                asset_id: asset.id,
                generation: job.generation,
                prompt: asset.prompt.clone(),
                output: path.clone(),
                progress: self.progress_sink(job),
            };
            let run = tokio::time::timeout(settings.generation_timeout, self.generator.generate(request));
            let result = tokio::select! {
                _ = self.shutdown.cancelled() => return Err(Outcome::HandedBack),
                result = run => result,
            };
            match result {
                Ok(Ok(())) => {
                    let stored = path.to_string_lossy().into_owned();
                    if let Err(err) = assets::set_file_path(&self.service.db, job, &self.owner, &stored).await {
                        tracing::warn!(error = %err, "could not record the rendered file; a resume renders again");
                    }
                    return Ok(path);
                }
                Ok(Err(GenerateError::Refused(reason))) => {
                    return Err(Outcome::Failed(format!("the generator refused the prompt ({reason})")));
                }
                Ok(Err(GenerateError::Failed(reason))) => last_error = reason,
                Err(_) => last_error = format!("the generator did not finish within {} s", settings.generation_timeout.as_secs()),
            }
            tracing::warn!(asset_id = asset.id, attempt, error = %last_error, "generation attempt failed");
            if attempt < attempts {
                let backoff = settings.generation_backoff * 2u32.saturating_pow(attempt - 1);
                tokio::select! {
                    _ = self.shutdown.cancelled() => return Err(Outcome::HandedBack),
                        _ = tokio::time::sleep(backoff) => {}
                }
            }
        }
        Err(Outcome::Failed(format!("generation failed after {attempts} attempts ({last_error})")))
    }

    /// Records a generator's progress as the asset's stage (latest wins).
    fn progress_sink(&self, job: GenerateVideo) -> crate::generator::Progress {
        let db = self.service.db.clone();
        let owner = self.owner.clone();
        Arc::new(move |stage: String| {
            let db = db.clone();
            let owner = owner.clone();
            tokio::spawn(async move {
                if let Err(err) = assets::set_stage(&db, job, &owner, &stage).await {
                    tracing::debug!(error = %err, "could not record progress");
                }
            });
        })
    }

    async fn stage(&self, job: GenerateVideo, stage: &str) {
        if let Err(err) = assets::set_stage(&self.service.db, job, &self.owner, stage).await {
            tracing::debug!(error = %err, "could not record a stage");
        }
    }

    /// Uploads the file once — to the first waiting user, or to the cache
    /// chat — then publishes the `file_id` and fans out.
    async fn publish(&self, job: GenerateVideo, asset: &Asset, path: &Path) -> Result<(), Outcome> {
        let service = &self.service;
        let size = tokio::fs::metadata(path)
            .await
            .map(|m| m.len())
            .map_err(|e| Outcome::Failed(format!("the rendered file is missing ({e})")))?;
        if size > MAX_UPLOAD_BYTES {
            return Err(Outcome::Failed(format!(
                "the video is {} MB, above Telegram's 50 MB limit for bots",
                size / (1024 * 1024)
            )));
        }
        self.stage(job, "uploading").await;
        let caption = texts::caption(&asset.prompt);
        loop {
            if self.shutdown.is_cancelled() {
                return Err(Outcome::HandedBack);
            }
            let first = requests::claim_waiting(&service.db, asset.id, 1, service.settings.delivery_claim())
                .await
                .map_err(|e| self.infra(e))?;
            let target = match (first.into_iter().next(), service.settings.cache_chat_id) {
                (Some(request), _) => Some(request),
                (None, Some(_)) => None,
                (None, None) => {
                    // Nobody is waiting: keep the file for the next requester.
                    let stored = path.to_string_lossy().into_owned();
                    let _ = assets::set_file_path(&service.db, job, &self.owner, &stored).await;
                    assets::mark_available(&service.db, job, &self.owner, None).await.map_err(|e| self.infra(e))?;
                    tracing::info!(asset_id = asset.id, "video ready; nobody waiting, file kept for the next request");
                    return Ok(());
                }
            };
            let (chat_id, reply_to) = match &target {
                Some(request) => (request.chat_id, Some(request.message_id)),
                None => (service.settings.cache_chat_id.unwrap_or_default(), None),
            };
            match service.sender.upload(chat_id, path, &caption, reply_to).await {
                Ok(video) => {
                    if let Some(request) = &target {
                        if let Err(err) = requests::mark_delivered(&service.db, request.id).await {
                            tracing::error!(error = %err, "could not record the upload's delivery");
                        }
                    }
                    let finished =
                        assets::mark_available(&service.db, job, &self.owner, Some((&video.file_id, &video.file_unique_id)))
                            .await
                            .map_err(|e| self.infra(e))?;
                    let Some(finished) = finished else {
                        tracing::warn!(asset_id = asset.id, "uploaded, but the generation was taken over meanwhile");
                        return Ok(());
                    };
                    tracing::info!(asset_id = asset.id, waiting = finished.waiting.len(), "video uploaded once; fanning out");
                    service
                        .cache
                        .insert(&asset.prompt_key, CachedVideo { asset_id: asset.id, file_id: video.file_id.clone() })
                        .await;
                    if let Err(err) = service.deliver_waiting(asset.id).await {
                        tracing::warn!(error = %err, "fan-out interrupted; the sweeper will finish it");
                    }
                    return Ok(());
                }
                Err(SendError::Unreachable(reason)) => match &target {
                    Some(request) => {
                        let _ = requests::mark_undeliverable(&service.db, request.id, &reason).await;
                    }
                    None => return Err(Outcome::Failed(format!("the cache chat cannot be reached ({reason})"))),
                },
                Err(SendError::Rejected(reason)) => {
                    if let Some(request) = &target {
                        let _ = requests::release_claim(&service.db, request.id).await;
                    }
                    return Err(Outcome::Failed(format!("Telegram refused the upload ({reason})")));
                }
                Err(err @ (SendError::GaveUp { .. } | SendError::Skipped)) => {
                    if let Some(request) = &target {
                        let _ = requests::release_claim(&service.db, request.id).await;
                    }
                    tracing::warn!(asset_id = asset.id, error = %err, "upload failed for now; handing the job back");
                    return Err(Outcome::HandedBack);
                }
            }
        }
    }

    fn infra(&self, err: sea_orm::DbErr) -> Outcome {
        tracing::warn!(error = %err, "database error during a generation; handing it back");
        Outcome::HandedBack
    }
}

/// The file a previous attempt of this asset rendered, if it is still there.
async fn reusable_file(asset: &Asset) -> Option<PathBuf> {
    let path = PathBuf::from(asset.file_path.as_deref()?);
    let meta = tokio::fs::metadata(&path).await.ok()?;
    (meta.is_file() && meta.len() > 0).then_some(path)
}

impl JobHandler for GenerationJob {
    /// Runs the job on its own task: apalis polls job futures from its
    /// worker loop, which stalls while the backend is slow; the generation
    /// (and its lease renewals) must not. Dropping the returned future —
    /// apalis giving up on the job — aborts the task, so the lease runs out.
    fn handle(&self, job: GenerateVideo) -> BoxFuture<'static, Result<(), BoxError>> {
        let task = AbortOnDrop(tokio::spawn(Arc::new(self.clone()).run(job)));
        async move {
            match task.await {
                Ok(result) => result,
                Err(err) => Err(Box::new(err) as BoxError),
            }
        }
        .boxed()
    }
}

/// A task handle that aborts its task when dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> std::future::Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
}
