//! The recorded steps of a staged generation: [`Steps`] runs each step once
//! (its row in `generation_stages` says what is done, and which provider
//! task to poll instead of paying again), for one [`Job`].

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbErr};

use crate::config::PipelineSettings;
use crate::db::stages::{self, StageKind, StageStatus, StepKey, StepRow};
use crate::domain::{AssetId, Gate, Generation, Recipe, StageSink};
use crate::generator::{Gates, GenerateError, GenerationRequest, SourceImage};
use crate::providers::{Meter, ProviderError};
use crate::telemetry::measure;

/// Runs steps recorded in `generation_stages` and counts provider calls.
pub(in crate::generator) struct Steps {
    pub(in crate::generator) db: DatabaseConnection,
    pub(in crate::generator) meter: Meter,
    pub(in crate::generator) settings: PipelineSettings,
}

/// One run of the pipeline for one asset and generation.
pub(in crate::generator) struct Job {
    pub(in crate::generator) asset_id: AssetId,
    pub(in crate::generator) generation: i64,
    pub(in crate::generator) prompt: String,
    pub(in crate::generator) output: PathBuf,
    pub(in crate::generator) progress: StageSink,
    pub(in crate::generator) gates: Arc<dyn Gates>,
    /// Intermediate files of this generation.
    pub(in crate::generator) dir: PathBuf,
    /// How the video is made (fixed for the asset).
    pub(in crate::generator) recipe: Recipe,
    /// A remix's photo.
    pub(in crate::generator) image: Option<SourceImage>,
}

impl Job {
    pub(in crate::generator) fn new(request: GenerationRequest, work_dir: &Path) -> Self {
        let dir = work_dir.join(format!("asset-{}-g{}", request.job.asset, request.job.number));
        Self {
            asset_id: request.job.asset,
            generation: request.job.number,
            prompt: request.prompt,
            output: request.output,
            progress: request.progress,
            gates: request.gates,
            dir,
            recipe: request.recipe,
            image: request.image,
        }
    }

    pub(in crate::generator) fn key(&self, kind: StageKind, segment: i32) -> StepKey {
        StepKey { asset_id: self.asset_id, generation: self.generation, kind, segment }
    }

    pub(in crate::generator) fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Goes on past `gate`, or stops the run there until it is approved.
    pub(in crate::generator) async fn gate(&self, gate: Gate) -> Result<(), GenerateError> {
        let job = Generation { asset: self.asset_id, number: self.generation };
        self.gates.pass(job, gate).await
    }
}

pub(in crate::generator) fn db_error(err: DbErr) -> GenerateError {
    GenerateError::Failed(format!("database error while recording a generation step: {err}"))
}

pub(in crate::generator) fn provider_error(err: &ProviderError) -> GenerateError {
    match err {
        ProviderError::Refused { .. } => GenerateError::Refused(err.to_string()),
        _ => GenerateError::Failed(err.to_string()),
    }
}

/// A failure after which a recorded task must not be polled again.
pub(in crate::generator) fn task_is_over(err: &ProviderError) -> bool {
    matches!(err, ProviderError::Refused { .. } | ProviderError::TaskFailed { .. } | ProviderError::TimedOut { .. })
}

/// A finished step's file, if it is still there.
pub(in crate::generator) fn existing_file(output: &str) -> Option<PathBuf> {
    let path = PathBuf::from(output);
    std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() > 0).then_some(path)
}

/// The voice-over's file in a generation's directory.
pub(in crate::generator) const VOICE_FILE: &str = "voice.wav";

/// The largest step file kept in the database (a minute of speech as WAV
/// is about 3 MB).
pub(in crate::generator) const MAX_KEPT_PAYLOAD_BYTES: usize = 16 * 1024 * 1024;

/// Writes a kept step's bytes back to its file (through a temporary name).
pub(in crate::generator) async fn write_back(path: &Path, payload: &[u8]) -> Result<(), GenerateError> {
    let failed = |e: std::io::Error| GenerateError::Failed(format!("cannot write {} back: {e}", path.display()));
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(failed)?;
    }
    let part = path.with_extension("part");
    tokio::fs::write(&part, payload).await.map_err(failed)?;
    tokio::fs::rename(&part, path).await.map_err(failed)
}

pub(in crate::generator) fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

impl Steps {
    /// Sends "Images 7/10, clips 3/10" to the worker.
    pub(in crate::generator) async fn report(&self, job: &Job) {
        match stages::progress_summary(&self.db, job.asset_id, job.generation).await {
            Ok(Some(stage)) => (job.progress)(stage),
            Ok(None) => {}
            Err(err) => tracing::debug!(error = %err, "could not read the progress"),
        }
    }

    /// Sets finished steps whose file is gone (a takeover on another
    /// machine, a cleaned work directory) back to pending, so that progress
    /// counts only what is there; their recorded tasks are polled again.
    pub(in crate::generator) async fn reopen_lost_files(&self, job: &Job) -> Result<(), GenerateError> {
        for row in stages::for_generation(&self.db, job.asset_id, job.generation).await.map_err(db_error)? {
            let is_file = matches!(row.kind, StageKind::Image | StageKind::Clip | StageKind::Voice | StageKind::Assemble);
            if is_file && row.status == StageStatus::Done && row.output.as_deref().and_then(existing_file).is_none() {
                // the voice-over's bytes are kept in its row: written back, not bought again
                if let (StageKind::Voice, Some(payload)) = (row.kind, &row.payload) {
                    let path = job.file(VOICE_FILE);
                    write_back(&path, payload).await?;
                    tracing::info!(asset_id = %job.asset_id, "a finished voice-over's file is gone; written back from the database");
                    stages::finish(&self.db, row.id, &path_text(&path)).await.map_err(db_error)?;
                    continue;
                }
                tracing::info!(asset_id = %job.asset_id, kind = ?row.kind, segment = row.segment, "a finished step's file is gone");
                stages::reopen(&self.db, row.id).await.map_err(db_error)?;
            }
        }
        Ok(())
    }

