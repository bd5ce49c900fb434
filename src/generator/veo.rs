//! `GENERATOR=veo`: Vertex AI Veo text-to-video (image-to-video for a
//! remix). With `VEO_ASSEMBLY=voiceover` the staged pipeline runs with a
//! Veo clip per segment (see [`build_generator`](super::build_generator));
//! by default (`single`) [`VeoGenerator`] makes the whole video in one Veo
//! call from the prompt — still a recorded step, so a re-run polls the
//! same operation — and needs no ffmpeg.
//!
//! The recipe decides the call: the `fast` model (`VERTEX_MODEL_FAST`) or
//! the `quality` one (`VERTEX_MODEL`), `aspectRatio` from the format,
//! `durationSeconds` from the length ([`veo_length_seconds`]), and a
//! remix's photo as `instances[0].image`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use sea_orm::DatabaseConnection;

use super::photo::{self, Fit};
use super::pipeline::{Job, Pipeline, Steps, continuation_prompt, existing_file};
use super::{ExtendPart, GenerateError, GenerationRequest, Generator};
use super::{crossfade, ffmpeg};
use crate::config::PipelineSettings;
use crate::db::stages::{self, StageKind};
use crate::domain::{Gate, Length, MadeWith, Recipe};
use crate::providers::vertex::{VEO_EXTENSION_SECONDS, VeoFamily, aspect_ratio};
use crate::providers::{Meter, ProviderError, VertexClient};

/// A duration the model accepts, at least `wanted` where it can: Veo 3
/// takes 4, 6 or 8 seconds, Veo 2 five to eight. (Other models are refused
/// at start-up; for them the longest Veo clip, 8 s, is assumed.)
pub fn veo_seconds(model: &str, wanted: u32) -> u32 {
    VeoFamily::of(model).map_or(wanted.clamp(1, 8), |family| family.seconds(wanted))
}

/// The `durationSeconds` of a whole video of `length` from `model`: Veo 3
/// makes 4, 6 or 8 s — short 6, long 8; Veo 2 five to eight — short 5,
/// long 8.
pub fn veo_length_seconds(model: &str, length: Length) -> u32 {
    match (VeoFamily::of(model), length) {
        (_, Length::Long) => 8,
        (Some(VeoFamily::Veo2), Length::Short) => 5,
        (_, Length::Short) => 6,
    }
}

/// What Veo takes as `instances[].image`: JPEG or PNG. Vertex documents
/// no size limit for inline images below its request limit; a photo from
/// Telegram (at most 20 MB, usually well under 1 MB) is sent as it is.
const VEO_PHOTO: Fit = Fit { webp: false, max_data_uri: None };

/// One Veo video from the prompt alone (and a remix's photo).
#[derive(Clone)]
pub struct VeoGenerator {
    inner: Arc<Single>,
}

struct Single {
    steps: Steps,
    vertex: VertexClient,
    work_dir: PathBuf,
}

impl VeoGenerator {
    pub fn single(
        db: DatabaseConnection,
        meter: Meter,
        vertex: VertexClient,
        settings: PipelineSettings,
        work_dir: PathBuf,
    ) -> Self {
        Self { inner: Arc::new(Single { steps: Steps { db, meter, settings }, vertex, work_dir }) }
    }
}

impl Generator for VeoGenerator {
    fn generate(&self, request: GenerationRequest) -> BoxFuture<'static, Result<(), GenerateError>> {
        let inner = self.inner.clone();
        async move { inner.run(request).await }.boxed()
    }

    fn made_with(&self, recipe: &Recipe) -> MadeWith {
        let model = self.inner.vertex.model(recipe.choices.quality);
        MadeWith {
            model: model.to_owned(),
            aspect_ratio: aspect_ratio(recipe.choices.format).to_owned(),
            duration_secs: veo_length_seconds(model, recipe.choices.length),
            // Veo's default (and Veo 2's only) resolution; none is asked for
            resolution: "720p".to_owned(),
        }
    }
}

