//! The fake OpenAI-compatible API: chat completions, speech, transcriptions,
//! moderations.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::{Endpoint, Shared, bearer, error, json_body, media, required_str, serve};

fn authorized(shared: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    let key = shared.lock().config.openai_key.clone();
    if bearer(headers) == Some(key.as_str()) {
        return Ok(());
    }
    Err((
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({"error": {
            "message": "Incorrect API key provided.",
            "type": "invalid_request_error",
            "code": "invalid_api_key"
        }})),
    )
        .into_response())
}

/// A 400 as OpenAI answers a request its API refuses.
fn invalid(param: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": {"message": message, "type": "invalid_request_error", "param": param, "code": null}})),
    )
        .into_response()
}

/// What the OpenAPI spec (openai/openai-openapi `openapi.yaml`) and the API
/// refuse in a chat completion: unknown message roles, and JSON mode
/// without the word "json" in the messages (the API's own 400).
fn check_chat(body: &Value) -> Result<(), Response> {
    let messages = body["messages"]
        .as_array()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| invalid("messages", "`messages` must be a non-empty array"))?;
    for (i, message) in messages.iter().enumerate() {
        if !message["role"].as_str().is_some_and(|r| ["system", "developer", "user", "assistant", "tool"].contains(&r)) {
            return Err(invalid(&format!("messages[{i}].role"), "Invalid value for 'role'."));
        }
    }
    if let Some(format) = body.get("response_format") {
        match format["type"].as_str() {
            Some("text" | "json_schema") => {}
            Some("json_object") => {
                let mentions_json =
                    messages.iter().filter_map(|m| m["content"].as_str()).any(|c| c.to_ascii_lowercase().contains("json"));
                if !mentions_json {
                    return Err(invalid(
                        "messages",
                        "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
                    ));
                }
            }
            _ => return Err(invalid("response_format.type", "Invalid value for 'response_format.type'.")),
        }
    }
    Ok(())
}

/// `CreateSpeechRequest`: `response_format` one of six, `speed` 0.25–4,
/// `instructions` not with `tts-1`/`tts-1-hd`, `input` up to 4096 characters.
fn check_speech(body: &Value) -> Result<(), Response> {
    for field in ["model", "input", "voice"] {
        required_str(body, field)?;
    }
    if body["input"].as_str().is_some_and(|i| i.chars().count() > 4096) {
        return Err(invalid("input", "`input` is longer than 4096 characters"));
    }
    if let Some(format) = body.get("response_format")
        && !format.as_str().is_some_and(|f| ["mp3", "opus", "aac", "flac", "wav", "pcm"].contains(&f))
    {
        return Err(invalid("response_format", "Invalid value for 'response_format': use mp3, opus, aac, flac, wav or pcm."));
    }
    if let Some(speed) = body.get("speed")
        && !speed.as_f64().is_some_and(|s| (0.25..=4.0).contains(&s))
    {
        return Err(invalid("speed", "'speed' must be between 0.25 and 4.0."));
    }
    if body.get("instructions").is_some() && body["model"].as_str().is_some_and(|m| m == "tts-1" || m == "tts-1-hd") {
        return Err(invalid("instructions", "'instructions' is not supported with this model."));
    }
    Ok(())
}

/// `CreateTranscriptionRequest`: a file in one of the listed formats (by
/// its name), `response_format` one of six, only `json` with the
/// `gpt-4o(-mini)-transcribe` models.
fn check_transcription(fields: &serde_json::Map<String, Value>, file_name: &str) -> Result<(), Response> {
    let model = fields.get("model").and_then(Value::as_str).unwrap_or_default();
    if model.is_empty() {
        return Err(invalid("model", "`model` is required"));
    }
    let extension = file_name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    if !["flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "oga", "ogg", "wav", "webm"].contains(&extension.as_str()) {
        return Err(invalid(
            "file",
            "Invalid file format. Supported formats: ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm']",
        ));
    }
    if let Some(format) = fields.get("response_format").and_then(Value::as_str) {
        if !["json", "text", "srt", "verbose_json", "vtt", "diarized_json"].contains(&format) {
            return Err(invalid("response_format", "Invalid value for 'response_format'."));
        }
        let json_only =
            (model.starts_with("gpt-4o-transcribe") && !model.contains("diarize")) || model.starts_with("gpt-4o-mini-transcribe");
        if json_only && format != "json" {
            return Err(invalid(
                "response_format",
                &format!("response_format '{format}' is not compatible with model '{model}'. Use 'json'."),
            ));
        }
    }
    Ok(())
}

