//! Queries on `user_requests`: a request's row, its end (delivered,
//! undeliverable, failed), and what the bot, the sweeper and /history read.
//! Recording one is [`super::admission`]; claims on one are [`super::claims`].

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use std::collections::HashSet;

use sea_orm::{
    ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, SelectTwo,
};

use super::assets::Asset;
use super::claims;
use super::entities::{user_requests, video_assets};
use crate::domain::{
    AssetId, AssetStatus, Charge, ChatId, Failure, HoldState, Lang, MessageId, RequestId, RequestStatus, ThreadId, UserId,
};

pub type Request = user_requests::Model;

/// Who asked, where, with which message.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub user_id: UserId,
    pub chat_id: ChatId,
    pub message_id: MessageId,
    pub raw_text: String,
    /// The language of the user who asked.
    pub language: Lang,
    /// The forum topic it was asked in (`None`: not a topic, or General).
    pub thread_id: Option<ThreadId>,
}
pub(super) fn row(
    new: &NewRequest,
    asset_id: AssetId,
    now: DateTime<Utc>,
    claimed_until: Option<DateTime<Utc>>,
    charge: Charge,
) -> user_requests::ActiveModel {
    user_requests::ActiveModel {
        id: NotSet,
        telegram_user_id: Set(new.user_id),
        chat_id: Set(new.chat_id),
        message_id: Set(new.message_id),
        raw_text: Set(new.raw_text.clone()),
        asset_id: Set(asset_id),
        status: Set(RequestStatus::Pending),
        error: Set(None),
        claimed_until: Set(claimed_until),
        created_at: Set(now),
        updated_at: Set(now),
        delivered_at: Set(None),
        notified_at: Set(None),
        progress_message_id: Set(None),
        paid_broadcast: Set(false),
        language: Set(new.language),
        thread_id: Set(new.thread_id),
        price: Set(charge.price),
        hold: Set(charge.held.then_some(HoldState::Held)),
        limited: Set(charge.limited),
    }
}

