//! What the bot does with one update: commands, menu buttons, prompts and
//! everything else. Every message gets an answer or is ignored on purpose.

use teloxide::types::{Message, Update, UpdateKind, Voice};
use teloxide::utils::command::{BotCommands, ParseError};

use super::api::{Keyboard, MENU_HELP, MENU_STATUS};
use super::commands::Command;
use super::texts;
use super::voice::VoiceError;
use crate::db::assets::Cleared;
use crate::db::requests::NewRequest;
use crate::domain::{Prompt, PromptError};
use crate::service::SharedService;

/// What a text message asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Input {
    Command(Command),
    UnknownCommand(String),
    Prompt(Prompt),
    Invalid(PromptError),
}

/// Reads a text message: a command, a menu button, or a prompt.
pub fn classify(text: &str, bot_username: &str, max_prompt_chars: usize) -> Input {
    match text.trim() {
        MENU_STATUS => return Input::Command(Command::Status(String::new())),
        MENU_HELP => return Input::Command(Command::Help),
        _ => {}
    }
    if text.trim_start().starts_with('/') {
        return match Command::parse(text.trim_start(), bot_username) {
            Ok(command) => Input::Command(command),
            Err(ParseError::WrongBotName(_)) => Input::UnknownCommand("addressed to another bot".to_owned()),
            Err(_) => {
                let word: String = text.trim_start().split_whitespace().next().unwrap_or("/").chars().take(64).collect();
                Input::UnknownCommand(word)
            }
        };
    }
    match Prompt::parse(text, max_prompt_chars) {
        Ok(prompt) => Input::Prompt(prompt),
        Err(err) => Input::Invalid(err),
    }
}

pub struct UpdateHandler {
    service: SharedService,
    bot_username: String,
}

impl UpdateHandler {
    pub fn new(service: SharedService, bot_username: String) -> Self {
        Self { service, bot_username }
    }

    /// Handles one update. Errors are logged and answered here: nothing
    /// propagates, so one bad update never stops the bot.
    pub async fn handle(&self, update: Update) {
        match update.kind {
            UpdateKind::Message(message) => self.on_message(message).await,
            other => {
                tracing::debug!(update_id = update.id.0, kind = ?std::mem::discriminant(&other), "ignoring a non-message update")
            }
        }
    }

    async fn reply(&self, message: &Message, text: &str, keyboard: Keyboard) {
        if let Err(err) = self.service.sender.text(message.chat.id.0, text, Some(i64::from(message.id.0)), keyboard).await {
            tracing::warn!(chat_id = message.chat.id.0, error = %err, "could not answer a message");
        }
    }

    async fn on_message(&self, message: Message) {
        let chat_id = message.chat.id.0;
        let user_id = message.from.as_ref().map(|u| u.id.0 as i64).unwrap_or(chat_id);
        let Some(text) = message.text() else {
            if !message.chat.is_private() {
                return;
            }
            match message.voice() {
                Some(voice) => self.on_voice(&message, voice, user_id).await,
                None => self.reply(&message, texts::NOT_TEXT, Keyboard::None).await,
            }
            return;
        };
        let settings = &self.service.settings;
        match classify(text, &self.bot_username, settings.max_prompt_chars) {
            Input::Command(Command::Start | Command::Help) => {
                self.reply(&message, &texts::help(settings.max_prompt_chars), Keyboard::Menu).await;
            }
            Input::Command(Command::Status(prompt)) if !prompt.trim().is_empty() && settings.is_admin(user_id) => {
                let text = match Prompt::parse(&prompt, usize::MAX) {
                    Ok(prompt) => self.service.asset_report(&prompt).await.unwrap_or_else(|err| {
                        tracing::error!(error = %err, "asset status failed");
                        texts::TRY_AGAIN.to_owned()
                    }),
                    Err(_) => texts::CLEAR_USAGE.replace("/clear", "/status"),
                };
                self.reply(&message, &text, Keyboard::None).await;
            }
            Input::Command(Command::Stats) => {
                let text = if settings.is_admin(user_id) {
                    self.service.stats_text().await.unwrap_or_else(|err| {
                        tracing::error!(error = %err, "stats failed");
                        texts::TRY_AGAIN.to_owned()
                    })
                } else {
                    texts::OPERATORS_ONLY.to_owned()
                };
                self.reply(&message, &text, Keyboard::None).await;
            }
            Input::Command(Command::Status(_)) => {
                let text = match self.service.status_text(user_id).await {
                    Ok(text) => text,
                    Err(err) => {
                        tracing::error!(error = %err, "status failed");
                        texts::TRY_AGAIN.to_owned()
                    }
                };
                self.reply(&message, &text, Keyboard::None).await;
            }
            Input::Command(Command::Clear(raw)) => {
                let text = self.clear(user_id, &raw).await;
                self.reply(&message, &text, Keyboard::None).await;
            }
            Input::UnknownCommand(word) => self.reply(&message, &texts::unknown_command(&word), Keyboard::None).await,
            Input::Invalid(err) => self.reply(&message, &texts::invalid_prompt(&err), Keyboard::None).await,
            Input::Prompt(prompt) => self.request(&message, user_id, text, prompt).await,
        }
    }