/// The number after "exactly " in `text`, as in "exactly 10 segments".
fn segments_asked(text: &str) -> Option<usize> {
    let rest = &text[text.find("exactly ")? + "exactly ".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|n| (1..=1000).contains(n))
}

fn message_text(body: &Value, role: &str) -> String {
    body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["role"] == role)
        .filter_map(|m| m["content"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn script(topic: &str, segments: usize) -> String {
    let topic: String = topic.chars().take(80).collect();
    let segments: Vec<Value> = (1..=segments)
        .map(|i| {
            json!({
                "narration": format!("Part {i} of the story of {topic}."),
                "visual": format!("Scene {i}: {topic}, seen from a new angle, soft morning light"),
            })
        })
        .collect();
    json!({"title": format!("The story of {topic}"), "segments": segments}).to_string()
}

pub(super) async fn chat(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    serve(&shared, Endpoint::Chat, async {
        if let Err(denied) = authorized(&shared, &headers) {
            return denied;
        }
        let body = match json_body(&body) {
            Ok(body) => body,
            Err(bad) => return bad,
        };
        let model = match required_str(&body, "model") {
            Ok(model) => model.to_owned(),
            Err(bad) => return bad,
        };
        if let Err(bad) = check_chat(&body) {
            return bad;
        }
        let (refusal, default_segments) = {
            let mut st = shared.lock();
            st.record(Endpoint::Chat, body.clone());
            (st.chat_refusal.clone(), st.config.default_segments)
        };
        let system = message_text(&body, "system");
        let user = message_text(&body, "user");
        let content = if refusal.is_some() {
            Value::Null
        } else if body["response_format"]["type"] == "json_object" {
            Value::String(script(&user, segments_asked(&system).unwrap_or(default_segments)))
        } else {
            let first_line: String = user.lines().find(|l| !l.trim().is_empty()).unwrap_or("").chars().take(200).collect();
            let scene: String = user.lines().find(|l| l.starts_with("Scene")).unwrap_or("").chars().take(300).collect();
            Value::String(format!("A cinematic, softly lit shot. {first_line} {scene}").trim().to_owned())
        };
        let id = shared.lock().next_id();
        axum::Json(json!({
            "id": format!("chatcmpl-fake{id}"),
            "object": "chat.completion",
            "created": 1_767_225_600,
            "model": model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal},
                "finish_reason": "stop"
            }],
            "usage": {"prompt_tokens": 50, "completion_tokens": 50, "total_tokens": 100}
        }))
        .into_response()
    })
    .await
}

pub(super) async fn speech(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    serve(&shared, Endpoint::Speech, async {
        if let Err(denied) = authorized(&shared, &headers) {
            return denied;
        }
        let body = match json_body(&body) {
            Ok(body) => body,
            Err(bad) => return bad,
        };
        if let Err(bad) = check_speech(&body) {
            return bad;
        }
        let input = body["input"].as_str().unwrap_or_default();
        // about 14 characters a second, like a calm narrator
        let seconds = (input.chars().count() as f64 / 14.0).clamp(0.5, 300.0);
        let format = body["response_format"].as_str().unwrap_or("mp3").to_owned();
        shared.lock().record(Endpoint::Speech, body);
        match format.as_str() {
            "wav" => ([(header::CONTENT_TYPE, "audio/wav")], media::wav(seconds)).into_response(),
            "pcm" => ([(header::CONTENT_TYPE, "audio/pcm")], media::pcm(seconds, 24_000)).into_response(),
            other => error(StatusCode::BAD_REQUEST, &format!("the fake makes wav and pcm only, not {other}")),
        }
    })
    .await
}

