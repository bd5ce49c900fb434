//! /cancel: a user withdraws their waiting requests, and a generation
//! nobody waits for any more is called off while it is still queued or
//! waiting for approval.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};

use super::approvals::Approval;
use super::asset_moves;
use super::entities::{approvals, user_requests};
use super::requests::Request;
use super::retry::serializable;
use crate::domain::{ApprovalState, AssetId, AssetMove, Failure, HoldState, RequestStatus, UserId};

/// What one /cancel did.
#[derive(Debug, Default)]
pub struct Withdrawn {
    /// The user's requests that were waiting, now cancelled (oldest first).
    pub requests: Vec<Request>,
    /// Assets whose queued or awaiting generation was called off: nobody
    /// else waited.
    pub called_off: Vec<AssetId>,
    /// The approvals those generations were waiting for, now `cancelled`:
    /// their keyboards are to show it.
    pub approvals: Vec<Approval>,
    /// Approvals the user was asked as requester of a generation others
    /// still wait for: passed on to the oldest of them, to be asked anew.
    pub handed_over: Vec<HandedOver>,
}

/// An approval passed from a requester who withdrew to the next one.
#[derive(Debug, Clone)]
pub struct HandedOver {
    /// As it was: the withdrawn requester's keyboard messages.
    pub before: Approval,
    /// As it is now: asked of the next requester, not yet prompted.
    pub now: Approval,
}

/// Passes `user`'s pending approvals of `asset` (they were asked as its
/// requester) to the oldest request still waiting for it, with a fresh
/// deadline as long as the first; the prompt goes out anew (its messages
/// and claim are cleared). Conditional on the approval still pending.
async fn hand_over(
    txn: &DatabaseTransaction,
    asset: AssetId,
    user: UserId,
    now: DateTime<Utc>,
) -> Result<Vec<HandedOver>, DbErr> {
    let mine = approvals::Entity::find()
        .filter(approvals::Column::AssetId.eq(asset))
        .filter(approvals::Column::State.eq(ApprovalState::Pending))
        .filter(approvals::Column::ApproverUserId.eq(user.0))
        .all(txn)
        .await?;
    if mine.is_empty() {
        return Ok(Vec::new());
    }
    let Some(next) = super::approvals::requester(txn, asset).await? else { return Ok(Vec::new()) };
    let mut handed = Vec::new();
    for before in mine {
        let deadline = now + (before.deadline - before.created_at).max(chrono::Duration::zero());
        let moved = approvals::Entity::update_many()
            .col_expr(approvals::Column::ApproverUserId, Expr::value(Some(next.user.0)))
            .col_expr(approvals::Column::ApproverChatId, Expr::value(Some(next.chat.0)))
            .col_expr(approvals::Column::Messages, Expr::value(Option::<String>::None))
            .col_expr(approvals::Column::PromptedAt, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(approvals::Column::Deadline, Expr::value(deadline))
            .filter(approvals::Column::Id.eq(before.id))
            .filter(approvals::Column::State.eq(ApprovalState::Pending))
            .exec(txn)
            .await?;
        if moved.rows_affected == 1 {
            let now = Approval {
                approver_user_id: Some(next.user.0),
                approver_chat_id: Some(next.chat.0),
                messages: None,
                prompted_at: None,
                deadline,
                ..before.clone()
            };
            handed.push(HandedOver { before, now });
        }
    }
    Ok(handed)
}

/// Cancels every waiting request of `user` (their held credits are
/// released). An asset left without waiters whose generation has not
/// started yet (still `pending`) or is stopped at a gate (`awaiting`)
/// fails as "cancelled", so its queued job finds nothing to do and the
/// next request for the prompt starts afresh; the approval it waited for
/// ends `cancelled` (a later press changes nothing). One being generated
/// goes on (its video is kept for the next request). One others still wait
/// for goes on too, and an approval `user` was asked as its requester
/// passes to the oldest of them. One serializable
/// transaction: a request for the same prompt recorded at the same time
/// either counts as a waiter (the generation goes on for it) or comes
/// after and starts a new one; a decision racing with it is a conditional
/// update of the same rows, so only one of them takes effect.
#[tracing::instrument(skip(db))]
pub async fn withdraw(db: &DatabaseConnection, user: UserId) -> Result<Withdrawn, DbErr> {
    serializable(db, move |txn| {
        Box::pin(async move {
            let requests = user_requests::Entity::find()
                .filter(user_requests::Column::TelegramUserId.eq(user))
                .filter(user_requests::Column::Status.eq(RequestStatus::Pending))
                .order_by_asc(user_requests::Column::Id)
                .all(txn)
                .await?;
            if requests.is_empty() {
                return Ok(Withdrawn::default());
            }
            let now = Utc::now();
            let ids: Vec<_> = requests.iter().map(|r| r.id).collect();
            user_requests::Entity::update_many()
                .col_expr(user_requests::Column::Status, Expr::value(RequestStatus::Cancelled))
                .col_expr(user_requests::Column::Error, Expr::value(Failure::Cancelled))
                .col_expr(user_requests::Column::ClaimedUntil, Expr::value(Option::<chrono::DateTime<Utc>>::None))
                .col_expr(user_requests::Column::UpdatedAt, Expr::value(now))
                .filter(user_requests::Column::Id.is_in(ids.clone()))
                .exec(txn)
                .await?;
            // Credits held for them go back, in the same transaction.
            super::credits::settle_in(txn, &ids, HoldState::Released).await?;
            let mut assets: Vec<AssetId> = requests.iter().map(|r| r.asset_id).collect();
            assets.sort();
            assets.dedup();
            let mut called_off = Vec::new();
            let mut ended = Vec::new();
            let mut handed_over = Vec::new();
            for asset_id in assets {
                let waiting = user_requests::Entity::find()
                    .filter(user_requests::Column::AssetId.eq(asset_id))
                    .filter(user_requests::Column::Status.eq(RequestStatus::Pending))
                    .count(txn)
                    .await?;
                if waiting > 0 {
                    handed_over.extend(hand_over(txn, asset_id, user, now).await?);
                    continue;
                }
                let stopped = asset_moves::apply(txn, asset_id, &AssetMove::CallOff, Condition::all(), now).await?;
                if stopped.is_none() {
                    continue;
                }
                called_off.push(asset_id);
                let pending = approvals::Entity::find()
                    .filter(approvals::Column::AssetId.eq(asset_id))
                    .filter(approvals::Column::State.eq(ApprovalState::Pending))
                    .all(txn)
                    .await?;
                if pending.is_empty() {
                    continue;
                }
                approvals::Entity::update_many()
                    .col_expr(approvals::Column::State, Expr::value(ApprovalState::Cancelled))
                    .col_expr(approvals::Column::DecidedBy, Expr::value(Some(user.0)))
                    .col_expr(approvals::Column::DecidedAt, Expr::value(now))
                    .filter(approvals::Column::Id.is_in(pending.iter().map(|a| a.id)))
                    .filter(approvals::Column::State.eq(ApprovalState::Pending))
                    .exec(txn)
                    .await?;
                ended.extend(pending.into_iter().map(|a| Approval {
                    state: ApprovalState::Cancelled,
                    decided_by: Some(user.0),
                    decided_at: Some(now),
                    ..a
                }));
            }
            Ok(Withdrawn { requests, called_off, approvals: ended, handed_over })
        })
    })
    .await
}
