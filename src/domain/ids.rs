//! Typed identities: an asset id can't be passed where a request id is
//! expected, nor a chat where a user is. Each is stored as its plain value.

use std::fmt;

use sea_orm::DeriveValueType;

macro_rules! int_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, DeriveValueType)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

int_id!(
    /// One row of `video_assets`: one normalized prompt (or one extension).
    AssetId
);
int_id!(
    /// One row of `user_requests`: one message that asked for a video.
    RequestId
);
int_id!(
    /// One row of `approvals`: one gate of one generation.
    ApprovalId
);
int_id!(
    /// A Telegram chat.
    ChatId
);
int_id!(
    /// A Telegram user.
    UserId
);
int_id!(
    /// A message within a Telegram chat.
    MessageId
);
int_id!(
    /// A forum topic of a supergroup (`message_thread_id`). The General
    /// topic has none: it is addressed by leaving the thread out.
    ThreadId
);

/// Telegram's identifier of an uploaded file: valid for this bot token only,
/// re-sendable to any chat without uploading again.
#[derive(Debug, Clone, PartialEq, Eq, Hash, DeriveValueType)]
pub struct FileId(pub String);

impl FileId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One generation of one asset: the unit of work. The number is bumped
/// every time the asset moves into `pending`, so a stale job (an older
/// number) never touches a newer generation's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Generation {
    pub asset: AssetId,
    pub number: i64,
}

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "asset {} generation {}", self.asset, self.number)
    }
}
