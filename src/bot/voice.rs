//! Voice messages: fetched from Telegram (`getFile`, then the download),
//! transcribed by the OpenAI-compatible API, and then handled exactly like a
//! typed prompt by the caller.

use teloxide::types::Voice;

use crate::providers::{Meter, OpenAiClient, ProviderError};
use crate::telegram::api::{ApiError, BotApi};

/// Bots may download files of up to 20 MB.
pub const MAX_VOICE_BYTES: u64 = crate::telegram::MAX_DOWNLOAD_BYTES;

#[derive(Debug, thiserror::Error)]
pub enum VoiceError {
    #[error("the voice message is {0} bytes, above the 20 MB a bot may download")]
    TooBig(u64),
    #[error("could not fetch the voice message: {0}")]
    Download(#[from] ApiError),
    #[error("Telegram gave no download path for the voice message")]
    NoPath,
    #[error("transcription failed: {0}")]
    Transcription(#[from] ProviderError),
}

/// Turns voice messages into text; exists only when transcription is on.
pub struct Transcriber {
    openai: OpenAiClient,
    meter: Meter,
}

impl Transcriber {
    pub fn new(openai: OpenAiClient, meter: Meter) -> Self {
        Self { openai, meter }
    }

    /// Downloads `voice` and returns what was said (trimmed; may be empty).
    pub async fn transcribe(&self, api: &BotApi, voice: &Voice) -> Result<String, VoiceError> {
        let declared = u64::from(voice.file.size);
        if declared > MAX_VOICE_BYTES {
            return Err(VoiceError::TooBig(declared));
        }
        let file = match api.get_file(&voice.file.id.0).await {
            Ok(file) => file,
            Err(ApiError::Refused { description, .. }) if description.contains("file is too big") => {
                return Err(VoiceError::TooBig(declared));
            }
            Err(err) => return Err(err.into()),
        };
        if let Some(size) = file.file_size.filter(|size| *size > MAX_VOICE_BYTES) {
            return Err(VoiceError::TooBig(size));
        }
        let path = file.file_path.ok_or(VoiceError::NoPath)?;
        let audio = match api.download(&path, MAX_VOICE_BYTES).await {
            Ok(audio) => audio,
            Err(ApiError::Refused { code: 413, .. }) => return Err(VoiceError::TooBig(MAX_VOICE_BYTES + 1)),
            Err(err) => return Err(err.into()),
        };
        let mime = voice.mime_type.as_ref().map_or("audio/ogg", |m| m.essence_str());
        let file_name = match mime {
            "audio/mpeg" => "voice.mp3",
            "audio/mp4" | "audio/m4a" | "audio/x-m4a" => "voice.m4a",
            "audio/wav" | "audio/x-wav" => "voice.wav",
            "audio/webm" => "voice.webm",
            _ => "voice.ogg",
        };
        let text = self.meter.measure(None, "openai", "transcription", self.openai.transcribe(&audio, file_name, mime)).await?;
        Ok(text)
    }
}
