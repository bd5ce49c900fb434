//! Every message vidcache sends goes through here: the flood limiter first,
//! then the call, then the retry policy (429 → wait `retry_after`; 5xx,
//! timeouts and network faults → exponential backoff with jitter; a chat
//! that blocked the bot or a refused file → no retry).

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::api::{ApiError, BotApi, Failure, Keyboard, SentVideo};
use super::limiter::FloodLimiter;

#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    /// The user blocked the bot, deleted their account, or the chat is gone.
    #[error("the chat cannot be reached: {0}")]
    Unreachable(String),
    /// Telegram refused the content itself (bad or too big a file).
    #[error("Telegram refused it: {0}")]
    Rejected(String),
    /// The gate said no: another sender holds this delivery.
    #[error("another sender holds this delivery")]
    Skipped,
    /// Still failing after every retry.
    #[error("gave up after {attempts} attempts: {last}")]
    GaveUp { attempts: u32, last: String },
}

#[derive(Clone, Debug)]
pub struct Sender {
    api: BotApi,
    limiter: Arc<FloodLimiter>,
    max_attempts: u32,
    base_backoff: Duration,
}

/// Asked right before each attempt goes out (after the flood limiter let it
/// through): "may I still send?" — used to take or extend a delivery claim
/// at the last moment, so a claim covers one call, not a wait in line.
pub type Gate<'a> = &'a (dyn Fn() -> futures::future::BoxFuture<'a, bool> + Send + Sync);

/// How many flood waits one send sits through before giving up.
const MAX_FLOOD_WAITS: u32 = 30;

impl Sender {
    pub fn new(api: BotApi, limiter: Arc<FloodLimiter>) -> Self {
        Self { api, limiter, max_attempts: 6, base_backoff: Duration::from_millis(250) }
    }

    pub fn api(&self) -> &BotApi {
        &self.api
    }

    async fn with_retries<T, F, Fut>(&self, chat_id: i64, op: F) -> Result<T, SendError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        self.with_retries_gated(chat_id, None, op).await
    }

    async fn with_retries_gated<T, F, Fut>(&self, chat_id: i64, gate: Option<Gate<'_>>, op: F) -> Result<T, SendError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let mut failures = 0u32;
        let mut flood_waits = 0u32;
        loop {
            self.limiter.acquire(chat_id).await;
            if let Some(gate) = gate {
                if !gate().await {
                    return Err(SendError::Skipped);
                }
            }
            let err = match op().await {
                Ok(value) => return Ok(value),
                Err(err) => err,
            };
            match err.failure() {
                Failure::FloodWait(secs) if flood_waits < MAX_FLOOD_WAITS => {
                    flood_waits += 1;
                    self.limiter.freeze(Duration::from_secs(secs)).await;
                }
                Failure::FloodWait(_) => {
                    return Err(SendError::GaveUp { attempts: failures + flood_waits, last: err.to_string() });
                }
                Failure::ChatUnreachable => return Err(SendError::Unreachable(err.to_string())),
                Failure::Rejected => return Err(SendError::Rejected(err.to_string())),
                Failure::Transient => {
                    failures += 1;
                    if failures >= self.max_attempts {
                        return Err(SendError::GaveUp { attempts: failures, last: err.to_string() });
                    }
                    let backoff = self.base_backoff * 2u32.saturating_pow(failures - 1);
                    let jitter = Duration::from_millis(fastrand::u64(0..=backoff.as_millis() as u64 / 2));
                    tracing::debug!(chat_id, failures, error = %err, "send failed, retrying");
                    tokio::time::sleep(backoff.min(Duration::from_secs(8)) + jitter).await;
                }
            }
        }
    }

    pub async fn text(&self, chat_id: i64, text: &str, reply_to: Option<i64>, keyboard: Keyboard) -> Result<i64, SendError> {
        self.with_retries(chat_id, || self.api.send_message(chat_id, text, reply_to, keyboard)).await
    }

    /// Edits a progress message in place (edits count against the same
    /// limits). A message that already shows `text` is not an error.
    pub async fn edit(&self, chat_id: i64, message_id: i64, text: &str) -> Result<(), SendError> {
        match self.with_retries(chat_id, || self.api.edit_message_text(chat_id, message_id, text)).await {
            Err(SendError::Rejected(reason)) if reason.contains("message is not modified") => Ok(()),
            other => other,
        }
    }

    /// Re-sends a cached video; `gate` is asked before every attempt.
    pub async fn video_by_id(
        &self,
        chat_id: i64,
        file_id: &str,
        caption: &str,
        reply_to: Option<i64>,
        gate: Gate<'_>,
    ) -> Result<SentVideo, SendError> {
        self.with_retries_gated(chat_id, Some(gate), || self.api.send_video_by_id(chat_id, file_id, caption, reply_to)).await
    }

    pub async fn upload(&self, chat_id: i64, path: &Path, caption: &str, reply_to: Option<i64>) -> Result<SentVideo, SendError> {
        self.with_retries(chat_id, || self.api.upload_video(chat_id, path, caption, reply_to)).await
    }
}
