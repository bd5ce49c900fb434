//! Google Vertex AI Veo: `predictLongRunning` starts a text-to-video
//! operation, `fetchPredictOperation` polls it until `done`; the video
//! comes inline (`bytesBase64Encoded`) or as a `gs://` object.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::google_auth::{ServiceAccount, TokenSource};
use super::http::{Http, ProviderError, Replay, RetryPolicy, Secret, SetupError};
use crate::config::VertexSettings;
use crate::domain::{Format, Quality};

const SUBMIT: &str = "vertex veo";
const POLL: &str = "vertex operation";

#[derive(Debug)]
pub struct VertexClient {
    http: Http,
    auth: TokenSource,
    project: String,
    settings: VertexSettings,
}

#[derive(Debug, Serialize)]
struct PredictRequest<'a> {
    instances: [Instance<'a>; 1],
    parameters: Parameters<'a>,
}

#[derive(Debug, Serialize)]
struct Instance<'a> {
    prompt: &'a str,
    /// The first frame (image-to-video): a remix's photo.
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<InlineMedia>,
    /// The video to extend (Veo 3.1 models).
    #[serde(skip_serializing_if = "Option::is_none")]
    video: Option<InlineMedia>,
}

/// The `mimeType` of a JPEG or PNG, told by its signature: the only image
/// types Veo's `instances[].image` takes.
pub fn image_mime(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\xFF\xD8\xFF") {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else {
        None
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct InlineMedia {
    bytes_base64_encoded: String,
    mime_type: &'static str,
}

/// Seconds Veo adds when it extends a video.
pub const VEO_EXTENSION_SECONDS: u32 = 7;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Parameters<'a> {
    aspect_ratio: &'a str,
    duration_seconds: u32,
    sample_count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    generate_audio: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct Started {
    name: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct FetchRequest<'a> {
    operation_name: &'a str,
}

/// A long-running operation as `fetchPredictOperation` answers it.
#[derive(Debug, Clone, Deserialize)]
pub struct Operation {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub done: bool,
    #[serde(default)]
    pub error: Option<OperationError>,
    #[serde(default)]
    pub response: Option<VideoResponse>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OperationError {
    #[serde(default)]
    pub code: i64,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoResponse {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub videos: Vec<Video>,
    #[serde(default)]
    pub rai_media_filtered_count: Option<u32>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub rai_media_filtered_reasons: Vec<Value>,
}

/// A list that may also come as `null`.
fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// One generated video: inline bytes or a Cloud Storage object.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Video {
    #[serde(default)]
    pub bytes_base64_encoded: Option<String>,
    #[serde(default)]
    pub gcs_uri: Option<String>,
    #[serde(default)]
    pub mime_type: Option<String>,
}

/// The aspect ratios `parameters.aspectRatio` takes (Vertex AI's Veo
/// reference: "16:9" and "9:16").
pub const ASPECT_RATIOS: [&str; 2] = ["16:9", "9:16"];

/// `parameters.aspectRatio` of a video's format.
pub fn aspect_ratio(format: Format) -> &'static str {
    if format.is_portrait() { ASPECT_RATIOS[1] } else { ASPECT_RATIOS[0] }
}

/// The Veo generation a model belongs to: what its requests may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VeoFamily {
    /// `veo-2.0-*`: 5–8 s, no `generateAudio`.
    Veo2,
    /// `veo-3.0-*`, `veo-3.1-*`: 4, 6 or 8 s, `generateAudio` required.
    Veo3,
}

impl VeoFamily {
    pub fn of(model: &str) -> Option<Self> {
        if model.starts_with("veo-2.0-") {
            Some(Self::Veo2)
        } else if model.starts_with("veo-3.0-") || model.starts_with("veo-3.1-") {
            Some(Self::Veo3)
        } else {
            None
        }
    }

    /// The `durationSeconds` to ask for so that a clip covers `wanted`
    /// seconds: the shortest the model takes that is at least as long,
    /// else its longest (the assembly cuts or holds the clip).
    pub fn seconds(self, wanted: u32) -> u32 {
        match self {
            Self::Veo3 => [4, 6, 8].into_iter().find(|s| *s >= wanted).unwrap_or(8),
            Self::Veo2 => wanted.clamp(5, 8),
        }
    }
}

