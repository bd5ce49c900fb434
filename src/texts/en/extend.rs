//! English: "➕ Extend": asking for a continuation and why one can't be made.

use std::time::Duration;

use crate::domain::Choices;
use crate::texts::{ExtendTexts, MenuTexts, en_count, shorten};

use super::English;

impl ExtendTexts for English {
    fn extend_button(&self) -> String {
        "➕ Extend".to_owned()
    }

    fn extend_ask(&self, prompt: &str, choices: Choices) -> String {
        let quality = self.quality_label(choices.quality);
        format!(
            "➕ How should “{prompt}” go on? ({}, {quality}) Send the continuation as your next message and I'll add it to the end of this video. /cancel to stop.",
            choices.format
        )
    }

    fn extend_unavailable(&self) -> String {
        "This video can't be extended any more: it was removed or is being made again. Send its prompt to get it first."
            .to_owned()
    }

    fn extend_limit(&self, max: i32) -> String {
        format!(
            "This video can't be extended further: {} in a row is the most allowed. Extend an earlier one, or send a new prompt.",
            en_count(i64::from(max), "extension", "extensions")
        )
    }

    fn extend_off(&self) -> String {
        "Extending videos is switched off on this bot.".to_owned()
    }

    fn extend_not_yours(&self) -> String {
        "This button isn't for you: you can only extend videos you asked for.".to_owned()
    }

    fn extend_expired(&self, prompt: &str, after: Duration) -> String {
        let hours = (after.as_secs() / 3600).max(1);
        format!(
            "I stopped waiting for the continuation of “{}” after {}, so I did not use this text. Press ➕ Extend under the video again to continue it, or send the text again to make a new video.",
            shorten(prompt, 100),
            en_count(i64::try_from(hours).unwrap_or(i64::MAX), "hour", "hours")
        )
    }

    fn extend_cancelled(&self) -> String {
        "OK, I won't extend the video. Send a prompt for a new one.".to_owned()
    }
}