pub(super) async fn transcription(State(shared): State<Arc<Shared>>, headers: HeaderMap, mut form: Multipart) -> Response {
    // the multipart stream is read inside: `serve` takes the future by value
    let shared2 = shared.clone();
    serve(&shared2, Endpoint::Transcription, async move {
        if let Err(denied) = authorized(&shared, &headers) {
            return denied;
        }
        let mut fields = serde_json::Map::new();
        let mut file: Option<(String, usize, String)> = None;
        loop {
            match form.next_field().await {
                Ok(Some(field)) => {
                    let name = field.name().unwrap_or_default().to_owned();
                    let file_name = field.file_name().map(str::to_owned);
                    let content_type = field.content_type().unwrap_or_default().to_owned();
                    let Ok(data) = field.bytes().await else {
                        return error(StatusCode::BAD_REQUEST, "a form field could not be read");
                    };
                    if name == "file" {
                        file = Some((file_name.unwrap_or_default(), data.len(), content_type));
                    } else {
                        fields.insert(name, Value::String(String::from_utf8_lossy(&data).into_owned()));
                    }
                }
                Ok(None) => break,
                Err(e) => return error(StatusCode::BAD_REQUEST, &format!("invalid multipart body: {e}")),
            }
        }
        let Some((file_name, size, content_type)) = file.filter(|f| f.1 > 0) else {
            return error(StatusCode::BAD_REQUEST, "`file` is required");
        };
        if let Err(bad) = check_transcription(&fields, &file_name) {
            return bad;
        }
        fields.insert("file_name".into(), Value::String(file_name));
        fields.insert("file_bytes".into(), json!(size));
        fields.insert("file_content_type".into(), Value::String(content_type));
        let text = {
            let mut st = shared.lock();
            st.record(Endpoint::Transcription, Value::Object(fields));
            st.config.transcript.clone()
        };
        axum::Json(json!({"text": text})).into_response()
    })
    .await
}

/// The categories of `omni-moderation-latest`, and the input types each
/// is scored on (images: sexual, violence and self-harm only).
const MODERATION_CATEGORIES: [(&str, bool); 13] = [
    ("harassment", false),
    ("harassment/threatening", false),
    ("hate", false),
    ("hate/threatening", false),
    ("illicit", false),
    ("illicit/violent", false),
    ("self-harm", true),
    ("self-harm/intent", true),
    ("self-harm/instructions", true),
    ("sexual", true),
    ("sexual/minors", false),
    ("violence", true),
    ("violence/graphic", true),
];

