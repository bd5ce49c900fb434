//! A small, strict client for the Telegram Bot API methods vidcache uses.
//!
//! It keeps what teloxide's default client drops: the HTTP status and
//! `error_code`, `parameters.retry_after`, and never sleeps on its own, so
//! the [`super::sender::Sender`] decides every retry. Request URLs carry the
//! bot token: errors are stripped of their URL before they can be logged.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::length::{MAX_CAPTION_UNITS, MAX_TEXT_UNITS, fit};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use teloxide::types::Update;

use crate::config::BotToken;
use crate::domain::{ChatId, FileId, MessageId, ThreadId};

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// Telegram answered with `ok: false`.
    #[error("Telegram refused {method}: {code} {description}")]
    Refused {
        method: &'static str,
        code: u16,
        description: String,
        retry_after: Option<u64>,
        /// `parameters.migrate_to_chat_id`: the group became this supergroup.
        migrate_to: Option<i64>,
    },
    /// The request did not get an answer (connect error, timeout, reset).
    #[error("no answer from Telegram to {method}: {message}")]
    Network { method: &'static str, message: String },
    /// An answer that is not the Bot API's JSON (e.g. a proxy's 502 page).
    #[error("unreadable answer from Telegram to {method} (HTTP {status}): {message}")]
    Garbled { method: &'static str, status: u16, message: String },
    #[error("cannot read the video file {path}: {message}")]
    File { path: String, message: String },
}

/// How a failed call should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiFailure {
    /// Wait `retry_after` seconds (flood control, 1 to [`MAX_FLOOD_WAIT_SECS`]), then try again.
    FloodWait(u64),
    /// A passing fault (5xx, timeout, network): back off and try again.
    Transient,
    /// The chat cannot be written to (blocked, deactivated, not found, no
    /// rights to post there, the bot was removed).
    ChatUnreachable,
    /// The group became a supergroup with this id: send there instead.
    Migrated(ChatId),
    /// The request itself is wrong (bad file, too big): retrying won't help.
    Rejected,
    /// A `file_id` this bot token does not know ("wrong file identifier"):
    /// it was issued to another token. The file must be uploaded again.
    UnknownFile,
}

/// The longest flood wait honoured: a `retry_after` above it (absurd, or
/// hostile) is cut to it; a send that is still refused then waits again.
pub const MAX_FLOOD_WAIT_SECS: u64 = 60;

/// How Telegram says, in a 400, that this chat can't be written to (for
/// good, or until someone there changes it): every send to it would fail
/// the same way.
const CHAT_CLOSED: &[&str] = &[
    "chat not found",
    "user not found",
    "not enough rights to send",
    "have no rights to send",
    "need administrator rights",
    "CHAT_WRITE_FORBIDDEN",
    "CHAT_RESTRICTED",
    "CHAT_SEND_",
    "bot is not a member",
    "bot was kicked",
    "group chat was upgraded to a supergroup",
    "chat was deactivated",
];

impl ApiError {
    pub fn failure(&self) -> ApiFailure {
        match self {
            ApiError::Refused { code: 429, retry_after, .. } => {
                ApiFailure::FloodWait(retry_after.unwrap_or(1).clamp(1, MAX_FLOOD_WAIT_SECS))
            }
            ApiError::Refused { code, .. } if *code >= 500 => ApiFailure::Transient,
            ApiError::Refused { code: 400, migrate_to: Some(chat), .. } => ApiFailure::Migrated(ChatId(*chat)),
            ApiError::Refused { code: 403, .. } => ApiFailure::ChatUnreachable,
            ApiError::Refused { code: 400, description, .. } if CHAT_CLOSED.iter().any(|c| description.contains(c)) => {
                ApiFailure::ChatUnreachable
            }
            ApiError::Refused { code: 400, description, .. } if description.contains("wrong file identifier") => {
                ApiFailure::UnknownFile
            }
            ApiError::Refused { .. } | ApiError::File { .. } => ApiFailure::Rejected,
            ApiError::Network { .. } | ApiError::Garbled { .. } => ApiFailure::Transient,
        }
    }
}

#[derive(Deserialize)]
struct Envelope {
    ok: bool,
    result: Option<Value>,
    error_code: Option<u16>,
    description: Option<String>,
    parameters: Option<Parameters>,
}

#[derive(Deserialize)]
struct Parameters {
    retry_after: Option<u64>,
    migrate_to_chat_id: Option<i64>,
}

/// What Telegram answers to a sent video.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentVideo {
    pub message_id: MessageId,
    pub file_id: FileId,
    pub file_unique_id: String,
}

