//! Every text a person reads — users and operators — in one layer. The
//! logic asks a [`Texts`] catalogue for a message by what it means; each
//! language is one implementation of the trait, so adding a language is
//! adding a file here, with the compiler checking that none is missing.

mod console;
mod en;
mod ru;

pub use console::ConsoleTexts;

use crate::domain::{AssetStatus, PromptError, RequestStatus, Stage};

pub use crate::domain::Lang;

impl Lang {
    /// This language's catalogue.
    pub fn texts(self) -> &'static dyn Texts {
        match self {
            Lang::En => &en::English,
            Lang::Ru => &ru::Russian,
        }
    }
}

/// What an operator's /clear did, for its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClearOutcome {
    Cleared,
    Unknown,
    InProgress,
    AlreadyClear,
}

/// One line of a user's /status.
#[derive(Debug, Clone, Copy)]
pub struct StatusLine<'a> {
    pub prompt: &'a str,
    pub request: RequestStatus,
    pub asset: Option<AssetStatus>,
    pub stage: Option<Stage>,
    pub error: Option<&'a str>,
}

/// The facts of an operator's `/status <prompt>`.
#[derive(Debug, Clone)]
pub struct AssetReport<'a> {
    pub prompt: &'a str,
    pub asset_id: i64,
    pub status: AssetStatus,
    pub generation: i64,
    pub attempts: i32,
    pub requests: u64,
    pub stage: Option<Stage>,
    pub last_error: Option<&'a str>,
    pub costs: &'a str,
}

/// The figures of an operator's `/stats`.
#[derive(Debug, Clone)]
pub struct StatsReport {
    pub assets: Vec<(AssetStatus, u64)>,
    pub completed: u64,
    pub pending: u64,
    pub failed: u64,
    pub generations: u64,
    pub costs: String,
    /// Deliveries sent as paid broadcasts (0.1 Stars each).
    pub paid_sends: u64,
}

/// Every message, in one language.
pub trait Texts: Send + Sync {
    fn help(&self, max_prompt_chars: usize) -> String;
    fn invalid_prompt(&self, err: &PromptError) -> String;
    fn not_text(&self) -> String;
    fn voice_off(&self) -> String;
    fn voice_too_big(&self) -> String;
    fn voice_failed(&self) -> String;
    fn voice_silent(&self) -> String;
    fn heard(&self, text: &str) -> String;
    fn unknown_command(&self, command: &str) -> String;
    fn addressed_to_another_bot(&self) -> String;
    fn clear_usage(&self) -> String;
    fn status_usage(&self) -> String;
    fn operators_only(&self) -> String;
    fn clear_refused(&self) -> String;
    fn cleared(&self, prompt: &str, outcome: ClearOutcome) -> String;
    /// The stage as a person reads it ("images 7/10, clips 3/10").
    fn stage(&self, stage: &Stage) -> String;
    fn being_made(&self, stage: Option<&Stage>) -> String;
    /// A video's caption: the prompt, within Telegram's 1024 characters.
    fn caption(&self, prompt: &str) -> String;
    fn generation_failed(&self, prompt: &str, reason: &str) -> String;
    fn try_again(&self) -> String;
    fn status_empty(&self) -> String;
    fn status_header(&self) -> String;
    fn status_line(&self, line: &StatusLine<'_>) -> String;
    fn asset_report(&self, report: &AssetReport<'_>) -> String;
    fn stats(&self, report: &StatsReport) -> String;
    /// The labels of the persistent reply keyboard: (status, help).
    fn menu_status(&self) -> String;
    fn menu_help(&self) -> String;
    /// The command menu registered with Telegram: (command, description).
    fn command_menu(&self) -> Vec<(&'static str, String)>;
    /// The operator console's labels.
    fn console(&self) -> &'static ConsoleTexts;
}

/// `text` cut to `max` characters, with an ellipsis when cut.
pub fn shorten(text: &str, max: usize) -> String {
    let mut short: String = text.chars().take(max).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// Every label of the persistent menu, in every language: a tap on one is
/// a command, never a prompt.
pub fn menu_labels() -> impl Iterator<Item = (String, MenuButton)> {
    Lang::ALL.into_iter().flat_map(|lang| {
        let texts = lang.texts();
        [(texts.menu_status(), MenuButton::Status), (texts.menu_help(), MenuButton::Help)]
    })
}

/// A button of the persistent menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MenuButton {
    Status,
    Help,
}
