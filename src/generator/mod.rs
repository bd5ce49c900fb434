//! Video generators. The service only knows the [`Generator`] trait; the
//! local renderer is the embedded default, real providers plug in here.

mod local;
mod local_render;

use std::path::PathBuf;

use futures::future::BoxFuture;

pub use local::LocalGenerator;
pub use local_render::{RenderError, RenderOptions, render_mp4};

/// One generation to run.
#[derive(Debug, Clone)]
pub struct GenerationRequest {
    pub asset_id: i64,
    /// The normalized prompt.
    pub prompt: String,
    /// Where the finished MP4 must be written.
    pub output: PathBuf,
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
