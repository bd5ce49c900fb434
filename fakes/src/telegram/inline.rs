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
        let text = button.get("text").and_then(Value::as_str).unwrap_or("");
        if text.is_empty() {
            return Err("Bad Request: BUTTON_TEXT_INVALID".into());
        }
        match (button.get("start_parameter"), button.get("web_app")) {
            (Some(Value::String(start)), None) => {
                let valid =
                    (1..=64).contains(&start.len()) && start.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
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

#[cfg(test)]
mod tests {
    use serde_json::{Map, json};

    use super::*;

    fn params(body: Value) -> Params {
        let Value::Object(values) = body else { panic!("an object") };
        Params { values, files: Default::default() }
    }

    fn video(id: &str, file: &str) -> Value {
        json!({"type": "video", "id": id, "video_file_id": file, "title": "A fox"})
    }

    fn check(body: Value) -> Result<Vec<Value>, String> {
        check_answer(&params(body), |f| f.starts_with("known"))
    }

    #[test]
    fn answers_are_checked_as_telegram_does() {
        assert!(check(json!({"inline_query_id": "1", "results": [video("a1", "known1"), video("a2", "known2")]})).is_ok());
        let dup = check(json!({"inline_query_id": "1", "results": [video("a1", "known1"), video("a1", "known2")]}));
        assert!(dup.unwrap_err().contains("RESULT_ID_DUPLICATE"));
        let unknown = check(json!({"inline_query_id": "1", "results": [video("a1", "stranger")]}));
        assert!(unknown.unwrap_err().contains("wrong file identifier"));
        let long_id = "x".repeat(65);
        assert!(check(json!({"inline_query_id": "1", "results": [video(&long_id, "known")]})).is_err());
        let many: Vec<Value> = (0..51).map(|i| video(&format!("a{i}"), "known")).collect();
        assert!(check(json!({"inline_query_id": "1", "results": many})).unwrap_err().contains("RESULTS_TOO_MUCH"));
        let photo = json!({"type": "photo", "id": "p", "photo_file_id": "known", "title": "t"});
        assert!(check(json!({"inline_query_id": "1", "results": [photo]})).is_err());
        let untitled = json!({"type": "video", "id": "v", "video_file_id": "known"});
        assert!(check(json!({"inline_query_id": "1", "results": [untitled]})).is_err());
        let mut extra = Map::new();
        extra.insert("type".into(), json!("video"));
        extra.insert("id".into(), json!("v"));
        extra.insert("video_file_id".into(), json!("known"));
        extra.insert("title".into(), json!("t"));
        extra.insert("video_url".into(), json!("https://example.com/v.mp4"));
        assert!(check(json!({"inline_query_id": "1", "results": [Value::Object(extra)]})).is_err());
    }

    #[test]
    fn the_button_needs_text_and_a_valid_start_parameter() {
        let ok = json!({"inline_query_id": "1", "results": [], "button": {"text": "Make it", "start_parameter": "abc_DEF-1"}});
        assert!(check(ok).is_ok());
        for start in ["", "has space", "ümlaut", &"x".repeat(65)] {
            let bad = json!({"inline_query_id": "1", "results": [], "button": {"text": "Make it", "start_parameter": start}});
            assert!(check(bad).unwrap_err().contains("START_PARAM_INVALID"), "{start:?}");
        }
        let no_text = json!({"inline_query_id": "1", "results": [], "button": {"start_parameter": "abc"}});
        assert!(check(no_text).is_err());
        let neither = json!({"inline_query_id": "1", "results": [], "button": {"text": "Make it"}});
        assert!(check(neither).is_err());
        let offset = json!({"inline_query_id": "1", "results": [], "next_offset": "9".repeat(65)});
        assert!(check(offset).is_err());
    }
}
