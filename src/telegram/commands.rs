//! The bot's commands.

use teloxide::utils::command::BotCommands;

#[derive(BotCommands, Clone, Debug, PartialEq, Eq)]
#[command(rename_rule = "lowercase")]
pub enum Command {
    #[command(description = "what this bot does")]
    Start,
    #[command(description = "how to use it")]
    Help,
    #[command(description = "your recent requests and their state (operators: /status <prompt> for one asset)")]
    Status(String),
    #[command(description = "operators only: /clear <prompt> drops a cached video so it is made again")]
    Clear(String),
    #[command(description = "operators only: totals — assets, requests, generations saved, provider costs")]
    Stats,
}

impl Command {
    /// The list registered with Telegram (`setMyCommands`).
    pub fn menu() -> Vec<(String, String)> {
        Command::bot_commands().into_iter().map(|c| (c.command.trim_start_matches('/').to_owned(), c.description)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands_with_and_without_bot_name() {
        assert_eq!(Command::parse("/start", "vidbot").ok(), Some(Command::Start));
        assert_eq!(Command::parse("/status@vidbot", "vidbot").ok(), Some(Command::Status(String::new())));
        assert_eq!(Command::parse("/clear Happy  Birthday", "vidbot").ok(), Some(Command::Clear("Happy  Birthday".into())));
        assert!(Command::parse("/nope", "vidbot").is_err());
        assert_eq!(Command::menu().len(), 5);
    }
}
