//! Credits in the database: accounts (a cached balance), the ledger (the
//! truth: a balance is the sum of its rows), holds on requests, and Stars
//! payments credited and refunded once per charge.
//!
//! Every movement is written with its ledger row and the account's new
//! balance in one serializable transaction; the hold of a new request is
//! taken in the transaction that records it (see `admission::submit_many`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::ExprTrait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::entities::{credit_accounts, credit_ledger, star_payments, user_requests};
use super::retry::serializable;
use crate::domain::{AssetId, ChargeId, HoldState, LedgerKind, RequestId, RequestStatus, UserId};
use crate::telemetry::measure;

pub type LedgerRow = credit_ledger::Model;

/// One movement to write.
#[derive(Debug, Clone)]
pub(crate) struct Movement {
    pub user: UserId,
    pub kind: LedgerKind,
    pub amount: i64,
    pub request: Option<RequestId>,
    pub charge: Option<ChargeId>,
    pub note: Option<String>,
}

impl Movement {
    pub fn new(user: UserId, kind: LedgerKind, amount: i64) -> Self {
        Self { user, kind, amount, request: None, charge: None, note: None }
    }

    fn row(&self, now: DateTime<Utc>) -> credit_ledger::ActiveModel {
        credit_ledger::ActiveModel {
            id: NotSet,
            user_id: Set(self.user),
            kind: Set(self.kind),
            amount: Set(self.amount),
            request_id: Set(self.request),
            charge_id: Set(self.charge.clone()),
            note: Set(self.note.clone()),
            created_at: Set(now),
        }
    }
}

/// Writes movements: their ledger rows, and each account's balance moved
/// by their sum (one statement per user). The accounts must exist.
pub(crate) async fn record_in(txn: &DatabaseTransaction, movements: &[Movement]) -> Result<(), DbErr> {
    if movements.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    credit_ledger::Entity::insert_many(movements.iter().map(|m| m.row(now)).collect::<Vec<_>>()).exec(txn).await?;
    let mut by_user: HashMap<UserId, i64> = HashMap::new();
    for m in movements {
        *by_user.entry(m.user).or_default() += m.amount;
    }
    for (user, sum) in by_user.into_iter().filter(|(_, sum)| *sum != 0) {
        credit_accounts::Entity::update_many()
            .col_expr(credit_accounts::Column::Balance, Expr::col(credit_accounts::Column::Balance).add(sum))
            .col_expr(credit_accounts::Column::UpdatedAt, Expr::value(now))
            .filter(credit_accounts::Column::UserId.eq(user))
            .exec(txn)
            .await?;
    }
    for m in movements {
        let kind = match m.kind {
            LedgerKind::Grant => "grant",
            LedgerKind::Purchase => "purchase",
            LedgerKind::Hold => "hold",
            LedgerKind::Capture => "capture",
            LedgerKind::Release => "release",
            LedgerKind::Refund => "refund",
            LedgerKind::Adjustment => "adjustment",
        };
        measure::credits_moved(kind, m.amount.unsigned_abs());
    }
    Ok(())
}

