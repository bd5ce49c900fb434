//! Credits and fair use: balances, Stars purchases and refunds, and the limits a request may meet.

use std::time::Duration;

use crate::domain::{LedgerKind, StarsPackage};

/// One movement of a user's `/balance`.
#[derive(Debug, Clone, Copy)]
pub struct Movement {
    pub kind: LedgerKind,
    pub amount: i64,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Credits and fair use, in one language.
pub trait CreditTexts {
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
}