/// Checks both models against what Vertex takes; returns the families of
/// the `fast` and the `quality` model.
pub fn check_settings(settings: &VertexSettings) -> Result<(VeoFamily, VeoFamily), SetupError> {
    let family = |var: &str, model: &str| {
        VeoFamily::of(model).ok_or_else(|| {
            SetupError::Unsupported(format!(
                "{var}=`{model}` is not a Veo model vidcache can use; use a veo-2.0-*, veo-3.0-* or veo-3.1-* model \
                 (e.g. veo-3.0-generate-001, veo-3.0-fast-generate-001)"
            ))
        })
    };
    Ok((family("VERTEX_MODEL_FAST", &settings.model_fast)?, family("VERTEX_MODEL", &settings.model)?))
}

/// The model an operation belongs to: `…/models/{model}/operations/…`.
fn model_of_operation(name: &str) -> Option<&str> {
    let (_, rest) = name.split_once("/models/")?;
    let (model, _) = rest.split_once("/operations/")?;
    Some(model)
}

impl VertexClient {
    /// A client for `settings`: needs a project and either
    /// `VERTEX_ACCESS_TOKEN` or `GOOGLE_APPLICATION_CREDENTIALS`, and
    /// models Veo takes.
    pub fn new(settings: &VertexSettings, timeout: Duration, retry: RetryPolicy) -> Result<Self, SetupError> {
        check_settings(settings)?;
        let mut secrets = Vec::new();
        if let Some(token) = &settings.access_token {
            secrets.push(token.clone());
        }
        let http = Http::new(timeout, retry, secrets)?;
        let (auth, key_project) = match (&settings.access_token, &settings.credentials_file) {
            (Some(token), _) => (TokenSource::Fixed(token.clone()), None),
            (None, Some(path)) => {
                let account = ServiceAccount::from_file(path, http.clone())?;
                let project = account.project_id().map(str::to_owned);
                (TokenSource::ServiceAccount(Box::new(account)), project)
            }
            (None, None) => {
                return Err(SetupError::Missing("set VERTEX_ACCESS_TOKEN or GOOGLE_APPLICATION_CREDENTIALS for Vertex AI"));
            }
        };
        let project = settings
            .project
            .clone()
            .or(key_project)
            .ok_or(SetupError::Missing("VERTEX_PROJECT is not set (and the credentials name no project)"))?;
        if !project.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.' || b == b':') {
            return Err(SetupError::Invalid { name: "VERTEX_PROJECT", value: project });
        }
        Ok(Self { http, auth, project, settings: settings.clone() })
    }

    /// The model of `quality` videos.
    pub fn model(&self, quality: Quality) -> &str {
        self.settings.model_for(quality)
    }

    fn model_url(&self, model: &str, verb: &str) -> String {
        let s = &self.settings;
        format!("{}/v1/projects/{}/locations/{}/publishers/google/models/{model}:{verb}", s.base_url, self.project, s.location)
    }

    /// Starts a text-to-video operation with `quality`'s model for a video
    /// of `format` — image-to-video when `image` (JPEG or PNG bytes) is
    /// given; returns its name. Veo 3 models get `generateAudio` (they
    /// require it).
    pub async fn submit(
        &self,
        quality: Quality,
        format: Format,
        prompt: &str,
        seconds: u32,
        audio: bool,
        image: Option<&[u8]>,
    ) -> Result<String, ProviderError> {
        let image = match image {
            None => None,
            Some(bytes) => {
                let mime_type = image_mime(bytes)
                    .ok_or_else(|| ProviderError::local(SUBMIT, "the photo is neither JPEG nor PNG, which Veo takes"))?;
                Some(InlineMedia { bytes_base64_encoded: STANDARD.encode(bytes), mime_type })
            }
        };
        self.submit_with(quality, format, prompt, image, None, seconds, audio).await
    }

    /// Whether `quality`'s model extends a given video (`instances[].video`):
    /// the Veo 3.1 models do; Veo 2 and 3.0 answer "not supported".
    pub fn supports_extension(&self, quality: Quality) -> bool {
        self.model(quality).starts_with("veo-3.1")
    }

    /// Starts an extension of the MP4 `video` (1–30 s) by
    /// [`VEO_EXTENSION_SECONDS`], continuing it as `prompt` says; the
    /// operation's video is the input followed by the new seconds.
    pub async fn submit_extension(
        &self,
        quality: Quality,
        format: Format,
        prompt: &str,
        video: &[u8],
        audio: bool,
    ) -> Result<String, ProviderError> {
        let video = InlineMedia { bytes_base64_encoded: STANDARD.encode(video), mime_type: "video/mp4" };
        self.submit_with(quality, format, prompt, None, Some(video), VEO_EXTENSION_SECONDS, audio).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn submit_with(
        &self,
        quality: Quality,
        format: Format,
        prompt: &str,
        image: Option<InlineMedia>,
        video: Option<InlineMedia>,
        seconds: u32,
        audio: bool,
    ) -> Result<String, ProviderError> {
        let model = self.model(quality);
        let token = self.auth.token().await?;
        let body = PredictRequest {
            instances: [Instance { prompt, image, video }],
            parameters: Parameters {
                aspect_ratio: aspect_ratio(format),
                duration_seconds: seconds,
                sample_count: 1,
                // required by Veo 3 models, not taken by Veo 2
                generate_audio: (VeoFamily::of(model) == Some(VeoFamily::Veo3)).then_some(audio),
            },
        };
        let url = self.model_url(model, "predictLongRunning");
        let result: Result<Started, ProviderError> =
            self.http.json(SUBMIT, Replay::Submit, |c| c.post(&url).bearer_auth(token.expose()).json(&body)).await;
        match result {
            Ok(started) if started.name.is_empty() => Err(ProviderError::decode(SUBMIT, "the operation has no name")),
            Ok(started) => Ok(started.name),
            // Vertex answers a prompt its filters block with a 400 that says so
            Err(ProviderError::Status { status: 400, detail, .. }) if is_guideline_text(&detail) => {
                Err(ProviderError::Refused { what: SUBMIT.to_owned(), reason: detail })
            }
            Err(err) => Err(err),
        }
    }

    /// The operation's state (retried as a read), asked of the model that
    /// started it (one of the two configured).
    pub async fn fetch(&self, name: &str) -> Result<Operation, ProviderError> {
        let model = model_of_operation(name)
            .filter(|m| *m == self.settings.model || *m == self.settings.model_fast)
            .ok_or_else(|| ProviderError::decode(POLL, "the operation belongs to no configured Veo model"))?;
        let token = self.auth.token().await?;
        let url = self.model_url(model, "fetchPredictOperation");
        let body = FetchRequest { operation_name: name };
        self.http.json(POLL, Replay::Idempotent, |c| c.post(&url).bearer_auth(token.expose()).json(&body)).await
    }

    /// Polls until the operation is done or `deadline` passes; returns the
    /// first video. Filtered output is a refusal.
    pub async fn wait(
        &self,
        name: &str,
        every: Duration,
        deadline: tokio::time::Instant,
        limit: Duration,
    ) -> Result<Video, ProviderError> {
        loop {
            let operation = self.fetch(name).await?;
            if operation.done {
                return self.outcome(operation);
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(ProviderError::TimedOut { what: SUBMIT.to_owned(), seconds: limit.as_secs() });
            }
            tokio::time::sleep(every.min(deadline - now)).await;
        }
    }

    fn outcome(&self, operation: Operation) -> Result<Video, ProviderError> {
        if let Some(error) = operation.error {
            let reason = format!("{} (code {})", self.http.scrub(&error.message), error.code);
            return Err(if is_guideline_text(&error.message) {
                ProviderError::Refused { what: SUBMIT.to_owned(), reason }
            } else {
                ProviderError::TaskFailed { what: SUBMIT.to_owned(), reason }
            });
        }
        let response = operation.response.ok_or_else(|| ProviderError::decode(SUBMIT, "done without a response"))?;
        let filtered = response.rai_media_filtered_count.unwrap_or(0);
        if filtered > 0 || response.videos.is_empty() {
            let reasons: Vec<String> = response
                .rai_media_filtered_reasons
                .iter()
                .map(|r| r.as_str().map_or_else(|| r.to_string(), str::to_owned))
                .collect();
            let reason = if reasons.is_empty() {
                format!("{filtered} video(s) filtered by responsible-AI checks")
            } else {
                self.http.scrub(&reasons.join("; "))
            };
            if filtered > 0 {
                return Err(ProviderError::Refused { what: SUBMIT.to_owned(), reason });
            }
            return Err(ProviderError::decode(SUBMIT, "done without a video"));
        }
        response.videos.into_iter().next().ok_or_else(|| ProviderError::decode(SUBMIT, "done without a video"))
    }

    /// Writes a video to `path`: decodes inline bytes or downloads the
    /// `gs://` object with the same token.
    pub async fn save(&self, video: &Video, path: &Path) -> Result<u64, ProviderError> {
        const WHAT: &str = "vertex download";
        if let Some(encoded) = &video.bytes_base64_encoded {
            let bytes = STANDARD.decode(encoded.as_bytes()).map_err(|e| ProviderError::decode(WHAT, e))?;
            if bytes.is_empty() {
                return Err(ProviderError::decode(WHAT, "the video was empty"));
            }
            let part = path.with_extension("part");
            tokio::fs::write(&part, &bytes)
                .await
                .map_err(|e| ProviderError::local(WHAT, format!("cannot write {}: {e}", part.display())))?;
            tokio::fs::rename(&part, path)
                .await
                .map_err(|e| ProviderError::local(WHAT, format!("cannot move {}: {e}", path.display())))?;
            return Ok(bytes.len() as u64);
        }
        let uri =
            video.gcs_uri.as_deref().ok_or_else(|| ProviderError::decode(WHAT, "the video has neither bytes nor a gcsUri"))?;
        let url = gcs_url(&self.settings.storage_base_url, uri)
            .ok_or_else(|| ProviderError::decode(WHAT, "gcsUri is not gs://bucket/object"))?;
        let token: Secret = self.auth.token().await?;
        self.http.download(WHAT, &url, Some(&token), path).await
    }
}