/// The balances of `users`, opening an account (with the `free` grant) for
/// each who has none yet.
pub(crate) async fn open_accounts_in(
    txn: &DatabaseTransaction,
    users: &[UserId],
    free: i64,
) -> Result<HashMap<UserId, i64>, DbErr> {
    let mut balances: HashMap<UserId, i64> = credit_accounts::Entity::find()
        .filter(credit_accounts::Column::UserId.is_in(users.iter().copied()))
        .all(txn)
        .await?
        .into_iter()
        .map(|a| (a.user_id, a.balance))
        .collect();
    let mut missing: Vec<UserId> = users.iter().copied().filter(|u| !balances.contains_key(u)).collect();
    missing.sort();
    missing.dedup();
    if missing.is_empty() {
        return Ok(balances);
    }
    let now = Utc::now();
    let accounts: Vec<credit_accounts::ActiveModel> = missing
        .iter()
        .map(|user| credit_accounts::ActiveModel {
            user_id: Set(*user),
            balance: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .collect();
    credit_accounts::Entity::insert_many(accounts).exec_without_returning(txn).await?;
    if free > 0 {
        let grants: Vec<Movement> = missing.iter().map(|user| Movement::new(*user, LedgerKind::Grant, free)).collect();
        record_in(txn, &grants).await?;
    }
    for user in missing {
        balances.insert(user, std::cmp::max(free, 0));
    }
    Ok(balances)
}

/// Opens the user's account on first contact (granting `free`); returns the balance.
#[tracing::instrument(skip(db))]
pub async fn open_account(db: &DatabaseConnection, user: UserId, free: i64) -> Result<i64, DbErr> {
    serializable(db, move |txn| {
        Box::pin(async move { Ok(open_accounts_in(txn, &[user], free).await?.get(&user).copied().unwrap_or_default()) })
    })
    .await
}

/// The cached balance, `None` before the user's first contact.
pub async fn balance<C: ConnectionTrait>(db: &C, user: UserId) -> Result<Option<i64>, DbErr> {
    Ok(credit_accounts::Entity::find_by_id(user).one(db).await?.map(|a| a.balance))
}

/// The sum of the user's ledger rows: what the balance must equal.
pub async fn ledger_sum<C: ConnectionTrait>(db: &C, user: UserId) -> Result<i64, DbErr> {
    let sum: Option<i64> = credit_ledger::Entity::find()
        .select_only()
        .column_as(Expr::cust("CAST(COALESCE(SUM(amount), 0) AS BIGINT)"), "sum")
        .filter(credit_ledger::Column::UserId.eq(user))
        .into_tuple()
        .one(db)
        .await?;
    Ok(sum.unwrap_or_default())
}

/// The user's last movements, newest first.
pub async fn recent(db: &DatabaseConnection, user: UserId, limit: u64) -> Result<Vec<LedgerRow>, DbErr> {
    credit_ledger::Entity::find()
        .filter(credit_ledger::Column::UserId.eq(user))
        .order_by_desc(credit_ledger::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Moves the holds of `requests` that are still held to `to` (captured or
/// released), writing one ledger row each: a capture keeps the price (0), a
/// release gives it back. A hold moves once, however often this is asked.
pub(crate) async fn settle_in(txn: &DatabaseTransaction, requests: &[RequestId], to: HoldState) -> Result<u64, DbErr> {
    if requests.is_empty() {
        return Ok(0);
    }
    let held = user_requests::Entity::find()
        .filter(user_requests::Column::Id.is_in(requests.iter().copied()))
        .filter(user_requests::Column::Hold.eq(HoldState::Held))
        .all(txn)
        .await?;
    if held.is_empty() {
        return Ok(0);
    }
    user_requests::Entity::update_many()
        .col_expr(user_requests::Column::Hold, Expr::value(to))
        .filter(user_requests::Column::Id.is_in(held.iter().map(|r| r.id)))
        .filter(user_requests::Column::Hold.eq(HoldState::Held))
        .exec(txn)
        .await?;
    let (kind, sign) = match to {
        HoldState::Released => (LedgerKind::Release, 1),
        _ => (LedgerKind::Capture, 0),
    };
    let movements: Vec<Movement> = held
        .iter()
        .map(|r| Movement { request: Some(r.id), ..Movement::new(r.telegram_user_id, kind, sign * r.price) })
        .collect();
    record_in(txn, &movements).await?;
    Ok(held.len() as u64)
}

async fn settle(db: &DatabaseConnection, request: RequestId, to: HoldState) -> Result<bool, DbErr> {
    serializable(db, move |txn| Box::pin(async move { Ok(settle_in(txn, &[request], to).await? == 1) })).await
}

/// The video was delivered: the held price is kept. True if this call moved it.
pub async fn capture(db: &DatabaseConnection, request: RequestId) -> Result<bool, DbErr> {
    settle(db, request, HoldState::Captured).await
}

/// The request failed, was cancelled, or its user blocked the bot: the
/// held price goes back to the user. Idempotent; true if this call moved it.
pub async fn release(db: &DatabaseConnection, request: RequestId) -> Result<bool, DbErr> {
    settle(db, request, HoldState::Released).await
}

/// Releases the holds of an asset's waiting requests (its generation failed).
pub(crate) async fn release_waiting_in(txn: &DatabaseTransaction, asset: AssetId) -> Result<u64, DbErr> {
    let waiting: Vec<RequestId> = user_requests::Entity::find()
        .select_only()
        .column(user_requests::Column::Id)
        .filter(user_requests::Column::AssetId.eq(asset))
        .filter(user_requests::Column::Status.eq(RequestStatus::Pending))
        .filter(user_requests::Column::Hold.eq(HoldState::Held))
        .into_tuple()
        .all(txn)
        .await?;
    settle_in(txn, &waiting, HoldState::Released).await
}

/// Settles holds a request's end left behind (a settle that died with its
/// process, or an end recorded by code that does not settle): failed
/// requests' holds are released, delivered requests' captured. The sweep.
pub async fn settle_finished(db: &DatabaseConnection, limit: u64) -> Result<u64, DbErr> {
    let mut settled = 0;
    for (status, to) in [(RequestStatus::Failed, HoldState::Released), (RequestStatus::Completed, HoldState::Captured)] {
        settled += serializable(db, move |txn| {
            Box::pin(async move {
                let ended: Vec<RequestId> = user_requests::Entity::find()
                    .select_only()
                    .column(user_requests::Column::Id)
                    .filter(user_requests::Column::Status.eq(status))
                    .filter(user_requests::Column::Hold.eq(HoldState::Held))
                    .limit(limit)
                    .into_tuple()
                    .all(txn)
                    .await?;
                settle_in(txn, &ended, to).await
            })
        })
        .await?;
    }
    Ok(settled)
}

/// What crediting a Stars payment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purchase {
    Credited {
        credits: i64,
        balance: i64,
    },
    /// This charge was credited before (a redelivered update, another replica).
    AlreadyCredited,
}

/// A Stars payment to credit.
#[derive(Debug, Clone)]
pub struct Payment {
    pub user: UserId,
    pub charge: ChargeId,
    pub stars: i64,
    pub credits: i64,
    pub payload: String,
}

/// Credits a payment once per charge id (the payments table's key).
#[tracing::instrument(skip(db, payment), fields(user = %payment.user, charge = %payment.charge))]
pub async fn credit_purchase(db: &DatabaseConnection, payment: Payment, free: i64) -> Result<Purchase, DbErr> {
    serializable(db, move |txn| {
        let payment = payment.clone();
        Box::pin(async move {
            if star_payments::Entity::find_by_id(payment.charge.0.clone()).one(txn).await?.is_some() {
                return Ok(Purchase::AlreadyCredited);
            }
            let now = Utc::now();
            star_payments::ActiveModel {
                charge_id: Set(payment.charge.0.clone()),
                user_id: Set(payment.user),
                stars: Set(payment.stars),
                credits: Set(payment.credits),
                payload: Set(payment.payload.clone()),
                created_at: Set(now),
                refunded_at: Set(None),
                refunded_credits: Set(None),
            }
            .insert(txn)
            .await?;
            let before = open_accounts_in(txn, &[payment.user], free).await?.get(&payment.user).copied().unwrap_or_default();
            let movement = Movement {
                charge: Some(payment.charge.clone()),
                ..Movement::new(payment.user, LedgerKind::Purchase, payment.credits)
            };
            record_in(txn, &[movement]).await?;
            Ok(Purchase::Credited { credits: payment.credits, balance: before + payment.credits })
        })
    })
    .await
}

/// Whether a purchase could be refunded by an operator's `/refund` ([`hold_refund`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refundable {
    Yes {
        stars: i64,
        credits: i64,
    },
    Unknown,
    /// The charge belongs to another user.
    OtherUser,
    AlreadyRefunded,
    /// Its credits were spent: the balance is below them.
    Spent {
        credits: i64,
        balance: i64,
    },
}

/// Takes a purchase's credits off the balance before an operator's
/// `/refund` asks Telegram to return its Stars, so they can't be spent
/// while Telegram answers: `Yes` when they were taken (the payment is
/// marked refunded), else why not. [`undo_refund`] gives them back when
/// Telegram refuses.
#[tracing::instrument(skip(db))]
pub async fn hold_refund(db: &DatabaseConnection, user: UserId, charge: &ChargeId) -> Result<Refundable, DbErr> {
    let charge = charge.clone();
    serializable(db, move |txn| {
        let charge = charge.clone();
        Box::pin(async move {
            let Some(payment) = star_payments::Entity::find_by_id(charge.0.clone()).one(txn).await? else {
                return Ok(Refundable::Unknown);
            };
            if payment.user_id != user {
                return Ok(Refundable::OtherUser);
            }
            if payment.refunded_at.is_some() {
                return Ok(Refundable::AlreadyRefunded);
            }
            let balance = open_accounts_in(txn, &[user], 0).await?.get(&user).copied().unwrap_or_default();
            if balance < payment.credits {
                return Ok(Refundable::Spent { credits: payment.credits, balance });
            }
            let mut active: star_payments::ActiveModel = payment.clone().into();
            active.refunded_at = Set(Some(Utc::now()));
            active.refunded_credits = Set(Some(payment.credits));
            active.update(txn).await?;
            let movement = Movement {
                charge: Some(charge.clone()),
                note: Some("refund by an operator".to_owned()),
                ..Movement::new(user, LedgerKind::Refund, -payment.credits)
            };
            record_in(txn, &[movement]).await?;
            Ok(Refundable::Yes { stars: payment.stars, credits: payment.credits })
        })
    })
    .await
}

/// Telegram refused the refund [`hold_refund`] took the credits for: they
/// go back and the payment is refundable again. Returns the balance.
#[tracing::instrument(skip(db))]
pub async fn undo_refund(db: &DatabaseConnection, charge: &ChargeId) -> Result<Option<i64>, DbErr> {
    let charge = charge.clone();
    serializable(db, move |txn| {
        let charge = charge.clone();
        Box::pin(async move {
            let Some(payment) = star_payments::Entity::find_by_id(charge.0.clone()).one(txn).await? else { return Ok(None) };
            let (Some(_), Some(taken)) = (payment.refunded_at, payment.refunded_credits) else { return Ok(None) };
            let user = payment.user_id;
            let before = open_accounts_in(txn, &[user], 0).await?.get(&user).copied().unwrap_or_default();
            let mut active: star_payments::ActiveModel = payment.clone().into();
            active.refunded_at = Set(None);
            active.refunded_credits = Set(None);
            active.update(txn).await?;
            let movement = Movement {
                charge: Some(charge.clone()),
                note: Some("Telegram refused the refund: credits back".to_owned()),
                ..Movement::new(user, LedgerKind::Refund, taken)
            };
            record_in(txn, &[movement]).await?;
            Ok(Some(before + taken))
        })
    })
    .await
}

/// What recording a refund did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refunded {
    /// `taken` credits left the balance (all the purchase's, or what was
    /// left of them when some were spent meanwhile: never below zero).
    Taken {
        user: UserId,
        taken: i64,
        balance: i64,
    },
    AlreadyRefunded,
    /// No payment with that charge id was ever credited.
    Unknown,
}

/// Takes a refunded purchase's credits off, once per charge — whether the
/// bot learns of the refund from its own `/refund` or a `refunded_payment`.
#[tracing::instrument(skip(db))]
pub async fn record_refund(db: &DatabaseConnection, charge: ChargeId) -> Result<Refunded, DbErr> {
    serializable(db, move |txn| {
        let charge = charge.clone();
        Box::pin(async move {
            let Some(payment) = star_payments::Entity::find_by_id(charge.0.clone()).one(txn).await? else {
                return Ok(Refunded::Unknown);
            };
            if payment.refunded_at.is_some() {
                return Ok(Refunded::AlreadyRefunded);
            }
            let user = payment.user_id;
            let before = open_accounts_in(txn, &[user], 0).await?.get(&user).copied().unwrap_or_default();
            let taken = std::cmp::min(payment.credits, std::cmp::max(before, 0));
            let mut active: star_payments::ActiveModel = payment.clone().into();
            active.refunded_at = Set(Some(Utc::now()));
            active.refunded_credits = Set(Some(taken));
            active.update(txn).await?;
            let note = (taken < payment.credits)
                .then(|| format!("{} of {} credits were spent", payment.credits - taken, payment.credits));
            let movement = Movement { charge: Some(charge.clone()), note, ..Movement::new(user, LedgerKind::Refund, -taken) };
            record_in(txn, &[movement]).await?;
            Ok(Refunded::Taken { user, taken, balance: before - taken })
        })
    })
    .await
}

/// What an operator's `/grant` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adjusted {
    Done {
        balance: i64,
    },
    /// It would take the balance below zero.
    Refused {
        balance: i64,
    },
}

/// An operator's adjustment (either sign); never below zero. `command`
/// names the operator's message (`<chat>/<message>`): the adjustment is
/// applied once per command, so a `/grant` whose commit was uncertain (and
/// the transaction run again) or which Telegram delivered twice changes
/// the balance once.
#[tracing::instrument(skip(db))]
pub async fn adjust(
    db: &DatabaseConnection,
    user: UserId,
    amount: i64,
    operator: UserId,
    free: i64,
    command: &str,
) -> Result<Adjusted, DbErr> {
    let note = format!("by operator {operator} (command {command})");
    serializable(db, move |txn| {
        let note = note.clone();
        Box::pin(async move {
            let before = open_accounts_in(txn, &[user], free).await?.get(&user).copied().unwrap_or_default();
            let applied = credit_ledger::Entity::find()
                .filter(credit_ledger::Column::UserId.eq(user))
                .filter(credit_ledger::Column::Kind.eq(LedgerKind::Adjustment))
                .filter(credit_ledger::Column::Note.eq(note.clone()))
                .one(txn)
                .await?;
            if applied.is_some() {
                return Ok(Adjusted::Done { balance: before });
            }
            if before + amount < 0 {
                return Ok(Adjusted::Refused { balance: before });
            }
            let movement = Movement { note: Some(note), ..Movement::new(user, LedgerKind::Adjustment, amount) };
            record_in(txn, &[movement]).await?;
            Ok(Adjusted::Done { balance: before + amount })
        })
    })
    .await
}

/// Credits sold, held, captured and refunded, for `/stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub stars: i64,
    pub sold: i64,
    pub held: i64,
    pub captured: i64,
    pub released: i64,
    pub refunded: i64,
}

