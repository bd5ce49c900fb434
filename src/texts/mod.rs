//! Every text a person reads — users and operators — in one layer. The
//! logic asks a [`Texts`] catalogue for a message by what it means; each
//! language is one implementation of the trait, so adding a language is
//! adding a file here, with the compiler checking that none is missing.

mod console;
mod en;
mod ru;

pub use console::ConsoleTexts;

use std::time::Duration;

use crate::domain::{ApprovalState, AssetStatus, Gate, LedgerKind, PromptError, RequestStatus, Stage, StarsPackage, UserId};

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
    /// The prompt as the first requester typed it.
    pub prompt: &'a str,
    /// The normalized prompt behind the cache key, when it reads otherwise.
    pub normalized: Option<&'a str>,
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
    /// Bytes the data directory takes on this machine (database, videos,
    /// intermediate files).
    pub disk_used: u64,
    /// Credits, when they are on.
    pub credits: Option<CreditFigures>,
}

/// Credit totals for `/stats`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CreditFigures {
    /// Stars paid in, before refunds.
    pub stars: i64,
    pub sold: i64,
    pub held: i64,
    pub captured: i64,
    pub released: i64,
    pub refunded: i64,
}

/// One movement of a user's `/balance`.
#[derive(Debug, Clone, Copy)]
pub struct Movement {
    pub kind: LedgerKind,
    pub amount: i64,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Why an operator's `/refund` was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundRefusal {
    Unknown,
    OtherUser,
    AlreadyRefunded,
    Spent {
        credits: i64,
        balance: i64,
    },
    /// Telegram refused refundStarPayment, with its description.
    Telegram(String),
}

/// Every message, in one language.
pub trait Texts: Send + Sync {
    fn help(&self, max_prompt_chars: usize) -> String;
    /// The inline button under every video; must begin with "➕".
    fn extend_button(&self) -> String;
    /// After "➕ Extend": asks for the continuation of the video of `prompt`.
    fn extend_ask(&self, prompt: &str) -> String;
    /// The video to extend is gone (cleared or being made again). ≤ 200 chars.
    fn extend_unavailable(&self) -> String;
    /// The chain already has `max` extensions (`MAX_EXTENSIONS`). ≤ 200 chars.
    fn extend_limit(&self, max: i32) -> String;
    /// Extending is switched off (`MAX_EXTENSIONS=0`). ≤ 200 chars.
    fn extend_off(&self) -> String;
    /// `/cancel` stopped the wait for a continuation.
    fn extend_cancelled(&self) -> String;
    /// `/cancel` with nothing to cancel.
    fn nothing_to_cancel(&self) -> String;
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
    /// /history with nothing to show.
    fn history_empty(&self) -> String;
    /// /history: the list above the buttons, one line per video (newest first).
    fn history(&self, prompts: &[&str]) -> String;
    /// The label of the button that sends video `n` (1-based) again.
    fn history_button(&self, n: usize, prompt: &str) -> String;
    /// A history button whose video can't be sent any more (cleared).
    fn history_gone(&self) -> String;
    /// /cancel with nothing waiting.
    fn cancel_nothing(&self) -> String;
    /// /cancel withdrew these requests (the prompts as typed).
    fn cancelled(&self, prompts: &[&str]) -> String;

    // ---- approvals ----
    /// "the script", "the images", "the clips".
    fn gate_name(&self, gate: Gate) -> String;
    /// The script gate's preview: the script (or the text the local
    /// renderer will draw) for the approver to read.
    fn approval_script(&self, prompt: &str, script: &str) -> String;
    /// Sent before an album of images or clips to approve.
    fn approval_media(&self, prompt: &str, gate: Gate) -> String;
    /// The message with the ✅/❌ inline keyboard after a preview.
    fn approval_question(&self, prompt: &str, gate: Gate) -> String;
    /// The approve / reject buttons (inline and on the reply keyboard);
    /// they begin with ✅ and ❌.
    fn approve_button(&self) -> String;
    fn reject_button(&self) -> String;
    /// The one button left under a decided approval message.
    fn decided_button(&self, state: ApprovalState) -> String;
    /// Short notices answering a press (at most 200 characters).
    fn approval_done(&self, state: ApprovalState) -> String;
    fn approval_already_decided(&self, state: ApprovalState) -> String;
    fn approval_not_yours(&self) -> String;
    fn approval_nothing_pending(&self) -> String;
    // Credits and fair use.
    /// `/balance` and `/buy` while credits are off.
    fn credits_off(&self) -> String;
    /// `/balance`: the balance and the last movements, newest first.
    fn balance(&self, balance: i64, movements: &[Movement]) -> String;
    /// `/buy`: above one button per package.
    fn buy_intro(&self, balance: i64) -> String;
    /// A package's inline button.
    fn package_button(&self, package: &StarsPackage) -> String;
    /// The invoice of a package: title (1-32 chars), description (1-255), price label.
    fn invoice_title(&self, package: &StarsPackage) -> String;
    fn invoice_description(&self, package: &StarsPackage) -> String;
    fn invoice_label(&self, package: &StarsPackage) -> String;
    /// The answer to a button press that sent an invoice.
    fn invoice_sent(&self) -> String;
    /// The answer to a button that no longer means anything.
    fn button_expired(&self) -> String;
    /// The pre-checkout error for a payload that names no package on sale.
    fn unknown_package(&self) -> String;
    fn purchased(&self, credits: i64, balance: i64) -> String;
    /// A purchase refunded by Telegram or an operator.
    fn refund_notice(&self, taken: i64, balance: i64) -> String;
    /// A request refused for want of credits (buttons to buy follow).
    fn not_enough_credits(&self, price: i64, balance: i64) -> String;
    fn too_many_waiting(&self, max: u32) -> String;
    fn rate_limited(&self, retry_after: Duration) -> String;
    /// The "being made" note of a generation waiting for a free slot.
    fn waiting_in_line(&self, ahead: u64) -> String;
    fn grant_usage(&self) -> String;
    fn granted(&self, user: UserId, amount: i64, balance: i64) -> String;
    fn grant_refused(&self, user: UserId, amount: i64, balance: i64) -> String;
    fn refund_usage(&self) -> String;
    fn refund_done(&self, user: UserId, stars: i64, taken: i64, balance: i64) -> String;
    fn refund_refused(&self, refusal: &RefundRefusal) -> String;

    /// The operator console's labels.
    fn console(&self) -> &'static ConsoleTexts;
}

/// A size in bytes as people read it ("812 B", "3.4 MB"), in decimal
/// units named by `units` (bytes, kilo, mega, giga, tera).
pub(crate) fn size(n: u64, units: [&str; 5]) -> String {
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} {}", units[0]) } else { format!("{value:.1} {}", units[unit]) }
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
        [
            (texts.menu_status(), MenuButton::Status),
            (texts.menu_help(), MenuButton::Help),
            (texts.approve_button(), MenuButton::Approve),
            (texts.reject_button(), MenuButton::Reject),
        ]
    })
}

/// A button of the persistent menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MenuButton {
    Status,
    Help,
    /// Shown while the user has a decision pending: acts on their oldest gate.
    Approve,
    Reject,
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_in_decimal_units() {
        let units = ["B", "KB", "MB", "GB", "TB"];
        assert_eq!(super::size(812, units), "812 B");
        assert_eq!(super::size(3_400_000, units), "3.4 MB");
        assert_eq!(super::size(1_250_000_000, units), "1.2 GB");
    }
}