impl Single {
    async fn run(&self, request: GenerationRequest) -> Result<(), GenerateError> {
        let extend = request.extend.clone();
        let job = Job::new(request, &self.work_dir);
        // the script gate: the approver reads the prompt Veo will get
        job.gate(Gate::Script).await?;
        if let Some(part) = extend {
            return self.extension(job, part).await;
        }
        stages::plan(&self.steps.db, &[job.key(StageKind::Clip, 0)])
            .await
            .map_err(|e| GenerateError::Failed(format!("database error while recording a generation step: {e}")))?;
        let image = remix_photo(&job).await?;
        self.steps.reopen_lost_files(&job).await?;
        self.steps.report(&job).await;
        let seconds = veo_length_seconds(self.vertex.model(job.recipe.choices.quality), job.recipe.choices.length);
        // the video is the asset's file: no intermediate files
        let video =
            veo_clip(&self.steps, &job, &self.vertex, 0, &job.prompt, seconds, true, image.as_deref(), None, &job.output).await?;
        if video != job.output {
            // made by the generation this one took over, under that one's name; kept
            // there, since the carried step still names it
            tokio::fs::copy(&video, &job.output).await.map_err(|e| {
                GenerateError::Failed(format!("cannot copy {} to {}: {e}", video.display(), job.output.display()))
            })?;
        }
        Ok(())
    }
}

impl Single {
    /// An extension's new part: where the model extends videos (Veo 3.1),
    /// Veo's own extension of the parent — the whole extended video, whose
    /// last [`VEO_EXTENSION_SECONDS`] are kept as the part; otherwise a new
    /// clip continuing the story. Either way a recorded step.
    async fn extension(&self, job: Job, part: ExtendPart) -> Result<(), GenerateError> {
        stages::plan(&self.steps.db, &[job.key(StageKind::Clip, 0)])
            .await
            .map_err(|e| GenerateError::Failed(format!("database error while recording a generation step: {e}")))?;
        self.steps.reopen_lost_files(&job).await?;
        self.steps.report(&job).await;
        let prompt = continuation_prompt(&part.original_prompt, &job.prompt);
        let quality = job.recipe.choices.quality;
        if !self.vertex.supports_extension(quality) {
            let seconds = veo_seconds(self.vertex.model(quality), part.seconds);
            let clip = veo_clip(&self.steps, &job, &self.vertex, 0, &prompt, seconds, true, None, None, &job.output).await?;
            if clip != job.output {
                tokio::fs::copy(&clip, &job.output)
                    .await
                    .map_err(|e| GenerateError::Failed(format!("cannot copy the clip: {e}")))?;
            }
            return Ok(());
        }
        tokio::fs::create_dir_all(&job.dir)
            .await
            .map_err(|e| GenerateError::Failed(format!("cannot create {}: {e}", job.dir.display())))?;
        let input = extension_input(&part.parent_video, &job).await?;
        let parent =
            tokio::fs::read(&input).await.map_err(|e| GenerateError::Failed(format!("cannot read the video to extend: {e}")))?;
        let whole = job.file("extended.mp4");
        let extended =
            veo_clip(&self.steps, &job, &self.vertex, 0, &prompt, VEO_EXTENSION_SECONDS, true, None, Some(&parent), &whole)
                .await?;
        crossfade::tail(&extended, VEO_EXTENSION_SECONDS, &job.output)
            .await
            .map_err(|e| GenerateError::Failed(format!("cannot cut the new seconds from Veo's extension: {e}")))
    }
}

/// The longest video Veo extends (`instances[].video` takes 1–30 s).
const VEO_MAX_EXTENSION_INPUT_SECONDS: f64 = 30.0;

/// What Veo is given to extend: the parent itself when it fits Veo's
/// 1–30 s, else (a chain of extensions grows past it) its last 29 s — the
/// new part continues the end, and a second's margin keeps a re-encoded
/// cut inside the limit.
async fn extension_input(parent: &Path, job: &Job) -> Result<PathBuf, GenerateError> {
    let seconds = ffmpeg::probe_duration(parent)
        .await
        .map_err(|e| GenerateError::Failed(format!("cannot read the length of the video to extend: {e}")))?;
    if seconds <= VEO_MAX_EXTENSION_INPUT_SECONDS {
        return Ok(parent.to_owned());
    }
    let cut = job.file("extension-input.mp4");
    crossfade::tail(parent, VEO_MAX_EXTENSION_INPUT_SECONDS as u32 - 1, &cut)
        .await
        .map_err(|e| GenerateError::Failed(format!("cannot cut the video to extend to Veo's 30 s: {e}")))?;
    Ok(cut)
}

