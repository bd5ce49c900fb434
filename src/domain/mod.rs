//! Domain types: values that cannot be built invalid.

mod prompt;
mod status;

pub use prompt::{Prompt, PromptError, PromptKey};
pub use status::{AssetStatus, RequestStatus};
