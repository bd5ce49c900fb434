//! Which generator a deployment runs (`GENERATOR`), built from the
//! settings, and what start-up says about it.

use std::path::PathBuf;
use std::sync::Arc;

use sea_orm::DatabaseConnection;

use super::{ClipMaker, Pipeline, PipelineGenerator};
use crate::config::{GeneratorKind, ProviderSettings, RetryPolicy, VeoAssembly};
use crate::domain::Quality;
use crate::generator::ffmpeg::{self};
use crate::generator::veo::VeoGenerator;
use crate::generator::{Generator, LocalGenerator};
use crate::providers::{Meter, OpenAiClient, RunwayClient, SetupError, VertexClient};

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
                (model, crate::generator::veo_seconds(model, u32::MAX))
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
