//! The fake OpenAI-compatible API: chat completions, speech, transcriptions.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
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
        if body["messages"].as_array().is_none_or(Vec::is_empty) {
            return error(StatusCode::BAD_REQUEST, "`messages` must be a non-empty array");
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
        for field in ["model", "input", "voice"] {
            if let Err(bad) = required_str(&body, field) {
                return bad;
            }
        }
        let input = body["input"].as_str().unwrap_or_default();
        if input.chars().count() > 4096 {
            return error(StatusCode::BAD_REQUEST, "`input` is longer than 4096 characters");
        }
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
        if fields.get("model").and_then(Value::as_str).is_none_or(str::is_empty) {
            return error(StatusCode::BAD_REQUEST, "`model` is required");
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
}
