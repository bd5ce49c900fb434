//! What a request asks for: a prompt's own video, or the extension of
//! another asset's video by a continuation. Both are assets, found or
//! created by their key in the same transaction.

use super::{AssetId, Prompt, PromptKey};

/// The video an extension continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extends {
    pub parent: AssetId,
    pub parent_key: PromptKey,
    /// The extension's own depth: the parent's + 1.
    pub depth: i32,
}

/// What one request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// The prompt, or for an extension the normalized continuation.
    pub prompt: Prompt,
    pub extends: Option<Extends>,
}

impl Wanted {
    /// The asset's unique key: the prompt's, or one over the parent's key
    /// and the continuation.
    pub fn key(&self) -> PromptKey {
        match &self.extends {
            None => self.prompt.key(),
            Some(extends) => PromptKey::extension(&extends.parent_key, &self.prompt),
        }
    }
}

impl From<Prompt> for Wanted {
    fn from(prompt: Prompt) -> Self {
        Wanted { prompt, extends: None }
    }
}
