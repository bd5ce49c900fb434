//! English: credits and fair use: balances, Stars purchases and refunds, and the limits a request may meet.

use std::time::Duration;

use crate::domain::{LedgerKind, StarsPackage};
use crate::texts::{CreditTexts, Movement, en_count};

use super::English;

impl CreditTexts for English {
    fn credits_off(&self) -> String {
        "Videos are free here: there are no credits to buy.".to_owned()
    }

    fn balance(&self, balance: i64, movements: &[Movement]) -> String {
        let mut lines = vec![format!("💰 Your balance: {}.", super::credits(balance))];
        if !movements.is_empty() {
            lines.push("Last movements:".to_owned());
        }
        for m in movements {
            let what = match m.kind {
                LedgerKind::Grant => "welcome credits",
                LedgerKind::Purchase => "bought with Stars",
                LedgerKind::Hold => "held for a video",
                LedgerKind::Capture => "video delivered (hold kept)",
                LedgerKind::Release => "returned (the video was not made)",
                LedgerKind::Refund => "purchase refunded",
                LedgerKind::Adjustment => "adjusted by an operator",
            };
            lines.push(format!("• {} {:+} — {what}", m.at.format("%Y-%m-%d %H:%M"), m.amount));
        }
        lines.push("/buy — more credits".to_owned());
        lines.join("\n")
    }

    fn buy_intro(&self, balance: i64) -> String {
        format!("💰 Your balance: {}. Choose a package, paid in Telegram Stars:", super::credits(balance))
    }

    fn package_button(&self, p: &StarsPackage) -> String {
        format!("{} for {} ⭐", super::credits(p.credits), p.stars)
    }

    fn invoice_title(&self, p: &StarsPackage) -> String {
        super::credits(p.credits)
    }

    fn invoice_description(&self, p: &StarsPackage) -> String {
        format!(
            "{} for making videos, for {}.",
            super::credits(p.credits),
            en_count(i64::from(p.stars), "Telegram Star", "Telegram Stars")
        )
    }

    fn invoice_label(&self, p: &StarsPackage) -> String {
        super::credits(p.credits)
    }

    fn invoice_sent(&self) -> String {
        "Here is your invoice.".to_owned()
    }

    fn button_expired(&self) -> String {
        "That button is no longer valid.".to_owned()
    }

    fn unknown_package(&self) -> String {
        "Sorry, this package is no longer on sale. Send /buy to see the current ones.".to_owned()
    }

    fn purchased(&self, credits: i64, balance: i64) -> String {
        format!("✅ Thank you! {} added. Your balance: {}.", super::credits(credits), super::credits(balance))
    }

    fn refund_notice(&self, taken: i64, balance: i64) -> String {
        format!("↩️ A purchase was refunded: {} taken off. Your balance: {}.", super::credits(taken), super::credits(balance))
    }

    fn not_enough_credits(&self, price: i64, balance: i64) -> String {
        format!("💰 This video costs {} and your balance is {balance}. Buy credits to ask for it:", super::credits(price))
    }

    fn too_many_waiting(&self, max: u32) -> String {
        format!(
            "⏳ You already have {} on the way. Please wait until one of them arrives, then ask again.",
            en_count(i64::from(max), "video", "videos")
        )
    }

    fn rate_limited(&self, retry_after: Duration) -> String {
        let secs = retry_after.as_secs().max(1);
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let when = if secs < 90 {
            en_count(count(secs), "second", "seconds")
        } else {
            en_count(count(secs.div_ceil(60)), "minute", "minutes")
        };
        format!("🐢 You're asking faster than I can make videos. Please ask again in {when}.")
    }

    fn waiting_in_line(&self, ahead: u64) -> String {
        match ahead {
            0 => "⏳ Your video is next in line. I'll send it here as soon as it is ready.".to_owned(),
            1 => "⏳ Your video is in line: 1 video ahead of yours. I'll send it here as soon as it is ready.".to_owned(),
            n => format!("⏳ Your video is in line: {n} videos ahead of yours. I'll send it here as soon as it is ready."),
        }
    }
}
