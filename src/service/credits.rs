//! Credits as users and operators meet them: the first-contact grant,
//! `/balance`, `/buy` and its invoices, pre-checkout answers, payments
//! credited once per charge, refunds, and operators' `/grant` and
//! `/refund`. Holds are taken by intake (in the transaction that records a
//! request), captured and released by delivery and the generation's end.

use std::time::Duration;

use sea_orm::{DatabaseConnection, DbErr};

use crate::config::{CreditSettings, RetryPolicy};
pub use crate::db::credits::Refunded;
use crate::db::credits::{self, Adjusted, Payment, Purchase, Refundable};
use crate::db::is_retryable;
use crate::domain::Pricing;
use crate::domain::{ChargeId, ChatId, Choices, StarsPackage, UserId};
use crate::telegram::api::StarsInvoice;
use crate::telegram::sender::{SendError, Sender};
use crate::texts::{Movement, RefundRefusal, Texts};

pub struct Credits {
    db: DatabaseConnection,
    sender: Sender,
    settings: Option<CreditSettings>,
    /// Users whose account exists: the first-contact check costs nothing after.
    known: moka::sync::Cache<UserId, ()>,
}

/// What a successful payment did, for the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paid {
    Credited {
        credits: i64,
        balance: i64,
    },
    /// Credited before (a redelivered update): say nothing again.
    Already,
    /// The payload names no package, or the amount does not match it.
    Unrecognised,
}

impl Credits {
    pub fn new(db: DatabaseConnection, sender: Sender, settings: Option<CreditSettings>) -> Self {
        let known = moka::sync::Cache::builder().max_capacity(1_000_000).time_to_live(Duration::from_secs(3600)).build();
        Self { db, sender, settings, known }
    }

    pub fn enabled(&self) -> bool {
        self.settings.is_some()
    }

    /// What a new video and a cached one cost with `choices` (`None` while
    /// credits are off), for the settings screen.
    pub fn prices(&self, choices: Choices) -> Option<(i64, i64)> {
        let pricing = self.settings.as_ref().map(|c| Pricing {
            free: c.free,
            new: c.price_new,
            cached: c.price_cached,
            quality_extra: c.price_quality_extra,
            long_extra: c.price_long_extra,
        })?;
        Some((pricing.price(true, choices), pricing.price(false, choices)))
    }

    /// `Some((price, balance))` when `user` can't afford even a cached
    /// video with `choices`: checked before anything is paid for them (a
    /// voice message's transcription). `None` with credits off.
    pub async fn short_of(&self, user: UserId, choices: Choices) -> Result<Option<(i64, i64)>, DbErr> {
        let Some((_, cheapest)) = self.prices(choices) else { return Ok(None) };
        let balance = credits::balance(&self.db, user).await?.unwrap_or_else(|| self.free());
        Ok((balance < cheapest).then_some((cheapest, balance)))
    }

    fn free(&self) -> i64 {
        self.settings.as_ref().map_or(0, |s| s.free)
    }

    /// A user's first contact opens their account with the free credits,
    /// so `/balance` shows them from the start.
    pub async fn first_contact(&self, user: UserId) {
        if !self.enabled() || self.known.contains_key(&user) {
            return;
        }
        match credits::open_account(&self.db, user, self.free()).await {
            Ok(_) => self.known.insert(user, ()),
            Err(err) => tracing::warn!(%user, error = %err, "could not open a credit account; the next request will"),
        }
    }

    /// `/balance`: the balance and the last 10 movements.
    #[tracing::instrument(skip(self, texts))]
    pub async fn balance_text(&self, user: UserId, texts: &dyn Texts) -> Result<String, DbErr> {
        if !self.enabled() {
            return Ok(texts.credits_off());
        }
        let balance = credits::open_account(&self.db, user, self.free()).await?;
        let movements: Vec<Movement> = credits::recent(&self.db, user, 10)
            .await?
            .into_iter()
            .map(|row| Movement { kind: row.kind, amount: row.amount, at: row.created_at })
            .collect();
        Ok(texts.balance(balance, &movements))
    }

    /// The packages on sale, in order (none when credits are off).
    pub fn packages(&self) -> Vec<StarsPackage> {
        self.settings.as_ref().map(|s| s.packages.clone()).unwrap_or_default()
    }

    /// `/buy`: the balance above one button per package.
    /// The buttons (one per [`Credits::packages`]) are the bot's to add.
    pub async fn buy(&self, user: UserId, texts: &dyn Texts) -> Result<String, DbErr> {
        if !self.enabled() {
            return Ok(texts.credits_off());
        }
        let balance = credits::open_account(&self.db, user, self.free()).await?;
        Ok(texts.buy_intro(balance))
    }

    /// The package a button names, if it is still on sale.
    pub fn package(&self, stars: u32, credits: i64) -> Option<StarsPackage> {
        let wanted = StarsPackage { stars, credits };
        self.settings.as_ref()?.packages.iter().copied().find(|p| *p == wanted)
    }

    /// Sends the invoice of `package` (currency XTR, one price, a payload naming it).
    #[tracing::instrument(skip(self, texts))]
    pub async fn send_invoice(&self, chat: ChatId, package: StarsPackage, texts: &dyn Texts) -> Result<(), SendError> {
        let invoice = StarsInvoice {
            title: texts.invoice_title(&package),
            description: texts.invoice_description(&package),
            payload: package.payload(),
            label: texts.invoice_label(&package),
            stars: package.stars,
        };
        self.sender.invoice(chat, &invoice).await.map(|_| ())
    }

