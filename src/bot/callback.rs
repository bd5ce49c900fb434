//! What an inline button carries back when pressed: [`CallbackData`]. It
//! lives in `domain`, since services put buttons on the messages they send
//! (the ➕ under every video) and the bot parses the presses.

pub use crate::domain::CallbackData;
