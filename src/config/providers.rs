//! Provider settings, read from the environment (see the README's
//! "Real generation" table). API keys become [`Secret`]s at once.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::{ConfigError, Secret, get};

pub use crate::domain::GeneratorKind;
use crate::domain::{Format, Length, Quality};

fn invalid(name: &'static str, reason: String) -> ConfigError {
    ConfigError::Invalid { name, reason }
}

/// An OpenAI-compatible API: chat for the script and prompts, speech for
/// the voice-over, transcription for voice messages.
#[derive(Debug, Clone)]
pub struct OpenAiSettings {
    pub api_key: Option<Secret>,
    /// Without a trailing slash; the client calls `{base}/chat/completions`,
    /// `{base}/audio/speech` and `{base}/audio/transcriptions`.
    pub base_url: String,
    pub chat_model: String,
    pub tts_model: String,
    pub tts_voice: String,
    pub transcribe_model: String,
}

#[derive(Debug, Clone)]
pub struct RunwaySettings {
    pub api_secret: Option<Secret>,
    pub base_url: String,
    pub image_model: String,
    /// The image-to-video model of `quality` videos (`RUNWAY_VIDEO_MODEL`).
    pub video_model: String,
    /// The image-to-video model of `fast` videos (`RUNWAY_VIDEO_MODEL_FAST`).
    pub video_model_fast: String,
    /// `RUNWAY_RATIO` as set: no longer used — each video's format decides
    /// Runway's `ratio` — and warned about at start-up.
    pub ignored_ratio: Option<String>,
}

impl RunwaySettings {
    /// The image-to-video model of `quality`.
    pub fn video_model_for(&self, quality: Quality) -> &str {
        match quality {
            Quality::Fast => &self.video_model_fast,
            Quality::Quality => &self.video_model,
        }
    }
}

#[derive(Debug, Clone)]
pub struct VertexSettings {
    /// From `VERTEX_PROJECT`, else the service account's `project_id`.
    pub project: Option<String>,
    pub location: String,
    pub model: String,
    pub base_url: String,
    pub access_token: Option<Secret>,
    /// A service-account JSON key (`GOOGLE_APPLICATION_CREDENTIALS`).
    pub credentials_file: Option<PathBuf>,
    /// Where `gs://` results are downloaded from.
    pub storage_base_url: String,
    /// The Veo model of `fast` videos (`VERTEX_MODEL_FAST`).
    pub model_fast: String,
    /// `VERTEX_ASPECT_RATIO` as set: no longer used — each video's format
    /// decides `aspectRatio` — and warned about at start-up.
    pub ignored_aspect_ratio: Option<String>,
    /// How `GENERATOR=veo` makes a video (`VEO_ASSEMBLY`).
    pub assembly: VeoAssembly,
}

impl VertexSettings {
    /// The Veo model of `quality` (`model` is the `quality` one).
    pub fn model_for(&self, quality: Quality) -> &str {
        match quality {
            Quality::Fast => &self.model_fast,
            Quality::Quality => &self.model,
        }
    }
}

/// How `GENERATOR=veo` makes a video (`VEO_ASSEMBLY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VeoAssembly {
    /// One Veo call per video, from the prompt (and the photo of a remix).
    #[default]
    Single,
    /// A script, a Veo clip per segment, a voice-over and an ffmpeg
    /// assembly: needs `OPENAI_API_KEY` and ffmpeg.
    Voiceover,
}

/// The shape and pace of a staged generation.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    /// Segments of a `short` video (`PIPELINE_SEGMENTS`).
    pub segments: usize,
    /// Segments of a `long` video (`PIPELINE_SEGMENTS_LONG`), more than `segments`.
    pub segments_long: usize,
    pub segment_seconds: u32,
    /// Segments worked on at once.
    pub parallelism: usize,
    pub poll_interval: Duration,
    /// Longest a provider task may run, counted from its submission.
    pub task_timeout: Duration,
    /// Longest one HTTP request may take (downloads: four times this).
    pub http_timeout: Duration,
    pub width: u32,
    pub height: u32,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        Self {
            segments: 10,
            segments_long: 20,
            segment_seconds: 5,
            parallelism: 3,
            poll_interval: Duration::from_millis(5000),
            task_timeout: Duration::from_secs(300),
            http_timeout: Duration::from_secs(120),
            width: 1280,
            height: 720,
        }
    }
}

