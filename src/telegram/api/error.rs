//! What a failed Bot API call was, and how a caller should treat it.

use crate::domain::ChatId;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// Telegram answered with `ok: false`.
    #[error("Telegram refused {method}: {code} {description}")]
    Refused {
        method: &'static str,
        code: u16,
        description: String,
        retry_after: Option<u64>,
        /// `parameters.migrate_to_chat_id`: the group became this supergroup.
        migrate_to: Option<i64>,
    },
    /// The request did not get an answer (connect error, timeout, reset).
    #[error("no answer from Telegram to {method}: {message}")]
    Network { method: &'static str, message: String },
    /// An answer that is not the Bot API's JSON (e.g. a proxy's 502 page).
    #[error("unreadable answer from Telegram to {method} (HTTP {status}): {message}")]
    Garbled { method: &'static str, status: u16, message: String },
    #[error("cannot read the video file {path}: {message}")]
    File { path: String, message: String },
}

/// How a failed call should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiFailure {
    /// Wait `retry_after` seconds (flood control, 1 to [`MAX_FLOOD_WAIT_SECS`]), then try again.
    FloodWait(u64),
    /// A passing fault (5xx, timeout, network): back off and try again.
    Transient,
    /// The chat cannot be written to (blocked, deactivated, not found, no
    /// rights to post there, the bot was removed).
    ChatUnreachable,
    /// The group became a supergroup with this id: send there instead.
    Migrated(ChatId),
    /// The request itself is wrong (bad file, too big): retrying won't help.
    Rejected,
    /// A `file_id` this bot token does not know ("wrong file identifier"):
    /// it was issued to another token. The file must be uploaded again.
    UnknownFile,
}

/// The longest flood wait honoured: a `retry_after` above it (absurd, or
/// hostile) is cut to it; a send that is still refused then waits again.
pub const MAX_FLOOD_WAIT_SECS: u64 = 60;

/// How Telegram says, in a 400, that this chat can't be written to (for
/// good, or until someone there changes it): every send to it would fail
/// the same way.
const CHAT_CLOSED: &[&str] = &[
    "chat not found",
    "user not found",
    "not enough rights to send",
    "have no rights to send",
    "need administrator rights",
    "CHAT_WRITE_FORBIDDEN",
    "CHAT_RESTRICTED",
    "CHAT_SEND_",
    "bot is not a member",
    "bot was kicked",
    "group chat was upgraded to a supergroup",
    "chat was deactivated",
];

impl ApiError {
    pub fn failure(&self) -> ApiFailure {
        match self {
            ApiError::Refused { code: 429, retry_after, .. } => {
                ApiFailure::FloodWait(retry_after.unwrap_or(1).clamp(1, MAX_FLOOD_WAIT_SECS))
            }
            ApiError::Refused { code, .. } if *code >= 500 => ApiFailure::Transient,
            ApiError::Refused { code: 400, migrate_to: Some(chat), .. } => ApiFailure::Migrated(ChatId(*chat)),
            ApiError::Refused { code: 403, .. } => ApiFailure::ChatUnreachable,
            ApiError::Refused { code: 400, description, .. } if CHAT_CLOSED.iter().any(|c| description.contains(c)) => {
                ApiFailure::ChatUnreachable
            }
            ApiError::Refused { code: 400, description, .. } if description.contains("wrong file identifier") => {
                ApiFailure::UnknownFile
            }
            ApiError::Refused { .. } | ApiError::File { .. } => ApiFailure::Rejected,
            ApiError::Network { .. } | ApiError::Garbled { .. } => ApiFailure::Transient,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(code: u16, description: &str) -> ApiError {
        ApiError::Refused { method: "sendVideo", code, description: description.into(), retry_after: None, migrate_to: None }
    }

    #[test]
    fn failures_are_classified() {
        assert_eq!(
            ApiError::Refused {
                method: "sendMessage",
                code: 429,
                description: String::new(),
                retry_after: Some(7),
                migrate_to: None
            }
            .failure(),
            ApiFailure::FloodWait(7)
        );
        assert_eq!(refused(502, "Bad Gateway").failure(), ApiFailure::Transient);
        assert_eq!(refused(403, "Forbidden: bot was blocked by the user").failure(), ApiFailure::ChatUnreachable);
        assert_eq!(refused(400, "Bad Request: chat not found").failure(), ApiFailure::ChatUnreachable);
        assert_eq!(refused(400, "Bad Request: wrong file").failure(), ApiFailure::Rejected);
        // a chat that won't take posts fails alone, for good
        assert_eq!(
            refused(400, "Bad Request: not enough rights to send videos to the chat").failure(),
            ApiFailure::ChatUnreachable
        );
        assert_eq!(
            refused(400, "Bad Request: not enough rights to send text messages to the chat").failure(),
            ApiFailure::ChatUnreachable
        );
        assert_eq!(refused(400, "Bad Request: CHAT_WRITE_FORBIDDEN").failure(), ApiFailure::ChatUnreachable);
        let moved = ApiError::Refused {
            method: "sendVideo",
            code: 400,
            description: "Bad Request: group chat was upgraded to a supergroup chat".into(),
            retry_after: None,
            migrate_to: Some(-1_001_234),
        };
        assert_eq!(moved.failure(), ApiFailure::Migrated(ChatId(-1_001_234)));
        assert_eq!(
            refused(400, "Bad Request: group chat was upgraded to a supergroup chat").failure(),
            ApiFailure::ChatUnreachable
        );
        assert_eq!(refused(400, "Bad Request: wrong file identifier/HTTP URL specified").failure(), ApiFailure::UnknownFile);
        assert_eq!(refused(413, "Request Entity Too Large").failure(), ApiFailure::Rejected);
        assert_eq!(ApiError::Network { method: "getMe", message: "timeout".into() }.failure(), ApiFailure::Transient);
    }

    #[test]
    fn a_flood_wait_is_capped_whatever_telegram_says() {
        let flood = |retry_after| {
            ApiError::Refused { method: "sendMessage", code: 429, description: String::new(), retry_after, migrate_to: None }
                .failure()
        };
        assert_eq!(flood(Some(u64::MAX)), ApiFailure::FloodWait(60));
        assert_eq!(flood(Some(1_000_000)), ApiFailure::FloodWait(60));
        assert_eq!(flood(Some(60)), ApiFailure::FloodWait(60));
        assert_eq!(flood(Some(0)), ApiFailure::FloodWait(1));
        assert_eq!(flood(None), ApiFailure::FloodWait(1));
    }
}
