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
//! generation number ([`reclaim_expired`](crate::db::generations::reclaim_expired)).
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

mod build;
mod script;
mod steps;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryStreamExt};
use sea_orm::DatabaseConnection;

use super::ffmpeg::{self, Assembly};
use super::photo::{self, Fit};
use super::{GenerateError, GenerationRequest, Generator};
use crate::config::PipelineSettings;
use crate::db::stages::{self, StageKind, StageStatus, StepRow, WHOLE};
use crate::domain::{Gate, MadeWith, Recipe};
use crate::providers::openai::ChatFormat;
use crate::providers::{Meter, OpenAiClient, ProviderError, RunwayClient, VertexClient};
use crate::telegram::MAX_UPLOAD_BYTES;

pub use build::{BuildError, build_generator, clip_length_notes, startup_notes};
use script::{ANIMATION_PROMPT_INSTRUCTIONS, IMAGE_PROMPT_INSTRUCTIONS, VIDEO_PROMPT_INSTRUCTIONS};
pub use script::{Script, ScriptError, ScriptSegment, script_instructions};
pub(super) use steps::{Job, Steps, existing_file};
use steps::{VOICE_FILE, db_error, path_text};

/// Fade between sections, in seconds.
const FADE_SECONDS: f64 = 0.3;

/// The longest `data:` URI of an image Runway takes: its docs ("API Input
/// Parameters", docs.dev.runwayml.com/assets/inputs) give 5 MB for an
/// image as a data URI (16 MB as a URL); counted here on the whole URI, in
/// decimal megabytes, the stricter reading.
pub const MAX_DATA_URI_BYTES: usize = 5_000_000;

/// What Runway takes as `promptImage`: JPEG, PNG or WebP in a `data:` URI
/// of at most [`MAX_DATA_URI_BYTES`].
pub(in crate::generator) const RUNWAY_PHOTO: Fit = Fit { webp: true, max_data_uri: Some(MAX_DATA_URI_BYTES) };

/// What the first segment's image prompt of a remix says: no image is
/// made for it, the photo is its image.
pub(in crate::generator) const REMIX_IMAGE_PROMPT: &str =
    "The user's photo, the first frame of the video (no image is generated for it).";

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