/// Most segments a long video may have (`PIPELINE_SEGMENTS_LONG`).
pub const MAX_SEGMENTS_LONG: usize = 200;

impl PipelineSettings {
    /// Segments of a video of `length`.
    pub fn segments_for(&self, length: Length) -> usize {
        match length {
            Length::Short => self.segments,
            Length::Long => self.segments_long,
        }
    }

    /// The assembled frame size for `format` (`PIPELINE_VIDEO_SIZE` with its
    /// longer side across for 16:9 and upright for 9:16).
    pub fn size_for(&self, format: Format) -> (u32, u32) {
        let (long, short) = (self.width.max(self.height), self.width.min(self.height));
        if format.is_portrait() { (short, long) } else { (long, short) }
    }
}

/// Every billable operation, as `(provider, operation)`; its price is
/// `PRICE_PER_CALL_<PROVIDER>_<OPERATION>`, else `PRICE_PER_CALL_<PROVIDER>`,
/// in dollars (e.g. `0.25`), default 0.
pub const OPERATIONS: [(&str, &str); 6] = [
    ("openai", "chat"),
    ("openai", "speech"),
    ("openai", "transcription"),
    ("runway", "text_to_image"),
    ("runway", "image_to_video"),
    ("vertex", "veo"),
];

/// Configured prices per call, in millionths of a dollar.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prices {
    micros: HashMap<(String, String), i64>,
}

impl Prices {
    pub fn per_call(&self, provider: &str, operation: &str) -> i64 {
        self.micros.get(&(provider.to_owned(), operation.to_owned())).copied().unwrap_or(0)
    }

    pub fn set(&mut self, provider: &str, operation: &str, micros: i64) {
        self.micros.insert((provider.to_owned(), operation.to_owned()), micros);
    }
}

/// Every provider setting. Keys are optional here; the generator that is
/// built from them says which it needs.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub generator: GeneratorKind,
    pub openai: OpenAiSettings,
    pub runway: RunwaySettings,
    pub vertex: VertexSettings,
    pub pipeline: PipelineSettings,
    pub prices: Prices,
}

fn url(lookup: &dyn Fn(&str) -> Option<String>, name: &'static str, default: String) -> Result<String, ConfigError> {
    let value = get(lookup, name).unwrap_or(default);
    if !(value.starts_with("http://") || value.starts_with("https://")) {
        return Err(invalid(name, format!("`{value}` is not an http(s) URL")));
    }
    Ok(value.trim_end_matches('/').to_owned())
}

fn number<T: FromStr + PartialOrd + fmt::Display>(
    lookup: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
    min: T,
    max: T,
) -> Result<T, ConfigError>
where
    T::Err: fmt::Display,
{
    let Some(raw) = get(lookup, name) else { return Ok(default) };
    let value: T = raw.parse().map_err(|e| invalid(name, format!("`{raw}`: {e}")))?;
    if value < min || value > max {
        return Err(invalid(name, format!("{value} is not between {min} and {max}")));
    }
    Ok(value)
}

/// `0.25` (dollars) → 250000 micro-dollars.
fn price(lookup: &dyn Fn(&str) -> Option<String>, name: &str) -> Result<Option<i64>, ConfigError> {
    let Some(raw) = get(lookup, name) else { return Ok(None) };
    let dollars: f64 =
        raw.trim_start_matches('$').parse().map_err(|e| invalid("PRICE_PER_CALL_*", format!("{name}: `{raw}`: {e}")))?;
    if !dollars.is_finite() || !(0.0..=1_000_000.0).contains(&dollars) {
        return Err(invalid("PRICE_PER_CALL_*", format!("{name}: `{raw}` is not a price in dollars")));
    }
    Ok(Some((dollars * 1_000_000.0).round() as i64))
}

fn size(lookup: &dyn Fn(&str) -> Option<String>) -> Result<(u32, u32), ConfigError> {
    let Some(raw) = get(lookup, "PIPELINE_VIDEO_SIZE") else { return Ok((1280, 720)) };
    let parsed =
        raw.split_once(['x', 'X']).and_then(|(w, h)| Some((w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?)));
    match parsed {
        // H.264 in 4:2:0 needs even sizes
        Some((w, h)) if (16..=3840).contains(&w) && (16..=3840).contains(&h) && w % 2 == 0 && h % 2 == 0 => Ok((w, h)),
        _ => Err(invalid("PIPELINE_VIDEO_SIZE", format!("`{raw}`; use WIDTHxHEIGHT with even numbers, e.g. 1280x720"))),
    }
}

