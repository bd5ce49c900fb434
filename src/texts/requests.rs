//! A request's life as its user reads it: progress, the video, failures, /status, /history and /cancel.

use crate::domain::{AssetStatus, Choices, Failure, RequestStatus, Stage};
use crate::texts::Texts;

/// One line of a user's /status.
#[derive(Debug, Clone, Copy)]
pub struct StatusLine<'a> {
    pub prompt: &'a str,
    pub request: RequestStatus,
    pub asset: Option<AssetStatus>,
    pub stage: Option<Stage>,
    pub error: Option<&'a Failure>,
}

/// One video of a user's `/history`.
#[derive(Debug, Clone, Copy)]
pub struct HistoryItem<'a> {
    /// As the user typed it.
    pub prompt: &'a str,
    pub choices: Choices,
    /// Made from a photo.
    pub remix: bool,
    /// Its length, when known.
    pub seconds: Option<u32>,
}

impl HistoryItem<'_> {
    /// `9:16 · Quality · 8 s · 📷`, in `texts`' words.
    pub fn made(&self, texts: &dyn Texts) -> String {
        let mut parts = vec![self.choices.format.to_string(), texts.quality_label(self.choices.quality)];
        if let Some(s) = self.seconds {
            parts.push(format!("{s} s"));
        }
        if self.remix {
            parts.push("📷".to_owned());
        }
        parts.join(" · ")
    }
}

/// A request's life as its user reads it, in one language.
pub trait RequestTexts {
    /// The stage as a person reads it ("images 7/10, clips 3/10").
    fn stage(&self, stage: &Stage) -> String;
    fn being_made(&self, stage: Option<&Stage>) -> String;
    /// A video's caption: the prompt, within Telegram's 1024 characters.
    fn caption(&self, prompt: &str) -> String;
    /// Why a video failed, as its user reads it (no technical detail).
    fn failure(&self, reason: &Failure) -> String;
    fn generation_failed(&self, prompt: &str, reason: &Failure) -> String;
    fn try_again(&self) -> String;
    fn status_empty(&self) -> String;
    fn status_header(&self) -> String;
    fn status_line(&self, line: &StatusLine<'_>) -> String;
    /// /history with nothing to show.
    fn history_empty(&self) -> String;
    /// /history: the list above the buttons, one line per video (newest
    /// first), with what each was made with.
    fn history(&self, items: &[HistoryItem<'_>]) -> String;
    /// The label of the button that sends video `n` (1-based) again.
    fn history_button(&self, n: usize, prompt: &str) -> String;
    /// A history button whose video can't be sent any more (cleared).
    fn history_gone(&self) -> String;
    /// /cancel with nothing waiting.
    fn cancel_nothing(&self) -> String;
    /// /cancel withdrew these requests (the prompts as typed).
    fn cancelled(&self, prompts: &[&str]) -> String;
}
