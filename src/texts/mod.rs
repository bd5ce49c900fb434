//! Every text a person reads — users and operators — in one layer. The
//! logic asks a [`Texts`] catalogue for a message by what it means; each
//! language is one implementation of the trait, so adding a language is
//! adding a file here, with the compiler checking that none is missing.

mod console;
mod en;
mod ru;
mod search;

pub use console::ConsoleTexts;
pub use search::SearchTexts;

use std::time::Duration;

use crate::domain::{
    ApprovalState, AssetStatus, Choice, Choices, Failure, Gate, LedgerKind, Length, MadeWith, PromptError, Quality, Recipe,
    RequestStatus, Stage, StarsPackage, UserId,
};

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
    pub error: Option<&'a Failure>,
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
pub trait Texts: Send + Sync + SearchTexts {
    fn help(&self, max_prompt_chars: usize) -> String;
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

    // ---- settings (/settings) and the menu (/menu, 🏠 under every video) ----
    /// A quality as the settings buttons show it ("Fast", "Quality").
    fn quality_label(&self, quality: Quality) -> String;
    /// A length as the settings buttons show it ("Short", "Long").
    fn length_label(&self, length: Length) -> String;
    /// The settings screen above its buttons: the current `choices` and,
    /// with credits on, `prices` with them (a new video, a cached one).
    fn settings(&self, choices: Choices, prices: Option<(i64, i64)>) -> String;
    /// The answer to a settings press (≤ 200 chars).
    fn setting_chosen(&self, choice: Choice) -> String;
    /// "⚙️ Settings": on the reply keyboard and in the menu; begins with ⚙️.
    fn settings_button(&self) -> String;
    /// "🏠 Menu": the inline button next to ➕ under every video.
    fn menu_button(&self) -> String;
    /// The menu above its buttons.
    fn main_menu(&self) -> String;
    /// The menu's buttons: 🎬 new video, 📜 history, 💰 balance.
    fn menu_new_video(&self) -> String;
    fn menu_history(&self) -> String;
    fn menu_balance(&self) -> String;
    /// 🎬 New video pressed: what to send (≤ 200 chars).
    fn new_video_hint(&self) -> String;
    /// `/cancel` with nothing to cancel.
    fn invalid_prompt(&self, err: &PromptError) -> String;
    fn not_text(&self) -> String;
    fn voice_off(&self) -> String;
    fn voice_too_big(&self) -> String;
    fn voice_failed(&self) -> String;
    fn voice_silent(&self) -> String;
    fn heard(&self, text: &str) -> String;
    /// A photo sent without words: what should happen in it?
    fn remix_ask(&self) -> String;
    /// A photo over the 20 MB a bot may download.
    fn photo_too_big(&self) -> String;
    /// /cancel stopped the wait for a photo's words.
    fn remix_cancelled(&self) -> String;
    fn unknown_command(&self, command: &str) -> String;
    fn addressed_to_another_bot(&self) -> String;
    /// `/video` without words (in a group, or the private chat).
    fn video_usage(&self) -> String;
    /// In a group: what was asked belongs to the private chat (history,
    /// balance, settings); said above a button that opens it.
    fn in_private_chat(&self) -> String;
    /// The label of the button that opens the private chat with the bot.
    fn private_chat_button(&self) -> String;
    fn clear_usage(&self) -> String;
    fn status_usage(&self) -> String;
    fn operators_only(&self) -> String;
    fn clear_refused(&self) -> String;
    fn cleared(&self, prompt: &str, outcome: ClearOutcome) -> String;
    /// How to use `/allow`.
    fn allow_usage(&self) -> String;
    /// `/allow <prompt>` lifted `lifted` refusals (0: there was none).
    fn allowed(&self, prompt: &str, lifted: u64) -> String;
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
    fn asset_report(&self, report: &AssetReport<'_>) -> String;
    fn stats(&self, report: &StatsReport) -> String;
    /// The labels of the persistent reply keyboard: (status, help).
    fn menu_status(&self) -> String;
    fn menu_help(&self) -> String;
    /// The command menu registered with Telegram: (command, description).
    fn command_menu(&self) -> Vec<(&'static str, String)>;
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

/// `n` and the English noun for it: "1 credit", "5 credits".
pub(crate) fn en_count(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n.abs() == 1 { one } else { many })
}

/// The Russian form of a noun counted by `n`: `one` (1, 21, 101 —
/// "расширение"), `few` (2–4, 22–24 — "расширения"), `many` (0, 5–20,
/// 25… — "расширений").
pub(crate) fn ru_form<'a>(n: i64, one: &'a str, few: &'a str, many: &'a str) -> &'a str {
    let n = n.unsigned_abs();
    match (n % 10, n % 100) {
        (1, 11) => many,
        (1, _) => one,
        (2..=4, 12..=14) => many,
        (2..=4, _) => few,
        _ => many,
    }
}

