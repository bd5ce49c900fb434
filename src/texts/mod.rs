//! Every text a person reads — users and operators — in one layer. The
//! logic asks a [`Texts`] catalogue for a message by what it means. The
//! catalogue is one trait per topic ([`MenuTexts`], [`InputTexts`],
//! [`RequestTexts`], [`ExtendTexts`], [`ApprovalTexts`], [`CreditTexts`],
//! [`OperatorTexts`], [`SearchTexts`]); each language (`en/`, `ru/`)
//! implements every topic in a file of its own, so adding a language is
//! adding a directory here, with the compiler checking that none is missing.

mod approvals;
mod console;
mod credits;
mod en;
mod extend;
mod input;
mod menu;
mod operator;
mod requests;
mod ru;
mod search;

pub use approvals::ApprovalTexts;
pub use console::ConsoleTexts;
pub use credits::{CreditTexts, Movement};
pub use extend::ExtendTexts;
pub use input::InputTexts;
pub use menu::MenuTexts;
pub use operator::{
    AssetReport, ClearOutcome, CreditFigures, OperatorTexts, RefundRefusal, RefusalFigures, StatsReport, recipe_line,
};
pub use requests::{HistoryItem, RequestTexts, StatusLine};
pub use search::SearchTexts;

use crate::domain::Choice;

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

/// Every message, in one language: every topic's texts.
pub trait Texts:
    Send + Sync + MenuTexts + InputTexts + RequestTexts + ExtendTexts + ApprovalTexts + CreditTexts + OperatorTexts + SearchTexts
{
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
