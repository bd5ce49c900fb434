//! Telegram as a transport: the Bot API client, the flood limiter (shared
//! across processes through Redis when there is one) and the sender that
//! retries. It knows nothing of requests or assets, and holds no text a
//! person reads.

pub mod api;
pub mod length;
pub mod limiter;
pub mod sender;
pub mod shared_budget;

/// Telegram's upload limit for bots (multipart `sendVideo`).
pub const MAX_UPLOAD_BYTES: u64 = 50 * 1024 * 1024;

/// Telegram's download limit for bots (`getFile`).
pub const MAX_DOWNLOAD_BYTES: u64 = 20 * 1024 * 1024;
