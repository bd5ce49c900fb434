//! Text messages, their keyboards, button presses and edits.

use std::time::Duration;

use serde_json::{Value, json};

use super::{ApiError, BotApi};
use crate::domain::{ChatId, MessageId, ThreadId};
use crate::telegram::length::{MAX_TEXT_UNITS, fit};

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
    pub(super) fn markup(&self) -> Option<Value> {
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

pub(super) fn inline_markup(rows: &[Vec<InlineButton>]) -> Value {
    let rows: Vec<Vec<Value>> =
        rows.iter().map(|row| row.iter().map(|b| json!({ "text": b.text, "callback_data": b.data })).collect()).collect();
    json!({ "inline_keyboard": rows })
}

impl BotApi {
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
}

/// A forum topic's messages go to it; General (and every chat without
/// topics) is addressed by leaving the thread out.
pub(super) fn add_thread(body: &mut Value, thread: Option<ThreadId>) {
    if let Some(thread) = thread {
        body["message_thread_id"] = json!(thread.0);
    }
}

pub(super) fn add_reply(body: &mut Value, reply_to: Option<MessageId>) {
    if let Some(message_id) = reply_to {
        body["reply_parameters"] = json!({ "message_id": message_id.0, "allow_sending_without_reply": true });
    }
}
