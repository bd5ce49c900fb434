//! The staged generator (`GENERATOR=pipeline`): script → segments → an
//! image prompt, an image, an animation prompt and an animated clip per
//! segment → voice-over → ffmpeg assembly. Segments run in parallel up to
//! `PIPELINE_PARALLELISM`.
//!
//! Every step is a row in `generation_stages`. A re-run of the same asset
//! and generation (a retry, or a restart after a crash) reuses every step
//! that is done, and polls a provider task whose id was recorded — the id
//! is written before the first poll — instead of paying for it again.
//! Each billable call is counted in `provider_calls`.
//!
//! # Across generations
//!
//! A worker that dies (`kill -9`, a lost machine) leaves its generation
//! with a lease that runs out; the reconciler moves the asset to the next
//! generation number ([`reclaim_expired`](crate::db::assets::reclaim_expired)).
//! That new generation is a *takeover*: same asset, same prompt, same
//! settings. In the same transaction as the move, the old generation's rows
//! are carried over ([`carry_over`](crate::db::stages::carry_over)):
//! - finished steps (script, prompts, images, clips, voice-over; Veo
//!   operations) are copied as done, so this generator reuses them without
//!   a provider call — a file output still has to be on disk, otherwise
//!   the step is set back to pending at the start of the run and its
//!   recorded task is polled and downloaded again;
//! - steps submitted to a provider (a task id recorded, not done) are
//!   copied as pending with their task id: they are polled, not submitted
//!   again;
//! - steps that never reached a provider are not copied and run again. A
//!   step that was running without a recorded task (the submit's answer
//!   never arrived) runs again too — it may have been billed; the
//!   reconciler logs how many, and `provider_calls` shows what was paid.
//!
//! The assembly is never carried over (its output is the generation's own
//! file; ffmpeg costs nothing). Steps cross generations only that way:
//! a generation started anew because the asset failed for good or an
//! operator cleared it (/clear) is made by intake
//! ([`requests`](crate::db::requests)), copies nothing and makes every step
//! anew — the asset's `last_error` is reset then, so the decision cannot be
//! left to the worker reading it. Since every step goes through
//! [`Steps::step`], this holds for the script, the Runway images and
//! clips, Veo operations and the voice-over alike. The intermediate files
//! (this generation's and those of the generations it took over) stay in
//! `work/asset-<id>-g<n>` after the run: the periodic sweep
//! (the housekeeping service) removes them
//! `KEEP_INTERMEDIATES_HOURS` after the asset became available or failed,
//! never while a generation of the asset may still resume them.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryStreamExt};
use sea_orm::{DatabaseConnection, DbErr};
use serde::{Deserialize, Serialize};

use super::ffmpeg::{self, Assembly};
use super::photo::{self, Fit};
use super::veo::VeoGenerator;
use super::{Gates, GenerateError, GenerationRequest, Generator, LocalGenerator, SourceImage};
use crate::config::PipelineSettings;
use crate::config::{GeneratorKind, ProviderSettings, RetryPolicy, VeoAssembly};
use crate::db::stages::{self, StageKind, StageStatus, StepKey, StepRow, WHOLE};
use crate::domain::{AssetId, Gate, Generation, MadeWith, Quality, Recipe, StageSink};
use crate::providers::openai::ChatFormat;
use crate::providers::{Meter, OpenAiClient, ProviderError, RunwayClient, SetupError, VertexClient};
use crate::telegram::MAX_UPLOAD_BYTES;
use crate::telemetry::measure;

/// Fade between sections, in seconds.
const FADE_SECONDS: f64 = 0.3;

/// The longest `data:` URI of an image Runway takes: its docs ("API Input
/// Parameters", docs.dev.runwayml.com/assets/inputs) give 5 MB for an
/// image as a data URI (16 MB as a URL); counted here on the whole URI, in
/// decimal megabytes, the stricter reading.
pub const MAX_DATA_URI_BYTES: usize = 5_000_000;

/// What Runway takes as `promptImage`: JPEG, PNG or WebP in a `data:` URI
/// of at most [`MAX_DATA_URI_BYTES`].
const RUNWAY_PHOTO: Fit = Fit { webp: true, max_data_uri: Some(MAX_DATA_URI_BYTES) };

/// What the first segment's image prompt of a remix says: no image is
/// made for it, the photo is its image.
const REMIX_IMAGE_PROMPT: &str = "The user's photo, the first frame of the video (no image is generated for it).";

