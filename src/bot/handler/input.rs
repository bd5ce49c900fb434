//! What a text message asks for: a command, a menu button, or a prompt.

use teloxide::utils::command::{BotCommands, ParseError};

use crate::bot::commands::Command;
use crate::domain::{Decision, Prompt, PromptError};
use crate::texts::{MenuButton, menu_labels};

/// What a text message asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Input {
    Command(Command),
    UnknownCommand(String),
    /// A command with another bot's name (`/start@otherbot`).
    OtherBot,
    Prompt(Prompt),
    Invalid(PromptError),
    /// ✅ Approve / ❌ Reject on the reply keyboard: the oldest pending gate.
    Decide(Decision),
}

/// Reads a text message: a command, a menu button, or a prompt.
pub fn classify(text: &str, bot_username: &str, max_prompt_chars: usize) -> Input {
    let trimmed = text.trim();
    if let Some((_, button)) = menu_labels().find(|(label, _)| label == trimmed) {
        return match button {
            MenuButton::Status => Input::Command(Command::Status(String::new())),
            MenuButton::Help => Input::Command(Command::Help),
            MenuButton::Settings => Input::Command(Command::Settings),
            MenuButton::Approve => Input::Decide(Decision::Approve),
            MenuButton::Reject => Input::Decide(Decision::Reject),
        };
    }
    if text.trim_start().starts_with('/') {
        return match Command::parse(text.trim_start(), bot_username) {
            Ok(command) => Input::Command(command),
            Err(ParseError::WrongBotName(_)) => Input::OtherBot,
            Err(_) => {
                let word: String = text.split_whitespace().next().unwrap_or("/").chars().take(64).collect();
                Input::UnknownCommand(word)
            }
        };
    }
    match Prompt::parse(text, max_prompt_chars) {
        Ok(prompt) => Input::Prompt(prompt),
        Err(err) => Input::Invalid(err),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn classifies_commands_buttons_and_prompts() {
        assert_eq!(classify("/start", "bot", 10), Input::Command(Command::Start));
        assert_eq!(classify("📊 Status", "bot", 10), Input::Command(Command::Status(String::new())));
        assert_eq!(classify("📊 Статус", "bot", 10), Input::Command(Command::Status(String::new())));
        assert_eq!(classify(" ❓ Помощь ", "bot", 10), Input::Command(Command::Help));
        assert_eq!(classify("⚙️ Settings", "bot", 10), Input::Command(Command::Settings));
        assert_eq!(classify("⚙️ Настройки", "bot", 10), Input::Command(Command::Settings));
        assert_eq!(classify("/settings", "bot", 10), Input::Command(Command::Settings));
        assert_eq!(classify("/menu", "bot", 10), Input::Command(Command::Menu));
        assert_eq!(classify("/frobnicate now", "bot", 10), Input::UnknownCommand("/frobnicate".into()));
        assert_eq!(classify("/start@otherbot", "bot", 10), Input::OtherBot);
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
            prop_assert!(matches!(input, Input::Command(_) | Input::UnknownCommand(_) | Input::OtherBot));
        }
    }
}
