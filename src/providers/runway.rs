//! Runway's API: text-to-image and image-to-video tasks, polled until they
//! end, results downloaded from the URLs they name.
//!
//! A submit creates (and bills) a task, so it is sent again only when it
//! certainly did not arrive (see [`Replay::Submit`]); polls are retried.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::http::{Http, ProviderError, Replay, RetryPolicy, Secret, SetupError};
use crate::config::RunwaySettings;
use crate::domain::{Format, Quality};

/// The API version this client speaks (`X-Runway-Version`).
pub const API_VERSION: &str = "2024-11-06";

/// The longest `promptText` Runway accepts, in UTF-16 code units (the
/// SDK's "up to 1000 characters (measured in UTF-16 code units)").
pub const MAX_PROMPT_UNITS: usize = 1000;

/// The clip lengths an image-to-video model takes, in whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durations {
    /// Every whole second from the first to the second.
    Range(u32, u32),
    /// Only these, in ascending order.
    Only(&'static [u32]),
}

impl Durations {
    pub fn allows(self, seconds: u32) -> bool {
        match self {
            Self::Range(min, max) => (min..=max).contains(&seconds),
            Self::Only(set) => set.contains(&seconds),
        }
    }

    /// The longest clip the model makes.
    pub fn max(self) -> u32 {
        match self {
            Self::Range(_, max) => max,
            Self::Only(set) => set.last().copied().unwrap_or(0),
        }
    }

    /// The shortest allowed length of at least `wanted` seconds, else the
    /// longest allowed: the clip is then cut (or its last frame held) to
    /// `wanted` by the assembly.
    pub fn fit(self, wanted: u32) -> u32 {
        match self {
            Self::Range(min, max) => wanted.clamp(min, max),
            Self::Only(set) => set.iter().copied().find(|s| *s >= wanted).unwrap_or_else(|| self.max()),
        }
    }
}

impl std::fmt::Display for Durations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Range(min, max) => write!(f, "{min}–{max} s"),
            Self::Only(set) => {
                let list: Vec<String> = set.iter().map(u32::to_string).collect();
                write!(f, "{} s", list.join(", "))
            }
        }
    }
}

/// One model of `POST /v1/image_to_video` as Runway's SDK types describe
/// it (runwayml/sdk-node `src/resources/image-to-video.ts`,
/// sdk-python `types/image_to_video_create_params.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoModel {
    pub name: &'static str,
    pub durations: Durations,
    pub ratios: &'static [&'static str],
}

const GEN4_VIDEO_RATIOS: &[&str] = &["1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672"];
const VEO_VIDEO_RATIOS: &[&str] = &["1280:720", "720:1280", "1080:1920", "1920:1080"];

/// The image-to-video models this client speaks. `gen4_turbo`'s 2–10 s is
/// from the SDK of 2025-10 ("gen4_turbo must specify a duration of 2-10
/// seconds"); the newer types say only "a number". Models whose lengths the
/// SDK leaves open (`seedance2*`, `happyhorse_1_0`) are not offered.
pub const VIDEO_MODELS: &[VideoModel] = &[
    VideoModel { name: "gen4_turbo", durations: Durations::Range(2, 10), ratios: GEN4_VIDEO_RATIOS },
    VideoModel { name: "gen4.5", durations: Durations::Range(2, 10), ratios: GEN4_VIDEO_RATIOS },
    VideoModel { name: "veo3.1", durations: Durations::Only(&[4, 6, 8]), ratios: VEO_VIDEO_RATIOS },
    VideoModel { name: "veo3.1_fast", durations: Durations::Only(&[4, 6, 8]), ratios: VEO_VIDEO_RATIOS },
    VideoModel { name: "veo3", durations: Durations::Only(&[8]), ratios: VEO_VIDEO_RATIOS },
    VideoModel { name: "gemini_omni_flash", durations: Durations::Range(3, 10), ratios: &["1280:720", "720:1280"] },
];