/// Why the chosen generator can't start; each names what is missing.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("GENERATOR={kind} needs {missing} set")]
    Missing { kind: GeneratorKind, missing: String },
    #[error("GENERATOR={kind}{purpose}: {source}")]
    Ffmpeg { kind: GeneratorKind, purpose: &'static str, source: ffmpeg::MissingFfmpeg },
    #[error("GENERATOR={kind}: {source}")]
    Client { kind: GeneratorKind, source: SetupError },
    #[error(
        "GENERATOR=veo with VEO_ASSEMBLY=voiceover needs OPENAI_API_KEY set (it writes the script and the voice-over); \
         set it, or use VEO_ASSEMBLY=single (one Veo call per video)"
    )]
    VoiceoverNeedsOpenAi,
}

/// The generator `kind` asks for, with its clients. Errors name what is
/// missing: a key for the chosen provider, or ffmpeg.
pub fn build_generator(
    kind: GeneratorKind,
    settings: &ProviderSettings,
    db: DatabaseConnection,
    work_dir: PathBuf,
    local: LocalGenerator,
) -> Result<Arc<dyn Generator>, BuildError> {
    let client = |source| BuildError::Client { kind, source };
    let timeout = settings.pipeline.http_timeout;
    let meter = Meter::new(db.clone(), settings.prices.clone());
    match kind {
        GeneratorKind::Local => Ok(Arc::new(local)),
        GeneratorKind::Pipeline => {
            let mut missing = Vec::new();
            if settings.openai.api_key.is_none() {
                missing.push("OPENAI_API_KEY");
            }
            if settings.runway.api_secret.is_none() {
                missing.push("RUNWAYML_API_SECRET");
            }
            if !missing.is_empty() {
                return Err(BuildError::Missing { kind, missing: missing.join(" and ") });
            }
            ffmpeg::check_ffmpeg().map_err(|source| BuildError::Ffmpeg { kind, purpose: "", source })?;
            let openai = OpenAiClient::new(&settings.openai, timeout, RetryPolicy::default()).map_err(client)?;
            let runway = RunwayClient::new(&settings.runway, timeout, RetryPolicy::default()).map_err(client)?;
            let pipeline = Pipeline::new(db, meter, openai, ClipMaker::Runway(runway), settings.pipeline.clone(), work_dir);
            Ok(Arc::new(PipelineGenerator { pipeline: Arc::new(pipeline) }))
        }
        GeneratorKind::Veo => {
            let vertex = VertexClient::new(&settings.vertex, timeout, RetryPolicy::default()).map_err(client)?;
            if settings.vertex.assembly == VeoAssembly::Single {
                return Ok(Arc::new(VeoGenerator::single(db, meter, vertex, settings.pipeline.clone(), work_dir)));
            }
            if settings.openai.api_key.is_none() {
                return Err(BuildError::VoiceoverNeedsOpenAi);
            }
            ffmpeg::check_ffmpeg().map_err(|source| BuildError::Ffmpeg {
                kind,
                purpose: " with VEO_ASSEMBLY=voiceover (script, voice-over, assembly)",
                source,
            })?;
            let openai = OpenAiClient::new(&settings.openai, timeout, RetryPolicy::default()).map_err(client)?;
            let pipeline = Pipeline::new(db, meter, openai, ClipMaker::Veo(vertex), settings.pipeline.clone(), work_dir);
            Ok(Arc::new(PipelineGenerator { pipeline: Arc::new(pipeline) }))
        }
    }
}

/// What start-up should warn about: variables no longer used (see
/// [`ProviderSettings::ignored_notes`]) and [`clip_length_notes`].
pub fn startup_notes(settings: &ProviderSettings, extend_seconds: u32) -> Vec<String> {
    let mut notes = settings.ignored_notes();
    notes.extend(clip_length_notes(settings, extend_seconds));
    notes
}

/// What start-up should warn about: a segment (`SEGMENT_SECONDS`) or an
/// extension's part (`EXTEND_SECONDS`) longer than the longest clip a
/// video model (of either quality) makes — the clip's last frame is then
/// held to fill it.
pub fn clip_length_notes(settings: &ProviderSettings, extend_seconds: u32) -> Vec<String> {
    let mut models: Vec<(&str, u32)> = Vec::new();
    // a single Veo call makes a whole video of the model's own lengths: no segments
    let segments = !(settings.generator == GeneratorKind::Veo && settings.vertex.assembly == VeoAssembly::Single);
    for quality in [Quality::Fast, Quality::Quality] {
        let model = match settings.generator {
            GeneratorKind::Local => return Vec::new(),
            GeneratorKind::Pipeline => match crate::providers::runway::video_model(settings.runway.video_model_for(quality)) {
                Some(model) => (model.name, model.durations.max()),
                None => continue,
            },
            GeneratorKind::Veo => {
                let model = settings.vertex.model_for(quality);
                (model, super::veo::veo_seconds(model, u32::MAX))
            }
        };
        if !models.contains(&model) {
            models.push(model);
        }
    }
    let mut notes = Vec::new();
    for (model, longest) in models {
        let lengths = [("SEGMENT_SECONDS", settings.pipeline.segment_seconds), ("EXTEND_SECONDS", extend_seconds)];
        for (name, seconds) in lengths.into_iter().filter(|(name, _)| segments || *name != "SEGMENT_SECONDS") {
            if seconds > longest {
                notes.push(format!(
                    "{name}={seconds} is longer than the longest clip {model} makes ({longest} s): each such clip is asked \
                     for {longest} s and its last frame is held for the rest"
                ));
            }
        }
    }
    notes
}

