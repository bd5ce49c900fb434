//! Every message vidcache sends goes through here: the flood limiter first,
//! then the call, then the retry policy (429 → wait `retry_after`; 5xx,
//! timeouts and network faults → exponential backoff with jitter; a chat
//! that blocked the bot or a refused file → no retry). A chat's 429 pauses
//! only that chat, on every replica (see [`FloodLimiter::flood_wait`]); a group upgraded to
//! a supergroup is followed to its new id (and remembered, so later sends
//! go there at once).

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use super::api::{ApiError, ApiFailure, BotApi, InlineButton, Keyboard, MediaKind, SentVideo};
use super::limiter::{FloodLimiter, Priority};
use crate::config::RetryPolicy;
use crate::domain::{ChatId, FileId, MessageId, ThreadId};
use crate::telemetry::measure;

#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    /// The user blocked the bot, deleted their account, or the chat is gone.
    #[error("the chat cannot be reached: {0}")]
    Unreachable(String),
    /// Telegram refused the content itself (bad or too big a file).
    #[error("Telegram refused it: {0}")]
    Rejected(String),
    /// The `file_id` belongs to another bot token: upload the file again.
    #[error("Telegram does not know this file_id: {0}")]
    UnknownFile(String),
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
    limiter: FloodLimiter,
    retry: RetryPolicy,
    /// Groups that became supergroups: old id → new id.
    migrated: moka::sync::Cache<i64, ChatId>,
}

/// Asked right before each attempt goes out (after the flood limiter let it
/// through): "may I still send?" — used to take or extend a delivery claim
/// at the last moment, so a claim covers one call, not a wait in line.
pub trait SendGate: Send + Sync {
    /// True to let this attempt go out.
    fn pass(&self) -> futures::future::BoxFuture<'_, bool>;
}

/// How many flood waits one send sits through before giving up.
const MAX_FLOOD_WAITS: u32 = 30;

impl Sender {
    pub fn new(api: BotApi, limiter: FloodLimiter) -> Self {
        Self {
            api,
            limiter,
            retry: RetryPolicy::new(6, Duration::from_millis(250), Duration::from_secs(8)),
            migrated: moka::sync::Cache::builder().max_capacity(10_000).build(),
        }
    }

    /// The supergroup a group `chat` became, when a send found out.
    pub fn moved(&self, chat: ChatId) -> Option<ChatId> {
        self.migrated.get(&chat.0)
    }

    pub fn api(&self) -> &BotApi {
        &self.api
    }

    async fn with_retries<T, F, Fut>(
        &self,
        (chat_id, thread): (ChatId, Option<ThreadId>),
        (kind, priority): (&'static str, Priority),
        gate: Option<&dyn SendGate>,
        op: F,
    ) -> Result<T, SendError>
    where
        F: Fn(ChatId, Option<ThreadId>) -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let mut failures = 0u32;
        let mut flood_waits = 0u32;
        // a group that became a supergroup is answered there, outside any topic
        let (mut chat_id, mut thread) = match self.moved(chat_id) {
            Some(new) => (new, None),
            None => (chat_id, thread),
        };
        let mut moves = 0u32;
        loop {
            self.limiter.acquire(chat_id.0, priority).await;
            if let Some(gate) = gate
                && !gate.pass().await
            {
                return Err(SendError::Skipped);
            }
            let err = match op(chat_id, thread).await {
                Ok(value) => {
                    measure::send(kind, "ok");
                    if priority == Priority::Broadcast {
                        measure::paid_send();
                    }
                    return Ok(value);
                }
                Err(err) => err,
            };
            let failure = err.failure();
            measure::send(
                kind,
                match failure {
                    ApiFailure::FloodWait(_) => "flood_wait",
                    ApiFailure::ChatUnreachable => "unreachable",
                    ApiFailure::Migrated(_) => "migrated",
                    ApiFailure::Rejected => "rejected",
                    ApiFailure::UnknownFile => "unknown_file",
                    ApiFailure::Transient => "transient",
                },
            );
            match failure {
                ApiFailure::FloodWait(secs) if flood_waits < MAX_FLOOD_WAITS => {
                    flood_waits += 1;
                    self.limiter.flood_wait(chat_id.0, Duration::from_secs(secs)).await;
                }
                ApiFailure::FloodWait(_) => {
                    return Err(SendError::GaveUp { attempts: failures + flood_waits, last: err.to_string() });
                }
                ApiFailure::Migrated(new) if moves < 2 => {
                    moves += 1;
                    tracing::info!(old = %chat_id, new = %new, "the group became a supergroup; sending there");
                    self.migrated.insert(chat_id.0, new);
                    (chat_id, thread) = (new, None);
                }
                ApiFailure::ChatUnreachable | ApiFailure::Migrated(_) => return Err(SendError::Unreachable(err.to_string())),
                ApiFailure::Rejected => return Err(SendError::Rejected(err.to_string())),
                ApiFailure::UnknownFile => return Err(SendError::UnknownFile(err.to_string())),
                ApiFailure::Transient => {
                    failures += 1;
                    if !self.retry.retries_after(failures) {
                        return Err(SendError::GaveUp { attempts: failures, last: err.to_string() });
                    }
                    tracing::debug!(%chat_id, failures, error = %err, "send failed, retrying");
                    tokio::time::sleep(self.retry.backoff(failures)).await;
                }
            }
        }
    }