    async fn request(&self, message: &Message, user_id: i64, raw_text: &str, prompt: Prompt) {
        let chat_id = message.chat.id.0;
        let new = NewRequest { user_id, chat_id, message_id: i64::from(message.id.0), raw_text: raw_text.to_owned() };
        if let Err(err) = self.service.request_video(new, prompt).await {
            tracing::error!(chat_id, error = %err, "request failed");
        }
    }

    /// A voice message: transcribed, then handled like the typed prompt.
    async fn on_voice(&self, message: &Message, voice: &Voice, user_id: i64) {
        let Some(transcriber) = &self.service.transcriber else {
            self.reply(message, texts::VOICE_OFF, Keyboard::None).await;
            return;
        };
        let text = match transcriber.transcribe(self.service.sender.api(), voice).await {
            Ok(text) => text,
            Err(VoiceError::TooBig(bytes)) => {
                tracing::info!(chat_id = message.chat.id.0, bytes, "voice message too big to download");
                self.reply(message, texts::VOICE_TOO_BIG, Keyboard::None).await;
                return;
            }
            Err(err) => {
                tracing::warn!(chat_id = message.chat.id.0, error = %err, "could not transcribe a voice message");
                self.reply(message, texts::VOICE_FAILED, Keyboard::None).await;
                return;
            }
        };
        match Prompt::parse(&text, self.service.settings.max_prompt_chars) {
            Ok(prompt) => {
                self.reply(message, &texts::heard(&text), Keyboard::None).await;
                self.request(message, user_id, &text, prompt).await;
            }
            Err(PromptError::Empty) => self.reply(message, texts::VOICE_SILENT, Keyboard::None).await,
            Err(err) => self.reply(message, &texts::invalid_prompt(&err), Keyboard::None).await,
        }
    }

    async fn clear(&self, user_id: i64, raw: &str) -> String {
        if !self.service.settings.is_admin(user_id) {
            tracing::warn!(user_id, "refused /clear from a non-operator");
            return texts::CLEAR_REFUSED.to_owned();
        }
        let prompt = match Prompt::parse(raw, usize::MAX) {
            Ok(prompt) => prompt,
            Err(_) => return texts::CLEAR_USAGE.to_owned(),
        };
        match self.service.clear(&prompt).await {
            Ok(Cleared::Cleared { .. }) => texts::cleared(prompt.as_str()),
            Ok(Cleared::Unknown) => texts::clear_unknown(prompt.as_str()),
            Ok(Cleared::InProgress) => texts::clear_in_progress(prompt.as_str()),
            Ok(Cleared::AlreadyClear) => texts::clear_already(prompt.as_str()),
            Err(err) => {
                tracing::error!(error = %err, "clear failed");
                texts::TRY_AGAIN.to_owned()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn classifies_commands_buttons_and_prompts() {
        assert_eq!(classify("/start", "bot", 10), Input::Command(Command::Start));
        assert_eq!(classify(MENU_STATUS, "bot", 10), Input::Command(Command::Status(String::new())));
        assert_eq!(classify("/frobnicate now", "bot", 10), Input::UnknownCommand("/frobnicate".into()));
        assert_eq!(classify("/start@otherbot", "bot", 10), Input::UnknownCommand("addressed to another bot".into()));
        assert_eq!(classify("  Zoë ", "bot", 10), Input::Prompt(Prompt::parse("zoë", 10).expect("valid")));
        assert_eq!(classify("\u{200B}", "bot", 10), Input::Invalid(PromptError::Empty));
        assert_eq!(classify("abcdefghijk", "bot", 10), Input::Invalid(PromptError::TooLong { chars: 11, max: 10 }));
    }

    proptest! {
        #[test]
        fn classify_never_panics(text in any::<String>(), name in "[a-z_]{0,12}", max in 1usize..50) {
            let _ = classify(&text, &name, max);
        }

        #[test]
        fn slash_texts_are_never_prompts(rest in "\\PC{0,40}") {
            let input = classify(&format!("/{rest}"), "bot", 1000);
            prop_assert!(matches!(input, Input::Command(_) | Input::UnknownCommand(_)));
        }
    }
}
