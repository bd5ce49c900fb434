//! The bot: Telegram updates in (long polling or a webhook), each handled
//! by the update handler — commands, menu buttons, voice messages and
//! prompts — which calls the services and answers in the user's language.

pub mod commands;
pub mod error;
pub mod handler;
pub mod polling;
pub mod remix;
pub mod voice;
pub mod webhook;

pub use error::BotError;
