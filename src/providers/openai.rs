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

/// The moderation model: images are scored for sexual content, violence
/// and self-harm; text for every category.
pub const MODERATION_MODEL: &str = "omni-moderation-latest";

/// `CreateModerationRequest`: the prompt alone as a string, or with a
/// photo as an array of a text and an `image_url` input (a `data:` URL).
#[derive(Debug, Serialize)]
struct ModerationRequest<'a> {
    model: &'static str,
    input: ModerationInput<'a>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum ModerationInput<'a> {
    Text(&'a str),
    Parts(Vec<ModerationPart<'a>>),
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ModerationPart<'a> {
    Text { text: &'a str },
    ImageUrl { image_url: ImageUrl },
}

#[derive(Debug, Serialize)]
struct ImageUrl {
    url: String,
}

#[derive(Debug, Deserialize)]
struct ModerationResponse {
    results: Vec<ModerationResult>,
}

#[derive(Debug, Deserialize)]
struct ModerationResult {
    flagged: bool,
    #[serde(default)]
    categories: std::collections::BTreeMap<String, Option<bool>>,
}

/// What moderation said of one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moderated {
    pub flagged: bool,
    /// The names of the categories flagged (`violence`, `sexual/minors`…).
    pub categories: Vec<String>,
}

impl OpenAiClient {
    /// Asks `POST {base}/moderations` about `text` and, for a remix, the
    /// photo (`image`: its bytes and MIME type, sent as a `data:` URL).
    /// Free and without side effects: retried as a read.
    #[tracing::instrument(skip_all, fields(image = image.is_some()))]
    pub async fn moderate(&self, text: &str, image: Option<(&[u8], &str)>) -> Result<Moderated, ProviderError> {
        const WHAT: &str = "openai moderation";
        use base64::Engine as _;
        let input = match image {
            None => ModerationInput::Text(text),
            Some((bytes, mime)) => ModerationInput::Parts(vec![
                ModerationPart::Text { text },
                ModerationPart::ImageUrl {
                    image_url: ImageUrl {
                        url: format!("data:{mime};base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes)),
                    },
                },
            ]),
        };
        let request = ModerationRequest { model: MODERATION_MODEL, input };
        let url = self.url("moderations");
        let answer: ModerationResponse =
            self.http.json(WHAT, Replay::Idempotent, |c| c.post(&url).bearer_auth(self.key.expose()).json(&request)).await?;
        if answer.results.is_empty() {
            return Err(ProviderError::decode(WHAT, "no results in the answer"));
        }
        let flagged = answer.results.iter().any(|r| r.flagged);
        let mut categories: Vec<String> = answer
            .results
            .into_iter()
            .flat_map(|r| r.categories.into_iter())
            .filter(|(_, on)| *on == Some(true))
            .map(|(name, _)| name)
            .collect();
        categories.sort();
        categories.dedup();
        Ok(Moderated { flagged, categories })
    }
}