/// The bot's own identity (`getMe`).
#[derive(Debug, Clone, Deserialize)]
pub struct BotUser {
    pub id: i64,
    pub username: Option<String>,
}

/// An optional keyboard for a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keyboard {
    None,
    /// A persistent reply keyboard: rows of button labels.
    Persistent(Vec<Vec<String>>),
    /// Buttons under the message: rows of (label, callback data).
    Inline(Vec<Vec<InlineButton>>),
    /// One button under the message that opens `url` (e.g. the private
    /// chat with the bot: `https://t.me/<bot>?start=<parameter>`).
    Link {
        text: String,
        url: String,
    },
}

/// A button under a message; a press comes back as a callback query
/// carrying `data` (1-64 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineButton {
    pub text: String,
    pub data: String,
}

impl Keyboard {
    /// The `reply_markup` JSON, if any.
    fn markup(&self) -> Option<Value> {
        match self {
            Keyboard::None => None,
            Keyboard::Persistent(rows) => {
                let rows: Vec<Vec<Value>> =
                    rows.iter().map(|row| row.iter().map(|label| json!({ "text": label })).collect()).collect();
                Some(json!({ "keyboard": rows, "resize_keyboard": true, "is_persistent": true }))
            }
            Keyboard::Inline(rows) => Some(inline_markup(rows)),
            Keyboard::Link { text, url } => Some(json!({ "inline_keyboard": [[{ "text": text, "url": url }]] })),
        }
    }
}

fn inline_markup(rows: &[Vec<InlineButton>]) -> Value {
    let rows: Vec<Vec<Value>> =
        rows.iter().map(|row| row.iter().map(|b| json!({ "text": b.text, "callback_data": b.data })).collect()).collect();
    json!({ "inline_keyboard": rows })
}

/// What an album item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Photo,
    Video,
}

/// The update kinds the bot handles: Telegram delivers only these.
pub const ALLOWED_UPDATES: &[&str] = &["message", "callback_query", "pre_checkout_query", "inline_query"];

/// [`ALLOWED_UPDATES`] and `chosen_inline_result`: with `INLINE_FEEDBACK=on`.
pub const ALLOWED_UPDATES_WITH_FEEDBACK: &[&str] =
    &["message", "callback_query", "pre_checkout_query", "inline_query", "chosen_inline_result"];

/// An invoice in Telegram Stars (currency `XTR`, one price).
#[derive(Debug, Clone)]
pub struct StarsInvoice {
    pub title: String,
    pub description: String,
    pub payload: String,
    pub label: String,
    pub stars: u32,
}

#[derive(Clone)]
pub struct BotApi {
    http: reqwest::Client,
    /// `{api}/bot<token>`: method calls.
    base: String,
    /// `{api}/file/bot<token>`: file downloads.
    file_base: String,
    /// The update kinds asked for (`getUpdates`, `setWebhook`).
    allowed_updates: &'static [&'static str],
}

/// A file Telegram is ready to hand out (`getFile`).
#[derive(Debug, Clone, Deserialize)]
pub struct TelegramFile {
    pub file_size: Option<u64>,
    /// Download path, valid for an hour; absent when it can't be downloaded.
    pub file_path: Option<String>,
}

impl std::fmt::Debug for BotApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BotApi(***)")
    }
}

