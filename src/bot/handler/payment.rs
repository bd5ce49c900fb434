//! Stars payments: the pre-checkout answer, purchases and refunds.

use teloxide::types::{Message, PreCheckoutQuery};

use crate::domain::{CallbackData, ChargeId, ChatId, StarsPackage, UserId};
use crate::service::credits::Paid;
use crate::telegram::api::{InlineButton, Keyboard};
use crate::texts::{Lang, Texts};

use super::{Handled, Incoming, UpdateHandler};

impl UpdateHandler {
    /// One inline button per package on sale: a press sends its invoice.
    pub(super) fn buy_buttons(packages: &[StarsPackage], texts: &dyn Texts) -> Keyboard {
        if packages.is_empty() {
            return Keyboard::None;
        }
        Keyboard::Inline(
            packages
                .iter()
                .map(|p| {
                    let data = CallbackData::Buy { stars: p.stars, credits: p.credits }.encode();
                    vec![InlineButton { text: texts.package_button(p), data }]
                })
                .collect(),
        )
    }

    /// Answered here, at once, never through a queue: Telegram waits 10 s.
    #[tracing::instrument(skip_all, fields(user = query.from.id.0))]
    pub(super) async fn on_pre_checkout(&self, query: PreCheckoutQuery) {
        let texts = Lang::for_code(query.from.language_code.as_deref()).texts();
        let ok = self.credits.pre_checkout_ok(&query.currency, query.total_amount, &query.invoice_payload);
        let refusal = texts.unknown_package();
        let answer = if ok { Ok(()) } else { Err(refusal.as_str()) };
        if !ok {
            tracing::info!(payload = %query.invoice_payload, "pre-checkout refused: no such package on sale");
        }
        if let Err(err) = self.sender.api().answer_pre_checkout_query(&query.id.0, answer).await {
            tracing::warn!(error = %err, "could not answer a pre-checkout query");
        }
    }

    /// A payment (`successful_payment`) or a refund (`refunded_payment`).
    /// A message that is a payment or a refund, handled; `None` for any other.
    pub(super) async fn payment_message(&self, message: &Message) -> Option<Handled> {
        if message.successful_payment().is_none() && !matches!(message.kind, teloxide::types::MessageKind::RefundedPayment(_)) {
            return None;
        }
        let chat = ChatId(message.chat.id.0);
        let from = message.from.as_ref();
        let user = from.map_or(UserId(chat.0), |u| UserId(u.id.0 as i64));
        let lang = Lang::for_code(from.and_then(|u| u.language_code.as_deref()));
        let incoming = Incoming { message, chat, thread: super::group::thread_of(message), user, lang, texts: lang.texts() };
        self.on_payment(&incoming).await
    }

    /// A payment or a refund: `Some` when the message was one (`Again`
    /// when a paid purchase could not be credited yet).
    pub(super) async fn on_payment(&self, incoming: &Incoming<'_>) -> Option<Handled> {
        let texts = incoming.texts;
        if let Some(payment) = incoming.message.successful_payment() {
            let charge = ChargeId(payment.telegram_payment_charge_id.0.clone());
            match self.credits.paid(incoming.user, charge, payment.total_amount, &payment.invoice_payload).await {
                Ok(Paid::Credited { credits, balance }) => {
                    self.reply(incoming, &texts.purchased(credits, balance), Keyboard::None).await;
                }
                Ok(Paid::Already) => tracing::info!("a payment credited before; nothing more to do"),
                Ok(Paid::Unrecognised) => {}
                Err(err) => {
                    // kept and tried again until credited: paid money is never dropped
                    tracing::error!(error = %err, "could not credit a payment yet; it is kept and tried again");
                    return Some(Handled::Again);
                }
            }
            return Some(Handled::Done);
        }
        if let teloxide::types::MessageKind::RefundedPayment(refund) = &incoming.message.kind {
            let charge = ChargeId(refund.refunded_payment.telegram_payment_charge_id.0.clone());
            match self.credits.refunded(charge).await {
                Ok(crate::service::credits::Refunded::Taken { taken, balance, .. }) => {
                    self.reply(incoming, &texts.refund_notice(taken, balance), Keyboard::None).await;
                }
                Ok(_) => tracing::info!("a refund recorded before, or of no known payment"),
                Err(err) => tracing::error!(error = %err, "could not record a refund"),
            }
            return Some(Handled::Done);
        }
        None
    }
}
