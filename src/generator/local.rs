use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;

use super::{GenerateError, GenerationRequest, Generator};
use crate::domain::{Gate, Length, MadeWith, Quality, Recipe};
use render::{Picture, RenderOptions, render_mp4};

/// How much longer a `long` local video is than a `short` one, in seconds.
pub const LONG_EXTRA_SECONDS: u32 = 3;

/// Renders the prompt's text into a short H.264 MP4 on this machine, with
/// no external service. `delay` stands in for a slow provider.
///
/// The recipe decides the frame and the length: `fast` 640x360, `quality`
/// 960x540 (turned upright for 9:16); `short` is `options.seconds`, `long`
/// [`LONG_EXTRA_SECONDS`] more. A remix's photo fills the frame (cropped
/// to it) with the prompt drawn over it. `options` gives the rest (fps,
/// the short length).
#[derive(Debug, Clone, Default)]
pub struct LocalGenerator {
    pub delay: Duration,
    pub options: RenderOptions,
}

impl LocalGenerator {
    /// The frame size of a video of `recipe`.
    pub fn frame(recipe: &Recipe) -> (u32, u32) {
        let (w, h) = match recipe.choices.quality {
            Quality::Fast => (640, 360),
            Quality::Quality => (960, 540),
        };
        if recipe.choices.format.is_portrait() { (h, w) } else { (w, h) }
    }

    /// The length of a video of `recipe`, in seconds.
    pub fn seconds(&self, recipe: &Recipe) -> u32 {
        match recipe.choices.length {
            Length::Short => self.options.seconds,
            Length::Long => self.options.seconds + LONG_EXTRA_SECONDS,
        }
    }
}

impl Generator for LocalGenerator {
    fn generate(&self, request: GenerationRequest) -> BoxFuture<'static, Result<(), GenerateError>> {
        let delay = self.delay;
        let (width, height) = Self::frame(&request.recipe);
        // An extension's new part keeps its own length, in the recipe's frame.
        let seconds = request.extend.as_ref().map_or_else(|| self.seconds(&request.recipe), |part| part.seconds);
        let options = RenderOptions { width, height, seconds, background: None, ..self.options.clone() };
        async move {
            // the script gate: the approver reads the text this will render
            request.gates.pass(request.job, Gate::Script).await?;
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let background = match (&request.recipe.image, &request.image) {
                (None, _) => None,
                (Some(_), Some(photo)) => Some(Arc::new(decode_photo(photo.bytes.clone()).await?)),
                // an extension continues its parent: without the photo it is drawn on the gradient
                (Some(_), None) if request.extend.is_some() => None,
                (Some(_), None) => {
                    return Err(GenerateError::Failed("the remix's photo did not reach the generator".to_owned()));
                }
            };
            let options = RenderOptions { background, ..options };
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

    fn made_with(&self, recipe: &Recipe) -> MadeWith {
        let (width, height) = Self::frame(recipe);
        MadeWith {
            model: "local".to_owned(),
            aspect_ratio: recipe.choices.format.token().to_owned(),
            duration_secs: self.seconds(recipe),
            resolution: format!("{width}x{height}"),
        }
    }
}

/// Decodes a remix's photo off the async threads. A photo that is not a
/// JPEG or PNG, or is broken, can't be made into a video however often it
/// is tried: [`GenerateError::CannotRun`], which tells the user this video
/// can't be made, not that the prompt was refused.
async fn decode_photo(bytes: Arc<Vec<u8>>) -> Result<Picture, GenerateError> {
    tokio::task::spawn_blocking(move || Picture::decode(&bytes))
        .await
        .map_err(|e| GenerateError::Failed(format!("the photo decoder stopped: {e}")))?
        .map_err(|e| GenerateError::CannotRun(format!("the photo can't be used for a video ({e}); send a JPEG or PNG photo")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Choices, Format, GeneratorKind};

    fn recipe(quality: Quality, format: Format, length: Length) -> Recipe {
        Recipe::new(Choices { quality, format, length }, GeneratorKind::Local)
    }

    #[test]
    fn the_recipe_decides_frame_and_length() {
        let local = LocalGenerator::default();
        let fast = recipe(Quality::Fast, Format::Landscape, Length::Short);
        let best = recipe(Quality::Quality, Format::Portrait, Length::Long);
        assert_eq!(LocalGenerator::frame(&fast), (640, 360));
        assert_eq!(LocalGenerator::frame(&best), (540, 960));
        assert_eq!(LocalGenerator::frame(&recipe(Quality::Fast, Format::Portrait, Length::Short)), (360, 640));
        assert_eq!((local.seconds(&fast), local.seconds(&best)), (3, 6));
        let made = local.made_with(&best);
        assert_eq!(
            made,
            MadeWith {
                model: "local".to_owned(),
                aspect_ratio: "9:16".to_owned(),
                duration_secs: 6,
                resolution: "540x960".to_owned()
            }
        );
    }
}
