//! An OpenAI-compatible API: chat completions (the script and the prompts),
//! speech (the voice-over) and transcriptions (voice messages).

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::http::{Http, ProviderError, Replay, RetryPolicy, Secret, SetupError};
use crate::config::OpenAiSettings;

/// The longest input the speech endpoint takes.
pub const MAX_SPEECH_CHARS: usize = 4096;

#[derive(Debug, Clone)]
pub struct OpenAiClient {
    http: Http,
    key: Secret,
    settings: OpenAiSettings,
}

#[derive(Debug, Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: [Message<'a>; 2],
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<ResponseFormat>,
}

#[derive(Debug, Serialize)]
struct Message<'a> {
    role: &'a str,
    content: &'a str,
}

#[derive(Debug, Serialize)]
struct ResponseFormat {
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Debug, Deserialize)]
struct ChatResponse {
    #[serde(default)]
    choices: Vec<Choice>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    message: Answer,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
}

#[derive(Debug, Serialize)]
struct SpeechRequest<'a> {
    model: &'a str,
    input: &'a str,
    voice: &'a str,
    response_format: &'static str,
}

#[derive(Debug, Deserialize)]
struct Transcription {
    text: String,
}

/// What a chat answer should look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatFormat {
    Text,
    /// `response_format: {"type": "json_object"}`: one JSON object.
    JsonObject,
}

impl OpenAiClient {
    /// A client for `settings`; fails without `OPENAI_API_KEY`.
    pub fn new(settings: &OpenAiSettings, timeout: Duration, retry: RetryPolicy) -> Result<Self, SetupError> {
        let key = settings.api_key.clone().ok_or(SetupError::Missing("OPENAI_API_KEY is not set"))?;
        let http = Http::new(timeout, retry, vec![key.clone()])?;
        Ok(Self { http, key, settings: settings.clone() })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.settings.base_url)
    }

    /// One chat completion with a system and a user message; returns the
    /// answer's text. A refusal or a content filter is [`ProviderError::Refused`].
    pub async fn chat(&self, system: &str, user: &str, format: ChatFormat) -> Result<String, ProviderError> {
        const WHAT: &str = "openai chat";
        let request = ChatRequest {
            model: &self.settings.chat_model,
            messages: [Message { role: "system", content: system }, Message { role: "user", content: user }],
            response_format: (format == ChatFormat::JsonObject).then_some(ResponseFormat { kind: "json_object" }),
        };
        let url = self.url("chat/completions");
        let answer: ChatResponse =
            self.http.json(WHAT, Replay::Submit, |c| c.post(&url).bearer_auth(self.key.expose()).json(&request)).await?;
        let choice = answer.choices.into_iter().next().ok_or_else(|| ProviderError::decode(WHAT, "no choices in the answer"))?;
        if let Some(refusal) = choice.message.refusal.filter(|r| !r.trim().is_empty()) {
            return Err(ProviderError::Refused { what: WHAT.to_owned(), reason: self.http.scrub(&refusal) });
        }
        if choice.finish_reason.as_deref() == Some("content_filter") {
            return Err(ProviderError::Refused { what: WHAT.to_owned(), reason: "stopped by the content filter".to_owned() });
        }
        let text = choice.message.content.unwrap_or_default();
        if text.trim().is_empty() {
            return Err(ProviderError::decode(WHAT, "the answer was empty"));
        }
        Ok(text)
    }

    /// Speaks `text` (cut to [`MAX_SPEECH_CHARS`]) into a WAV file at `path`.
    pub async fn speech(&self, text: &str, path: &Path) -> Result<u64, ProviderError> {
        const WHAT: &str = "openai speech";
        let input = match text.char_indices().nth(MAX_SPEECH_CHARS) {
            Some((cut, _)) => &text[..cut],
            None => text,
        };
        let request =
            SpeechRequest { model: &self.settings.tts_model, input, voice: &self.settings.tts_voice, response_format: "wav" };
        let url = self.url("audio/speech");
        let response =
            self.http.send(WHAT, Replay::Submit, |c| c.post(&url).bearer_auth(self.key.expose()).json(&request)).await?;
        self.http.save_to(WHAT, response, path).await
    }

    /// Transcribes a recording (e.g. a Telegram voice message: `voice.ogg`,
    /// `audio/ogg`) and returns its text.
    pub async fn transcribe(&self, audio: &[u8], file_name: &str, mime: &str) -> Result<String, ProviderError> {
        const WHAT: &str = "openai transcription";
        let url = self.url("audio/transcriptions");
        let model = &self.settings.transcribe_model;
        reqwest::multipart::Part::bytes(Vec::new())
            .mime_str(mime)
            .map_err(|e| ProviderError::local(WHAT, format!("bad MIME type `{mime}`: {}", e.without_url())))?;
        // a multipart body is consumed by sending it: build it anew for every try
        let answer: Transcription = self
            .http
            .json(WHAT, Replay::Submit, |c| {
                let part = audio_part(audio, file_name, mime)
                    .unwrap_or_else(|_| reqwest::multipart::Part::bytes(audio.to_vec()).file_name(file_name.to_owned()));
                let form = reqwest::multipart::Form::new()
                    .text("model", model.clone())
                    .text("response_format", "json")
                    .part("file", part);
                c.post(&url).bearer_auth(self.key.expose()).multipart(form)
            })
            .await?;
        Ok(answer.text.trim().to_owned())
    }
}

fn audio_part(audio: &[u8], file_name: &str, mime: &str) -> Result<reqwest::multipart::Part, reqwest::Error> {
    reqwest::multipart::Part::bytes(audio.to_vec()).file_name(file_name.to_owned()).mime_str(mime)
}
