//! What a request asks for: a prompt's own video made with a recipe, or
//! the extension of another asset's video by a continuation (made with the
//! parent's recipe). Both are assets, found or created by their key in the
//! same transaction.

use super::{AssetId, Prompt, PromptKey, Recipe};

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
    /// How it is made: the user's choices (an extension: its parent's),
    /// the generator kind and, for a remix, the photo.
    pub recipe: Recipe,
    pub extends: Option<Extends>,
}

impl Wanted {
    /// A prompt's own video.
    pub fn new(prompt: Prompt, recipe: Recipe) -> Self {
        Self { prompt, recipe, extends: None }
    }

    /// The asset's unique key: the prompt's with its recipe, or one over
    /// the parent's key (which covers the recipe) and the continuation.
    pub fn key(&self) -> PromptKey {
        match &self.extends {
            None => PromptKey::of(&self.prompt, &self.recipe),
            Some(extends) => PromptKey::extension(&extends.parent_key, &self.prompt),
        }
    }
}
