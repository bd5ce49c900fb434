//! Answers to what people send that is not (yet) a prompt to make: bad prompts, voice messages, photos, commands, groups.

use crate::domain::PromptError;

/// Answers to what people send that is not (yet) a prompt to make, in one language.
pub trait InputTexts {
    fn invalid_prompt(&self, err: &PromptError) -> String;
    fn not_text(&self) -> String;
    fn voice_off(&self) -> String;
    fn voice_too_big(&self) -> String;
    fn voice_failed(&self) -> String;
    fn voice_silent(&self) -> String;
    fn heard(&self, text: &str) -> String;
    /// A photo sent without words: what should happen in it?
    fn remix_ask(&self) -> String;
    /// A photo over the 20 MB a bot may download.
    fn photo_too_big(&self) -> String;
    /// /cancel stopped the wait for a photo's words.
    fn remix_cancelled(&self) -> String;
    fn unknown_command(&self, command: &str) -> String;
    fn addressed_to_another_bot(&self) -> String;
    /// `/video` without words (in a group, or the private chat).
    fn video_usage(&self) -> String;
    /// In a group: what was asked belongs to the private chat (history,
    /// balance, settings); said above a button that opens it.
    fn in_private_chat(&self) -> String;
    /// The label of the button that opens the private chat with the bot.
    fn private_chat_button(&self) -> String;
}