/// `CreateModerationRequest` (openai-openapi): `input` required — a
/// string, an array of strings, or an array of `{type: "text", text}` and
/// `{type: "image_url", image_url: {url}}` objects (images only with the
/// omni models; the URL an `http(s)` URL or a base64 `data:image/…` URL);
/// `model` an optional string; no other field. Returns the texts.
fn check_moderation(body: &Value) -> Result<(Vec<String>, usize), Response> {
    let object = body.as_object().ok_or_else(|| invalid("", "the body must be a JSON object"))?;
    if let Some(field) = object.keys().find(|k| !["model", "input"].contains(&k.as_str())) {
        return Err(invalid(field, &format!("Unrecognized request argument supplied: {field}")));
    }
    let model = match object.get("model") {
        None => "omni-moderation-latest",
        Some(Value::String(model)) if !model.is_empty() => model.as_str(),
        Some(_) => return Err(invalid("model", "'model' must be a string")),
    };
    let input = object.get("input").ok_or_else(|| invalid("input", "Missing required parameter: 'input'."))?;
    let mut texts = Vec::new();
    let mut images = 0;
    match input {
        Value::String(text) => texts.push(text.clone()),
        Value::Array(items) if items.is_empty() => return Err(invalid("input", "'input' must not be empty")),
        Value::Array(items) if items.iter().all(Value::is_string) => {
            texts.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let keys: Vec<&str> = item.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
                match item["type"].as_str() {
                    Some("text") if keys.len() == 2 && item["text"].is_string() => {
                        texts.push(item["text"].as_str().unwrap_or_default().to_owned());
                    }
                    Some("image_url") if keys.len() == 2 && item["image_url"].as_object().is_some_and(|o| o.len() == 1) => {
                        let url = item["image_url"]["url"].as_str().unwrap_or_default();
                        let data_image = url
                            .strip_prefix("data:image/")
                            .and_then(|rest| rest.split_once(";base64,"))
                            .is_some_and(|(_, data)| !data.is_empty() && STANDARD.decode(data).is_ok());
                        if !(data_image || url.starts_with("https://") || url.starts_with("http://")) {
                            return Err(invalid(&format!("input[{i}].image_url.url"), "Invalid image URL."));
                        }
                        images += 1;
                    }
                    _ => return Err(invalid(&format!("input[{i}]"), "Invalid value for 'input'.")),
                }
            }
        }
        _ => return Err(invalid("input", "'input' must be a string or an array")),
    }
    if images > 0 && !model.starts_with("omni-moderation") {
        return Err(invalid("model", &format!("Model {model} does not support image inputs.")));
    }
    Ok((texts, images))
}

/// One moderation result: flagged with `flagged` (names of categories).
fn moderation_result(flagged: &[String], images: bool) -> Value {
    let mut categories = serde_json::Map::new();
    let mut scores = serde_json::Map::new();
    let mut applied = serde_json::Map::new();
    for (name, scored_on_images) in MODERATION_CATEGORIES {
        let on = flagged.iter().any(|f| f == name);
        categories.insert(name.into(), json!(on));
        scores.insert(name.into(), json!(if on { 0.93 } else { 0.0001 }));
        let types: Vec<&str> = if images && scored_on_images { vec!["text", "image"] } else { vec!["text"] };
        applied.insert(name.into(), json!(types));
    }
    json!({
        "flagged": !flagged.is_empty(),
        "categories": categories,
        "category_scores": scores,
        "category_applied_input_types": applied,
    })
}