    /// The pre-checkout decision: a package on sale, in Stars, for its price.
    pub fn pre_checkout_ok(&self, currency: &str, total: u32, payload: &str) -> bool {
        self.settings.as_ref().and_then(|s| s.package(payload)).is_some_and(|p| currency == "XTR" && p.stars == total)
    }

    /// A successful payment: its package is credited once per charge id.
    #[tracing::instrument(skip(self, payload))]
    pub async fn paid(&self, user: UserId, charge: ChargeId, total: u32, payload: &str) -> Result<Paid, DbErr> {
        let Some(package) = StarsPackage::from_payload(payload).filter(|p| p.stars == total) else {
            tracing::error!(%user, %charge, total, "a payment for no known package; refund it with /refund if needed");
            return Ok(Paid::Unrecognised);
        };
        let payment =
            Payment { user, charge, stars: i64::from(package.stars), credits: package.credits, payload: payload.to_owned() };
        // Paid money is never dropped for a passing database failure: the
        // crediting (idempotent by charge id) is tried again for about half
        // a minute before the operator is left to /grant it.
        let retry = RetryPolicy::new(8, Duration::from_millis(250), Duration::from_secs(8));
        let mut failures = 0;
        let purchase = loop {
            match credits::credit_purchase(&self.db, payment.clone(), self.free()).await {
                Err(err) if is_retryable(&err) && retry.retries_after(failures + 1) => {
                    failures += 1;
                    tracing::warn!(error = %err, failures, "crediting a payment failed; trying again");
                    tokio::time::sleep(retry.backoff(failures)).await;
                }
                other => break other?,
            }
        };
        Ok(match purchase {
            Purchase::Credited { credits, balance } => {
                self.known.insert(user, ());
                Paid::Credited { credits, balance }
            }
            Purchase::AlreadyCredited => Paid::Already,
        })
    }

    /// A refund Telegram told us of (`refunded_payment`), or our own: once per charge.
    pub async fn refunded(&self, charge: ChargeId) -> Result<Refunded, DbErr> {
        credits::record_refund(&self.db, charge).await
    }

    /// `/grant <user_id> <credits>`, applied once per command message
    /// (`command`: `<chat>/<message>`).
    #[tracing::instrument(skip(self, texts))]
    pub async fn grant(&self, operator: UserId, args: &str, command: &str, texts: &dyn Texts) -> Result<String, DbErr> {
        if !self.enabled() {
            return Ok(texts.credits_off());
        }
        let mut words = args.split_whitespace();
        let (Some(user), Some(amount), None) = (words.next(), words.next(), words.next()) else {
            return Ok(texts.grant_usage());
        };
        let (Ok(user), Ok(amount)) = (user.parse::<i64>(), amount.parse::<i64>()) else { return Ok(texts.grant_usage()) };
        let user = UserId(user);
        Ok(match credits::adjust(&self.db, user, amount, operator, self.free(), command).await? {
            Adjusted::Done { balance } => {
                tracing::info!(%user, amount, %operator, "credits adjusted by an operator");
                texts.granted(user, amount, balance)
            }
            Adjusted::Refused { balance } => texts.grant_refused(user, amount, balance),
        })
    }

    /// `/refund <user_id> <charge_id>`: refundStarPayment, then the
    /// purchase's credits leave the balance — refused when they were spent.
    #[tracing::instrument(skip(self, texts, args))]
    pub async fn refund(&self, operator: UserId, args: &str, texts: &dyn Texts) -> Result<String, DbErr> {
        if !self.enabled() {
            return Ok(texts.credits_off());
        }
        let mut words = args.split_whitespace();
        let (Some(user), Some(charge), None) = (words.next(), words.next(), words.next()) else {
            return Ok(texts.refund_usage());
        };
        let Ok(user) = user.parse::<i64>() else { return Ok(texts.refund_usage()) };
        let (user, charge) = (UserId(user), ChargeId(charge.to_owned()));
        // the credits leave first, so they can't be spent while Telegram answers
        let (stars, credits) = match credits::hold_refund(&self.db, user, &charge).await? {
            Refundable::Yes { stars, credits } => (stars, credits),
            Refundable::Unknown => return Ok(texts.refund_refused(&RefundRefusal::Unknown)),
            Refundable::OtherUser => return Ok(texts.refund_refused(&RefundRefusal::OtherUser)),
            Refundable::AlreadyRefunded => return Ok(texts.refund_refused(&RefundRefusal::AlreadyRefunded)),
            Refundable::Spent { credits, balance } => {
                return Ok(texts.refund_refused(&RefundRefusal::Spent { credits, balance }));
            }
        };
        if let Err(err) = self.sender.api().refund_star_payment(user.0, &charge.0).await {
            tracing::warn!(%user, error = %err, "Telegram refused a refund; the credits go back");
            // (had Telegram refunded after all, its refunded_payment takes them again)
            credits::undo_refund(&self.db, &charge).await?;
            let reason = match err {
                crate::telegram::api::ApiError::Refused { description, .. } => description,
                other => other.to_string(),
            };
            return Ok(texts.refund_refused(&RefundRefusal::Telegram(reason)));
        }
        tracing::info!(%user, %operator, "purchase refunded by an operator");
        let balance = credits::balance(&self.db, user).await?.unwrap_or_default();
        Ok(texts.refund_done(user, stars, credits, balance))
    }
}