/// The staged generator; see the module docs.
#[derive(Clone)]
pub struct PipelineGenerator {
    pipeline: Arc<Pipeline>,
}

impl Generator for PipelineGenerator {
    fn generate(&self, request: GenerationRequest) -> BoxFuture<'static, Result<(), GenerateError>> {
        let pipeline = self.pipeline.clone();
        async move {
            match request.extend.clone() {
                // An extension's new part: one segment with its voice-over.
                Some(part) => {
                    let prompt = continuation_prompt(&part.original_prompt, &request.prompt);
                    pipeline.shaped(1, part.seconds).run(GenerationRequest { prompt, ..request }).await
                }
                None => {
                    let settings = &pipeline.steps.settings;
                    let segments = settings.segments_for(request.recipe.choices.length);
                    pipeline.shaped(segments, settings.segment_seconds).run(request).await
                }
            }
        }
        .boxed()
    }

    fn made_with(&self, recipe: &Recipe) -> MadeWith {
        let settings = &self.pipeline.steps.settings;
        let (quality, format) = (recipe.choices.quality, recipe.choices.format);
        let model = match &*self.pipeline.clips {
            ClipMaker::Runway(runway) => runway.video_model(quality).name.to_owned(),
            ClipMaker::Veo(vertex) => vertex.model(quality).to_owned(),
        };
        let segments = u32::try_from(settings.segments_for(recipe.choices.length)).unwrap_or(u32::MAX);
        let (width, height) = settings.size_for(format);
        MadeWith {
            model,
            aspect_ratio: format.token().to_owned(),
            duration_secs: segments.saturating_mul(settings.segment_seconds),
            resolution: format!("{width}x{height}"),
        }
    }
}

/// Where a segment's clip comes from.
pub(super) enum ClipMaker {
    /// An image per segment, then image-to-video.
    Runway(RunwayClient),
    /// Text-to-video per segment.
    Veo(VertexClient),
}

pub(super) struct Pipeline {
    pub(super) steps: Steps,
    openai: OpenAiClient,
    clips: Arc<ClipMaker>,
    work_dir: PathBuf,
}

impl Pipeline {
    fn new(
        db: DatabaseConnection,
        meter: Meter,
        openai: OpenAiClient,
        clips: ClipMaker,
        settings: PipelineSettings,
        work_dir: PathBuf,
    ) -> Self {
        Self { steps: Steps { db, meter, settings }, openai, clips: Arc::new(clips), work_dir }
    }

    /// The same pipeline making `segments` segments of `seconds`: a video
    /// of the recipe's length, or an extension's new part (one segment,
    /// with its voice-over, from a script that continues the original video).
    fn shaped(&self, segments: usize, seconds: u32) -> Self {
        let settings = PipelineSettings { segments, segment_seconds: seconds, ..self.steps.settings.clone() };
        Self {
            steps: Steps { db: self.steps.db.clone(), meter: self.steps.meter.clone(), settings },
            openai: self.openai.clone(),
            clips: self.clips.clone(),
            work_dir: self.work_dir.clone(),
        }
    }
}

/// What the script of an extension's new part is written from.
pub(super) fn continuation_prompt(original: &str, continuation: &str) -> String {
    format!("Continue a video about “{original}”; what happens next: {continuation}")
}

/// Runs steps recorded in `generation_stages` and counts provider calls.
pub(super) struct Steps {
    pub(super) db: DatabaseConnection,
    pub(super) meter: Meter,
    pub(super) settings: PipelineSettings,
}

/// One run of the pipeline for one asset and generation.
pub(super) struct Job {
    pub(super) asset_id: AssetId,
    pub(super) generation: i64,
    pub(super) prompt: String,
    pub(super) output: PathBuf,
    pub(super) progress: StageSink,
    pub(super) gates: Arc<dyn Gates>,
    /// Intermediate files of this generation.
    pub(super) dir: PathBuf,
    /// How the video is made (fixed for the asset).
    pub(super) recipe: Recipe,
    /// A remix's photo.
    pub(super) image: Option<SourceImage>,
}