/// One model of `POST /v1/text_to_image` that makes an image from text
/// alone (`gen4_image_turbo` needs reference images: not offered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageModel {
    pub name: &'static str,
    pub ratios: &'static [&'static str],
}

pub const IMAGE_MODELS: &[ImageModel] = &[ImageModel {
    name: "gen4_image",
    ratios: &[
        "1024:1024",
        "1080:1080",
        "1168:880",
        "1360:768",
        "1440:1080",
        "1080:1440",
        "1808:768",
        "1920:1080",
        "1080:1920",
        "2112:912",
        "1280:720",
        "720:1280",
        "720:720",
        "960:720",
        "720:960",
        "1680:720",
    ],
}];

pub fn video_model(name: &str) -> Option<&'static VideoModel> {
    VIDEO_MODELS.iter().find(|m| m.name == name)
}

pub fn image_model(name: &str) -> Option<&'static ImageModel> {
    IMAGE_MODELS.iter().find(|m| m.name == name)
}

/// The image-to-video `ratio` of a video's format: `1280:720` or
/// `720:1280`, which every model of [`VIDEO_MODELS`] takes.
pub fn video_ratio(format: Format) -> &'static str {
    if format.is_portrait() { "720:1280" } else { "1280:720" }
}

/// The text-to-image `ratio` of a video's format: `1920:1080` or
/// `1080:1920` (`gen4_image`'s 1080p sizes).
pub fn image_ratio(format: Format) -> &'static str {
    if format.is_portrait() { "1080:1920" } else { "1920:1080" }
}

/// Why the Runway settings name something the API would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunwayConfigError {
    #[error("{var}=`{value}` is not an image-to-video model vidcache can use; use one of {models}", models = names(VIDEO_MODELS.iter().map(|m| m.name)))]
    VideoModel { var: &'static str, value: String },
    #[error("RUNWAY_IMAGE_MODEL=`{0}` is not a text-to-image model vidcache can use; use one of {models}", models = names(IMAGE_MODELS.iter().map(|m| m.name)))]
    ImageModel(String),
}

fn names(names: impl Iterator<Item = &'static str>) -> String {
    names.collect::<Vec<_>>().join(", ")
}

/// The models Runway's settings name, checked against what the API takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunwayModels {
    pub image: &'static ImageModel,
    /// `fast` videos' (`RUNWAY_VIDEO_MODEL_FAST`).
    pub video_fast: &'static VideoModel,
    /// `quality` videos' (`RUNWAY_VIDEO_MODEL`).
    pub video: &'static VideoModel,
}

impl RunwayModels {
    pub fn video_for(&self, quality: Quality) -> &'static VideoModel {
        match quality {
            Quality::Fast => self.video_fast,
            Quality::Quality => self.video,
        }
    }
}

/// The models of `settings`, checked against what the API takes (the
/// ratios come from each video's format and every model takes them).
pub fn check_settings(settings: &RunwaySettings) -> Result<RunwayModels, RunwayConfigError> {
    let video_of = |var: &'static str, name: &str| {
        video_model(name).ok_or_else(|| RunwayConfigError::VideoModel { var, value: name.to_owned() })
    };
    let video = video_of("RUNWAY_VIDEO_MODEL", &settings.video_model)?;
    let video_fast = video_of("RUNWAY_VIDEO_MODEL_FAST", &settings.video_model_fast)?;
    let image = image_model(&settings.image_model).ok_or_else(|| RunwayConfigError::ImageModel(settings.image_model.clone()))?;
    Ok(RunwayModels { image, video_fast, video })
}

#[derive(Debug, Clone)]
pub struct RunwayClient {
    http: Http,
    secret: Secret,
    settings: RunwaySettings,
    models: RunwayModels,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TextToImage<'a> {
    model: &'a str,
    prompt_text: &'a str,
    ratio: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ImageToVideo<'a> {
    model: &'a str,
    /// An HTTPS URL or a `data:` URI.
    prompt_image: &'a str,
    prompt_text: &'a str,
    ratio: &'a str,
    duration: u32,
}

