//! The bot's commands (their descriptions, per language, are in `texts`).

use teloxide::utils::command::BotCommands;

#[derive(BotCommands, Clone, Debug, PartialEq, Eq)]
#[command(rename_rule = "lowercase")]
pub enum Command {
    /// `/start`, or `/start <parameter>` from a deep link (`t.me/<bot>?start=…`).
    Start(String),
    Help,
    /// `/video <prompt>`: how to ask in a group (works in the private chat too).
    Video(String),
    Settings,
    Menu,
    Status(String),
    History,
    Cancel,
    Clear(String),
    Allow(String),
    Stats,
    Balance,
    Buy,
    Grant(String),
    Refund(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands_with_and_without_bot_name() {
        assert_eq!(Command::parse("/start", "vidbot").ok(), Some(Command::Start(String::new())));
        assert_eq!(Command::parse("/start history", "vidbot").ok(), Some(Command::Start("history".into())));
        assert_eq!(Command::parse("/video@vidbot A red fox", "vidbot").ok(), Some(Command::Video("A red fox".into())));
        assert_eq!(Command::parse("/video", "vidbot").ok(), Some(Command::Video(String::new())));
        assert_eq!(Command::parse("/status@vidbot", "vidbot").ok(), Some(Command::Status(String::new())));
        assert_eq!(Command::parse("/clear Happy  Birthday", "vidbot").ok(), Some(Command::Clear("Happy  Birthday".into())));
        assert_eq!(Command::parse("/allow Knife  fight", "vidbot").ok(), Some(Command::Allow("Knife  fight".into())));
        assert!(Command::parse("/nope", "vidbot").is_err());
    }

    #[test]
    fn every_command_is_described_in_every_language() {
        let commands: Vec<String> =
            Command::bot_commands().into_iter().map(|c| c.command.trim_start_matches('/').to_owned()).collect();
        for lang in crate::texts::Lang::ALL {
            let described: Vec<&str> = lang.texts().command_menu().into_iter().map(|(c, _)| c).collect();
            assert_eq!(commands, described, "{lang:?}");
        }
    }
}
