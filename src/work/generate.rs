//! One generation job: take the asset's lease, render (or reuse the file a
//! crashed predecessor rendered), upload once, mark the asset available
//! and hand its waiters to delivery. Failures after the last attempt fail
//! the asset and tell every waiting user.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::BoxFuture;
use queue::{BoxError, GenerateVideo, JobHandler};
use tokio_util::sync::CancellationToken;

use crate::config::RetryPolicy;
use crate::domain::{Failure, Gate, Generation, RefusalReason, Stage};
use crate::generator::crossfade;
use crate::generator::ffmpeg::FfmpegError;
use crate::generator::{ExtendPart, Gates, GenerateError, GenerationRequest, Generator, SourceImage};
use crate::service::generations::Asset;
use crate::service::generations::Claimed;
use crate::service::moderation::{Photo, Screened};
use crate::service::publish::{PublishError, Published, Publisher};
use crate::service::remix::PhotoError;
use crate::service::{Approvals, Delivery, Dispatcher, Extensions, Generations, Moderation, Remixes, UploadError};
use crate::storage::{VideoStore, key_of};
use crate::telegram::MAX_UPLOAD_BYTES;
use crate::telemetry::measure;

/// The longest wait between two tries of a moderation that does not answer.
const MODERATION_MAX_WAIT: Duration = Duration::from_secs(60);

/// What a job needs to know, from the settings.
#[derive(Debug, Clone)]
pub struct JobSettings {
    pub videos_dir: PathBuf,
    pub generation_timeout: Duration,
    pub retry: RetryPolicy,
    pub lease: Duration,
    pub progress_edit_interval: Duration,
    /// Where finished videos are kept (`STORAGE_URL`).
    pub store: VideoStore,
}

#[derive(Clone)]
pub struct GenerationJob {
    generations: Arc<Generations>,
    delivery: Arc<Delivery>,
    /// Takes a finished file to Telegram, the database, the cache and the waiters.
    publisher: Publisher,
    approvals: Arc<Approvals>,
    generator: Arc<dyn Generator>,
    extensions: Arc<Extensions>,
    /// A remix's photo, for the generator.
    remixes: Arc<Remixes>,
    settings: Arc<JobSettings>,
    shutdown: CancellationToken,
    /// Pushes generations waiting for a slot when this one frees it.
    dispatcher: Option<Arc<Dispatcher>>,
    /// Screens each asset key before anything is paid (`MODERATION`).
    moderation: Option<Arc<Moderation>>,
}

/// The gates as the generator sees them: answered from the `approvals` table.
struct ApprovalGates(Arc<Approvals>);

impl Gates for ApprovalGates {
    fn any(&self) -> bool {
        self.0.enabled()
    }

    fn pass(&self, job: Generation, gate: Gate) -> BoxFuture<'_, Result<(), GenerateError>> {
        async move {
            match self.0.passed(job, gate).await {
                Ok(true) => Ok(()),
                Ok(false) => Err(GenerateError::AwaitingApproval(gate)),
                Err(err) => Err(GenerateError::Failed(format!("could not read the approvals: {err}"))),
            }
        }
        .boxed()
    }
}

/// Why a generation ended without a video.
enum Outcome {
    /// Recorded as failed; users are told.
    Failed(Failure),
    /// Shutdown, lost lease or a passing fault: someone picks it up again.
    HandedBack,
    /// Stopped at a gate: the job ends, the approval resumes it.
    Paused(Gate),
}

impl From<sea_orm::DbErr> for Outcome {
    fn from(err: sea_orm::DbErr) -> Self {
        tracing::warn!(error = %err, "database error during a generation; handing it back");
        Outcome::HandedBack
    }
}