/// A remix's photo as Veo takes it (checked, re-encoded if it must be)
/// before anything is paid; `None` for a video from the prompt alone.
pub(super) async fn remix_photo(job: &Job) -> Result<Option<Vec<u8>>, GenerateError> {
    if job.recipe.image.is_none() {
        return Ok(None);
    }
    let image =
        job.image.as_ref().ok_or_else(|| GenerateError::Failed("the remix's photo did not reach the generator".to_owned()))?;
    photo::fit_photo(&image.bytes, VEO_PHOTO, &job.dir).await.map(Some)
}

impl Pipeline {
    /// A segment's clip from Veo (`GENERATOR=veo` with
    /// `VEO_ASSEMBLY=voiceover`); `image`: the first frame (a remix's photo).
    pub(super) async fn veo_clip(
        &self,
        job: &Job,
        vertex: &VertexClient,
        i: usize,
        prompt: &str,
        image: Option<&[u8]>,
    ) -> Result<PathBuf, GenerateError> {
        let steps = &self.steps;
        let seconds = veo_seconds(vertex.model(job.recipe.choices.quality), steps.settings.segment_seconds);
        let path = job.file(&format!("clip-{i:02}.mp4"));
        veo_clip(steps, job, vertex, i as i32, prompt, seconds, false, image, None, &path).await
    }
}

/// The step "clip `segment`" from Veo, with the model and aspect ratio of
/// the job's recipe: submit (unless an operation is recorded), record the
/// operation before polling, poll until done, save. `image`: the first
/// frame (image-to-video); `extend`: the MP4 to extend (Veo 3.1's own
/// extension) instead of a new clip.
#[allow(clippy::too_many_arguments)]
async fn veo_clip(
    steps: &Steps,
    job: &Job,
    vertex: &VertexClient,
    segment: i32,
    prompt: &str,
    seconds: u32,
    audio: bool,
    image: Option<&[u8]>,
    extend: Option<&[u8]>,
    path: &Path,
) -> Result<PathBuf, GenerateError> {
    let (quality, format) = (job.recipe.choices.quality, job.recipe.choices.format);
    steps
        .step(job, (StageKind::Clip, segment), prompt, "vertex", existing_file, |row| async move {
            let submit = async {
                match extend {
                    Some(video) => vertex.submit_extension(quality, format, prompt, video, audio).await,
                    None => vertex.submit(quality, format, prompt, seconds, audio, image).await,
                }
            };
            let (operation, submitted) = steps.task_of(job, &row, "vertex", "veo", submit).await?;
            let deadline = steps.deadline(submitted);
            let result = vertex.wait(&operation, steps.settings.poll_interval, deadline, steps.settings.task_timeout).await;
            steps.record_task(job, "vertex", "veo", submitted, &result).await;
            let video = result?;
            vertex.save(&video, path).await?;
            Ok::<_, ProviderError>((path.to_path_buf(), path.to_string_lossy().into_owned()))
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_fit_the_model() {
        assert_eq!(veo_seconds("veo-3.0-generate-001", 5), 6);
        assert_eq!(veo_seconds("veo-3.0-fast-generate-001", 9), 8);
        assert_eq!(veo_seconds("veo-2.0-generate-001", 3), 5);
        assert_eq!(veo_seconds("veo-3.1-fast-generate-001", 1), 4);
        assert_eq!(veo_seconds("veo-2.0-generate-001", 60), 8);
    }

    #[test]
    fn lengths_fit_the_model() {
        assert_eq!(veo_length_seconds("veo-3.0-fast-generate-001", Length::Short), 6);
        assert_eq!(veo_length_seconds("veo-3.0-generate-001", Length::Long), 8);
        assert_eq!(veo_length_seconds("veo-2.0-generate-001", Length::Short), 5);
        assert_eq!(veo_length_seconds("veo-2.0-generate-001", Length::Long), 8);
    }
}