fn sum_expr(column: &str) -> Expr {
    Expr::cust(format!("CAST(COALESCE(SUM({column}), 0) AS BIGINT)"))
}

pub async fn totals(db: &DatabaseConnection) -> Result<Totals, DbErr> {
    let ledger = |kind: LedgerKind| {
        credit_ledger::Entity::find()
            .select_only()
            .column_as(sum_expr("amount"), "sum")
            .filter(credit_ledger::Column::Kind.eq(kind))
            .into_tuple::<i64>()
            .one(db)
    };
    let holds = |state: HoldState| {
        user_requests::Entity::find()
            .select_only()
            .column_as(sum_expr("price"), "sum")
            .filter(user_requests::Column::Hold.eq(state))
            .into_tuple::<i64>()
            .one(db)
    };
    let stars: Option<i64> =
        star_payments::Entity::find().select_only().column_as(sum_expr("stars"), "sum").into_tuple().one(db).await?;
    Ok(Totals {
        stars: stars.unwrap_or_default(),
        sold: ledger(LedgerKind::Purchase).await?.unwrap_or_default(),
        refunded: -ledger(LedgerKind::Refund).await?.unwrap_or_default(),
        held: holds(HoldState::Held).await?.unwrap_or_default(),
        captured: holds(HoldState::Captured).await?.unwrap_or_default(),
        released: holds(HoldState::Released).await?.unwrap_or_default(),
    })
}