impl Job {
    pub(super) fn new(request: GenerationRequest, work_dir: &Path) -> Self {
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

    pub(super) fn key(&self, kind: StageKind, segment: i32) -> StepKey {
        StepKey { asset_id: self.asset_id, generation: self.generation, kind, segment }
    }

    pub(super) fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Goes on past `gate`, or stops the run there until it is approved.
    pub(super) async fn gate(&self, gate: Gate) -> Result<(), GenerateError> {
        let job = Generation { asset: self.asset_id, number: self.generation };
        self.gates.pass(job, gate).await
    }
}

/// The script the chat model writes: what is said and shown per segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Script {
    #[serde(default)]
    pub title: String,
    pub segments: Vec<ScriptSegment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptSegment {
    pub narration: String,
    pub visual: String,
}

/// Why a model's answer is not a usable script.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("the script is not the JSON asked for: {0}")]
    NotJson(serde_json::Error),
    #[error("the script has {usable} usable segments, {asked} were asked for")]
    TooShort { usable: usize, asked: usize },
}

impl Script {
    /// Parses the model's answer (tolerating a Markdown code fence) and
    /// keeps the first `segments` segments; fewer is an error.
    pub fn parse(answer: &str, segments: usize) -> Result<Self, ScriptError> {
        let text = answer.trim();
        let text = text.strip_prefix("```json").or_else(|| text.strip_prefix("```")).unwrap_or(text);
        let text = text.strip_suffix("```").unwrap_or(text).trim();
        let mut script: Script = serde_json::from_str(text).map_err(ScriptError::NotJson)?;
        script.segments.retain(|s| !s.visual.trim().is_empty());
        if script.segments.len() < segments {
            return Err(ScriptError::TooShort { usable: script.segments.len(), asked: segments });
        }
        script.segments.truncate(segments);
        Ok(script)
    }

    /// Everything the voice-over says.
    pub fn narration(&self) -> String {
        self.segments.iter().map(|s| s.narration.trim()).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ")
    }
}

/// The instructions for the script. The fake provider in the tests reads
/// "exactly N segments" from it, as a model would.
pub fn script_instructions(segments: usize, seconds: u32) -> String {
    let words = (seconds as f32 * 2.2).round() as u32;
    format!(
        "You write scripts for short narrated videos. Answer with one JSON object only, of the form \
         {{\"title\": string, \"segments\": [{{\"narration\": string, \"visual\": string}}]}}, \
         with exactly {segments} segments. Each segment lasts {seconds} seconds: its narration is what the \
         voice-over says in that time (at most {words} words) and its visual describes one scene that can \
         be shown as a still image and gently animated. Keep characters, places and style consistent from \
         the first to the last segment. Write the narration in the language of the request."
    )
}

const IMAGE_PROMPT_INSTRUCTIONS: &str = "You write prompts for a text-to-image model. Given one scene of a short video, \
     answer with the prompt only: one paragraph, concrete and visual (subject, setting, lighting, composition, style), \
     at most 900 characters, no text or letters in the image.";

const ANIMATION_PROMPT_INSTRUCTIONS: &str = "You write prompts for an image-to-video model that animates a still image. \
     Given the scene and the prompt of its image, answer with the prompt only: one or two sentences describing the \
     camera movement and the motion in the scene, at most 900 characters.";

const VIDEO_PROMPT_INSTRUCTIONS: &str = "You write prompts for a text-to-video model. Given one scene of a short video, \
     answer with the prompt only: one paragraph describing subject, setting, action, camera movement, lighting and \
     style, at most 900 characters, no on-screen text.";

fn db_error(err: DbErr) -> GenerateError {
    GenerateError::Failed(format!("database error while recording a generation step: {err}"))
}

fn provider_error(err: &ProviderError) -> GenerateError {
    match err {
        ProviderError::Refused { .. } => GenerateError::Refused(err.to_string()),
        _ => GenerateError::Failed(err.to_string()),
    }
}

/// A failure after which a recorded task must not be polled again.
fn task_is_over(err: &ProviderError) -> bool {
    matches!(err, ProviderError::Refused { .. } | ProviderError::TaskFailed { .. } | ProviderError::TimedOut { .. })
}

/// A finished step's file, if it is still there.
pub(super) fn existing_file(output: &str) -> Option<PathBuf> {
    let path = PathBuf::from(output);
    std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() > 0).then_some(path)
}

