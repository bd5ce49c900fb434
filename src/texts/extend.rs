//! "➕ Extend": asking for a continuation and why one can't be made.

use std::time::Duration;

use crate::domain::Choices;

/// "➕ Extend", in one language.
pub trait ExtendTexts {
    /// The inline button under every video; must begin with "➕".
    fn extend_button(&self) -> String;
    /// After "➕ Extend": asks for the continuation of the video of
    /// `prompt`, naming the format and quality it inherits (`choices`).
    fn extend_ask(&self, prompt: &str, choices: Choices) -> String;
    /// The video to extend is gone (cleared or being made again). ≤ 200 chars.
    fn extend_unavailable(&self) -> String;
    /// The chain already has `max` extensions (`MAX_EXTENSIONS`). ≤ 200 chars.
    fn extend_limit(&self, max: i32) -> String;
    /// Extending is switched off (`MAX_EXTENSIONS=0`). ≤ 200 chars.
    fn extend_off(&self) -> String;
    /// A ➕ of a video the presser never asked for (a forged or foreign button).
    fn extend_not_yours(&self) -> String;
    /// A text after the ➕ wait ran out (`EXTEND_WAIT_HOURS`): not taken as a continuation.
    fn extend_expired(&self, prompt: &str, after: Duration) -> String;
    /// `/cancel` stopped the wait for a continuation.
    fn extend_cancelled(&self) -> String;
}
