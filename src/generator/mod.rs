//! Video generators. The service only knows the [`Generator`] trait; the
//! local renderer is the embedded default, real providers plug in here.

pub mod crossfade;
pub mod ffmpeg;
mod local;
mod photo;
mod pipeline;
mod veo;

use futures::future::BoxFuture;
use std::path::PathBuf;
use std::sync::Arc;

use crate::domain::{Gate, Generation, MadeWith, Recipe, StageSink};

pub use local::{LONG_EXTRA_SECONDS, LocalGenerator};
pub use pipeline::{
    BuildError, MAX_DATA_URI_BYTES, PipelineGenerator, Script, ScriptError, ScriptSegment, build_generator, clip_length_notes,
    script_instructions, startup_notes,
};
pub use render::{RenderError, RenderOptions, render_mp4};
pub use veo::{VeoGenerator, veo_length_seconds, veo_seconds};

/// One generation to run.
#[derive(Clone)]
pub struct GenerationRequest {
    /// The asset and its generation number: bumped each time the asset is
    /// generated anew (after a failure or a /clear), when work saved for an
    /// older generation must not be reused, and when the reconciler takes
    /// over from a worker that died, when the steps it carried over into
    /// this generation are (see the pipeline's module docs).
    pub job: Generation,
    /// The prompt as the request that started this generation typed it
    /// (trimmed, with the user's casing): drawn by the local renderer and
    /// given to the providers. Its identity is the asset (`job`), keyed by
    /// the normalized text.
    pub prompt: String,
    /// Where the finished MP4 must be written.
    pub output: PathBuf,
    /// Where the generator reports its progress; shown to waiting users.
    pub progress: StageSink,
    /// Set for an extension: `prompt` is the continuation, and the
    /// generator makes only the new part (into `output`); the job joins it
    /// to the parent with a crossfade.
    pub extend: Option<ExtendPart>,
    /// Asked at each gate (after the script, the images, the clips)
    /// whether the generation may go on.
    pub gates: Arc<dyn Gates>,
    /// How to make it: quality, format, length (an extension: its
    /// parent's), the generator kind, and for a remix the photo's digest.
    pub recipe: Recipe,
    /// A remix: the photo to animate (its digest is `recipe.image`).
    pub image: Option<SourceImage>,
}

/// The bytes of a photo to animate, with its type (`image/jpeg`, …).
#[derive(Clone)]
pub struct SourceImage {
    pub bytes: Arc<Vec<u8>>,
    pub mime: String,
}

impl std::fmt::Debug for SourceImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceImage").field("len", &self.bytes.len()).field("mime", &self.mime).finish()
    }
}

/// The new part of an extension: what it continues and how long it is.
#[derive(Debug, Clone)]
pub struct ExtendPart {
    /// The video being continued, on this machine.
    pub parent_video: PathBuf,
    /// The prompt of the original video (the root of the chain), as typed, for context.
    pub original_prompt: String,
    /// Length of the new part (`EXTEND_SECONDS`).
    pub seconds: u32,
}

impl std::fmt::Debug for GenerationRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenerationRequest")
            .field("job", &self.job)
            .field("prompt", &self.prompt)
            .field("output", &self.output)
            .field("extend", &self.extend)
            .field("recipe", &self.recipe)
            .field("image", &self.image)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The provider refused the prompt (e.g. a safety filter): retrying won't help.
    #[error("the prompt was refused: {0}")]
    Refused(String),
    /// A tool this machine lacks (ffmpeg for an extension's crossfade):
    /// retrying won't help; the reason says what to install.
    #[error("{0}")]
    CannotRun(String),
    /// Anything else: worth another attempt.
    #[error("{0}")]
    Failed(String),
    /// Stopped at a gate until a person approves it: not a failure; the
    /// job ends and the approval resumes the generation.
    #[error("waiting for approval of the {0}")]
    AwaitingApproval(Gate),
}

/// The gates of a generation: where a person may have to approve it
/// before more is spent (`APPROVALS`). Implemented by the worker.
pub trait Gates: Send + Sync {
    /// True when any gate may stop a generation: a generator then runs its
    /// paid steps one after the other, so that a stop cancels nothing in
    /// flight.
    fn any(&self) -> bool;
    /// `Ok` to go on past `gate`; [`GenerateError::AwaitingApproval`] to
    /// stop there (nobody approved it for this generation yet).
    fn pass(&self, job: Generation, gate: Gate) -> BoxFuture<'_, Result<(), GenerateError>>;
}

/// No gates: every generation runs to its end (`APPROVALS=off`).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoGates;

impl Gates for NoGates {
    fn any(&self) -> bool {
        false
    }

    fn pass(&self, _job: Generation, _gate: Gate) -> BoxFuture<'_, Result<(), GenerateError>> {
        Box::pin(async { Ok(()) })
    }
}

/// Turns a prompt into an MP4 file.
pub trait Generator: Send + Sync + 'static {
    fn generate(&self, request: GenerationRequest) -> BoxFuture<'static, Result<(), GenerateError>>;

    /// What a video of `recipe` is made with (model, aspect ratio, length,
    /// resolution): recorded with the asset when its generation starts.
    fn made_with(&self, recipe: &Recipe) -> MadeWith {
        MadeWith {
            model: recipe.generator.token().to_owned(),
            aspect_ratio: recipe.choices.format.token().to_owned(),
            duration_secs: 0,
            resolution: String::new(),
        }
    }
}
