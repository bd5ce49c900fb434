//! What operators read: /clear, /allow, an asset's report, /stats, grants and refunds, the console's labels.

use crate::domain::{AssetStatus, Failure, MadeWith, Recipe, Stage, UserId};
use crate::texts::ConsoleTexts;

/// What an operator's /clear did, for its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClearOutcome {
    Cleared,
    Unknown,
    InProgress,
    AlreadyClear,
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
    pub last_error: Option<&'a Failure>,
    pub costs: &'a str,
    /// What the video is made from besides the prompt.
    pub recipe: Recipe,
    /// What it was made with, once its generation started.
    pub made_with: Option<MadeWith>,
}

/// An asset's recipe and what it was made with, in the tokens operators
/// configure (`16:9`, `quality`, `long`, `veo`), for `/status <prompt>`
/// and the console: `9:16 · quality · long · veo — veo-3.0-generate-001, 8 s, 720p`.
pub fn recipe_line(recipe: &Recipe, made: Option<&MadeWith>) -> String {
    let c = recipe.choices;
    let mut line = format!("{} · {} · {} · {}", c.format, c.quality, c.length, recipe.generator);
    if let Some(image) = &recipe.image {
        line.push_str(&format!(" · remix of photo {}", &image.as_str()[..12.min(image.as_str().len())]));
    }
    if let Some(m) = made {
        let mut parts = vec![m.model.clone()];
        if m.aspect_ratio != c.format.token() {
            parts.push(m.aspect_ratio.clone());
        }
        if m.duration_secs > 0 {
            parts.push(format!("{} s", m.duration_secs));
        }
        if !m.resolution.is_empty() {
            parts.push(m.resolution.clone());
        }
        line.push_str(&format!(" — {}", parts.join(", ")));
    }
    line
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
    /// Safety refusals and what remembering them saved.
    pub refusals: RefusalFigures,
}

/// Refusal totals for `/stats`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RefusalFigures {
    /// Prompts (asset keys) refused now, by moderation, the blocked words
    /// and the providers' safety filters.
    pub moderation: u64,
    pub blocked_words: u64,
    pub provider: u64,
    /// Requests answered from memory: no moderation, provider call or charge.
    pub answered: u64,
    /// Provider calls those answers did not make again.
    pub calls_saved: u64,
    /// Refusals an operator lifted with `/allow`.
    pub allowed: u64,
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

/// What operators read, in one language.
pub trait OperatorTexts {
    fn clear_usage(&self) -> String;
    fn status_usage(&self) -> String;
    fn operators_only(&self) -> String;
    fn clear_refused(&self) -> String;
    fn cleared(&self, prompt: &str, outcome: ClearOutcome) -> String;
    /// How to use `/allow`.
    fn allow_usage(&self) -> String;
    /// `/allow <prompt>` lifted `lifted` refusals (0: there was none).
    fn allowed(&self, prompt: &str, lifted: u64) -> String;
    fn asset_report(&self, report: &AssetReport<'_>) -> String;
    fn stats(&self, report: &StatsReport) -> String;
    fn grant_usage(&self) -> String;
    fn granted(&self, user: UserId, amount: i64, balance: i64) -> String;
    fn grant_refused(&self, user: UserId, amount: i64, balance: i64) -> String;
    fn refund_usage(&self) -> String;
    fn refund_done(&self, user: UserId, stars: i64, taken: i64, balance: i64) -> String;
    fn refund_refused(&self, refusal: &RefundRefusal) -> String;
    /// The operator console's labels.
    fn console(&self) -> &'static ConsoleTexts;
}
