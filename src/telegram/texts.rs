//! Every text a user reads, in one place.

use crate::domain::{AssetStatus, PromptError, RequestStatus};

pub fn help(max_prompt_chars: usize) -> String {
    format!(
        "🎬 I turn a text into a short video.\n\n\
         Send me a prompt — a name for a greeting, a product for an ad — and I'll send the video back. \
         If someone asked for the same thing before, you get it at once.\n\n\
         • Just type your prompt (up to {max_prompt_chars} characters).\n\
         • /status — your recent requests.\n\
         • /help — this message."
    )
}

pub fn invalid_prompt(err: &PromptError) -> String {
    match err {
        PromptError::Empty => "That message has no text I can use. Send me a prompt, for example: Happy birthday Zoë".to_owned(),
        PromptError::TooLong { chars, max } => {
            format!("That prompt is {chars} characters long; the limit is {max}. Please send a shorter one.")
        }
    }
}

pub const NOT_TEXT: &str =
    "I can only make videos from text. Send me a prompt as a text message, for example: Happy birthday Zoë";

pub const VOICE_OFF: &str =
    "I can't listen to voice messages here. Please type your prompt as a text message, for example: Happy birthday Zoë";
pub const VOICE_TOO_BIG: &str =
    "That voice message is too long for me (over 20 MB). Please send a shorter one, or type your prompt.";
pub const VOICE_FAILED: &str =
    "Sorry, I couldn't understand that voice message just now. Please try again in a moment, or type your prompt.";
pub const VOICE_SILENT: &str = "I couldn't make out any words in that voice message. Please try again, or type your prompt.";

pub fn heard(text: &str) -> String {
    format!("🎙 I heard: “{}”", caption_short(text, 300))
}

pub fn unknown_command(command: &str) -> String {
    format!("I don't know the command {command}. Try /help.")
}

pub const CLEAR_USAGE: &str =
    "Usage: /clear <prompt> — the prompt is matched the same way as requests (case and spaces don't matter).";
pub const CLEAR_REFUSED: &str = "Sorry, /clear is only for operators of this bot.";
pub const OPERATORS_ONLY: &str = "Sorry, that command is only for operators of this bot.";

pub fn cleared(prompt: &str) -> String {
    format!("Cleared “{prompt}”. The next request for it makes a new video.")
}
pub fn clear_unknown(prompt: &str) -> String {
    format!("Nothing is cached for “{prompt}”.")
}
pub fn clear_in_progress(prompt: &str) -> String {
    format!("“{prompt}” is being made right now; clear it once it is done.")
}
pub fn clear_already(prompt: &str) -> String {
    format!("“{prompt}” has no cached video; the next request makes a new one.")
}

pub fn being_made(stage: Option<&str>) -> String {
    match stage {
        Some(stage) if !stage.is_empty() => {
            format!("⏳ Your video is being made ({stage}). I'll send it here as soon as it is ready.")
        }
        _ => "⏳ Your video is being made. I'll send it here as soon as it is ready.".to_owned(),
    }
}

/// A video's caption: the prompt, within Telegram's 1024-character limit.
pub fn caption(prompt: &str) -> String {
    caption_short(prompt, 1000)
}

pub fn generation_failed(prompt: &str, reason: &str) -> String {
    format!("😞 Sorry, I couldn't make the video for “{}”: {reason}.\nSend the prompt again to try once more.", caption(prompt))
}

pub const TRY_AGAIN: &str = "⚠️ I'm having trouble right now and couldn't take your request. Please send it again in a minute.";

pub fn status_line(
    prompt: &str,
    request: RequestStatus,
    asset: Option<AssetStatus>,
    stage: Option<&str>,
    error: Option<&str>,
) -> String {
    let short = caption_short(prompt, 60);
    let state = match (request, asset) {
        (RequestStatus::Completed, _) => "✅ sent".to_owned(),
        (RequestStatus::Failed, _) => format!("❌ failed{}", error.map(|e| format!(": {e}")).unwrap_or_default()),
        (RequestStatus::Pending, Some(AssetStatus::Generating)) => {
            format!("⏳ being made{}", stage.map(|s| format!(" ({s})")).unwrap_or_default())
        }
        (RequestStatus::Pending, Some(AssetStatus::Available)) => "📤 sending".to_owned(),
        (RequestStatus::Pending, _) => "⏳ queued".to_owned(),
    };
    format!("• “{short}” — {state}")
}

fn caption_short(prompt: &str, max: usize) -> String {
    let mut short: String = prompt.chars().take(max).collect();
    if short.len() < prompt.len() {
        short.push('…');
    }
    short
}

pub const STATUS_EMPTY: &str = "You haven't asked for any video yet. Send me a prompt!";