/// The voice-over's file in a generation's directory.
const VOICE_FILE: &str = "voice.wav";

/// The largest step file kept in the database (a minute of speech as WAV
/// is about 3 MB).
const MAX_KEPT_PAYLOAD_BYTES: usize = 16 * 1024 * 1024;

/// Writes a kept step's bytes back to its file (through a temporary name).
async fn write_back(path: &Path, payload: &[u8]) -> Result<(), GenerateError> {
    let failed = |e: std::io::Error| GenerateError::Failed(format!("cannot write {} back: {e}", path.display()));
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(failed)?;
    }
    let part = path.with_extension("part");
    tokio::fs::write(&part, payload).await.map_err(failed)?;
    tokio::fs::rename(&part, path).await.map_err(failed)
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

impl Steps {
    /// Sends "Images 7/10, clips 3/10" to the worker.
    pub(super) async fn report(&self, job: &Job) {
        match stages::progress_summary(&self.db, job.asset_id, job.generation).await {
            Ok(Some(stage)) => (job.progress)(stage),
            Ok(None) => {}
            Err(err) => tracing::debug!(error = %err, "could not read the progress"),
        }
    }

    /// Sets finished steps whose file is gone (a takeover on another
    /// machine, a cleaned work directory) back to pending, so that progress
    /// counts only what is there; their recorded tasks are polled again.
    pub(super) async fn reopen_lost_files(&self, job: &Job) -> Result<(), GenerateError> {
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
    pub(super) async fn keep_payload(&self, job: &Job, row: i64, path: &Path) {
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
    pub(super) async fn step<T, F, Fut>(
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
    pub(super) async fn task_of(
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
    pub(super) fn deadline(&self, submitted: DateTime<Utc>) -> tokio::time::Instant {
        let age = (Utc::now() - submitted).to_std().unwrap_or_default();
        tokio::time::Instant::now() + self.settings.task_timeout.saturating_sub(age)
    }

    /// Counts a finished task, its time from submission to the result.
    pub(super) async fn record_task<T>(
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

impl Pipeline {
    async fn run(&self, request: GenerationRequest) -> Result<(), GenerateError> {
        let job = Job::new(request, &self.work_dir);
        tokio::fs::create_dir_all(&job.dir)
            .await
            .map_err(|e| GenerateError::Failed(format!("cannot create {}: {e}", job.dir.display())))?;
        tracing::info!(asset_id = %job.asset_id, generation = job.generation, "staged generation started");
        // the files stay: the sweep removes them once the asset is finished
        let result = self.stages(&job).await;
        if result.is_ok() {
            tracing::info!(asset_id = %job.asset_id, generation = job.generation, "staged generation finished");
        }
        result
    }

    async fn stages(&self, job: &Job) -> Result<(), GenerateError> {
        // assembled before an interruption: its inputs may be gone, and are not needed
        let assembled = stages::find(&self.steps.db, job.key(StageKind::Assemble, WHOLE)).await.map_err(db_error)?;
        if let Some(row) = assembled
            && row.status == StageStatus::Done
            && row.output.as_deref().and_then(existing_file).is_some_and(|path| path == job.output)
        {
            return Ok(());
        }
        self.steps.reopen_lost_files(job).await?;
        // a remix's photo is checked (and recorded) before anything is paid
        let photo = self.remix_photo(job).await?;
        let script = self.script(job).await?;
        job.gate(Gate::Script).await?;
        self.plan(job).await?;
        self.steps.report(job).await;
        let (clips, voice) = if job.gates.any() {
            // a gate may stop the run: nothing paid may be in flight then
            let clips = self.segments(job, &script, photo.as_ref()).await?;
            (clips, self.voice(job, &script).await?)
        } else {
            tokio::try_join!(self.segments(job, &script, photo.as_ref()), self.voice(job, &script))?
        };
        self.assemble(job, clips, voice).await
    }

    /// Records every step as pending, so progress counts against the plan.
    async fn plan(&self, job: &Job) -> Result<(), GenerateError> {
        let per_segment: &[StageKind] = match *self.clips {
            ClipMaker::Runway(_) => &[StageKind::ImagePrompt, StageKind::Image, StageKind::AnimationPrompt, StageKind::Clip],
            ClipMaker::Veo(_) => &[StageKind::AnimationPrompt, StageKind::Clip],
        };
        let mut keys = Vec::new();
        for kind in per_segment {
            keys.extend((0..self.steps.settings.segments as i32).map(|i| job.key(*kind, i)));
        }
        keys.extend([job.key(StageKind::Voice, WHOLE), job.key(StageKind::Assemble, WHOLE)]);
        stages::plan(&self.steps.db, &keys).await.map_err(db_error)
    }

    /// A chat step: the answer's text is the output.
    async fn chat_step(
        &self,
        job: &Job,
        kind: StageKind,
        segment: i32,
        instructions: &str,
        input: &str,
    ) -> Result<String, GenerateError> {
        self.steps
            .step(
                job,
                (kind, segment),
                input,
                "openai",
                |out| Some(out.to_owned()),
                |_| async move {
                    let answer = self
                        .steps
                        .meter
                        .measure(Some(job.asset_id), "openai", "chat", self.openai.chat(instructions, input, ChatFormat::Text))
                        .await?;
                    let answer = answer.trim().trim_matches('"').trim().to_owned();
                    Ok((answer.clone(), answer))
                },
            )
            .await
    }

    async fn script(&self, job: &Job) -> Result<Script, GenerateError> {
        let n = self.steps.settings.segments;
        let instructions = script_instructions(n, self.steps.settings.segment_seconds);
        self.steps
            .step(
                job,
                (StageKind::Script, WHOLE),
                &job.prompt,
                "openai",
                |out| Script::parse(out, n).ok(),
                |_| async {
                    let answer = self
                        .steps
                        .meter
                        .measure(
                            Some(job.asset_id),
                            "openai",
                            "chat",
                            self.openai.chat(&instructions, &job.prompt, ChatFormat::JsonObject),
                        )
                        .await?;
                    let script = Script::parse(&answer, n).map_err(|e| ProviderError::decode("openai chat", e))?;
                    let stored = serde_json::to_string(&script).map_err(|e| ProviderError::local("script", e))?;
                    Ok((script, stored))
                },
            )
            .await
    }

    /// Runs `each` for every segment, at most `parallelism` at once, in
    /// order; the first failure ends the phase.
    async fn each_segment<'a, T, Fut>(&'a self, each: impl Fn(usize) -> Fut) -> Result<Vec<T>, GenerateError>
    where
        Fut: Future<Output = Result<T, GenerateError>> + 'a,
    {
        futures::stream::iter(0..self.steps.settings.segments)
            .map(each)
            .buffered(self.steps.settings.parallelism.max(1))
            .try_collect()
            .await
    }

    /// A remix's photo, made fit for the clip maker before anything is
    /// paid. For Runway it is the first segment's image: recorded as that
    /// step (no provider call), so no image is ever bought for it.
    async fn remix_photo(&self, job: &Job) -> Result<Option<RemixPhoto>, GenerateError> {
        match &*self.clips {
            ClipMaker::Veo(_) => Ok(super::veo::remix_photo(job).await?.map(RemixPhoto::Bytes)),
            ClipMaker::Runway(_) => {
                let Some(digest) = &job.recipe.image else { return Ok(None) };
                let path = job.file("image-00.img");
                let recorded = stages::find(&self.steps.db, job.key(StageKind::Image, 0)).await.map_err(db_error)?;
                if let Some(row) = recorded
                    && row.status == StageStatus::Done
                    && row.output.as_deref().and_then(existing_file).is_some()
                {
                    return Ok(Some(RemixPhoto::File(path)));
                }
                let image = job
                    .image
                    .as_ref()
                    .ok_or_else(|| GenerateError::Failed("the remix's photo did not reach the generator".to_owned()))?;
                let bytes = photo::fit_photo(&image.bytes, RUNWAY_PHOTO, &job.dir).await?;
                let input = format!("the remix's photo {digest}");
                let file = self
                    .steps
                    .step(job, (StageKind::Image, 0), &input, "remix", existing_file, |_| async {
                        tokio::fs::write(&path, &bytes)
                            .await
                            .map_err(|e| ProviderError::local("remix photo", format!("cannot write {}: {e}", path.display())))?;
                        Ok((path.clone(), path_text(&path)))
                    })
                    .await?;
                Ok(Some(RemixPhoto::File(file)))
            }
        }
    }

    /// Every segment's clip, phase by phase; `photo`: a remix's photo, the
    /// first segment's first frame.
    async fn segments(&self, job: &Job, script: &Script, photo: Option<&RemixPhoto>) -> Result<Vec<PathBuf>, GenerateError> {
        let scene = |i: usize| {
            let segment = &script.segments[i];
            format!(
                "Video: {}\nScene {} of {}: {}\nNarration: {}",
                job.prompt,
                i + 1,
                script.segments.len(),
                segment.visual.trim(),
                segment.narration.trim()
            )
        };
        match &*self.clips {
            ClipMaker::Runway(runway) => {
                let remix = match photo {
                    Some(RemixPhoto::File(path)) => Some(path),
                    _ => None,
                };
                let image_prompts = self
                    .each_segment(|i| {
                        let input = scene(i);
                        async move {
                            if i == 0 && remix.is_some() {
                                return self.remix_image_prompt(job).await;
                            }
                            self.chat_step(job, StageKind::ImagePrompt, i as i32, IMAGE_PROMPT_INSTRUCTIONS, &input).await
                        }
                    })
                    .await?;
                let image_prompts = &image_prompts;
                let images = self
                    .each_segment(|i| async move {
                        match remix {
                            Some(photo) if i == 0 => Ok(photo.clone()),
                            _ => self.runway_image(job, runway, i, &image_prompts[i]).await,
                        }
                    })
                    .await?;
                job.gate(Gate::Images).await?;
                let animation_prompts = self
                    .each_segment(|i| {
                        let input = format!("{}\nImage prompt: {}", scene(i), image_prompts[i]);
                        async move {
                            self.chat_step(job, StageKind::AnimationPrompt, i as i32, ANIMATION_PROMPT_INSTRUCTIONS, &input).await
                        }
                    })
                    .await?;
                let clips = self.each_segment(|i| self.runway_clip(job, runway, i, &images[i], &animation_prompts[i])).await?;
                job.gate(Gate::Clips).await?;
                Ok(clips)
            }
            ClipMaker::Veo(vertex) => {
                let video_prompts = self
                    .each_segment(|i| {
                        let input = scene(i);
                        async move {
                            self.chat_step(job, StageKind::AnimationPrompt, i as i32, VIDEO_PROMPT_INSTRUCTIONS, &input).await
                        }
                    })
                    .await?;
                let first_frame = match photo {
                    Some(RemixPhoto::Bytes(bytes)) => Some(bytes.as_slice()),
                    _ => None,
                };
                let clips = self
                    .each_segment(|i| self.veo_clip(job, vertex, i, &video_prompts[i], first_frame.filter(|_| i == 0)))
                    .await?;
                job.gate(Gate::Clips).await?;
                Ok(clips)
            }
        }
    }

    /// Submits a Runway task unless one is recorded, records its id before
    /// polling, waits for it (its time limit counting from submission) and
    /// counts the call. Returns the output URLs.
    async fn runway_task(
        &self,
        job: &Job,
        runway: &RunwayClient,
        row: &StepRow,
        operation: &'static str,
        submit: impl Future<Output = Result<String, ProviderError>>,
    ) -> Result<Vec<String>, ProviderError> {
        let what = format!("runway {operation}");
        let (task, submitted) = self.steps.task_of(job, row, "runway", operation, submit).await?;
        let deadline = self.steps.deadline(submitted);
        let result =
            runway.wait(&what, &task, self.steps.settings.poll_interval, deadline, self.steps.settings.task_timeout).await;
        self.steps.record_task(job, "runway", operation, submitted, &result).await;
        if let Err(ProviderError::TimedOut { .. }) = &result
            && let Err(err) = runway.cancel(&task).await
        {
            tracing::debug!(error = %err, "could not cancel an abandoned task");
        }
        result
    }

    async fn runway_image(&self, job: &Job, runway: &RunwayClient, i: usize, prompt: &str) -> Result<PathBuf, GenerateError> {
        let path = job.file(&format!("image-{i:02}.img"));
        self.steps
            .step(job, (StageKind::Image, i as i32), prompt, "runway", existing_file, |row| async move {
                let submit = runway.text_to_image(prompt, job.recipe.choices.format);
                let outputs = self.runway_task(job, runway, &row, "text_to_image", submit).await?;
                runway.download("runway image download", &outputs[0], &path).await?;
                Ok((path.clone(), path_text(&path)))
            })
            .await
    }

    async fn runway_clip(
        &self,
        job: &Job,
        runway: &RunwayClient,
        i: usize,
        image: &Path,
        prompt: &str,
    ) -> Result<PathBuf, GenerateError> {
        let path = job.file(&format!("clip-{i:02}.mp4"));
        let seconds = self.steps.settings.segment_seconds;
        self.steps
            .step(job, (StageKind::Clip, i as i32), prompt, "runway", existing_file, |row| async move {
                // read only when a task must be submitted
                let submit = async {
                    let image = data_uri(image).await?;
                    let (quality, format) = (job.recipe.choices.quality, job.recipe.choices.format);
                    runway.image_to_video(quality, format, &image, prompt, seconds).await
                };
                let outputs = self.runway_task(job, runway, &row, "image_to_video", submit).await?;
                runway.download("runway clip download", &outputs[0], &path).await?;
                Ok((path.clone(), path_text(&path)))
            })
            .await
    }

    async fn voice(&self, job: &Job, script: &Script) -> Result<PathBuf, GenerateError> {
        let path = job.file(VOICE_FILE);
        let narration = script.narration();
        self.steps
            .step(job, (StageKind::Voice, WHOLE), &narration, "openai", existing_file, |row| {
                let (narration, path) = (&narration, &path);
                async move {
                    self.steps.meter.measure(Some(job.asset_id), "openai", "speech", self.openai.speech(narration, path)).await?;
                    self.steps.keep_payload(job, row.id, path).await;
                    Ok((path.clone(), path_text(path)))
                }
            })
            .await
    }

    async fn assemble(&self, job: &Job, clips: Vec<PathBuf>, voice: PathBuf) -> Result<(), GenerateError> {
        // PIPELINE_VIDEO_SIZE, upright for 9:16
        let (width, height) = self.steps.settings.size_for(job.recipe.choices.format);
        let spec = Assembly {
            clips,
            voice: Some(voice),
            segment_seconds: f64::from(self.steps.settings.segment_seconds),
            fade_seconds: FADE_SECONDS,
            width,
            height,
            output: job.output.clone(),
            max_bytes: MAX_UPLOAD_BYTES,
        };
        let input = format!("{} clips of {} s, {}x{}", spec.clips.len(), spec.segment_seconds, spec.width, spec.height);
        // reused only as this generation's own file: a takeover assembles anew
        self.steps
            .step(
                job,
                (StageKind::Assemble, WHOLE),
                &input,
                "ffmpeg",
                |out| existing_file(out).filter(|p| *p == job.output),
                |_| async {
                    let size = ffmpeg::assemble(&spec).await.map_err(|e| ProviderError::local("ffmpeg assembly", e))?;
                    tracing::info!(asset_id = %job.asset_id, size, "video assembled");
                    Ok((spec.output.clone(), path_text(&spec.output)))
                },
            )
            .await
            .map(|_| ())
    }
}

/// A remix's photo as the clip maker takes it.
enum RemixPhoto {
    /// Runway: the first segment's image, on disk.
    File(PathBuf),
    /// Veo: the first clip's `instances[0].image`.
    Bytes(Vec<u8>),
}

impl Pipeline {
    /// A remix's first image prompt: the photo is the image, so none is
    /// written (and none bought); recorded as a step like the others.
    async fn remix_image_prompt(&self, job: &Job) -> Result<String, GenerateError> {
        self.steps
            .step(
                job,
                (StageKind::ImagePrompt, 0),
                REMIX_IMAGE_PROMPT,
                "remix",
                |out| Some(out.to_owned()),
                |_| async { Ok((REMIX_IMAGE_PROMPT.to_owned(), REMIX_IMAGE_PROMPT.to_owned())) },
            )
            .await
    }
}

/// The image as a `data:` URI, for image-to-video.
async fn data_uri(path: &Path) -> Result<String, ProviderError> {
    const WHAT: &str = "runway image_to_video";
    let bytes =
        tokio::fs::read(path).await.map_err(|e| ProviderError::local(WHAT, format!("cannot read {}: {e}", path.display())))?;
    let uri = photo::data_uri(&bytes).ok_or_else(|| ProviderError::decode(WHAT, "the image is neither PNG, JPEG nor WebP"))?;
    if uri.len() > MAX_DATA_URI_BYTES {
        return Err(ProviderError::local(WHAT, format!("the image is too large to send inline ({} bytes)", bytes.len())));
    }
    Ok(uri)
}

/// The `stage` label of a step in the stage-duration histogram.
fn stage_label(kind: StageKind) -> &'static str {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_parse_with_fences_and_extra_segments() {
        let answer = "```json\n{\"title\":\"t\",\"segments\":[{\"narration\":\"a\",\"visual\":\"x\"},{\"narration\":\"b\",\"visual\":\"y\"},{\"narration\":\"c\",\"visual\":\"z\"}]}\n```";
        let script = Script::parse(answer, 2).expect("parses");
        assert_eq!(script.segments.len(), 2);
        assert_eq!(script.narration(), "a b");
        assert!(Script::parse(answer, 4).unwrap_err().to_string().contains("3 usable segments"));
        assert!(Script::parse("not json", 1).is_err());
    }

    #[test]
    fn instructions_name_the_shape() {
        let text = script_instructions(10, 5);
        assert!(text.contains("exactly 10 segments"), "{text}");
        assert!(text.contains("lasts 5 seconds"), "{text}");
    }
}
