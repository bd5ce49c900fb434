//! Claims on requests: the one protocol by which a sender takes a request
//! for a send (a video, a failure notice) right before it leaves, so two
//! senders — a fan-out, the sweeper, another replica — never both send it.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::entities::{user_requests, video_assets};
use super::requests::{self, NewRequest, Request};
use crate::domain::{AssetId, AssetStatus, Charge, RequestId, RequestStatus};
/// The cache-hit path: record a request for an asset known to be available,
/// already claimed by the caller. `None` when Telegram re-delivered a
/// message that is recorded already.
pub async fn record_claimed(
    db: &DatabaseConnection,
    new: &NewRequest,
    asset_id: AssetId,
    claim: ChronoDuration,
) -> Result<Option<Request>, DbErr> {
    let now = Utc::now();
    let insert = user_requests::Entity::insert(requests::row(new, asset_id, now, Some(deadline(claim)), Charge::default()))
        .on_conflict(
            OnConflict::columns([user_requests::Column::ChatId, user_requests::Column::MessageId]).do_nothing().to_owned(),
        )
        .exec_with_returning(db)
        .await;
    match insert {
        Ok(request) => Ok(Some(request)),
        Err(DbErr::RecordNotInserted) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Nobody holds the request: never claimed, or the claim ran out before `now`.
pub(super) fn unclaimed(now: DateTime<Utc>) -> Condition {
    Condition::any().add(user_requests::Column::ClaimedUntil.is_null()).add(user_requests::Column::ClaimedUntil.lt(now))
}

/// The end of a claim taken now: whole milliseconds, so that the value
/// compares exactly after a round trip through SQLite or PostgreSQL and can
/// serve as the claim's token.
pub fn deadline(claim: ChronoDuration) -> DateTime<Utc> {
    let until = Utc::now() + claim;
    DateTime::from_timestamp_millis(until.timestamp_millis()).unwrap_or(until)
}

/// What a claim is taken for: the request must still need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Errand {
    /// Sending the video: the request is pending.
    Video,
    /// Telling the user it failed: the request failed and nobody told them.
    FailureNotice,
}

impl Errand {
    fn still_due(self) -> Condition {
        match self {
            Errand::Video => Condition::all().add(user_requests::Column::Status.eq(RequestStatus::Pending)),
            Errand::FailureNotice => Condition::all()
                .add(user_requests::Column::Status.eq(RequestStatus::Failed))
                .add(user_requests::Column::NotifiedAt.is_null()),
        }
    }
}

/// The one claim protocol. Takes (`token: None`) or extends (`token:
/// Some`, the deadline this sender set) the claim on a request for
/// `errand`, just before a send. Returns the new token, or `None` when
/// another sender holds it or the errand is done.
pub async fn hold(
    db: &DatabaseConnection,
    request_id: RequestId,
    errand: Errand,
    token: Option<DateTime<Utc>>,
    claim: ChronoDuration,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    let now = Utc::now();
    let until = deadline(claim);
    let mut update = user_requests::Entity::update_many()
        .col_expr(user_requests::Column::ClaimedUntil, Expr::value(until))
        .filter(user_requests::Column::Id.eq(request_id))
        .filter(errand.still_due());
    update = match token {
        None => update.filter(unclaimed(now)),
        Some(token) => update.filter(user_requests::Column::ClaimedUntil.eq(token)),
    };
    let updated = update.exec(db).await?;
    Ok((updated.rows_affected == 1).then_some(until))
}

/// Requests with `errand` due that nobody holds, oldest first: candidates
/// for a sender (each is claimed with [`hold`] right before its send).
/// `asset` narrows them to one asset.
pub async fn due(db: &DatabaseConnection, errand: Errand, asset: Option<AssetId>, limit: u64) -> Result<Vec<Request>, DbErr> {
    let now = Utc::now();
    let mut query = user_requests::Entity::find().filter(errand.still_due()).filter(unclaimed(now));
    if let Some(asset) = asset {
        query = query.filter(user_requests::Column::AssetId.eq(asset));
    }
    query.order_by_asc(user_requests::Column::Id).limit(limit).all(db).await
}

/// Whether a "being made" note still makes sense: the request waits and
/// its video is not made yet.
pub async fn note_wanted(db: &DatabaseConnection, request_id: RequestId) -> Result<bool, DbErr> {
    let found = user_requests::Entity::find_by_id(request_id)
        .inner_join(video_assets::Entity)
        .filter(user_requests::Column::Status.eq(RequestStatus::Pending))
        .filter(video_assets::Column::Status.ne(AssetStatus::Available))
        .count(db)
        .await?;
    Ok(found > 0)
}

/// Gives a claim back (the send did not happen), so another sender may try.
pub async fn release_claim(db: &DatabaseConnection, request_id: RequestId) -> Result<(), DbErr> {
    user_requests::Entity::update_many()
        .col_expr(user_requests::Column::ClaimedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(user_requests::Column::Id.eq(request_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The user was told their request failed.
pub async fn mark_notified(db: &DatabaseConnection, request_id: RequestId) -> Result<(), DbErr> {
    let now = Utc::now();
    user_requests::Entity::update_many()
        .col_expr(user_requests::Column::NotifiedAt, Expr::value(now))
        .col_expr(user_requests::Column::ClaimedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(user_requests::Column::Id.eq(request_id))
        .exec(db)
        .await?;
    Ok(())
}
