//! Video generators. The service only knows the [`Generator`] trait; the
//! local renderer is the embedded default, real providers plug in here.

pub mod crossfade;
pub mod ffmpeg;
mod local;
mod pipeline;
mod veo;

use futures::future::BoxFuture;
use std::path::PathBuf;

use crate::domain::{Generation, StageSink};

pub use local::LocalGenerator;
pub use pipeline::{BuildError, PipelineGenerator, Script, ScriptError, ScriptSegment, build_generator, script_instructions};
pub use render::{RenderError, RenderOptions, render_mp4};
pub use veo::{VeoGenerator, veo_seconds};

/// One generation to run.
#[derive(Clone)]
pub struct GenerationRequest {
    /// The asset and its generation number: bumped each time the asset is
    /// generated anew (after a failure or a /clear), when work saved for an
    /// older generation must not be reused, and when the reconciler takes
    /// over from a worker that died, when the steps it carried over into
    /// this generation are (see the pipeline's module docs).
    pub job: Generation,
    /// The normalized prompt.
    pub prompt: String,
    /// Where the finished MP4 must be written.
    pub output: PathBuf,
    /// Where the generator reports its progress; shown to waiting users.
    pub progress: StageSink,
    /// Set for an extension: `prompt` is the continuation, and the
    /// generator makes only the new part (into `output`); the job joins it
    /// to the parent with a crossfade.
    pub extend: Option<ExtendPart>,
}

/// The new part of an extension: what it continues and how long it is.
#[derive(Debug, Clone)]
pub struct ExtendPart {
    /// The video being continued, on this machine.
    pub parent_video: PathBuf,
    /// The prompt of the original video (the root of the chain), for context.
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
}

/// Turns a prompt into an MP4 file.
pub trait Generator: Send + Sync + 'static {
    fn generate(&self, request: GenerationRequest) -> BoxFuture<'static, Result<(), GenerateError>>;
}
