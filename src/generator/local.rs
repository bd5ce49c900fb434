use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;

use super::{GenerateError, GenerationRequest, Generator};
use crate::domain::Gate;
use render::{RenderOptions, render_mp4};

/// Renders the prompt's text into a short H.264 MP4 on this machine, with
/// no external service. `delay` stands in for a slow provider.
#[derive(Debug, Clone, Default)]
pub struct LocalGenerator {
    pub delay: Duration,
    pub options: RenderOptions,
}

impl Generator for LocalGenerator {
    fn generate(&self, request: GenerationRequest) -> BoxFuture<'static, Result<(), GenerateError>> {
        let delay = self.delay;
        let options = self.options.clone();
        async move {
            // the script gate: the approver reads the text this will render
            request.gates.pass(request.job, Gate::Script).await?;
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let output = request.output.clone();
            let prompt = request.prompt.clone();
            tokio::task::spawn_blocking(move || render_mp4(&prompt, &output, &options))
                .await
                .map_err(|e| GenerateError::Failed(format!("the renderer stopped: {e}")))?
                .map_err(|e| GenerateError::Failed(format!("rendering failed: {e}")))?;
            Ok(())
        }
        .boxed()
    }
}
