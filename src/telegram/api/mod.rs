//! A small, strict client for the Telegram Bot API methods vidcache uses.
//!
//! It keeps what teloxide's default client drops: the HTTP status and
//! `error_code`, `parameters.retry_after`, and never sleeps on its own, so
//! the [`super::sender::Sender`] decides every retry. Request URLs carry the
//! bot token: errors are stripped of their URL before they can be logged.

mod error;
mod inline;
mod media;
mod messages;
mod payments;

use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use teloxide::types::Update;

use crate::config::BotToken;

pub use error::{ApiError, ApiFailure, MAX_FLOOD_WAIT_SECS};
pub use inline::{InlineResultsButton, InlineVideo};
pub use media::{MediaKind, SentVideo};
pub use messages::{InlineButton, Keyboard};
pub use payments::StarsInvoice;

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

/// The bot's own identity (`getMe`).
#[derive(Debug, Clone, Deserialize)]
pub struct BotUser {
    pub id: i64,
    pub username: Option<String>,
}

/// The update kinds the bot handles: Telegram delivers only these.
pub const ALLOWED_UPDATES: &[&str] = &["message", "callback_query", "pre_checkout_query", "inline_query"];

/// [`ALLOWED_UPDATES`] and `chosen_inline_result`: with `INLINE_FEEDBACK=on`.
pub const ALLOWED_UPDATES_WITH_FEEDBACK: &[&str] =
    &["message", "callback_query", "pre_checkout_query", "inline_query", "chosen_inline_result"];

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