    /// Keeps a finished step's file in its row (the voice-over: the speech
    /// call answers with the audio, there is no task to fetch it again), so
    /// a takeover on another machine writes it back instead of paying. A
    /// file that can't be kept only costs that takeover the call again.
    pub(in crate::generator) async fn keep_payload(&self, job: &Job, row: i64, path: &Path) {
        let kept = match tokio::fs::read(path).await {
            Ok(bytes) if bytes.len() <= MAX_KEPT_PAYLOAD_BYTES => {
                stages::set_payload(&self.db, row, bytes).await.map_err(|e| e.to_string())
            }
            Ok(bytes) => Err(format!("{} bytes is more than is kept", bytes.len())),
            Err(err) => Err(err.to_string()),
        };
        if let Err(err) = kept {
            tracing::warn!(asset_id = %job.asset_id, error = %err, "could not keep the voice-over in the database");
        }
    }

    /// Runs one step unless it is done already. `reuse` turns a finished
    /// step's output back into its value (`None`: run it again, e.g. when
    /// its file is gone); `work` gets the step's row (with a provider task
    /// recorded by an earlier run, if any) and returns the value and the
    /// output to record.
    pub(in crate::generator) async fn step<T, F, Fut>(
        &self,
        job: &Job,
        (kind, segment): (StageKind, i32),
        input: &str,
        provider: &str,
        reuse: impl Fn(&str) -> Option<T>,
        work: F,
    ) -> Result<T, GenerateError>
    where
        F: FnOnce(StepRow) -> Fut,
        Fut: Future<Output = Result<(T, String), ProviderError>>,
    {
        let key = job.key(kind, segment);
        if let Some(row) = stages::find(&self.db, key).await.map_err(db_error)?
            && row.status == StageStatus::Done
            && let Some(value) = row.output.as_deref().and_then(&reuse)
        {
            return Ok(value);
        }
        let row = stages::start(&self.db, key, input, Some(provider)).await.map_err(db_error)?;
        let id = row.id;
        let started = Instant::now();
        let done = work(row).await;
        measure::stage(stage_label(kind), done.is_ok(), started.elapsed());
        match done {
            Ok((value, output)) => {
                stages::finish(&self.db, id, &output).await.map_err(db_error)?;
                self.report(job).await;
                Ok(value)
            }
            Err(err) => {
                tracing::warn!(asset_id = %job.asset_id, ?kind, segment, error = %err, "generation step failed");
                if let Err(db) = stages::fail(&self.db, id, &err.to_string(), task_is_over(&err)).await {
                    tracing::warn!(error = %db, "could not record a failed step");
                }
                Err(provider_error(&err))
            }
        }
    }

    /// The task recorded on `row`, or a new one from `submit`, recorded
    /// before it is returned.
    pub(in crate::generator) async fn task_of(
        &self,
        job: &Job,
        row: &StepRow,
        provider: &'static str,
        operation: &'static str,
        submit: impl Future<Output = Result<String, ProviderError>>,
    ) -> Result<(String, DateTime<Utc>), ProviderError> {
        if let (Some(task), Some(at)) = (&row.provider_task_id, row.submitted_at) {
            tracing::info!(asset_id = %job.asset_id, provider, operation, "resuming a task submitted before");
            return Ok((task.clone(), at));
        }
        let started = Instant::now();
        let task = match submit.await {
            Ok(task) => task,
            Err(err) => {
                self.meter.record(Some(job.asset_id), provider, operation, started, false).await;
                return Err(err);
            }
        };
        let at = Utc::now();
        if let Err(err) = stages::set_task(&self.db, row.id, &task, at).await {
            // without the record a re-run would pay again: stop here rather than poll
            tracing::error!(asset_id = %job.asset_id, provider, task = %task, error = %err, "could not record a submitted task");
            return Err(ProviderError::local("recording the task", err));
        }
        Ok((task, at))
    }

    /// When a task submitted at `submitted` runs out of time.
    pub(in crate::generator) fn deadline(&self, submitted: DateTime<Utc>) -> tokio::time::Instant {
        let age = (Utc::now() - submitted).to_std().unwrap_or_default();
        tokio::time::Instant::now() + self.settings.task_timeout.saturating_sub(age)
    }

    /// Counts a finished task, its time from submission to the result.
    pub(in crate::generator) async fn record_task<T>(
        &self,
        job: &Job,
        provider: &'static str,
        operation: &'static str,
        submitted: DateTime<Utc>,
        result: &Result<T, ProviderError>,
    ) {
        let elapsed = (Utc::now() - submitted).to_std().unwrap_or_default();
        let started = Instant::now().checked_sub(elapsed).unwrap_or_else(Instant::now);
        self.meter.record(Some(job.asset_id), provider, operation, started, result.is_ok()).await;
    }
}

/// The `stage` label of a step in the stage-duration histogram.
pub(in crate::generator) fn stage_label(kind: StageKind) -> &'static str {
    match kind {
        StageKind::Script => "script",
        StageKind::ImagePrompt => "image_prompt",
        StageKind::Image => "image",
        StageKind::AnimationPrompt => "animation_prompt",
        StageKind::Clip => "clip",
        StageKind::Voice => "voice",
        StageKind::Assemble => "assemble",
    }
}
