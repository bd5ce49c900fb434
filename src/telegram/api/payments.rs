//! Telegram Stars: invoices, pre-checkout answers and refunds.

use std::time::Duration;

use serde_json::{Value, json};

use super::{ApiError, BotApi};
use crate::domain::{ChatId, MessageId};

/// An invoice in Telegram Stars (currency `XTR`, one price).
#[derive(Debug, Clone)]
pub struct StarsInvoice {
    pub title: String,
    pub description: String,
    pub payload: String,
    pub label: String,
    pub stars: u32,
}

impl BotApi {
    /// Sends an invoice in Telegram Stars: currency `XTR`, an empty
    /// `provider_token`, exactly one price.
    pub async fn send_invoice(&self, chat_id: ChatId, invoice: &StarsInvoice) -> Result<MessageId, ApiError> {
        let body = json!({
            "chat_id": chat_id.0,
            "title": invoice.title,
            "description": invoice.description,
            "payload": invoice.payload,
            "provider_token": "",
            "currency": "XTR",
            "prices": [{ "label": invoice.label, "amount": invoice.stars }],
        });
        let message: Value = self.call("sendInvoice", body, None).await?;
        Ok(MessageId(message.get("message_id").and_then(Value::as_i64).unwrap_or_default()))
    }

    /// Answers a pre-checkout query: `Ok` lets the payment go on, `Err`
    /// stops it with that message to the user. Telegram waits 10 seconds.
    pub async fn answer_pre_checkout_query(&self, id: &str, answer: Result<(), &str>) -> Result<(), ApiError> {
        let body = match answer {
            Ok(()) => json!({ "pre_checkout_query_id": id, "ok": true }),
            Err(message) => json!({ "pre_checkout_query_id": id, "ok": false, "error_message": message }),
        };
        let _: Value = self.call("answerPreCheckoutQuery", body, Some(Duration::from_secs(8))).await?;
        Ok(())
    }

    /// Gives a whole Stars payment back to the user.
    pub async fn refund_star_payment(&self, user_id: i64, charge_id: &str) -> Result<(), ApiError> {
        let body = json!({ "user_id": user_id, "telegram_payment_charge_id": charge_id });
        let _: Value = self.call("refundStarPayment", body, None).await?;
        Ok(())
    }
}