pub(super) async fn moderations(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    serve(&shared, Endpoint::Moderation, async {
        if let Err(denied) = authorized(&shared, &headers) {
            return denied;
        }
        let body = match json_body(&body) {
            Ok(body) => body,
            Err(bad) => return bad,
        };
        let (texts, images) = match check_moderation(&body) {
            Ok(found) => found,
            Err(bad) => return bad,
        };
        let (flags, model, id) = {
            let mut st = shared.lock();
            st.record(Endpoint::Moderation, body.clone());
            (st.moderation_flags.clone(), body["model"].as_str().unwrap_or("omni-moderation-latest").to_owned(), st.next_id())
        };
        // the categories of every flag whose word is in the text
        let flagged_for = |text: &str| -> Vec<String> {
            let text = text.to_lowercase();
            let mut found: Vec<String> = flags
                .iter()
                .filter(|(word, _)| text.contains(&word.to_lowercase()))
                .flat_map(|(_, categories)| categories.iter().cloned())
                .collect();
            found.sort();
            found.dedup();
            found
        };
        let results: Vec<Value> =
            if body["input"].is_array() && !body["input"].as_array().is_some_and(|a| a.iter().all(Value::is_string)) {
                // text and image parts: one result for them all
                vec![moderation_result(&flagged_for(&texts.join("\n")), images > 0)]
            } else {
                texts.iter().map(|text| moderation_result(&flagged_for(text), false)).collect()
            };
        axum::Json(json!({"id": format!("modr-fake{id}"), "model": model, "results": results})).into_response()
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_segment_count() {
        assert_eq!(segments_asked("… with exactly 10 segments. Each …"), Some(10));
        assert_eq!(segments_asked("no number"), None);
        let parsed: Value = serde_json::from_str(&script("Zoë", 3)).expect("valid JSON");
        assert_eq!(parsed["segments"].as_array().map(Vec::len), Some(3));
    }

    fn refused(result: Result<(), Response>) -> bool {
        result.err().is_some_and(|r| r.status() == StatusCode::BAD_REQUEST)
    }

    #[test]
    fn requests_the_api_refuses_are_refused() {
        let chat = |system: &str, format: Value| json!({"model": "gpt-4o-mini", "messages": [{"role": "system", "content": system}, {"role": "user", "content": "hi"}], "response_format": format});
        assert!(check_chat(&chat("Answer in JSON.", json!({"type": "json_object"}))).is_ok());
        assert!(refused(check_chat(&chat("Answer with an object.", json!({"type": "json_object"})))));
        assert!(refused(check_chat(&json!({"model": "m", "messages": [{"role": "narrator", "content": "x"}]}))));
        let speech = |extra: Value| {
            let mut b = json!({"model": "gpt-4o-mini-tts", "input": "hello", "voice": "alloy", "response_format": "wav"});
            if let (Some(b), Some(e)) = (b.as_object_mut(), extra.as_object()) {
                b.extend(e.clone());
            }
            b
        };
        assert!(check_speech(&speech(json!({}))).is_ok());
        assert!(refused(check_speech(&speech(json!({"response_format": "ogg"})))));
        assert!(refused(check_speech(&speech(json!({"speed": 5.0})))));
        assert!(refused(check_speech(&speech(json!({"model": "tts-1", "instructions": "calm"})))));
        assert!(refused(check_speech(&speech(json!({"input": "a".repeat(4097)})))));
        let form = |model: &str, format: &str| {
            let mut m = serde_json::Map::new();
            m.insert("model".into(), json!(model));
            m.insert("response_format".into(), json!(format));
            m
        };
        assert!(check_transcription(&form("gpt-4o-mini-transcribe", "json"), "voice.ogg").is_ok());
        assert!(refused(check_transcription(&form("gpt-4o-mini-transcribe", "text"), "voice.ogg")));
        assert!(check_transcription(&form("whisper-1", "text"), "voice.ogg").is_ok());
        assert!(refused(check_transcription(&form("whisper-1", "json"), "voice.opus")));
    }

    #[test]
    fn moderation_requests_follow_the_published_schema() {
        let ok = |body: Value| check_moderation(&body).is_ok();
        let refused = |result: Result<(Vec<String>, usize), Response>| refused(result.map(|_| ()));
        assert!(ok(json!({"model": "omni-moderation-latest", "input": "a calm lake"})));
        assert!(ok(json!({"input": ["one", "two"]})));
        let photo = json!({"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}});
        assert!(ok(json!({"model": "omni-moderation-latest", "input": [{"type": "text", "text": "a cat"}, photo]})));
        assert!(refused(check_moderation(&json!({"model": "text-moderation-latest", "input": [photo]}))));
        assert!(refused(check_moderation(&json!({"model": "omni-moderation-latest"}))), "input is required");
        assert!(refused(check_moderation(&json!({"input": "x", "temperature": 0}))), "no unknown fields");
        assert!(refused(check_moderation(&json!({"input": [{"type": "image_url", "image_url": "data:image/png;base64,AA"}]}))));
        assert!(refused(check_moderation(&json!({"input": [{"type": "image_url", "image_url": {"url": "file:///x.png"}}]}))));
        assert!(refused(check_moderation(&json!({"input": [{"type": "text", "content": "x"}]}))));
        assert!(refused(check_moderation(&json!({"input": 42}))));
    }
}