/// `n` and the Russian noun in its counted form: "1 кредит", "3 кредита", "5 кредитов".
pub(crate) fn ru_count(n: i64, one: &str, few: &str, many: &str) -> String {
    format!("{n} {}", ru_form(n, one, few, many))
}

/// `text` cut to `max` UTF-16 units (as Telegram counts; never inside a
/// surrogate pair), with an ellipsis when cut.
pub fn shorten(text: &str, max: usize) -> String {
    let mut used = 0;
    let mut short = String::new();
    for c in text.chars() {
        used += c.len_utf16();
        if used > max {
            short.push('…');
            return short;
        }
        short.push(c);
    }
    short
}

/// A choice as its settings button shows it (without the ✅): `Fast`, `9:16`, `Long`.
pub fn choice_label(texts: &dyn Texts, choice: Choice) -> String {
    match choice {
        Choice::Quality(quality) => texts.quality_label(quality),
        Choice::Format(format) => format.token().to_owned(),
        Choice::Length(length) => texts.length_label(length),
    }
}

/// Every label of the persistent menu, in every language: a tap on one is
/// a command, never a prompt.
pub fn menu_labels() -> impl Iterator<Item = (String, MenuButton)> {
    Lang::ALL.into_iter().flat_map(|lang| {
        let texts = lang.texts();
        [
            (texts.menu_status(), MenuButton::Status),
            (texts.menu_help(), MenuButton::Help),
            (texts.settings_button(), MenuButton::Settings),
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
    /// ⚙️ Settings: as /settings.
    Settings,
    /// Shown while the user has a decision pending: acts on their oldest gate.
    Approve,
    Reject,
}

#[cfg(test)]
mod tests {
    #[test]
    fn shorten_counts_utf16_units_and_never_splits_a_pair() {
        assert_eq!(super::shorten("abc", 3), "abc");
        assert_eq!(super::shorten("abcd", 3), "abc…");
        // 😀 is two UTF-16 units: three of them need six
        assert_eq!(super::shorten("😀😀😀", 6), "😀😀😀");
        assert_eq!(super::shorten("😀😀😀", 5), "😀😀…");
        assert_eq!(super::shorten("😀😀😀", 3), "😀…");
    }

    #[test]
    fn sizes_read_in_decimal_units() {
        let units = ["B", "KB", "MB", "GB", "TB"];
        assert_eq!(super::size(812, units), "812 B");
        assert_eq!(super::size(3_400_000, units), "3.4 MB");
        assert_eq!(super::size(1_250_000_000, units), "1.2 GB");
    }

    use super::Lang;
    use crate::domain::Failure;

    fn has_cyrillic(text: &str) -> bool {
        text.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c))
    }

    #[test]
    fn every_failure_reads_in_the_users_language_without_its_detail() {
        let (en, ru) = (Lang::En.texts(), Lang::Ru.texts());
        let examples = Failure::examples();
        for failure in &examples {
            let (reason_en, reason_ru) = (en.failure(failure), ru.failure(failure));
            assert!(!reason_en.is_empty() && !has_cyrillic(&reason_en), "{failure}: {reason_en}");
            assert!(has_cyrillic(&reason_ru) && !reason_ru.contains(&reason_en), "{failure}: {reason_ru}");
            // no English sentence and no technical detail in the Russian texts
            let notice_ru = ru.generation_failed("Привет", failure);
            let notice_en = en.generation_failed("Hello", failure);
            let status_ru = ru.status_line(&super::StatusLine {
                prompt: "Привет",
                request: crate::domain::RequestStatus::Failed,
                asset: Some(crate::domain::AssetStatus::Failed),
                stage: None,
                error: Some(failure),
            });
            assert!(notice_ru.contains(&reason_ru) && notice_en.contains(&reason_en), "{notice_ru} / {notice_en}");
            assert_eq!(status_ru, format!("• «Привет» — ❌ не удалось: {reason_ru}"));
            for text in [&notice_ru, &notice_en, &status_ru] {
                if let Some(detail) = failure.detail() {
                    assert!(!text.contains(detail), "the detail reached a user: {text}");
                }
            }
            for text in [&notice_ru, &status_ru] {
                assert!(!text.contains(&failure.to_string()), "the stored token reached a Russian user: {text}");
            }
            let english_words = ["failed", "rejected", "cancelled", "video", "Telegram did", "something"];
            assert!(!english_words.iter().any(|w| reason_ru.contains(w)), "{reason_ru}");
        }
        // each kind says something of its own
        let distinct: std::collections::HashSet<String> = examples.iter().map(|f| ru.failure(f)).collect();
        assert_eq!(distinct.len(), examples.len());
        let distinct: std::collections::HashSet<String> = examples.iter().map(|f| en.failure(f)).collect();
        assert_eq!(distinct.len(), examples.len());
        let three = Failure::Attempts { attempts: 3, last: String::new() };
        assert_eq!(ru.failure(&three), "ничего не вышло за 3 попытки");
        assert_eq!(en.failure(&three), "it failed after 3 attempts");
        let one = Failure::Attempts { attempts: 1, last: String::new() };
        assert_eq!(ru.failure(&one), "ничего не вышло за 1 попытку");
        assert_eq!(en.failure(&one), "it failed after 1 attempt");
    }

    #[test]
    fn operators_read_the_reason_and_its_detail() {
        let failure = Failure::Refused(crate::domain::RefusalReason::provider("SAFETY.INPUT.TEXT"));
        for lang in Lang::ALL {
            let report = lang.texts().asset_report(&super::AssetReport {
                prompt: "p",
                normalized: None,
                asset_id: 1,
                status: crate::domain::AssetStatus::Failed,
                generation: 1,
                attempts: 1,
                requests: 1,
                stage: None,
                last_error: Some(&failure),
                costs: "",
                recipe: crate::domain::Recipe::default(),
                made_with: None,
            });
            assert!(report.contains(&lang.texts().failure(&failure)), "{report}");
            assert!(report.contains("[refused: provider: SAFETY.INPUT.TEXT]"), "{report}");
        }
    }

    #[test]
    fn counts_shown_to_users_take_the_plural_form() {
        let (en, ru) = (Lang::En.texts(), Lang::Ru.texts());
        assert!(en.extend_limit(1).contains(": 1 extension in a row"), "{}", en.extend_limit(1));
        assert!(en.extend_limit(5).contains(": 5 extensions in a row"), "{}", en.extend_limit(5));
        assert!(ru.extend_limit(1).contains(": 1 продолжение подряд"), "{}", ru.extend_limit(1));
        assert!(ru.extend_limit(2).contains(": 2 продолжения подряд"), "{}", ru.extend_limit(2));
        assert!(ru.extend_limit(5).contains(": 5 продолжений подряд"), "{}", ru.extend_limit(5));
        assert!(ru.extend_limit(21).contains(": 21 продолжение подряд"), "{}", ru.extend_limit(21));
        assert!(en.purchased(1, 21).contains("1 credit added. Your balance: 21 credits."), "{}", en.purchased(1, 21));
        assert!(en.too_many_waiting(1).contains("1 video on the way"), "{}", en.too_many_waiting(1));
        let soon = std::time::Duration::from_secs(1);
        assert!(en.rate_limited(soon).contains("in 1 second."), "{}", en.rate_limited(soon));
        assert!(ru.rate_limited(soon).contains("через 1 секунду."), "{}", ru.rate_limited(soon));
        let later = std::time::Duration::from_secs(150);
        assert!(ru.rate_limited(later).contains("через 3 минуты."), "{}", ru.rate_limited(later));
        let too_long = crate::domain::PromptError::TooLong { chars: 1002, max: 1000 };
        assert!(ru.invalid_prompt(&too_long).contains("1002 символа"), "{}", ru.invalid_prompt(&too_long));
        assert!(ru.help(1).contains("до 1 символа") && ru.help(1000).contains("до 1000 символов"));
        assert!(en.help(1).contains("up to 1 character)") && en.help(1000).contains("up to 1000 characters)"));
    }

    #[test]
    fn counted_nouns_take_their_plural_forms() {
        let ru = |n| super::ru_count(n, "расширение", "расширения", "расширений");
        let expected = [
            (0, "0 расширений"),
            (1, "1 расширение"),
            (2, "2 расширения"),
            (4, "4 расширения"),
            (5, "5 расширений"),
            (11, "11 расширений"),
            (12, "12 расширений"),
            (14, "14 расширений"),
            (21, "21 расширение"),
            (22, "22 расширения"),
            (25, "25 расширений"),
            (101, "101 расширение"),
            (111, "111 расширений"),
            (-1, "-1 расширение"),
        ];
        for (n, text) in expected {
            assert_eq!(ru(n), text);
        }
        assert_eq!(super::en_count(1, "extension", "extensions"), "1 extension");
        assert_eq!(super::en_count(0, "extension", "extensions"), "0 extensions");
        assert_eq!(super::en_count(2, "extension", "extensions"), "2 extensions");
    }
}
