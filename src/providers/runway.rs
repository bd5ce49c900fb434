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

/// The API version this client speaks (`X-Runway-Version`).
pub const API_VERSION: &str = "2024-11-06";

/// The longest `promptText` Runway accepts.
pub const MAX_PROMPT_CHARS: usize = 1000;

#[derive(Debug, Clone)]
pub struct RunwayClient {
    http: Http,
    secret: Secret,
    settings: RunwaySettings,
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

/// Cuts `text` to `max` characters.
pub fn clip_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((cut, _)) => &text[..cut],
        None => text,
    }
}

impl RunwayClient {
    /// A client for `settings`; fails without `RUNWAYML_API_SECRET`.
    pub fn new(settings: &RunwaySettings, timeout: Duration, retry: RetryPolicy) -> Result<Self, SetupError> {
        let secret = settings.api_secret.clone().ok_or(SetupError::Missing("RUNWAYML_API_SECRET is not set"))?;
        let http = Http::new(timeout, retry, vec![secret.clone()])?;
        Ok(Self { http, secret, settings: settings.clone() })
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

    /// Starts a text-to-image task; returns its id.
    pub async fn text_to_image(&self, prompt: &str) -> Result<String, ProviderError> {
        let body = TextToImage {
            model: &self.settings.image_model,
            prompt_text: clip_chars(prompt, MAX_PROMPT_CHARS),
            ratio: &self.settings.ratio,
        };
        self.submit("runway text_to_image", "text_to_image", &body).await
    }

    /// Starts an image-to-video task from `image` (an HTTPS URL or a
    /// `data:` URI); returns its id.
    pub async fn image_to_video(&self, image: &str, prompt: &str, seconds: u32) -> Result<String, ProviderError> {
        let body = ImageToVideo {
            model: &self.settings.video_model,
            prompt_image: image,
            prompt_text: clip_chars(prompt, MAX_PROMPT_CHARS),
            ratio: &self.settings.ratio,
            duration: seconds,
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
        assert_eq!(clip_chars("héllo", 2), "hé");
    }
}