#[derive(Debug, Deserialize)]
struct Created {
    id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    Pending,
    Throttled,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    #[serde(other)]
    Unknown,
}

/// `GET /v1/tasks/{id}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub id: String,
    pub status: TaskStatus,
    #[serde(default)]
    pub output: Vec<String>,
    #[serde(default)]
    pub failure: Option<String>,
    #[serde(default)]
    pub failure_code: Option<String>,
    #[serde(default)]
    pub progress: Option<f64>,
}

/// Cuts `text` to at most `max` UTF-16 code units, at a character boundary.
pub fn clip_utf16(text: &str, max: usize) -> &str {
    let mut units = 0;
    for (at, c) in text.char_indices() {
        units += c.len_utf16();
        if units > max {
            return &text[..at];
        }
    }
    text
}

/// A `promptText` Runway takes: non-empty (a blank prompt becomes a
/// neutral one) and at most [`MAX_PROMPT_UNITS`] UTF-16 code units.
fn prompt_text(prompt: &str) -> &str {
    let prompt = clip_utf16(prompt.trim(), MAX_PROMPT_UNITS);
    if prompt.is_empty() { "A gently moving cinematic shot." } else { prompt }
}

impl RunwayClient {
    /// A client for `settings`; fails without `RUNWAYML_API_SECRET`, and
    /// when the models are ones the API would refuse.
    pub fn new(settings: &RunwaySettings, timeout: Duration, retry: RetryPolicy) -> Result<Self, SetupError> {
        let secret = settings.api_secret.clone().ok_or(SetupError::Missing("RUNWAYML_API_SECRET is not set"))?;
        let models = check_settings(settings).map_err(|e| SetupError::Unsupported(e.to_string()))?;
        let http = Http::new(timeout, retry, vec![secret.clone()])?;
        Ok(Self { http, secret, settings: settings.clone(), models })
    }

