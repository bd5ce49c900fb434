//! Videos and photos: uploads (a single file or an album) and re-sends by `file_id`.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use super::messages::{add_reply, add_thread};
use super::{ApiError, BotApi, Keyboard, decode, network};
use crate::domain::{ChatId, FileId, MessageId, ThreadId};
use crate::telegram::length::{MAX_CAPTION_UNITS, fit};

/// What Telegram answers to a sent video.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentVideo {
    pub message_id: MessageId,
    pub file_id: FileId,
    pub file_unique_id: String,
}

/// What an album item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Photo,
    Video,
}

impl BotApi {
    /// Uploads local images or videos: one item as sendPhoto/sendVideo, 2–10
    /// as an album (sendMediaGroup, which takes no keyboard). Returns the
    /// ids of the messages sent.
    pub async fn send_media(
        &self,
        chat_id: ChatId,
        items: &[(std::path::PathBuf, MediaKind)],
        caption: &str,
    ) -> Result<Vec<MessageId>, ApiError> {
        let method: &'static str = match items {
            [] => return Ok(Vec::new()),
            [(_, MediaKind::Photo)] => "sendPhoto",
            [(_, MediaKind::Video)] => "sendVideo",
            _ => "sendMediaGroup",
        };
        let items = &items[..items.len().min(10)];
        let mut form = reqwest::multipart::Form::new().text("chat_id", chat_id.0.to_string());
        let mut media = Vec::new();
        for (i, (path, kind)) in items.iter().enumerate() {
            let bytes = tokio::fs::read(path)
                .await
                .map_err(|e| ApiError::File { path: path.display().to_string(), message: e.to_string() })?;
            let (name, mime, kind_name) = match kind {
                MediaKind::Photo => (format!("image{i}.jpg"), image_mime(&bytes), "photo"),
                MediaKind::Video => (format!("clip{i}.mp4"), "video/mp4", "video"),
            };
            let part = reqwest::multipart::Part::bytes(bytes)
                .file_name(name)
                .mime_str(mime)
                .map_err(|e| ApiError::File { path: path.display().to_string(), message: e.without_url().to_string() })?;
            if items.len() == 1 {
                form = form.part(kind_name, part);
                if !caption.is_empty() {
                    form = form.text("caption", fit(caption, MAX_CAPTION_UNITS).into_owned());
                }
            } else {
                let field = format!("file{i}");
                let mut item = json!({ "type": kind_name, "media": format!("attach://{field}") });
                if i == 0 && !caption.is_empty() {
                    item["caption"] = json!(fit(caption, MAX_CAPTION_UNITS));
                }
                media.push(item);
                form = form.part(field, part);
            }
        }
        if !media.is_empty() {
            form = form.text("media", Value::Array(media).to_string());
        }
        let response = self
            .http
            .post(format!("{}/{method}", self.base))
            .multipart(form)
            .timeout(Duration::from_secs(300))
            .send()
            .await
            .map_err(|e| network(method, e))?;
        let answer: Value = decode(method, response).await?;
        let ids: Vec<i64> = match &answer {
            Value::Array(messages) => messages.iter().filter_map(|m| m.get("message_id").and_then(Value::as_i64)).collect(),
            message => message.get("message_id").and_then(Value::as_i64).into_iter().collect(),
        };
        Ok(ids.into_iter().map(MessageId).collect())
    }

    /// Re-sends a video Telegram already has, by `file_id`: nothing is
    /// uploaded. `paid_broadcast`: sent with `allow_paid_broadcast` (0.1
    /// Stars, past the free 30 messages a second).
    #[allow(clippy::too_many_arguments, reason = "the parts of one Bot API call")]
    pub async fn send_video_by_id(
        &self,
        chat_id: ChatId,
        thread: Option<ThreadId>,
        file_id: &FileId,
        caption: &str,
        reply_to: Option<MessageId>,
        keyboard: &Keyboard,
        paid_broadcast: bool,
    ) -> Result<SentVideo, ApiError> {
        let mut body = json!({ "chat_id": chat_id.0, "video": file_id.as_str(), "caption": fit(caption, MAX_CAPTION_UNITS) });
        if paid_broadcast {
            body["allow_paid_broadcast"] = json!(true);
        }
        add_thread(&mut body, thread);
        add_reply(&mut body, reply_to);
        if let Some(markup) = keyboard.markup() {
            body["reply_markup"] = markup;
        }
        let message: Value = self.call("sendVideo", body, None).await?;
        sent_video("sendVideo", &message)
    }

    /// Uploads a local MP4 (multipart) and returns Telegram's `file_id` for it.
    pub async fn upload_video(
        &self,
        chat_id: ChatId,
        thread: Option<ThreadId>,
        path: &Path,
        caption: &str,
        reply_to: Option<MessageId>,
        keyboard: &Keyboard,
    ) -> Result<SentVideo, ApiError> {
        const METHOD: &str = "sendVideo";
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|e| ApiError::File { path: path.display().to_string(), message: e.to_string() })?;
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name("video.mp4")
            .mime_str("video/mp4")
            .map_err(|e| ApiError::File { path: path.display().to_string(), message: e.without_url().to_string() })?;
        let mut form = reqwest::multipart::Form::new()
            .text("chat_id", chat_id.0.to_string())
            .text("caption", fit(caption, MAX_CAPTION_UNITS).into_owned())
            .text("supports_streaming", "true")
            .part("video", part);
        if let Some(thread) = thread {
            form = form.text("message_thread_id", thread.0.to_string());
        }
        if let Some(message_id) = reply_to {
            form = form
                .text("reply_parameters", json!({ "message_id": message_id.0, "allow_sending_without_reply": true }).to_string());
        }
        if let Some(markup) = keyboard.markup() {
            form = form.text("reply_markup", markup.to_string());
        }
        let response = self
            .http
            .post(format!("{}/{METHOD}", self.base))
            .multipart(form)
            .timeout(Duration::from_secs(300))
            .send()
            .await
            .map_err(|e| network(METHOD, e))?;
        let message: Value = decode(METHOD, response).await?;
        sent_video(METHOD, &message)
    }
}

fn image_mime(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"\x89PNG") {
        "image/png"
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        "image/webp"
    } else {
        "image/jpeg"
    }
}

fn sent_video(method: &'static str, message: &Value) -> Result<SentVideo, ApiError> {
    let video = message.get("video");
    let field = |name: &str| video.and_then(|v| v.get(name)).and_then(Value::as_str).map(str::to_owned);
    match (field("file_id"), field("file_unique_id")) {
        (Some(file_id), Some(file_unique_id)) => Ok(SentVideo {
            message_id: MessageId(message.get("message_id").and_then(Value::as_i64).unwrap_or_default()),
            file_id: FileId(file_id),
            file_unique_id,
        }),
        _ => Err(ApiError::Garbled { method, status: 200, message: "the sent message carries no video".into() }),
    }
}