impl ProviderSettings {
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| get(lookup, name);
        let generator = match var("GENERATOR") {
            None => GeneratorKind::Local,
            Some(raw) => {
                raw.parse().map_err(|_| invalid("GENERATOR", format!("`{}`; use local, pipeline or veo", raw.trim())))?
            }
        };
        let openai = OpenAiSettings {
            api_key: var("OPENAI_API_KEY").map(Secret::new),
            base_url: url(lookup, "OPENAI_BASE_URL", "https://api.openai.com/v1".to_owned())?,
            chat_model: var("OPENAI_CHAT_MODEL").unwrap_or_else(|| "gpt-4o-mini".to_owned()),
            tts_model: var("OPENAI_TTS_MODEL").unwrap_or_else(|| "gpt-4o-mini-tts".to_owned()),
            tts_voice: var("OPENAI_TTS_VOICE").unwrap_or_else(|| "alloy".to_owned()),
            transcribe_model: var("OPENAI_TRANSCRIBE_MODEL").unwrap_or_else(|| "gpt-4o-mini-transcribe".to_owned()),
        };
        let runway = RunwaySettings {
            api_secret: var("RUNWAYML_API_SECRET").map(Secret::new),
            base_url: url(lookup, "RUNWAYML_BASE_URL", "https://api.dev.runwayml.com".to_owned())?,
            image_model: var("RUNWAY_IMAGE_MODEL").unwrap_or_else(|| "gen4_image".to_owned()),
            video_model: var("RUNWAY_VIDEO_MODEL").unwrap_or_else(|| "gen4_turbo".to_owned()),
            video_model_fast: var("RUNWAY_VIDEO_MODEL_FAST").unwrap_or_else(|| "gen4_turbo".to_owned()),
            ignored_ratio: var("RUNWAY_RATIO"),
        };
        let location = var("VERTEX_LOCATION").unwrap_or_else(|| "us-central1".to_owned());
        if !location.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(invalid("VERTEX_LOCATION", format!("`{location}`")));
        }
        let vertex = VertexSettings {
            project: var("VERTEX_PROJECT"),
            base_url: url(lookup, "VERTEX_BASE_URL", format!("https://{location}-aiplatform.googleapis.com"))?,
            location,
            model: var("VERTEX_MODEL").unwrap_or_else(|| "veo-3.0-generate-001".to_owned()),
            access_token: var("VERTEX_ACCESS_TOKEN").map(Secret::new),
            credentials_file: var("GOOGLE_APPLICATION_CREDENTIALS").map(PathBuf::from),
            storage_base_url: url(lookup, "VERTEX_STORAGE_BASE_URL", "https://storage.googleapis.com".to_owned())?,
            model_fast: var("VERTEX_MODEL_FAST").unwrap_or_else(|| "veo-3.0-fast-generate-001".to_owned()),
            ignored_aspect_ratio: var("VERTEX_ASPECT_RATIO"),
            assembly: match var("VEO_ASSEMBLY").map(|raw| raw.trim().to_ascii_lowercase()) {
                None => VeoAssembly::Single,
                Some(raw) if raw == "single" => VeoAssembly::Single,
                Some(raw) if raw == "voiceover" || raw == "voice-over" => VeoAssembly::Voiceover,
                Some(raw) => return Err(invalid("VEO_ASSEMBLY", format!("`{raw}`; use single or voiceover"))),
            },
        };
        let (width, height) = size(lookup)?;
        let segments: usize = number(lookup, "PIPELINE_SEGMENTS", 10, 1, 100)?;
        let segments_long =
            number(lookup, "PIPELINE_SEGMENTS_LONG", (segments * 2).min(MAX_SEGMENTS_LONG), 2, MAX_SEGMENTS_LONG)?;
        if segments_long <= segments {
            return Err(invalid(
                "PIPELINE_SEGMENTS_LONG",
                format!("{segments_long} is not more than PIPELINE_SEGMENTS={segments}: a long video must have more segments"),
            ));
        }
        let pipeline = PipelineSettings {
            segments,
            segments_long,
            segment_seconds: number(lookup, "SEGMENT_SECONDS", 5, 1, 60)?,
            parallelism: number(lookup, "PIPELINE_PARALLELISM", 3, 1, 64)?,
            poll_interval: Duration::from_millis(number(lookup, "PROVIDER_POLL_INTERVAL_MS", 5000, 1, 600_000)?),
            task_timeout: Duration::from_secs(number(lookup, "PROVIDER_TASK_TIMEOUT_S", 300, 1, 86_400)?),
            http_timeout: Duration::from_secs(number(lookup, "PROVIDER_HTTP_TIMEOUT_S", 120, 1, 3600)?),
            width,
            height,
        };
        let mut prices = Prices::default();
        for (provider, operation) in OPERATIONS {
            let specific = format!("PRICE_PER_CALL_{}_{}", provider.to_uppercase(), operation.to_uppercase());
            let general = format!("PRICE_PER_CALL_{}", provider.to_uppercase());
            if let Some(micros) = price(lookup, &specific)?.or(price(lookup, &general)?) {
                prices.set(provider, operation, micros);
            }
        }
        Ok(Self { generator, openai, runway, vertex, pipeline, prices })
    }

    /// What start-up should warn about in these settings: variables that
    /// are set but no longer used.
    pub fn ignored_notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some(ratio) = &self.runway.ignored_ratio {
            notes.push(format!(
                "RUNWAY_RATIO={ratio} is ignored: each video's format (16:9 or 9:16, the user's choice) decides Runway's ratio \
                 (clips 1280:720 or 720:1280, images 1920:1080 or 1080:1920); remove the variable"
            ));
        }
        if let Some(ratio) = &self.vertex.ignored_aspect_ratio {
            notes.push(format!(
                "VERTEX_ASPECT_RATIO={ratio} is ignored: each video's format (16:9 or 9:16, the user's choice) decides Veo's \
                 aspectRatio; remove the variable"
            ));
        }
        notes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<ProviderSettings, String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        ProviderSettings::from_lookup(&move |name| map.get(name).cloned()).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults() {
        let s = from(&[]).expect("defaults are valid");
        assert_eq!(s.generator, GeneratorKind::Local);
        assert_eq!(s.openai.base_url, "https://api.openai.com/v1");
        assert_eq!(s.runway.base_url, "https://api.dev.runwayml.com");
        assert_eq!(s.vertex.base_url, "https://us-central1-aiplatform.googleapis.com");
        assert_eq!((s.pipeline.segments, s.pipeline.segment_seconds, s.pipeline.parallelism), (10, 5, 3));
        assert_eq!(s.pipeline.poll_interval, Duration::from_secs(5));
        assert_eq!(s.pipeline.task_timeout, Duration::from_secs(300));
        assert!(s.openai.api_key.is_none());
        assert_eq!(s.prices.per_call("runway", "image_to_video"), 0);
        assert_eq!((s.runway.video_model_fast.as_str(), s.runway.video_model.as_str()), ("gen4_turbo", "gen4_turbo"));
        assert_eq!(
            (s.vertex.model_fast.as_str(), s.vertex.model.as_str()),
            ("veo-3.0-fast-generate-001", "veo-3.0-generate-001")
        );
        assert_eq!(s.vertex.model_for(Quality::Fast), "veo-3.0-fast-generate-001");
        assert_eq!(s.vertex.model_for(Quality::Quality), "veo-3.0-generate-001");
        assert_eq!(s.vertex.assembly, VeoAssembly::Single);
        assert_eq!(s.pipeline.segments_long, 20, "twice PIPELINE_SEGMENTS");
        assert_eq!(s.pipeline.segments_for(Length::Long), 20);
        assert_eq!(s.pipeline.size_for(Format::Portrait), (720, 1280));
        assert_eq!(s.pipeline.size_for(Format::Landscape), (1280, 720));
        assert!(s.ignored_notes().is_empty());
    }

    #[test]
    fn recipe_variables() {
        let s = from(&[
            ("RUNWAY_VIDEO_MODEL_FAST", "gen4.5"),
            ("RUNWAY_VIDEO_MODEL", "veo3.1"),
            ("VERTEX_MODEL_FAST", "veo-2.0-generate-001"),
            ("VEO_ASSEMBLY", "Voiceover"),
            ("PIPELINE_SEGMENTS", "3"),
            ("PIPELINE_VIDEO_SIZE", "180x320"),
        ])
        .expect("valid");
        assert_eq!(s.runway.video_model_for(Quality::Fast), "gen4.5");
        assert_eq!(s.runway.video_model_for(Quality::Quality), "veo3.1");
        assert_eq!(s.vertex.model_for(Quality::Fast), "veo-2.0-generate-001");
        assert_eq!(s.vertex.assembly, VeoAssembly::Voiceover);
        assert_eq!((s.pipeline.segments_for(Length::Short), s.pipeline.segments_for(Length::Long)), (3, 6));
        assert_eq!(s.pipeline.size_for(Format::Landscape), (320, 180), "a portrait size is turned for 16:9");
        assert_eq!(s.pipeline.size_for(Format::Portrait), (180, 320));
        let s = from(&[("PIPELINE_SEGMENTS", "100")]).expect("valid");
        assert_eq!(s.pipeline.segments_long, 200, "capped at {MAX_SEGMENTS_LONG}");
        let s = from(&[("PIPELINE_SEGMENTS", "2"), ("PIPELINE_SEGMENTS_LONG", "5")]).expect("valid");
        assert_eq!(s.pipeline.segments_long, 5);
        let err = from(&[("PIPELINE_SEGMENTS", "4"), ("PIPELINE_SEGMENTS_LONG", "4")]).unwrap_err();
        assert!(err.contains("PIPELINE_SEGMENTS_LONG") && err.contains("not more than"), "{err}");
        assert!(from(&[("PIPELINE_SEGMENTS_LONG", "201")]).unwrap_err().contains("PIPELINE_SEGMENTS_LONG"));
        assert!(from(&[("VEO_ASSEMBLY", "multi")]).unwrap_err().contains("VEO_ASSEMBLY"));
        // the format decides now: the old variables are accepted, and warned about
        let s = from(&[("RUNWAY_RATIO", "1024:1024"), ("VERTEX_ASPECT_RATIO", "1:1")]).expect("accepted");
        let notes = s.ignored_notes();
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].starts_with("RUNWAY_RATIO=1024:1024 is ignored"), "{notes:?}");
        assert!(notes[1].starts_with("VERTEX_ASPECT_RATIO=1:1 is ignored"), "{notes:?}");
    }

    #[test]
    fn reads_every_name() {
        let s = from(&[
            ("GENERATOR", "Pipeline"),
            ("OPENAI_API_KEY", "sk-1"),
            ("OPENAI_BASE_URL", "http://127.0.0.1:9/v1/"),
            ("VERTEX_LOCATION", "europe-west4"),
            ("PIPELINE_SEGMENTS", "4"),
            ("SEGMENT_SECONDS", "2"),
            ("PIPELINE_PARALLELISM", "2"),
            ("PROVIDER_POLL_INTERVAL_MS", "10"),
            ("PROVIDER_TASK_TIMEOUT_S", "7"),
            ("PIPELINE_VIDEO_SIZE", "320x180"),
            ("PRICE_PER_CALL_RUNWAY", "0.5"),
            ("PRICE_PER_CALL_RUNWAY_IMAGE_TO_VIDEO", "$1.25"),
        ])
        .expect("valid");
        assert_eq!(s.generator, GeneratorKind::Pipeline);
        assert_eq!(s.openai.base_url, "http://127.0.0.1:9/v1");
        assert_eq!(s.vertex.base_url, "https://europe-west4-aiplatform.googleapis.com");
        assert_eq!(s.pipeline.segments, 4);
        assert_eq!(s.pipeline.poll_interval, Duration::from_millis(10));
        assert_eq!((s.pipeline.width, s.pipeline.height), (320, 180));
        assert_eq!(s.prices.per_call("runway", "text_to_image"), 500_000);
        assert_eq!(s.prices.per_call("runway", "image_to_video"), 1_250_000);
        assert!(!format!("{s:?}").contains("sk-1"), "the key must not appear in Debug output");
    }

    #[test]
    fn rejects_bad_values() {
        assert!(from(&[("GENERATOR", "sora")]).unwrap_err().contains("GENERATOR"));
        assert!(from(&[("PIPELINE_SEGMENTS", "0")]).unwrap_err().contains("PIPELINE_SEGMENTS"));
        assert!(from(&[("RUNWAYML_BASE_URL", "ftp://x")]).unwrap_err().contains("RUNWAYML_BASE_URL"));
        assert!(from(&[("PIPELINE_VIDEO_SIZE", "321x180")]).is_err());
        assert!(from(&[("PRICE_PER_CALL_OPENAI", "-1")]).is_err());
    }
}
