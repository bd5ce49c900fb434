//! Everything that talks to Telegram: the Bot API client, the flood
//! limiter and sender, the texts users read, and the update handler.

pub mod api;
pub mod commands;
pub mod handler;
pub mod limiter;
pub mod polling;
pub mod sender;
pub mod shared_budget;
pub mod texts;
pub mod voice;
pub mod webhook;