/// Whether an error text is Vertex saying the prompt breaks its usage guidelines.
fn is_guideline_text(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    ["usage guidelines", "responsible ai", "safety", "blocked"].iter().any(|needle| text.contains(needle))
}

/// `gs://bucket/a b.mp4` → `{base}/bucket/a%20b.mp4`.
pub fn gcs_url(base: &str, uri: &str) -> Option<String> {
    let (bucket, object) = uri.strip_prefix("gs://")?.split_once('/')?;
    if bucket.is_empty() || object.is_empty() || !bucket.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        return None;
    }
    let mut encoded = String::with_capacity(object.len());
    for byte in object.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~/".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    Some(format!("{base}/{bucket}/{encoded}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcs_uris_become_urls() {
        assert_eq!(
            gcs_url("https://storage.googleapis.com", "gs://my-bucket/out/sample 0.mp4").as_deref(),
            Some("https://storage.googleapis.com/my-bucket/out/sample%200.mp4")
        );
        assert_eq!(gcs_url("http://x", "s3://b/o"), None);
        assert_eq!(gcs_url("http://x", "gs://bucket"), None);
    }

    #[test]
    fn models_veo_refuses_are_named() {
        let settings = |fast: &str, model: &str| VertexSettings {
            project: None,
            location: "us-central1".to_owned(),
            model: model.to_owned(),
            model_fast: fast.to_owned(),
            base_url: "http://x".to_owned(),
            access_token: None,
            credentials_file: None,
            storage_base_url: "http://x".to_owned(),
            ignored_aspect_ratio: None,
            assembly: Default::default(),
        };
        assert_eq!(
            check_settings(&settings("veo-3.0-fast-generate-001", "veo-3.0-generate-001")).ok(),
            Some((VeoFamily::Veo3, VeoFamily::Veo3))
        );
        assert_eq!(
            check_settings(&settings("veo-2.0-generate-001", "veo-3.1-generate-001")).ok(),
            Some((VeoFamily::Veo2, VeoFamily::Veo3))
        );
        let err = check_settings(&settings("imagen-3.0-generate-002", "veo-3.0-generate-001")).unwrap_err().to_string();
        assert!(err.contains("VERTEX_MODEL_FAST=`imagen-3.0-generate-002`"), "{err}");
        let err = check_settings(&settings("veo-3.0-fast-generate-001", "imagen-3.0-generate-002")).unwrap_err().to_string();
        assert!(err.contains("VERTEX_MODEL=`imagen-3.0-generate-002`"), "{err}");
        assert_eq!(VeoFamily::Veo3.seconds(5), 6);
        assert_eq!(VeoFamily::Veo3.seconds(60), 8);
        assert_eq!(VeoFamily::Veo2.seconds(1), 5);
        assert_eq!((aspect_ratio(Format::Landscape), aspect_ratio(Format::Portrait)), ("16:9", "9:16"));
        assert_eq!(
            model_of_operation("projects/p/locations/l/publishers/google/models/veo-3.0-generate-001/operations/1"),
            Some("veo-3.0-generate-001")
        );
        assert_eq!(model_of_operation("operations/1"), None);
        assert_eq!(image_mime(b"\xFF\xD8\xFF\xE0"), Some("image/jpeg"));
        assert_eq!(image_mime(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(image_mime(b"RIFF....WEBP"), None);
    }

    #[test]
    fn operations_parse() {
        let op: Operation = serde_json::from_str(
            r#"{"name":"projects/p/locations/l/publishers/google/models/m/operations/1","done":true,
                "response":{"@type":"type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse",
                "raiMediaFilteredCount":1,"raiMediaFilteredReasons":["Unable to generate videos: the prompt may violate our policies."]}}"#,
        )
        .expect("parses");
        assert!(op.done);
        let response = op.response.expect("a response");
        assert_eq!(response.rai_media_filtered_count, Some(1));
        assert!(response.videos.is_empty());
    }
}