impl GenerationJob {
    #[allow(clippy::too_many_arguments, reason = "the distinct services and settings it is wired from, once, in app.rs")]
    pub fn new(
        generations: Arc<Generations>,
        delivery: Arc<Delivery>,
        approvals: Arc<Approvals>,
        generator: Arc<dyn Generator>,
        extensions: Arc<Extensions>,
        remixes: Arc<Remixes>,
        settings: JobSettings,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            publisher: Publisher::new(generations.clone(), delivery.clone(), delivery.catalog().clone()),
            generations,
            delivery,
            approvals,
            generator,
            extensions,
            remixes,
            settings: Arc::new(settings),
            shutdown,
            dispatcher: None,
            moderation: None,
        }
    }

    /// Lets a finished job push the generations waiting for its slot.
    pub fn with_dispatcher(mut self, dispatcher: Arc<Dispatcher>) -> Self {
        self.dispatcher = Some(dispatcher);
        self
    }

    /// Screens every asset key with `moderation` before its first paid step.
    pub fn with_moderation(mut self, moderation: Arc<Moderation>) -> Self {
        self.moderation = Some(moderation);
        self
    }

    /// Moderation, the generation's first step: once per asset key (a key
    /// passed or allowed before is not asked again). A flagged key fails
    /// as `refused` (remembered with the failure); an outage (5xx, a
    /// timeout) is waited out with backoff under the lease — the request
    /// stays pending and nothing is paid meanwhile; shutdown hands it back.
    async fn screen(&self, asset: &Asset, image: Option<&SourceImage>) -> Result<(), Outcome> {
        let Some(moderation) = self.moderation.as_ref().filter(|m| m.enabled()) else { return Ok(()) };
        let photo = image.map(|i| Photo { bytes: i.bytes.as_slice(), mime: i.mime.as_str() });
        let mut failures = 0u32;
        loop {
            let err = match moderation.screen(asset.id, asset.typed(), photo).await {
                Ok(Screened::Clear) => return Ok(()),
                Ok(Screened::Refused(reason)) => return Err(Outcome::Failed(Failure::Refused(reason))),
                Err(err) if err.is_permanent() => {
                    return Err(Outcome::Failed(Failure::Other(format!("moderation refused the request: {err}"))));
                }
                Err(err) => err,
            };
            failures += 1;
            let wait = self.settings.retry.backoff(failures).min(MODERATION_MAX_WAIT);
            tracing::warn!(error = %err, failures, wait_ms = wait.as_millis() as u64, "moderation did not answer; the request waits, nothing is paid");
            tokio::select! {
                _ = self.shutdown.cancelled() => return Err(Outcome::HandedBack),
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Pushes the generations waiting for a slot, as many as are free.
    async fn start_waiting(&self) {
        let Some(dispatcher) = &self.dispatcher else { return };
        match self.generations.ready_to_start().await {
            Ok(ready) => {
                for job in ready {
                    dispatcher.dispatch(job).await;
                }
            }
            Err(err) => tracing::debug!(error = %err, "could not list waiting generations; the reconciler will"),
        }
    }

    #[tracing::instrument(name = "job", skip(self), fields(asset_id = %job.asset, generation = job.number))]
    async fn run(self: Arc<Self>, job: Generation) -> Result<(), BoxError> {
        let Some(claimed) = self.claim(job).await else { return Ok(()) };
        let asset = match claimed {
            Claimed::Taken(asset) => asset,
            Claimed::Stale => {
                tracing::debug!("job is stale or taken; skipping");
                return Ok(());
            }
            Claimed::Waiting { waiting, ahead } => {
                tracing::info!(next = waiting.number, ahead, "no free generation slot; waiting in line");
                if let Err(err) = self.delivery.tell_place_in_line(job.asset, ahead).await {
                    tracing::debug!(error = %err, "could not tell waiting users their place");
                }
                // A slot may have freed meanwhile (or older ones wait with slots free).
                self.start_waiting().await;
                return Ok(());
            }
        };
        let outcome = self.clone().run_claimed(job, asset).await;
        self.start_waiting().await;
        outcome
    }

    async fn run_claimed(self: Arc<Self>, job: Generation, asset: Asset) -> Result<(), BoxError> {
        tracing::info!("generation started");
        // The lease is renewed by the same future that does the work: if the
        // job stalls or is dropped, renewals stop and the lease runs out.
        let result = tokio::select! {
            result = self.produce_and_publish(job, &asset) => result,
            () = self.keep_lease(job) => Err(Outcome::HandedBack),
        };
        match result {
            Ok(()) => {
                measure::generation_ended("available");
                Ok(())
            }
            Err(Outcome::HandedBack) => {
                measure::generation_ended("handed_back");
                if let Err(err) = self.generations.release(job).await {
                    tracing::warn!(error = %err, "could not release a lease; it will expire");
                }
                tracing::info!("generation handed back");
                Ok(())
            }
            Err(Outcome::Paused(gate)) => {
                // no slot, no lease while a person decides
                if !self.approvals.stop(&self.generations, job, gate).await? {
                    tracing::warn!(%gate, "lost the generation before it could wait for approval");
                }
                Ok(())
            }
            Err(Outcome::Failed(reason)) => {
                tracing::warn!(%reason, "generation failed");
                self.generations.mark_failed(job, &reason).await?;
                self.delivery.notify_failures().await?;
                Ok(())
            }
        }
    }

    /// Takes the generation's lease. A database that does not answer is
    /// asked again, backing off, for about a third of the lease; then the
    /// job ends quietly (`None`): the generation is still pending in the
    /// database, so the reconciler pushes it again once it has stalled for
    /// twice the lease, putting this job back in line. Returning the error
    /// to apalis would only re-run the job a few times at once and then
    /// leave it failed.
    async fn claim(&self, job: Generation) -> Option<Claimed> {
        let policy = RetryPolicy::new(u32::MAX, Duration::from_millis(100), Duration::from_secs(2));
        let give_up = Instant::now() + self.settings.lease / 3;
        let mut failures = 0;
        loop {
            let err = match self.generations.claim(job).await {
                Ok(claimed) => return Some(claimed),
                Err(err) => err,
            };
            failures += 1;
            let wait = policy.backoff(failures);
            if Instant::now() + wait > give_up || self.shutdown.is_cancelled() {
                tracing::warn!(error = %err, failures, "could not take the generation's lease; the reconciler will push it again");
                return None;
            }
            tracing::debug!(error = %err, failures, "could not take the generation's lease; trying again");
            tokio::select! {
                _ = self.shutdown.cancelled() => return None,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Renews the lease every third of it; returns only when it was lost
    /// (taken over after this worker stalled, or the asset was cleared).
    async fn keep_lease(&self, job: Generation) {
        let every = self.settings.lease / 3;
        loop {
            tokio::time::sleep(every).await;
            match self.generations.renew(job).await {
                Ok(true) => {}
                Ok(false) => {
                    // Published already (the lease ends with it): let the
                    // job finish on its own rather than cut it short.
                    if self.generations.is_published(job).await.unwrap_or(false) {
                        return std::future::pending().await;
                    }
                    tracing::warn!("lease lost; stopping this generation");
                    return;
                }
                Err(err) => tracing::warn!(error = %err, "could not renew a lease; will try again"),
            }
        }
    }

    /// Edits the waiting users' "being made" notes in place when the stage
    /// changes, at most once per `PROGRESS_EDIT_INTERVAL_MS`. Runs until
    /// the video is made.
    async fn show_progress(&self, job: Generation) -> std::convert::Infallible {
        let mut shown: Option<Stage> = None;
        loop {
            tokio::time::sleep(self.settings.progress_edit_interval).await;
            let stage = match self.generations.stage(job).await {
                Ok(stage) => stage,
                Err(err) => {
                    tracing::debug!(error = %err, "could not read the stage");
                    None
                }
            };
            let Some(stage) = stage.filter(|stage| shown.as_ref() != Some(stage)) else { continue };
            if let Err(err) = self.delivery.update_progress_notes(job.asset, &stage).await {
                tracing::debug!(error = %err, "could not list the progress notes");
                continue;
            }
            shown = Some(stage);
        }
    }

    fn output_path(&self, asset: &Asset, job: Generation) -> PathBuf {
        let key = asset.prompt_key.as_str();
        self.settings.videos_dir.join(format!("{}-g{}.mp4", &key[..16.min(key.len())], job.number))
    }

    async fn produce_and_publish(&self, job: Generation, asset: &Asset) -> Result<(), Outcome> {
        let path = match self.reusable_file(asset).await {
            Some(path) => {
                tracing::info!(path = %path.display(), "reusing the video rendered before; not generating it again");
                path
            }
            // The notes follow the making, not the upload: the video itself follows.
            None => {
                let path = tokio::select! {
                    path = self.produce(job, asset) => path?,
                    never = self.show_progress(job) => match never {},
                };
                self.keep(&path).await;
                path
            }
        };
        self.publish(job, asset, &path).await
    }

    /// For an extension: its parent's video on this machine and what the
    /// generator needs to know to make the new part.
    async fn extension(&self, asset: &Asset) -> Result<Option<ExtendPart>, Outcome> {
        if asset.parent_id.is_none() {
            return Ok(None);
        }
        let Some((parent, original_prompt)) = self.extensions.lineage(asset).await? else {
            return Err(Outcome::Failed(Failure::ParentGone));
        };
        // the parent's file: on this machine or in storage, else from Telegram
        let parent_video = match self.reusable_file(&parent).await {
            Some(path) => path,
            None => self.extensions.parent_video(&parent, &self.settings.videos_dir).await.map_err(Outcome::Failed)?,
        };
        Ok(Some(ExtendPart { parent_video, original_prompt, seconds: self.extensions.settings().seconds }))
    }

    /// One attempt: the generator, and for an extension the crossfade of
    /// the new part (`part`) onto the parent into `path`.
    async fn attempt(
        &self,
        request: GenerationRequest,
        part: &std::path::Path,
        path: &std::path::Path,
    ) -> Result<(), GenerateError> {
        let extend = request.extend.clone();
        self.generator.generate(request).await?;
        let Some(extend) = extend else { return Ok(()) };
        match crossfade::join(&extend.parent_video, part, path, MAX_UPLOAD_BYTES).await {
            Ok(seconds) => {
                tracing::info!(seconds, "extension joined to its parent with a crossfade");
                if let Err(err) = tokio::fs::remove_file(part).await {
                    tracing::debug!(error = %err, "could not remove the extension's new part");
                }
                Ok(())
            }
            Err(FfmpegError::Spawn { program, source }) => Err(GenerateError::CannotRun(format!(
                "extending a video needs ffmpeg and ffprobe on the worker, and {program} could not run ({source}); install ffmpeg (Debian/Ubuntu: apt-get install ffmpeg)"
            ))),
            Err(err) => Err(GenerateError::Failed(format!("joining the extension to its video failed: {err}"))),
        }
    }

    /// Puts a finished video in storage, so any worker can upload it again
    /// without rendering it. A store that fails is logged: the video is
    /// still delivered, from this machine's copy.
    async fn keep(&self, path: &std::path::Path) {
        if let Err(err) = self.settings.store.put(path).await {
            tracing::error!(error = %err, "could not put the video in storage; only this machine has it");
        }
    }

    /// The file an earlier generation of this asset rendered: on this
    /// machine, or fetched from storage (rendered by another worker, or
    /// before a crash).
    async fn reusable_file(&self, asset: &Asset) -> Option<PathBuf> {
        let recorded = PathBuf::from(asset.file_path.as_deref()?);
        if tokio::fs::metadata(&recorded).await.is_ok_and(|m| m.is_file() && m.len() > 0) {
            // rendered here, perhaps never stored (a crash before it was)
            if self.settings.store.is_remote() {
                let stored = match key_of(&recorded) {
                    Some(key) => self.settings.store.contains(key).await.unwrap_or(false),
                    None => true,
                };
                if !stored {
                    self.keep(&recorded).await;
                }
            }
            return Some(recorded);
        }
        let key = key_of(&recorded)?;
        match self.settings.store.fetch(key).await {
            Ok(found) => found,
            Err(err) => {
                tracing::warn!(error = %err, "could not fetch the stored video; generating it again");
                None
            }
        }
    }

    /// Runs the generator with a timeout per attempt and the generation
    /// retry policy between attempts.
    async fn produce(&self, job: Generation, asset: &Asset) -> Result<PathBuf, Outcome> {
        let settings = &self.settings;
        let path = self.output_path(asset, job);
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| Outcome::Failed(Failure::Other(format!("cannot create {}: {e}", dir.display()))))?;
        }
        let extend = self.extension(asset).await?;
        // An extension's generator writes the new part; the crossfade writes `path`.
        let part = match &extend {
            Some(_) => path.with_extension("new-part.mp4"),
            None => path.clone(),
        };
        let recipe = asset.recipe();
        self.generations.set_made_with(job, &self.generator.made_with(&recipe)).await;
        let image = match &recipe.image {
            None => None,
            Some(digest) => match self.remixes.bytes(digest).await {
                Ok(photo) => Some(SourceImage { bytes: photo.bytes, mime: photo.mime }),
                // nothing paid yet: a photo no copy of exists can't be animated
                Err(err @ PhotoError::Missing(_)) => return Err(Outcome::Failed(Failure::Other(err.to_string()))),
                Err(err) => {
                    tracing::warn!(error = %err, "could not fetch the photo to animate; handing the job back");
                    return Err(Outcome::HandedBack);
                }
            },
        };
        // before anything is paid: the prompt (and the photo) is screened
        self.screen(asset, image.as_ref()).await?;
        let attempts = settings.retry.attempts;
        let mut last_error = String::new();
        let gates: Arc<dyn Gates> = Arc::new(ApprovalGates(self.approvals.clone()));
        for attempt in 1..=attempts {
            self.generations.set_stage(job, Stage::Generating { attempt, of: attempts }).await;
            let request = GenerationRequest {
                job,
                prompt: asset.typed().to_owned(),
                output: part.clone(),
                progress: self.generations.progress(job),
                extend: extend.clone(),
                gates: gates.clone(),
                recipe: recipe.clone(),
                image: image.clone(),
            };
            let run = tokio::time::timeout(settings.generation_timeout, self.attempt(request, &part, &path));
            let started = Instant::now();
            let result = tokio::select! {
                _ = self.shutdown.cancelled() => return Err(Outcome::HandedBack),
                result = run => result,
            };
            measure::stage("generate", matches!(result, Ok(Ok(()))), started.elapsed());
            match result {
                Ok(Ok(())) => {
                    tracing::debug!("rendered");
                    self.generations.set_file(job, &path.to_string_lossy()).await;
                    return Ok(path);
                }
                Ok(Err(GenerateError::CannotRun(reason))) => return Err(Outcome::Failed(Failure::CannotRun(reason))),
                // a safety refusal: remembered on the key with the failure (never a transient one)
                Ok(Err(GenerateError::Refused(reason))) => {
                    return Err(Outcome::Failed(Failure::Refused(RefusalReason::provider(reason))));
                }
                Ok(Err(GenerateError::AwaitingApproval(gate))) => return Err(Outcome::Paused(gate)),
                Ok(Err(GenerateError::Failed(reason))) => last_error = reason,
                Err(_) => last_error = format!("the generator did not finish within {} s", settings.generation_timeout.as_secs()),
            }
            tracing::warn!(attempt, error = %last_error, "generation attempt failed");
            if settings.retry.retries_after(attempt) {
                tokio::select! {
                    _ = self.shutdown.cancelled() => return Err(Outcome::HandedBack),
                    _ = tokio::time::sleep(settings.retry.backoff(attempt)) => {}
                }
            }
        }
        Err(Outcome::Failed(Failure::Attempts { attempts, last: last_error }))
    }

    /// Checks the finished file, then hands it to the publisher: uploaded
    /// once, recorded with its `file_id`, fanned out to the waiters.
    async fn publish(&self, job: Generation, asset: &Asset, path: &std::path::Path) -> Result<(), Outcome> {
        let size = tokio::fs::metadata(path)
            .await
            .map(|m| m.len())
            .map_err(|e| Outcome::Failed(Failure::Other(format!("the rendered file is missing ({e})"))))?;
        if size > MAX_UPLOAD_BYTES {
            return Err(Outcome::Failed(Failure::TooBig { megabytes: size / (1024 * 1024) }));
        }
        if self.shutdown.is_cancelled() {
            return Err(Outcome::HandedBack);
        }
        self.generations.set_stage(job, Stage::Uploading).await;
        tracing::debug!("uploading");
        match self.publisher.publish(job, asset, path).await {
            Ok(Published::FannedOut { waiting }) => tracing::info!(waiting, "video uploaded once; fanning out"),
            Ok(Published::Kept) => tracing::info!("video ready; nobody waiting, file kept for the next request"),
            Ok(Published::TakenOver) => tracing::warn!("uploaded, but the generation was taken over meanwhile"),
            Err(PublishError::Upload(UploadError::Later(reason))) => {
                tracing::warn!(%reason, "upload failed for now; handing the job back");
                return Err(Outcome::HandedBack);
            }
            Err(PublishError::Upload(err)) => return Err(Outcome::Failed(Failure::Upload(err.to_string()))),
            Err(PublishError::Record(err)) => return Err(err.into()),
        }
        Ok(())
    }
}

impl JobHandler for GenerationJob {
    /// Runs the job on a task of its own: apalis polls job futures from its
    /// worker loop, which stalls while the backend is slow; the generation
    /// (and its lease renewals) must not. If apalis drops the future — its
    /// worker died with the queue's Redis, say — the generation still runs
    /// to its end under its lease: the queue only woke it, and killing it
    /// would pay for the same video again.
    fn handle(&self, message: GenerateVideo) -> BoxFuture<'static, Result<(), BoxError>> {
        let task = tokio::spawn(Arc::new(self.clone()).run(message.into()));
        async move {
            match task.await {
                Ok(result) => result,
                Err(err) => Err(Box::new(err) as BoxError),
            }
        }
        .boxed()
    }
}
