//! Queries on `approvals`: a generation stopped at a gate until a person
//! decides. Every move out of `pending` is a conditional update, so two
//! presses (or a press and the timeout) racing on one approval change it
//! once; the asset moves with it in the same transaction.

use chrono::{DateTime, Utc};
use sea_orm::ExprTrait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::asset_moves;
use super::assets;
use super::entities::{approvals, operator_actions, user_requests};
use super::retry::serializable;
use super::stages;
use crate::domain::{
    Actor, ApprovalId, ApprovalState, AssetMove, AssetStatus, ChatId, Failure, Gate, Generation, MessageId, RequestStatus, UserId,
};

pub type Approval = approvals::Model;

/// Who is asked: the requester, or (`None`) the operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requester {
    pub user: UserId,
    pub chat: ChatId,
}

pub async fn find<C: ConnectionTrait>(db: &C, id: ApprovalId) -> Result<Option<Approval>, DbErr> {
    approvals::Entity::find_by_id(id).one(db).await
}

/// The approval of `gate` in `job`'s generation, if one was asked.
pub async fn for_gate<C: ConnectionTrait>(db: &C, job: Generation, gate: Gate) -> Result<Option<Approval>, DbErr> {
    approvals::Entity::find()
        .filter(approvals::Column::AssetId.eq(job.asset))
        .filter(approvals::Column::Generation.eq(job.number))
        .filter(approvals::Column::Gate.eq(gate))
        .one(db)
        .await
}

