//! Video generators. The service only knows the [`Generator`] trait; the
//! local renderer is the embedded default, real providers plug in here.

pub mod ffmpeg;
mod local;
mod local_render;
mod pipeline;
mod veo;

use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;

pub use local::LocalGenerator;
pub use local_render::{RenderError, RenderOptions, render_mp4};
pub use pipeline::{MAX_VIDEO_BYTES, PipelineGenerator, Script, ScriptSegment, build_generator, script_instructions};
pub use veo::{VeoGenerator, veo_seconds};

/// Receives human-readable progress ("Images 7/10, clips 3/10"); the
/// worker records it as the asset's stage, shown to waiting users.
pub type Progress = Arc<dyn Fn(String) + Send + Sync>;

/// One generation to run.
#[derive(Clone)]
pub struct GenerationRequest {
    pub asset_id: i64,
    /// Bumped each time the asset is generated anew (after a failure or a
    /// /clear); work saved for an older generation must not be reused.
    pub generation: i64,
    /// The normalized prompt.
    pub prompt: String,
    /// Where the finished MP4 must be written.
    pub output: PathBuf,
    pub progress: Progress,
}

impl std::fmt::Debug for GenerationRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenerationRequest")
            .field("asset_id", &self.asset_id)
            .field("generation", &self.generation)
            .field("prompt", &self.prompt)
            .field("output", &self.output)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The provider refused the prompt (e.g. a safety filter): retrying won't help.
    #[error("the prompt was refused: {0}")]
    Refused(String),
    /// Anything else: worth another attempt.
    #[error("{0}")]
    Failed(String),
}

/// Turns a prompt into an MP4 file.
pub trait Generator: Send + Sync + 'static {
    fn generate(&self, request: GenerationRequest) -> BoxFuture<'static, Result<(), GenerateError>>;
}
