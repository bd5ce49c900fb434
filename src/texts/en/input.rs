//! English: answers to what people send that is not (yet) a prompt to make: bad prompts, voice messages, photos, commands, groups.

use crate::domain::PromptError;
use crate::texts::{InputTexts, en_count, shorten};

use super::English;

impl InputTexts for English {
    fn invalid_prompt(&self, err: &PromptError) -> String {
        match err {
            PromptError::Empty => {
                "That message has no text I can use. Send me a prompt, for example: Happy birthday Zoë".to_owned()
            }
            PromptError::TooLong { chars, max } => {
                format!(
                    "That prompt is {} long; the limit is {max}. Please send a shorter one.",
                    en_count(i64::try_from(*chars).unwrap_or(i64::MAX), "character", "characters")
                )
            }
        }
    }

    fn not_text(&self) -> String {
        "I can only make videos from text. Send me a prompt as a text message, for example: Happy birthday Zoë".to_owned()
    }

    fn voice_off(&self) -> String {
        "I can't listen to voice messages here. Please type your prompt as a text message, for example: Happy birthday Zoë"
            .to_owned()
    }

    fn voice_too_big(&self) -> String {
        "That voice message is too long for me (over 20 MB). Please send a shorter one, or type your prompt.".to_owned()
    }

    fn voice_failed(&self) -> String {
        "Sorry, I couldn't understand that voice message just now. Please try again in a moment, or type your prompt.".to_owned()
    }

    fn voice_silent(&self) -> String {
        "I couldn't make out any words in that voice message. Please try again, or type your prompt.".to_owned()
    }

    fn heard(&self, text: &str) -> String {
        format!("🎙 I heard: “{}”", shorten(text, 300))
    }

    fn remix_ask(&self) -> String {
        "📷 Nice photo! What should happen in it? Send me the words (for example: she waves and smiles), and I'll bring it to life. /cancel to stop."
            .to_owned()
    }

    fn photo_too_big(&self) -> String {
        "That photo is too big for me (over 20 MB). Please send a smaller one, or send it as a photo rather than a file."
            .to_owned()
    }

    fn remix_cancelled(&self) -> String {
        "OK, I'm no longer waiting for words for your photo.".to_owned()
    }

    fn unknown_command(&self, command: &str) -> String {
        format!("I don't know the command {command}. Try /help.")
    }

    fn video_usage(&self) -> String {
        "Write what the video should show after /video, e.g. /video a red fox in the snow.".to_owned()
    }

    fn in_private_chat(&self) -> String {
        "That is just for you: I answer it in our private chat.".to_owned()
    }

    fn private_chat_button(&self) -> String {
        "💬 Open the private chat".to_owned()
    }

    fn addressed_to_another_bot(&self) -> String {
        self.unknown_command("addressed to another bot")
    }
}