    /// Sends a text; `gate` (if any) is asked before every attempt.
    pub async fn text(
        &self,
        chat_id: ChatId,
        text: &str,
        reply_to: Option<MessageId>,
        keyboard: Keyboard,
        priority: Priority,
        gate: Option<&dyn SendGate>,
    ) -> Result<MessageId, SendError> {
        self.text_in(chat_id, None, text, reply_to, keyboard, priority, gate).await
    }

    /// [`Sender::text`] into a forum topic (`None`: General, or no topics).
    #[allow(clippy::too_many_arguments, reason = "the parts of one Bot API call, plus its priority and gate")]
    pub async fn text_in(
        &self,
        chat_id: ChatId,
        thread: Option<ThreadId>,
        text: &str,
        reply_to: Option<MessageId>,
        keyboard: Keyboard,
        priority: Priority,
        gate: Option<&dyn SendGate>,
    ) -> Result<MessageId, SendError> {
        self.with_retries((chat_id, thread), ("message", priority), gate, |chat, thread| {
            self.api.send_message(chat, thread, text, reply_to, &keyboard)
        })
        .await
    }

    /// Sends a Stars invoice, as an answer (flood limits as for a text).
    pub async fn invoice(&self, chat_id: ChatId, invoice: &super::api::StarsInvoice) -> Result<MessageId, SendError> {
        self.with_retries((chat_id, None), ("invoice", Priority::Interactive), None, |chat, _| {
            self.api.send_invoice(chat, invoice)
        })
        .await
    }

    /// Edits a progress message in place (edits count against the same
    /// limits, at the lowest priority). A message that already shows `text` is not an error.
    pub async fn edit(&self, chat_id: ChatId, message_id: MessageId, text: &str) -> Result<(), SendError> {
        match self
            .with_retries((chat_id, None), ("edit", Priority::Progress), None, |chat, _| {
                self.api.edit_message_text(chat, message_id, text)
            })
            .await
        {
            Err(SendError::Rejected(reason)) if reason.contains("message is not modified") => Ok(()),
            other => other,
        }
    }

    /// Re-sends a cached video; `gate` (if any) is asked before every
    /// attempt. `Priority::Broadcast` sends it as a paid broadcast.
    #[allow(clippy::too_many_arguments, reason = "the parts of one Bot API call, plus its priority and gate")]
    pub async fn video_by_id(
        &self,
        (chat_id, thread): (ChatId, Option<ThreadId>),
        file_id: &FileId,
        caption: &str,
        reply_to: Option<MessageId>,
        keyboard: &Keyboard,
        priority: Priority,
        gate: Option<&dyn SendGate>,
    ) -> Result<SentVideo, SendError> {
        let paid = priority == Priority::Broadcast;
        self.with_retries((chat_id, thread), ("video", priority), gate, |chat, thread| {
            self.api.send_video_by_id(chat, thread, file_id, caption, reply_to, keyboard, paid)
        })
        .await
    }

    /// Uploads a file; `gate` (if any) is asked before every attempt.
    #[allow(clippy::too_many_arguments, reason = "the parts of one Bot API call, plus its priority and gate")]
    pub async fn upload(
        &self,
        (chat_id, thread): (ChatId, Option<ThreadId>),
        path: &Path,
        caption: &str,
        reply_to: Option<MessageId>,
        keyboard: &Keyboard,
        priority: Priority,
        gate: Option<&dyn SendGate>,
    ) -> Result<SentVideo, SendError> {
        let sent = self
            .with_retries((chat_id, thread), ("upload", priority), gate, |chat, thread| {
                self.api.upload_video(chat, thread, path, caption, reply_to, keyboard)
            })
            .await;
        if !matches!(sent, Err(SendError::Skipped)) {
            measure::upload(sent.is_ok());
        }
        sent
    }

    /// Uploads images or clips (one as a photo or video, 2–10 as an album).
    pub async fn media(
        &self,
        chat_id: ChatId,
        items: &[(std::path::PathBuf, MediaKind)],
        caption: &str,
        priority: Priority,
    ) -> Result<Vec<MessageId>, SendError> {
        self.with_retries((chat_id, None), ("media", priority), None, |chat, _| self.api.send_media(chat, items, caption)).await
    }

    /// Replaces a message's inline keyboard (counted like an edit). A
    /// keyboard that is already so is not an error.
    pub async fn edit_keyboard(
        &self,
        chat_id: ChatId,
        message_id: MessageId,
        rows: &[Vec<InlineButton>],
    ) -> Result<(), SendError> {
        match self
            .with_retries((chat_id, None), ("markup", Priority::Interactive), None, |chat, _| {
                self.api.edit_message_reply_markup(chat, message_id, rows)
            })
            .await
        {
            Err(SendError::Rejected(reason)) if reason.contains("message is not modified") => Ok(()),
            other => other,
        }
    }

    /// Edits a message's text and inline keyboard in place, as an answer
    /// to a press (counted like an edit). A message that already shows them is not an error.
    pub async fn edit_text_and_keyboard(
        &self,
        chat_id: ChatId,
        message_id: MessageId,
        text: &str,
        rows: &[Vec<InlineButton>],
    ) -> Result<(), SendError> {
        match self
            .with_retries((chat_id, None), ("edit", Priority::Interactive), None, |chat, _| {
                self.api.edit_message_text_and_keyboard(chat, message_id, text, rows)
            })
            .await
        {
            Err(SendError::Rejected(reason)) if reason.contains("message is not modified") => Ok(()),
            other => other,
        }
    }
}