/// The asset's approvals, newest first (a resumed generation's copies of
/// the approvals it passed included), at most `limit`.
pub async fn for_asset<C: ConnectionTrait>(db: &C, asset: crate::domain::AssetId, limit: u64) -> Result<Vec<Approval>, DbErr> {
    approvals::Entity::find()
        .filter(approvals::Column::AssetId.eq(asset))
        .order_by_desc(approvals::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// The user whose request started the asset's current wait: the oldest
/// request still pending for it.
pub async fn requester<C: ConnectionTrait>(db: &C, asset: crate::domain::AssetId) -> Result<Option<Requester>, DbErr> {
    let request = user_requests::Entity::find()
        .filter(user_requests::Column::AssetId.eq(asset))
        .filter(user_requests::Column::Status.eq(RequestStatus::Pending))
        .order_by_asc(user_requests::Column::Id)
        .one(db)
        .await?;
    Ok(request.map(|r| Requester { user: r.telegram_user_id, chat: r.chat_id }))
}

/// Stops `job` at `gate`: in one transaction, while `owner` still holds
/// the lease, the asset moves generating → awaiting (no lease, the stage
/// says which gate) and a pending approval is recorded. `None` if the
/// lease was lost meanwhile.
pub async fn pause(
    db: &DatabaseConnection,
    job: Generation,
    owner: &str,
    gate: Gate,
    requester: Option<Requester>,
    deadline: DateTime<Utc>,
) -> Result<Option<Approval>, DbErr> {
    let owner = owner.to_owned();
    serializable(db, move |txn| {
        let owner = owner.clone();
        Box::pin(async move {
            let now = Utc::now();
            let pause = AssetMove::AwaitApproval { gate };
            if asset_moves::apply(txn, job.asset, &pause, asset_moves::held(job, &owner), now).await?.is_none() {
                return Ok(None);
            }
            if let Some(existing) = for_gate(txn, job, gate).await? {
                // asked before (a re-run of the same generation): reopen it
                let mut active: approvals::ActiveModel = existing.into();
                active.state = Set(ApprovalState::Pending);
                active.deadline = Set(deadline);
                active.decided_by = Set(None);
                active.decided_at = Set(None);
                active.messages = Set(None);
                active.prompted_at = Set(None);
                return active.update(txn).await.map(Some);
            }
            approvals::ActiveModel {
                id: NotSet,
                asset_id: Set(job.asset),
                generation: Set(job.number),
                gate: Set(gate),
                state: Set(ApprovalState::Pending),
                approver_user_id: Set(requester.map(|r| r.user.0)),
                approver_chat_id: Set(requester.map(|r| r.chat.0)),
                messages: Set(None),
                prompted_at: Set(None),
                decided_by: Set(None),
                decided_at: Set(None),
                deadline: Set(deadline),
                created_at: Set(now),
            }
            .insert(txn)
            .await
            .map(Some)
        })
    })
    .await
}

/// Takes the right to send an approval's prompt: nobody has, or the one
/// who took it more than `stale_before` ago never recorded its messages.
pub async fn claim_prompt(db: &DatabaseConnection, id: ApprovalId, stale_before: DateTime<Utc>) -> Result<bool, DbErr> {
    let updated = approvals::Entity::update_many()
        .col_expr(approvals::Column::PromptedAt, Expr::value(Utc::now()))
        .filter(approvals::Column::Id.eq(id))
        .filter(approvals::Column::State.eq(ApprovalState::Pending))
        .filter(approvals::Column::Messages.is_null())
        .filter(approvals::Column::PromptedAt.is_null().or(approvals::Column::PromptedAt.lt(stale_before)))
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Gives back the right to send an approval's prompt when no message went
/// out: its claim is backdated to `claimed_at`, so [`unprompted`] finds it
/// again once that claim runs out.
pub async fn release_prompt(db: &DatabaseConnection, id: ApprovalId, claimed_at: DateTime<Utc>) -> Result<(), DbErr> {
    approvals::Entity::update_many()
        .col_expr(approvals::Column::PromptedAt, Expr::value(claimed_at))
        .filter(approvals::Column::Id.eq(id))
        .filter(approvals::Column::Messages.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Records the messages carrying the approval's keyboard.
pub async fn set_messages(db: &DatabaseConnection, id: ApprovalId, messages: &[(ChatId, MessageId)]) -> Result<(), DbErr> {
    let list: Vec<[i64; 2]> = messages.iter().map(|(c, m)| [c.0, m.0]).collect();
    let json = serde_json::to_string(&list).map_err(|e| DbErr::Custom(e.to_string()))?;
    approvals::Entity::update_many()
        .col_expr(approvals::Column::Messages, Expr::value(json))
        .filter(approvals::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// The messages carrying an approval's keyboard.
pub fn messages(approval: &Approval) -> Vec<(ChatId, MessageId)> {
    approval
        .messages
        .as_deref()
        .and_then(|raw| serde_json::from_str::<Vec<[i64; 2]>>(raw).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|[c, m]| (ChatId(c), MessageId(m)))
        .collect()
}

/// Pending approvals whose prompt was never sent (or whose sender died):
/// asked again by the reconciler.
pub async fn unprompted(db: &DatabaseConnection, stale_before: DateTime<Utc>) -> Result<Vec<Approval>, DbErr> {
    approvals::Entity::find()
        .filter(approvals::Column::State.eq(ApprovalState::Pending))
        .filter(approvals::Column::Messages.is_null())
        .filter(approvals::Column::PromptedAt.is_null().or(approvals::Column::PromptedAt.lt(stale_before)))
        .all(db)
        .await
}

/// Pending approvals past their deadline.
pub async fn overdue(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<Vec<Approval>, DbErr> {
    approvals::Entity::find()
        .filter(approvals::Column::State.eq(ApprovalState::Pending))
        .filter(approvals::Column::Deadline.lt(now))
        .all(db)
        .await
}

/// The oldest pending approval `user` may decide: their own as requester,
/// or, for an operator, any asked of the operators.
pub async fn oldest_pending_for(db: &DatabaseConnection, user: UserId, operator: bool) -> Result<Option<Approval>, DbErr> {
    let mut mine = approvals::Column::ApproverUserId.eq(user.0);
    if operator {
        mine = mine.or(approvals::Column::ApproverUserId.is_null());
    }
    approvals::Entity::find()
        .filter(approvals::Column::State.eq(ApprovalState::Pending))
        .filter(mine)
        .order_by_asc(approvals::Column::Id)
        .one(db)
        .await
}

/// What became of a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decided {
    /// This call moved the approval out of `pending`; the asset moved with
    /// it: resumed as `resumed` (approved), or failed with its waiters.
    Now {
        approval: Approval,
        resumed: Option<Generation>,
        failed: u64,
    },
    /// Someone (or the timeout) decided first: nothing changed.
    Already(ApprovalState),
    Unknown,
}

/// Moves the approval from pending to `state` (approved, rejected, timed
/// out) — a conditional update, so only one of racing decisions wins — and
/// the asset with it, in the same transaction:
/// - approved: awaiting → pending on the next generation number, carrying
///   over the finished steps and the approvals given (as a takeover does),
///   so the re-dispatched job resumes where it stopped;
/// - otherwise: awaiting → failed with the state's reason (rejected, no
///   answer in time, cancelled), and every waiting request fails with it.
///
/// A decision by an operator (`operator`: `telegram:<id>` or
/// `console:<name>`) is recorded in `operator_actions` as
/// `approve:<gate>` / `reject:<gate>`, in the same transaction.
pub async fn decide(
    db: &DatabaseConnection,
    id: ApprovalId,
    state: ApprovalState,
    by: Option<UserId>,
    operator: Option<&Actor>,
) -> Result<Decided, DbErr> {
    let reason = match state {
        ApprovalState::TimedOut => Failure::TimedOut,
        ApprovalState::Cancelled => Failure::Cancelled,
        ApprovalState::Pending | ApprovalState::Approved | ApprovalState::Rejected => Failure::Rejected,
    };
    let operator = operator.map(ToString::to_string);
    serializable(db, move |txn| {
        let reason = reason.clone();
        let operator = operator.clone();
        Box::pin(async move {
            let now = Utc::now();
            let won = approvals::Entity::update_many()
                .col_expr(approvals::Column::State, Expr::value(state))
                .col_expr(approvals::Column::DecidedBy, Expr::value(by.map(|u| u.0)))
                .col_expr(approvals::Column::DecidedAt, Expr::value(now))
                .filter(approvals::Column::Id.eq(id))
                .filter(approvals::Column::State.eq(ApprovalState::Pending))
                .exec(txn)
                .await?;
            let Some(approval) = find(txn, id).await? else { return Ok(Decided::Unknown) };
            if won.rows_affected != 1 {
                return Ok(Decided::Already(approval.state));
            }
            let verb = match state {
                ApprovalState::Approved => Some("approve"),
                ApprovalState::Rejected => Some("reject"),
                ApprovalState::Pending | ApprovalState::TimedOut | ApprovalState::Cancelled => None,
            };
            if let (Some(operator), Some(verb)) = (operator, verb) {
                operator_actions::ActiveModel {
                    asset_id: Set(approval.asset_id),
                    action: Set(format!("{verb}:{}", approval.gate)),
                    operator: Set(operator),
                    created_at: Set(now),
                    ..Default::default()
                }
                .insert(txn)
                .await?;
            }
            let from = approval.generation;
            let asset = assets::find(txn, approval.asset_id).await?;
            let waiting = asset.as_ref().is_some_and(|a| a.status == AssetStatus::Awaiting && a.generation == from);
            if !waiting {
                // the asset moved on (cleared, or an older generation): only the approval changes
                return Ok(Decided::Now { approval, resumed: None, failed: 0 });
            }
            if state == ApprovalState::Approved {
                let resume = AssetMove::Resume { generation: from + 1 };
                asset_moves::apply(txn, approval.asset_id, &resume, asset_moves::at_generation(from), now).await?;
                stages::carry_over(txn, approval.asset_id, from, from + 1).await?;
                carry_over(txn, approval.asset_id, from, from + 1).await?;
                let resumed = Generation { asset: approval.asset_id, number: from + 1 };
                return Ok(Decided::Now { approval, resumed: Some(resumed), failed: 0 });
            }
            let fail = AssetMove::Fail(reason.clone());
            asset_moves::apply(txn, approval.asset_id, &fail, asset_moves::at_generation(from), now).await?;
            let failed = user_requests::Entity::update_many()
                .col_expr(user_requests::Column::Status, Expr::value(RequestStatus::Failed))
                .col_expr(user_requests::Column::Error, Expr::value(reason.clone()))
                .col_expr(user_requests::Column::UpdatedAt, Expr::value(now))
                .filter(user_requests::Column::AssetId.eq(approval.asset_id))
                .filter(user_requests::Column::Status.eq(RequestStatus::Pending))
                .exec(txn)
                .await?;
            Ok(Decided::Now { approval, resumed: None, failed: failed.rows_affected })
        })
    })
    .await
}

/// Copies the approvals given in generation `from` into `to`, so that a
/// resumed or taken-over generation does not ask again for a gate it
/// passed. A generation started anew (after a failure or /clear) gets none.
pub async fn carry_over<C: ConnectionTrait>(db: &C, asset: crate::domain::AssetId, from: i64, to: i64) -> Result<u64, DbErr> {
    let given = approvals::Entity::find()
        .filter(approvals::Column::AssetId.eq(asset))
        .filter(approvals::Column::Generation.eq(from))
        .filter(approvals::Column::State.eq(ApprovalState::Approved))
        .all(db)
        .await?;
    let mut copied = 0;
    for approval in given {
        if for_gate(db, Generation { asset, number: to }, approval.gate).await?.is_some() {
            continue;
        }
        let mut copy = approvals::ActiveModel::from(approval).reset_all();
        copy.id = NotSet;
        copy.generation = Set(to);
        copy.insert(db).await?;
        copied += 1;
    }
    Ok(copied)
}