    /// The image-to-video model of `quality` videos.
    pub fn video_model(&self, quality: Quality) -> &'static VideoModel {
        self.models.video_for(quality)
    }

    /// The clip length to ask `quality`'s model for so that a clip covers
    /// `wanted` seconds: the shortest the model takes that is at least as
    /// long, else its longest.
    pub fn clip_seconds(&self, quality: Quality, wanted: u32) -> u32 {
        self.video_model(quality).durations.fit(wanted)
    }

    fn api(&self, client: &reqwest::Client, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        client
            .request(method, format!("{}/v1/{path}", self.settings.base_url))
            .bearer_auth(self.secret.expose())
            .header("X-Runway-Version", API_VERSION)
    }

    async fn submit(&self, what: &str, path: &str, body: &impl Serialize) -> Result<String, ProviderError> {
        let created: Created =
            self.http.json(what, Replay::Submit, |c| self.api(c, reqwest::Method::POST, path).json(body)).await?;
        check_id(what, &created.id)?;
        Ok(created.id)
    }

    /// Starts a text-to-image task for an image of `format`; returns its id.
    pub async fn text_to_image(&self, prompt: &str, format: Format) -> Result<String, ProviderError> {
        let body =
            TextToImage { model: &self.settings.image_model, prompt_text: prompt_text(prompt), ratio: image_ratio(format) };
        self.submit("runway text_to_image", "text_to_image", &body).await
    }

    /// Starts an image-to-video task with `quality`'s model for a clip of
    /// `format` from `image` (an HTTPS URL or a `data:` URI) of at least
    /// `seconds` where the model can (see [`clip_seconds`](Self::clip_seconds));
    /// returns its id.
    pub async fn image_to_video(
        &self,
        quality: Quality,
        format: Format,
        image: &str,
        prompt: &str,
        seconds: u32,
    ) -> Result<String, ProviderError> {
        let body = ImageToVideo {
            model: self.video_model(quality).name,
            prompt_image: image,
            prompt_text: prompt_text(prompt),
            ratio: video_ratio(format),
            duration: self.clip_seconds(quality, seconds),
        };
        self.submit("runway image_to_video", "image_to_video", &body).await
    }

    /// The task's current state (retried as a read).
    pub async fn task(&self, id: &str) -> Result<Task, ProviderError> {
        const WHAT: &str = "runway task";
        check_id(WHAT, id)?;
        let path = format!("tasks/{id}");
        self.http.json(WHAT, Replay::Idempotent, |c| self.api(c, reqwest::Method::GET, &path)).await
    }

    /// Polls the task every `every` until it ends or `deadline` passes;
    /// returns its output URLs. A failure code about safety is a refusal.
    pub async fn wait(
        &self,
        what: &str,
        id: &str,
        every: Duration,
        deadline: tokio::time::Instant,
        limit: Duration,
    ) -> Result<Vec<String>, ProviderError> {
        loop {
            let task = self.task(id).await?;
            match task.status {
                TaskStatus::Succeeded if task.output.is_empty() => {
                    return Err(ProviderError::decode(what, "the task succeeded without an output"));
                }
                TaskStatus::Succeeded => return Ok(task.output),
                TaskStatus::Failed => {
                    let code = task.failure_code.unwrap_or_default();
                    let reason = match task.failure {
                        Some(text) if !code.is_empty() => format!("{} ({code})", self.http.scrub(&text)),
                        Some(text) => self.http.scrub(&text),
                        None if !code.is_empty() => code.clone(),
                        None => "no reason given".to_owned(),
                    };
                    return Err(if code.contains("SAFETY") {
                        ProviderError::Refused { what: what.to_owned(), reason }
                    } else {
                        ProviderError::TaskFailed { what: what.to_owned(), reason }
                    });
                }
                TaskStatus::Cancelled => {
                    return Err(ProviderError::TaskFailed { what: what.to_owned(), reason: "the task was cancelled".to_owned() });
                }
                TaskStatus::Pending | TaskStatus::Throttled | TaskStatus::Running | TaskStatus::Unknown => {}
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(ProviderError::TimedOut { what: what.to_owned(), seconds: limit.as_secs() });
            }
            tokio::time::sleep(every.min(deadline - now)).await;
        }
    }

    /// Cancels (or deletes) a task; best effort, for abandoned tasks.
    pub async fn cancel(&self, id: &str) -> Result<(), ProviderError> {
        const WHAT: &str = "runway cancel";
        check_id(WHAT, id)?;
        let path = format!("tasks/{id}");
        self.http.send(WHAT, Replay::Idempotent, |c| self.api(c, reqwest::Method::DELETE, &path)).await?;
        Ok(())
    }

    /// Downloads a task output. The URL is signed: no API key is sent to it.
    pub async fn download(&self, what: &str, url: &str, path: &Path) -> Result<u64, ProviderError> {
        self.http.download(what, url, None, path).await
    }
}