impl BotApi {
    pub fn new(api_url: &str, token: &BotToken, request_timeout: Duration) -> Result<Self, ApiError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(request_timeout)
            .pool_max_idle_per_host(32)
            .build()
            .map_err(|e| ApiError::Network { method: "client", message: e.without_url().to_string() })?;
        let api_url = api_url.trim_end_matches('/');
        Ok(Self {
            http,
            base: format!("{api_url}/bot{}", token.expose()),
            file_base: format!("{api_url}/file/bot{}", token.expose()),
            allowed_updates: ALLOWED_UPDATES,
        })
    }

    /// Also asks for `chosen_inline_result` (`INLINE_FEEDBACK=on`).
    pub fn with_inline_feedback(mut self, on: bool) -> Self {
        self.allowed_updates = if on { ALLOWED_UPDATES_WITH_FEEDBACK } else { ALLOWED_UPDATES };
        self
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: &'static str,
        body: Value,
        timeout: Option<Duration>,
    ) -> Result<T, ApiError> {
        let mut request = self.http.post(format!("{}/{method}", self.base)).json(&body);
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        let response = request.send().await.map_err(|e| network(method, e))?;
        decode(method, response).await
    }

    pub async fn get_me(&self) -> Result<BotUser, ApiError> {
        self.call("getMe", json!({}), None).await
    }

    /// Long-polls for updates after `offset`, holding up to `timeout_secs`.
    /// Updates that fail to parse are returned as raw values so the caller
    /// can still confirm (skip) them.
    pub async fn get_updates(
        &self,
        offset: i64,
        timeout_secs: u32,
        limit: u32,
    ) -> Result<Vec<Result<Update, (i64, String)>>, ApiError> {
        let raw: Vec<Value> = self
            .call(
                "getUpdates",
                json!({ "offset": offset, "timeout": timeout_secs, "limit": limit, "allowed_updates": self.allowed_updates }),
                Some(Duration::from_secs(u64::from(timeout_secs) + 15)),
            )
            .await?;
        Ok(raw
            .into_iter()
            .map(|value| {
                let id = value.get("update_id").and_then(Value::as_i64).unwrap_or(-1);
                // From text, not from the `Value`: teloxide's `Update` reads
                // borrowed keys and silently yields `UpdateKind::Error` otherwise.
                serde_json::from_str::<Update>(&value.to_string()).map_err(|e| (id, e.to_string()))
            })
            .collect())
    }

    pub async fn delete_webhook(&self) -> Result<bool, ApiError> {
        self.call("deleteWebhook", json!({ "drop_pending_updates": false }), None).await
    }

    pub async fn set_webhook(&self, url: &str, secret: Option<&str>) -> Result<bool, ApiError> {
        let mut body = json!({ "url": url, "allowed_updates": self.allowed_updates });
        if let Some(secret) = secret {
            body["secret_token"] = json!(secret);
        }
        self.call("setWebhook", body, None).await
    }

    /// Registers the command menu for users whose `language_code` is
    /// `language` (a two-letter code), or for everyone else with `None`.
    pub async fn set_my_commands(&self, commands: &[(&str, String)], language: Option<&str>) -> Result<bool, ApiError> {
        let list: Vec<Value> = commands.iter().map(|(c, d)| json!({ "command": c, "description": d })).collect();
        let mut body = json!({ "commands": list });
        if let Some(code) = language {
            body["language_code"] = json!(code);
        }
        self.call("setMyCommands", body, None).await
    }

    pub async fn send_message(
        &self,
        chat_id: ChatId,
        thread: Option<ThreadId>,
        text: &str,
        reply_to: Option<MessageId>,
        keyboard: &Keyboard,
    ) -> Result<MessageId, ApiError> {
        let text = fit(text, MAX_TEXT_UNITS);
        let mut body = json!({ "chat_id": chat_id.0, "text": text, "link_preview_options": { "is_disabled": true } });
        add_thread(&mut body, thread);
        add_reply(&mut body, reply_to);
        if let Some(markup) = keyboard.markup() {
            body["reply_markup"] = markup;
        }
        let message: Value = self.call("sendMessage", body, None).await?;
        Ok(MessageId(message.get("message_id").and_then(Value::as_i64).unwrap_or_default()))
    }

    /// Answers a button press (`text`: a short notice, up to 200 characters).
    pub async fn answer_callback_query(&self, id: &str, text: Option<&str>) -> Result<(), ApiError> {
        let mut body = json!({ "callback_query_id": id });
        if let Some(text) = text {
            body["text"] = json!(text);
        }
        let _: Value = self.call("answerCallbackQuery", body, Some(Duration::from_secs(10))).await?;
        Ok(())
    }

    /// Sends an invoice in Telegram Stars: currency `XTR`, an empty
    /// `provider_token`, exactly one price.
    pub async fn send_invoice(&self, chat_id: ChatId, invoice: &StarsInvoice) -> Result<MessageId, ApiError> {
        let body = json!({
            "chat_id": chat_id.0,
            "title": invoice.title,
            "description": invoice.description,
            "payload": invoice.payload,
            "provider_token": "",
            "currency": "XTR",
            "prices": [{ "label": invoice.label, "amount": invoice.stars }],
        });
        let message: Value = self.call("sendInvoice", body, None).await?;
        Ok(MessageId(message.get("message_id").and_then(Value::as_i64).unwrap_or_default()))
    }

    /// Answers a pre-checkout query: `Ok` lets the payment go on, `Err`
    /// stops it with that message to the user. Telegram waits 10 seconds.
    pub async fn answer_pre_checkout_query(&self, id: &str, answer: Result<(), &str>) -> Result<(), ApiError> {
        let body = match answer {
            Ok(()) => json!({ "pre_checkout_query_id": id, "ok": true }),
            Err(message) => json!({ "pre_checkout_query_id": id, "ok": false, "error_message": message }),
        };
        let _: Value = self.call("answerPreCheckoutQuery", body, Some(Duration::from_secs(8))).await?;
        Ok(())
    }

    /// Gives a whole Stars payment back to the user.
    pub async fn refund_star_payment(&self, user_id: i64, charge_id: &str) -> Result<(), ApiError> {
        let body = json!({ "user_id": user_id, "telegram_payment_charge_id": charge_id });
        let _: Value = self.call("refundStarPayment", body, None).await?;
        Ok(())
    }

    pub async fn get_file(&self, file_id: &str) -> Result<TelegramFile, ApiError> {
        self.call("getFile", json!({ "file_id": file_id }), None).await
    }

    /// Downloads a file `get_file` returned, refusing more than `max_bytes`.
    pub async fn download(&self, file_path: &str, max_bytes: u64) -> Result<Vec<u8>, ApiError> {
        const METHOD: &str = "file download";
        let mut response =
            self.http.get(format!("{}/{file_path}", self.file_base)).send().await.map_err(|e| network(METHOD, e))?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            return Err(ApiError::Refused {
                method: METHOD,
                code: status,
                description: "download failed".into(),
                retry_after: None,
                migrate_to: None,
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| network(METHOD, e))? {
            if (body.len() + chunk.len()) as u64 > max_bytes {
                let description = format!("file is too big (over {max_bytes} bytes)");
                return Err(ApiError::Refused { method: METHOD, code: 413, description, retry_after: None, migrate_to: None });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    pub async fn edit_message_text(&self, chat_id: ChatId, message_id: MessageId, text: &str) -> Result<(), ApiError> {
        let text = fit(text, MAX_TEXT_UNITS);
        let body = json!({ "chat_id": chat_id.0, "message_id": message_id.0, "text": text });
        let _: Value = self.call("editMessageText", body, None).await?;
        Ok(())
    }

    /// Edits a message's text and its inline keyboard together (one call).
    pub async fn edit_message_text_and_keyboard(
        &self,
        chat_id: ChatId,
        message_id: MessageId,
        text: &str,
        rows: &[Vec<InlineButton>],
    ) -> Result<(), ApiError> {
        let body = json!({
            "chat_id": chat_id.0,
            "message_id": message_id.0,
            "text": text,
            "link_preview_options": { "is_disabled": true },
            "reply_markup": inline_markup(rows),
        });
        let _: Value = self.call("editMessageText", body, None).await?;
        Ok(())
    }

    /// Replaces the inline keyboard of a message (an empty list removes it).
    pub async fn edit_message_reply_markup(
        &self,
        chat_id: ChatId,
        message_id: MessageId,
        rows: &[Vec<InlineButton>],
    ) -> Result<(), ApiError> {
        let body = json!({ "chat_id": chat_id.0, "message_id": message_id.0, "reply_markup": inline_markup(rows) });
        let _: Value = self.call("editMessageReplyMarkup", body, None).await?;
        Ok(())
    }

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

/// A forum topic's messages go to it; General (and every chat without
/// topics) is addressed by leaving the thread out.
fn add_thread(body: &mut Value, thread: Option<ThreadId>) {
    if let Some(thread) = thread {
        body["message_thread_id"] = json!(thread.0);
    }
}

fn add_reply(body: &mut Value, reply_to: Option<MessageId>) {
    if let Some(message_id) = reply_to {
        body["reply_parameters"] = json!({ "message_id": message_id.0, "allow_sending_without_reply": true });
    }
}

fn network(method: &'static str, err: reqwest::Error) -> ApiError {
    ApiError::Network { method, message: err.without_url().to_string() }
}

async fn decode<T: DeserializeOwned>(method: &'static str, response: reqwest::Response) -> Result<T, ApiError> {
    let status = response.status().as_u16();
    let text = response.text().await.map_err(|e| network(method, e))?;
    let envelope: Envelope =
        serde_json::from_str(&text).map_err(|e| ApiError::Garbled { method, status, message: e.to_string() })?;
    if !envelope.ok {
        return Err(ApiError::Refused {
            method,
            code: envelope.error_code.unwrap_or(status),
            description: envelope.description.unwrap_or_default(),
            retry_after: envelope.parameters.as_ref().and_then(|p| p.retry_after),
            migrate_to: envelope.parameters.and_then(|p| p.migrate_to_chat_id),
        });
    }
    serde_json::from_value(envelope.result.unwrap_or(Value::Null)).map_err(|e| ApiError::Garbled {
        method,
        status,
        message: e.to_string(),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(code: u16, description: &str) -> ApiError {
        ApiError::Refused { method: "sendVideo", code, description: description.into(), retry_after: None, migrate_to: None }
    }

    #[test]
    fn failures_are_classified() {
        assert_eq!(
            ApiError::Refused {
                method: "sendMessage",
                code: 429,
                description: String::new(),
                retry_after: Some(7),
                migrate_to: None
            }
            .failure(),
            ApiFailure::FloodWait(7)
        );
        assert_eq!(refused(502, "Bad Gateway").failure(), ApiFailure::Transient);
        assert_eq!(refused(403, "Forbidden: bot was blocked by the user").failure(), ApiFailure::ChatUnreachable);
        assert_eq!(refused(400, "Bad Request: chat not found").failure(), ApiFailure::ChatUnreachable);
        assert_eq!(refused(400, "Bad Request: wrong file").failure(), ApiFailure::Rejected);
        // a chat that won't take posts fails alone, for good
        assert_eq!(
            refused(400, "Bad Request: not enough rights to send videos to the chat").failure(),
            ApiFailure::ChatUnreachable
        );
        assert_eq!(
            refused(400, "Bad Request: not enough rights to send text messages to the chat").failure(),
            ApiFailure::ChatUnreachable
        );
        assert_eq!(refused(400, "Bad Request: CHAT_WRITE_FORBIDDEN").failure(), ApiFailure::ChatUnreachable);
        let moved = ApiError::Refused {
            method: "sendVideo",
            code: 400,
            description: "Bad Request: group chat was upgraded to a supergroup chat".into(),
            retry_after: None,
            migrate_to: Some(-1_001_234),
        };
        assert_eq!(moved.failure(), ApiFailure::Migrated(ChatId(-1_001_234)));
        assert_eq!(
            refused(400, "Bad Request: group chat was upgraded to a supergroup chat").failure(),
            ApiFailure::ChatUnreachable
        );
        assert_eq!(refused(400, "Bad Request: wrong file identifier/HTTP URL specified").failure(), ApiFailure::UnknownFile);
        assert_eq!(refused(413, "Request Entity Too Large").failure(), ApiFailure::Rejected);
        assert_eq!(ApiError::Network { method: "getMe", message: "timeout".into() }.failure(), ApiFailure::Transient);
    }

    #[test]
    fn a_flood_wait_is_capped_whatever_telegram_says() {
        let flood = |retry_after| {
            ApiError::Refused { method: "sendMessage", code: 429, description: String::new(), retry_after, migrate_to: None }
                .failure()
        };
        assert_eq!(flood(Some(u64::MAX)), ApiFailure::FloodWait(60));
        assert_eq!(flood(Some(1_000_000)), ApiFailure::FloodWait(60));
        assert_eq!(flood(Some(60)), ApiFailure::FloodWait(60));
        assert_eq!(flood(Some(0)), ApiFailure::FloodWait(1));
        assert_eq!(flood(None), ApiFailure::FloodWait(1));
    }
}

/// A cached video in an inline answer (`InlineQueryResultCachedVideo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineVideo {
    /// Unique in the answer, 1–64 bytes.
    pub id: String,
    pub file_id: String,
    pub title: String,
    pub description: Option<String>,
}

/// The button above an inline answer that opens the private chat with
/// `/start <start_parameter>` (1–64 of `A-Za-z0-9_-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineResultsButton {
    pub text: String,
    pub start_parameter: String,
}

impl BotApi {
    /// Answers an inline query (`answerInlineQuery`): at most 50 results.
    pub async fn answer_inline_query(
        &self,
        inline_query_id: &str,
        results: &[InlineVideo],
        next_offset: Option<&str>,
        is_personal: bool,
        cache_time: u32,
        button: Option<&InlineResultsButton>,
    ) -> Result<(), ApiError> {
        let results: Vec<Value> = results
            .iter()
            .take(50)
            .map(|r| {
                let mut item = json!({ "type": "video", "id": r.id, "video_file_id": r.file_id, "title": r.title });
                if let Some(description) = &r.description {
                    item["description"] = json!(description);
                }
                item
            })
            .collect();
        let mut body = json!({
            "inline_query_id": inline_query_id,
            "results": results,
            "cache_time": cache_time,
            "is_personal": is_personal,
        });
        if let Some(offset) = next_offset {
            body["next_offset"] = json!(offset);
        }
        if let Some(button) = button {
            body["button"] = json!({ "text": button.text, "start_parameter": button.start_parameter });
        }
        let _: Value = self.call("answerInlineQuery", body, None).await?;
        Ok(())
    }
}