/// The video reached the user: the request is completed — only from
/// `pending`. A request that ended meanwhile (cancelled by /cancel during
/// the send, failed by a /clear) stays as it is, and the caller must not
/// capture its hold (its end already released it). True if it completed.
/// `paid`: it went out as a paid broadcast send.
pub async fn mark_delivered(db: &DatabaseConnection, request_id: RequestId, paid: bool) -> Result<bool, DbErr> {
    let now = Utc::now();
    let completed = user_requests::Entity::update_many()
        .col_expr(user_requests::Column::Status, Expr::value(RequestStatus::Completed))
        .col_expr(user_requests::Column::PaidBroadcast, Expr::value(paid))
        .col_expr(user_requests::Column::DeliveredAt, Expr::value(now))
        .col_expr(user_requests::Column::ClaimedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(user_requests::Column::UpdatedAt, Expr::value(now))
        .filter(user_requests::Column::Id.eq(request_id))
        .filter(user_requests::Column::Status.eq(RequestStatus::Pending))
        .exec(db)
        .await?;
    Ok(completed.rows_affected == 1)
}

/// The request cannot be delivered (e.g. the user blocked the bot); the
/// user is not told, since they cannot be reached.
pub async fn mark_undeliverable(db: &DatabaseConnection, request_id: RequestId, reason: &Failure) -> Result<(), DbErr> {
    let now = Utc::now();
    user_requests::Entity::update_many()
        .col_expr(user_requests::Column::Status, Expr::value(RequestStatus::Failed))
        .col_expr(user_requests::Column::Error, Expr::value(reason.clone()))
        .col_expr(user_requests::Column::ClaimedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(user_requests::Column::NotifiedAt, Expr::value(now))
        .col_expr(user_requests::Column::UpdatedAt, Expr::value(now))
        .filter(user_requests::Column::Id.eq(request_id))
        .filter(user_requests::Column::Status.eq(RequestStatus::Pending))
        .exec(db)
        .await?;
    Ok(())
}

/// The video can't be sent after all: the request fails with `reason`, and
/// its user is told (a failure notice is due).
pub async fn mark_failed_to_notify(db: &DatabaseConnection, request_id: RequestId, reason: &Failure) -> Result<(), DbErr> {
    user_requests::Entity::update_many()
        .col_expr(user_requests::Column::Status, Expr::value(RequestStatus::Failed))
        .col_expr(user_requests::Column::Error, Expr::value(reason.clone()))
        .col_expr(user_requests::Column::ClaimedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(user_requests::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(user_requests::Column::Id.eq(request_id))
        .filter(user_requests::Column::Status.eq(RequestStatus::Pending))
        .exec(db)
        .await?;
    Ok(())
}

/// Every request still waiting in `chat` fails with `reason` (the chat
/// can't be written to: the bot lost its rights, was removed, the chat is
/// gone), without a notice (nobody there could read it). Returns the ended
/// requests and whether each held credits, for the caller to release.
pub async fn end_chat(db: &DatabaseConnection, chat: ChatId, reason: &Failure) -> Result<Vec<(RequestId, bool)>, DbErr> {
    let waiting: Vec<(RequestId, Option<HoldState>)> = user_requests::Entity::find()
        .select_only()
        .column(user_requests::Column::Id)
        .column(user_requests::Column::Hold)
        .filter(user_requests::Column::ChatId.eq(chat))
        .filter(user_requests::Column::Status.eq(RequestStatus::Pending))
        .into_tuple()
        .all(db)
        .await?;
    let mut ended = Vec::with_capacity(waiting.len());
    for (id, hold) in waiting {
        mark_undeliverable(db, id, reason).await?;
        ended.push((id, hold == Some(HoldState::Held)));
    }
    Ok(ended)
}

/// The group `old` became the supergroup `new`: its waiting requests are
/// answered there (outside any topic: a migrated group has none yet).
pub async fn move_chat(db: &DatabaseConnection, old: ChatId, new: ChatId) -> Result<u64, DbErr> {
    let moved = user_requests::Entity::update_many()
        .col_expr(user_requests::Column::ChatId, Expr::value(new))
        .col_expr(user_requests::Column::ThreadId, Expr::value(Option::<ThreadId>::None))
        .col_expr(user_requests::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(user_requests::Column::ChatId.eq(old))
        .filter(user_requests::Column::Status.eq(RequestStatus::Pending))
        .exec(db)
        .await?;
    Ok(moved.rows_affected)
}

/// The other requests still waiting for `asset` in the same group topic as
/// `request`: one video in the group answers them all.
pub async fn waiting_beside(db: &DatabaseConnection, request: &Request) -> Result<Vec<Request>, DbErr> {
    let thread = match request.thread_id {
        Some(thread) => user_requests::Column::ThreadId.eq(thread),
        None => user_requests::Column::ThreadId.is_null(),
    };
    user_requests::Entity::find()
        .filter(user_requests::Column::ChatId.eq(request.chat_id))
        .filter(user_requests::Column::AssetId.eq(request.asset_id))
        .filter(user_requests::Column::Status.eq(RequestStatus::Pending))
        .filter(user_requests::Column::Id.ne(request.id))
        .filter(thread)
        .all(db)
        .await
}

/// Whether `request` is the first one waiting for its asset in its chat:
/// in a group only that one gets a "being made" note.
pub async fn first_waiting_in_chat(db: &DatabaseConnection, request: &Request) -> Result<bool, DbErr> {
    let earlier = user_requests::Entity::find()
        .filter(user_requests::Column::ChatId.eq(request.chat_id))
        .filter(user_requests::Column::AssetId.eq(request.asset_id))
        .filter(user_requests::Column::Status.eq(RequestStatus::Pending))
        .filter(user_requests::Column::Id.lt(request.id))
        .count(db)
        .await?;
    Ok(earlier == 0)
}

/// Assets that have waiting requests although a `file_id` exists: work for
/// the sweeper (a fan-out that died, or a request that slipped past one).
///
/// Only assets that became available before `settled_before` count: a fresh
/// one is still being fanned out, and a sweep racing that fan-out would
/// spend flood budget on sends the fan-out then wins.
pub async fn assets_with_stranded_requests(
    db: &DatabaseConnection,
    limit: u64,
    settled_before: DateTime<Utc>,
) -> Result<Vec<AssetId>, DbErr> {
    let now = Utc::now();
    user_requests::Entity::find()
        .select_only()
        .column(user_requests::Column::AssetId)
        .distinct()
        .inner_join(video_assets::Entity)
        .filter(user_requests::Column::Status.eq(RequestStatus::Pending))
        .filter(claims::unclaimed(now))
        .filter(video_assets::Column::Status.eq(AssetStatus::Available))
        .filter(video_assets::Column::FileId.is_not_null())
        .filter(video_assets::Column::UpdatedAt.lt(settled_before))
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

/// A user's most recent requests with their assets, newest first.
pub async fn recent_for_user(
    db: &DatabaseConnection,
    user_id: UserId,
    limit: u64,
) -> Result<Vec<(Request, Option<Asset>)>, DbErr> {
    recent_for_user_query(user_id, limit).all(db).await
}

pub(crate) fn recent_for_user_query(user_id: UserId, limit: u64) -> SelectTwo<user_requests::Entity, video_assets::Entity> {
    user_requests::Entity::find()
        .filter(user_requests::Column::TelegramUserId.eq(user_id))
        .order_by_desc(user_requests::Column::Id)
        .limit(limit)
        .find_also_related(video_assets::Entity)
}

/// Requests in `status`, for /stats, tests and benchmarks.
pub async fn count_by_status(db: &DatabaseConnection, status: RequestStatus) -> Result<u64, DbErr> {
    user_requests::Entity::find().filter(user_requests::Column::Status.eq(status)).count(db).await
}

/// Deliveries that went out as paid broadcast sends, for /stats.
pub async fn count_paid_broadcasts(db: &DatabaseConnection) -> Result<u64, DbErr> {
    user_requests::Entity::find().filter(user_requests::Column::PaidBroadcast.eq(true)).count(db).await
}

/// How many requests ever asked for an asset.
pub async fn count_for_asset(db: &DatabaseConnection, asset_id: AssetId) -> Result<u64, DbErr> {
    user_requests::Entity::find().filter(user_requests::Column::AssetId.eq(asset_id)).count(db).await
}

/// Records the "being made" note sent for a request, to edit it later.
pub async fn set_progress_message(db: &DatabaseConnection, request_id: RequestId, message_id: MessageId) -> Result<(), DbErr> {
    user_requests::Entity::update_many()
        .col_expr(user_requests::Column::ProgressMessageId, Expr::value(message_id))
        .filter(user_requests::Column::Id.eq(request_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The "being made" notes of an asset's waiting requests: (chat, message,
/// the language of the user who asked).
pub async fn progress_notes(
    db: &DatabaseConnection,
    asset_id: AssetId,
    limit: u64,
) -> Result<Vec<(ChatId, MessageId, Lang)>, DbErr> {
    user_requests::Entity::find()
        .select_only()
        .column(user_requests::Column::ChatId)
        .column(user_requests::Column::ProgressMessageId)
        .column(user_requests::Column::Language)
        .filter(user_requests::Column::AssetId.eq(asset_id))
        .filter(user_requests::Column::Status.eq(RequestStatus::Pending))
        .filter(user_requests::Column::ProgressMessageId.is_not_null())
        .order_by_asc(user_requests::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

/// A user's delivered videos that can still be sent again (the asset is
/// available with a `file_id`), newest first, one per asset.
pub async fn delivered_videos(db: &DatabaseConnection, user_id: UserId, limit: usize) -> Result<Vec<(Request, Asset)>, DbErr> {
    let rows = delivered_videos_query(user_id, limit).all(db).await?;
    let mut seen = HashSet::new();
    Ok(rows
        .into_iter()
        .filter_map(|(request, asset)| asset.map(|asset| (request, asset)))
        .filter(|(_, asset)| asset.sendable().is_some())
        .filter(|(_, asset)| seen.insert(asset.id))
        .take(limit)
        .collect())
}

/// By the index on (user, status, id): the user's newest delivered rows
/// only, however many videos they have.
pub(crate) fn delivered_videos_query(user_id: UserId, limit: usize) -> SelectTwo<user_requests::Entity, video_assets::Entity> {
    user_requests::Entity::find()
        .filter(user_requests::Column::TelegramUserId.eq(user_id))
        .filter(user_requests::Column::Status.eq(RequestStatus::Completed))
        .order_by_desc(user_requests::Column::Id)
        .limit(limit as u64 * 10)
        .find_also_related(video_assets::Entity)
}

/// One request and its asset.
pub async fn find_with_asset(db: &DatabaseConnection, id: RequestId) -> Result<Option<(Request, Option<Asset>)>, DbErr> {
    user_requests::Entity::find_by_id(id).find_also_related(video_assets::Entity).one(db).await
}
