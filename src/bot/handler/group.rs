//! Messages in groups and supergroups. With privacy mode on (the default)
//! Telegram delivers the bot commands, replies to the bot and mentions of
//! it; the bot answers only what is addressed to it — `/video <prompt>`
//! (also `/video@bot`), `@bot <prompt>`, a reply to one of its own
//! messages — plus a few commands, and stays silent on everything else (a
//! command for another bot included). What belongs to one person (their
//! history, balance, settings) is answered with a button to the private
//! chat. Answers are replies to the asker's message, in their forum topic.

use teloxide::types::Message;
use teloxide::utils::command::{BotCommands, ParseError};

use crate::bot::commands::Command;
use crate::domain::{ThreadId, UserId};

/// Telegram's placeholder senders, shared by every group: anonymous group
/// admins (`GroupAnonymousBot`) and messages sent on behalf of a channel
/// (`Channel_Bot`). Such a message is identified by its `sender_chat`.
pub(crate) const PLACEHOLDER_USERS: [u64; 2] = [1_087_968_824, 136_817_688];

/// What a message in a group asks of the bot.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum GroupInput {
    /// A video of these words (a prompt still to be checked).
    Video(String),
    /// `/video` (or a bare mention) with no words.
    VideoUsage,
    /// A command answered in the group, as in the private chat.
    Command(Command),
    /// Something that belongs to the private chat: a button to it, opening
    /// it with `/start <parameter>`.
    Private(&'static str),
    /// Not addressed to the bot: no answer.
    Ignore,
}

/// Reads a group message's text. `reply_to_bot`: it answers one of the
/// bot's own messages.
pub(crate) fn classify_group(text: &str, bot_username: &str, reply_to_bot: bool) -> GroupInput {
    let trimmed = text.trim();
    if trimmed.starts_with('/') {
        return match Command::parse(trimmed, bot_username) {
            Ok(Command::Video(words)) if words.trim().is_empty() => GroupInput::VideoUsage,
            Ok(Command::Video(words)) => GroupInput::Video(words),
            Ok(command @ (Command::Status(_) | Command::Cancel | Command::Stats | Command::Clear(_))) => {
                GroupInput::Command(command)
            }
            Ok(Command::History) => GroupInput::Private("history"),
            Ok(Command::Balance) => GroupInput::Private("balance"),
            Ok(Command::Settings) => GroupInput::Private("settings"),
            Ok(Command::Buy) => GroupInput::Private("buy"),
            Ok(_) => GroupInput::Private("start"),
            // another bot's command, or one this bot doesn't have: not ours to answer
            Err(ParseError::WrongBotName(_)) | Err(_) => GroupInput::Ignore,
        };
    }
    if !bot_username.is_empty()
        && let Some(rest) = trimmed.strip_prefix('@')
        && rest.len() >= bot_username.len()
        && rest.is_char_boundary(bot_username.len())
        && rest[..bot_username.len()].eq_ignore_ascii_case(bot_username)
    {
        let words = &rest[bot_username.len()..];
        // "@vidbotx" is another name
        if words.is_empty() {
            return GroupInput::VideoUsage;
        }
        if words.starts_with(char::is_whitespace) {
            return GroupInput::Video(words.trim().to_owned());
        }
    }
    if reply_to_bot && !trimmed.is_empty() {
        return GroupInput::Video(trimmed.to_owned());
    }
    GroupInput::Ignore
}

/// The forum topic a message was written in; `None` for General (which is
/// addressed by leaving the thread out), a group without topics, or a
/// private chat. Replies in a group without topics carry a thread id too
/// (their reply chain): only a topic message's counts.
pub(crate) fn thread_of(message: &Message) -> Option<ThreadId> {
    message.thread_id.filter(|_| message.is_topic_message).map(|thread| ThreadId(i64::from(thread.0.0)))
}

/// Who sent `message`: for an anonymous admin or a channel, the chat it
/// was sent as (its `sender_chat`); never Telegram's placeholder user.
pub(crate) fn sender_of(message: &Message) -> UserId {
    if let Some(chat) = &message.sender_chat {
        return UserId(chat.id.0);
    }
    match &message.from {
        Some(user) if !PLACEHOLDER_USERS.contains(&user.id.0) => UserId(user.id.0 as i64),
        _ => UserId(message.chat.id.0),
    }
}

/// Whether `message` answers one of the bot's (`bot_username`) own messages.
pub(crate) fn replies_to_bot(message: &Message, bot_username: &str) -> bool {
    message
        .reply_to_message()
        .and_then(|m| m.from.as_ref())
        .is_some_and(|u| u.is_bot && u.username.as_deref().is_some_and(|name| name.eq_ignore_ascii_case(bot_username)))
}

/// The button that opens the private chat with the bot at `parameter`
/// (`/start <parameter>` there): 1-64 of `A-Za-z0-9_-`.
pub(crate) fn private_chat_url(bot_username: &str, parameter: &str) -> String {
    format!("https://t.me/{bot_username}?start={parameter}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOT: &str = "vidbot";

    #[test]
    fn only_what_is_addressed_to_the_bot_is_answered() {
        assert_eq!(classify_group("/video@vidbot A red fox", BOT, false), GroupInput::Video("A red fox".into()));
        assert_eq!(classify_group("/video a red fox", BOT, false), GroupInput::Video("a red fox".into()));
        assert_eq!(classify_group("@vidbot a red fox", BOT, false), GroupInput::Video("a red fox".into()));
        assert_eq!(classify_group("@VidBot   a red fox ", BOT, false), GroupInput::Video("a red fox".into()));
        assert_eq!(classify_group("a red fox", BOT, true), GroupInput::Video("a red fox".into()));
        assert_eq!(classify_group("/video", BOT, false), GroupInput::VideoUsage);
        assert_eq!(classify_group("@vidbot", BOT, false), GroupInput::VideoUsage);
        // chatter, another bot, another name, unknown commands: silence
        assert_eq!(classify_group("anyone up for lunch?", BOT, false), GroupInput::Ignore);
        assert_eq!(classify_group("/video@otherbot a red fox", BOT, false), GroupInput::Ignore);
        assert_eq!(classify_group("/start@otherbot", BOT, false), GroupInput::Ignore);
        assert_eq!(classify_group("@vidbotx a red fox", BOT, false), GroupInput::Ignore);
        assert_eq!(classify_group("hi @vidbot", BOT, false), GroupInput::Ignore);
        assert_eq!(classify_group("/frobnicate", BOT, false), GroupInput::Ignore);
        // what belongs to one person goes to the private chat
        assert_eq!(classify_group("/history@vidbot", BOT, false), GroupInput::Private("history"));
        assert_eq!(classify_group("/balance", BOT, false), GroupInput::Private("balance"));
        assert_eq!(classify_group("/settings", BOT, false), GroupInput::Private("settings"));
        assert_eq!(classify_group("/cancel@vidbot", BOT, false), GroupInput::Command(Command::Cancel));
    }

    #[test]
    fn the_private_chat_link_is_a_valid_deep_link() {
        let url = private_chat_url(BOT, "history");
        assert_eq!(url, "https://t.me/vidbot?start=history");
        for parameter in ["history", "balance", "settings", "buy", "start"] {
            assert!(parameter.len() <= 64 && parameter.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
        }
    }
}