/// Task ids go into URL paths: accept only what Runway's UUIDs are made of.
fn check_id(what: &str, id: &str) -> Result<(), ProviderError> {
    let ok = !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok { Ok(()) } else { Err(ProviderError::decode(what, "the task id is not a plain identifier")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_answers_parse() {
        let task: Task = serde_json::from_str(
            r#"{"id":"a-1","status":"FAILED","createdAt":"2024-01-01T00:00:00Z","failure":"Prompt rejected","failureCode":"SAFETY.INPUT.TEXT"}"#,
        )
        .expect("parses");
        assert_eq!(task.status, TaskStatus::Failed);
        assert_eq!(task.failure_code.as_deref(), Some("SAFETY.INPUT.TEXT"));
        let task: Task = serde_json::from_str(r#"{"id":"a-1","status":"SOMETHING_NEW"}"#).expect("parses");
        assert_eq!(task.status, TaskStatus::Unknown);
    }

    #[test]
    fn ids_and_prompts_are_checked() {
        assert!(check_id("t", "17f20503-6c24-4c16-946b-35dbbce2af2f").is_ok());
        assert!(check_id("t", "../secrets").is_err());
        assert_eq!(clip_utf16("héllo", 2), "hé");
        // an emoji is two UTF-16 units: it does not fit in the one left
        assert_eq!(clip_utf16("ab😀", 3), "ab");
        assert_eq!(clip_utf16("ab😀", 4), "ab😀");
        let long = "😀".repeat(600);
        assert_eq!(prompt_text(&long).encode_utf16().count(), 1000);
        assert_eq!(prompt_text("   "), "A gently moving cinematic shot.");
    }

    #[test]
    fn durations_fit_each_model() {
        let turbo = video_model("gen4_turbo").expect("known");
        assert_eq!(turbo.durations.fit(1), 2, "below the shortest: the shortest");
        assert_eq!(turbo.durations.fit(5), 5);
        assert_eq!(turbo.durations.fit(60), 10, "above the longest: the longest");
        let veo = video_model("veo3.1").expect("known");
        assert_eq!(veo.durations.fit(1), 4);
        assert_eq!(veo.durations.fit(5), 6);
        assert_eq!(veo.durations.fit(9), 8);
        assert_eq!(video_model("veo3").expect("known").durations.fit(2), 8);
        for model in VIDEO_MODELS {
            for wanted in 1..=60 {
                let got = model.durations.fit(wanted);
                assert!(model.durations.allows(got), "{} asked {wanted} got {got}", model.name);
                assert!(got >= wanted || got == model.durations.max(), "{} asked {wanted} got {got}", model.name);
            }
        }
    }

    fn settings(image: &str, fast: &str, video: &str) -> RunwaySettings {
        RunwaySettings {
            api_secret: None,
            base_url: "http://x".to_owned(),
            image_model: image.to_owned(),
            video_model: video.to_owned(),
            video_model_fast: fast.to_owned(),
            ignored_ratio: None,
        }
    }

    #[test]
    fn settings_the_api_refuses_are_named() {
        let models = check_settings(&settings("gen4_image", "gen4_turbo", "veo3.1")).expect("valid");
        assert_eq!((models.video_for(Quality::Fast).name, models.video_for(Quality::Quality).name), ("gen4_turbo", "veo3.1"));
        let err = check_settings(&settings("gen4_image", "gen4_turbo", "gen3a_turbo")).unwrap_err().to_string();
        assert!(err.contains("RUNWAY_VIDEO_MODEL=`gen3a_turbo`") && err.contains("gen4_turbo"), "{err}");
        let err = check_settings(&settings("gen4_image", "gen3a_turbo", "gen4_turbo")).unwrap_err().to_string();
        assert!(err.contains("RUNWAY_VIDEO_MODEL_FAST=`gen3a_turbo`"), "{err}");
        let err = check_settings(&settings("gen4_image_turbo", "gen4_turbo", "gen4_turbo")).unwrap_err().to_string();
        assert!(err.contains("RUNWAY_IMAGE_MODEL"), "{err}");
    }

    /// Every model takes both formats' ratios (the SDK's literals).
    #[test]
    fn every_model_takes_both_formats() {
        for format in [Format::Landscape, Format::Portrait] {
            for model in VIDEO_MODELS {
                assert!(model.ratios.contains(&video_ratio(format)), "{} {format}", model.name);
            }
            for model in IMAGE_MODELS {
                assert!(model.ratios.contains(&image_ratio(format)), "{} {format}", model.name);
            }
        }
        assert_eq!((video_ratio(Format::Portrait), image_ratio(Format::Portrait)), ("720:1280", "1080:1920"));
        assert_eq!((video_ratio(Format::Landscape), image_ratio(Format::Landscape)), ("1280:720", "1920:1080"));
    }
}
