//! `answerInlineQuery` as Telegram checks it (Bot API 10.1): the results
//! are `InlineQueryResultCachedVideo`s (the only kind vidcache sends; any
//! other is refused here, to keep the fake strict), each with a unique
//! 1–64-byte `id`, a `video_file_id` this bot got, and a `title`; at most
//! 50; `next_offset` at most 64 bytes; a `button` with `text` and exactly
//! one of `start_parameter` (1–64 of `A-Za-z0-9_-`) or `web_app`.

use std::collections::HashSet;

use serde_json::Value;

use super::request::Params;

/// The fields `InlineQueryResultCachedVideo` takes (from the official list).
const CACHED_VIDEO_FIELDS: &[&str] = &[
    "type",
    "id",
    "video_file_id",
    "title",
    "description",
    "caption",
    "parse_mode",
    "caption_entities",
    "show_caption_above_media",
    "reply_markup",
    "input_message_content",
];

/// Checks an answer's parameters; `known` tells the `file_id`s this bot
/// may send. The error is Telegram's description.
pub(crate) fn check_answer(p: &Params, known: impl Fn(&str) -> bool) -> Result<Vec<Value>, String> {
    let results = match p.json("results") {
        Some(Value::Array(results)) => results,
        _ => return Err("Bad Request: can't parse inline query results JSON object".into()),
    };
    if results.len() > 50 {
        return Err("Bad Request: RESULTS_TOO_MUCH".into());
    }
    let mut ids = HashSet::new();
    for result in &results {
        let Some(item) = result.as_object() else { return Err("Bad Request: can't parse inline query result".into()) };
        if item.get("type").and_then(Value::as_str) != Some("video") {
            return Err("Bad Request: RESULT_TYPE_INVALID".into());
        }
        if let Some(field) = item.keys().find(|k| !CACHED_VIDEO_FIELDS.contains(&k.as_str())) {
            return Err(format!("Bad Request: can't parse inline query result: unknown field \"{field}\""));
        }
        let id = item.get("id").and_then(Value::as_str).unwrap_or("");
        if id.is_empty() || id.len() > 64 {
            return Err("Bad Request: RESULT_ID_INVALID".into());
        }
        if !ids.insert(id.to_owned()) {
            return Err("Bad Request: RESULT_ID_DUPLICATE".into());
        }
        let Some(file_id) = item.get("video_file_id").and_then(Value::as_str) else {
            return Err("Bad Request: can't parse inline query result: field \"video_file_id\" must be of type String".into());
        };
        if !known(file_id) {
            return Err("Bad Request: wrong file identifier/HTTP URL specified".into());
        }
        match item.get("title").and_then(Value::as_str) {
            Some(title) if !title.trim().is_empty() => {}
            _ => return Err("Bad Request: RESULT_TITLE_EMPTY".into()),
        }
    }
    if let Some(offset) = p.str("next_offset")
        && offset.len() > 64
    {
        return Err("Bad Request: NEXT_OFFSET_INVALID".into());
    }
    if let Some(button) = p.json("button") {
        let Some(button) = button.as_object() else { return Err("Bad Request: can't parse inline query results button".into()) };
        if !button.get("text").is_some_and(|t| t.as_str().is_some_and(|t| !t.is_empty())) {
            return Err("Bad Request: BUTTON_TEXT_INVALID".into());
        }
        match (button.get("start_parameter"), button.get("web_app")) {
            (Some(Value::String(start)), None) => {
                let valid = (1..=64).contains(&start.len())
                    && start.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                if !valid {
                    return Err("Bad Request: START_PARAM_INVALID".into());
                }
            }
            (None, Some(Value::Object(_))) => {}
            _ => return Err("Bad Request: BUTTON_TYPE_INVALID".into()),
        }
    }
    Ok(results)
}
