//! A generation of an asset, as a worker sees it: the job pushed (the
//! outbox marker), the lease taken (under the cap of live generations),
//! renewed and given back, its stage and file recorded, and its end —
//! published or failed. Each status change is an [`AssetMove`] applied by
//! the lifecycle's writer.

use chrono::{DateTime, Utc};
use sea_orm::ExprTrait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::asset_moves::{self, held};
use super::assets::{Asset, find};
use super::entities::{user_requests, video_assets};
use super::retry::serializable;
use super::stages::{self, Carried};
use crate::domain::{AssetId, AssetMove, AssetStatus, Failure, FileId, Generation, MadeWith, RequestId, RequestStatus, Stage};

/// Records that a job for `job.number` has been pushed (the outbox marker)
/// and when, so a push the queue lost can be told from one still waiting.
pub async fn mark_dispatched(db: &DatabaseConnection, job: Generation) -> Result<(), DbErr> {
    video_assets::Entity::update_many()
        .col_expr(video_assets::Column::DispatchedGeneration, Expr::value(job.number))
        .col_expr(video_assets::Column::DispatchedAt, Expr::value(Utc::now()))
        .filter(video_assets::Column::Id.eq(job.asset))
        .filter(video_assets::Column::DispatchedGeneration.lte(job.number))
        .exec(db)
        .await?;
    Ok(())
}

/// Pending generations whose job was pushed before `pushed_before` and has
/// not started: the queue may have lost them, so they are pushed again
/// (with the same idempotency key: a job still queued is not duplicated).
pub async fn stalled_dispatches(db: &DatabaseConnection, pushed_before: DateTime<Utc>) -> Result<Vec<Generation>, DbErr> {
    let rows = video_assets::Entity::find()
        .filter(video_assets::Column::Status.eq(AssetStatus::Pending))
        .filter(Expr::col(video_assets::Column::DispatchedGeneration).eq(Expr::col(video_assets::Column::Generation)))
        .filter(video_assets::Column::DispatchedAt.is_null().or(video_assets::Column::DispatchedAt.lt(pushed_before)))
        // Waiting for a slot is not stalled: a freed slot pushes it.
        .filter(video_assets::Column::Stage.is_null().or(video_assets::Column::Stage.ne(Stage::Waiting)))
        .all(db)
        .await?;
    Ok(rows.iter().map(Asset::current_generation).collect())
}

/// Generations recorded as needed but not (known to be) pushed yet.
pub async fn undispatched(db: &DatabaseConnection) -> Result<Vec<Generation>, DbErr> {
    let rows = video_assets::Entity::find()
        .filter(video_assets::Column::Status.eq(AssetStatus::Pending))
        .filter(Expr::col(video_assets::Column::DispatchedGeneration).lt(Expr::col(video_assets::Column::Generation)))
        .all(db)
        .await?;
    Ok(rows.iter().map(Asset::current_generation).collect())
}

/// What asking for a generation's lease came to.
#[derive(Debug)]
#[allow(clippy::large_enum_variant, reason = "a return value matched once by its caller; boxing would only add an allocation")]
pub enum Claimed {
    /// This worker owns the generation now.
    Taken(Asset),
    /// The job is stale, or another worker holds a live lease.
    Stale,
    /// Every slot of `MAX_ACTIVE_GENERATIONS` is taken, or older generations
    /// wait for one: this one waits too, moved on to `waiting` (the next
    /// number, pushed by whoever frees a slot), `ahead` of it in line.
    Waiting { waiting: Generation, ahead: u64 },
}

/// Live generations (a lease that has not run out), other than `except`.
async fn running<C: ConnectionTrait>(db: &C, now: DateTime<Utc>, except: AssetId) -> Result<u64, DbErr> {
    video_assets::Entity::find()
        .filter(video_assets::Column::Status.eq(AssetStatus::Generating))
        .filter(video_assets::Column::LeaseUntil.gt(now))
        .filter(video_assets::Column::Id.ne(except))
        .count(db)
        .await
}

/// Generations waiting for a slot that came before `asset` (asset order).
async fn waiting_before<C: ConnectionTrait>(db: &C, asset: AssetId) -> Result<u64, DbErr> {
    video_assets::Entity::find()
        .filter(video_assets::Column::Status.eq(AssetStatus::Pending))
        .filter(video_assets::Column::Stage.eq(Stage::Waiting))
        .filter(video_assets::Column::Id.lt(asset))
        .count(db)
        .await
}

/// [`claim_generation`] under a cap of `max_active` live generations across
/// every worker (0: no cap), decided in one serializable transaction, so
/// two workers can't both take the last slot. A generation that finds no
/// slot — or older ones waiting — waits without holding a worker: it is
/// moved to the next number (carrying over its steps) with stage
/// `waiting`, and [`waiting_for_slots`] hands it out once a slot frees.
pub async fn claim_generation_capped(
    db: &DatabaseConnection,
    job: Generation,
    owner: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    max_active: u32,
) -> Result<Claimed, DbErr> {
    if max_active == 0 {
        return Ok(match claim_generation(db, job, owner, now, lease_until).await? {
            Some(asset) => Claimed::Taken(asset),
            None => Claimed::Stale,
        });
    }
    let owner = owner.to_owned();
    serializable(db, move |txn| {
        let owner = owner.clone();
        Box::pin(async move {
            let Some(asset) = find(txn, job.asset).await? else { return Ok(Claimed::Stale) };
            let claimable = asset.generation == job.number
                && (asset.status == AssetStatus::Pending
                    || (asset.status == AssetStatus::Generating && asset.lease_until.is_none_or(|until| until < now)));
            if !claimable {
                return Ok(Claimed::Stale);
            }
            let ahead = waiting_before(txn, asset.id).await?;
            if running(txn, now, asset.id).await? >= u64::from(max_active) || ahead > 0 {
                let next = job.number + 1;
                let waits = AssetMove::WaitForSlot { generation: next, now };
                if asset_moves::apply(txn, asset.id, &waits, asset_moves::at_generation(job.number), now).await?.is_none() {
                    return Ok(Claimed::Stale);
                }
                stages::carry_over(txn, job.asset, job.number, next).await?;
                super::approvals::carry_over(txn, job.asset, job.number, next).await?;
                return Ok(Claimed::Waiting { waiting: Generation { asset: job.asset, number: next }, ahead });
            }
            let take = AssetMove::Take { owner: owner.clone(), lease_until };
            let guard = asset_moves::at_generation(job.number).add(asset_moves::takeable(now));
            Ok(match asset_moves::apply(txn, asset.id, &take, guard, now).await? {
                Some(taken) => Claimed::Taken(taken),
                None => Claimed::Stale,
            })
        })
    })
    .await
}

/// `asset`'s place in line when its generation waits for a slot: how many
/// waiting generations come before it. `None` when it does not wait.
pub async fn place_in_line(db: &DatabaseConnection, asset: AssetId) -> Result<Option<u64>, DbErr> {
    let Some(row) = find(db, asset).await? else { return Ok(None) };
    if row.status != AssetStatus::Pending || row.stage != Some(Stage::Waiting) {
        return Ok(None);
    }
    Ok(Some(waiting_before(db, asset).await?))
}

/// The generations waiting for a slot that may start now, oldest first:
/// as many as there are free slots.
pub async fn waiting_for_slots(db: &DatabaseConnection, max_active: u32, now: DateTime<Utc>) -> Result<Vec<Generation>, DbErr> {
    if max_active == 0 {
        return Ok(Vec::new());
    }
    let free = u64::from(max_active).saturating_sub(running(db, now, AssetId(0)).await?);
    if free == 0 {
        return Ok(Vec::new());
    }
    let rows = video_assets::Entity::find()
        .filter(video_assets::Column::Status.eq(AssetStatus::Pending))
        .filter(video_assets::Column::Stage.eq(Stage::Waiting))
        .order_by_asc(video_assets::Column::Id)
        .limit(free)
        .all(db)
        .await?;
    Ok(rows.iter().map(Asset::current_generation).collect())
}

/// Takes the lease on `job`'s asset for `owner` if the job is still current
/// and nobody else holds a live lease: pending → generating. Returns the
/// asset when this worker now owns the generation.
pub async fn claim_generation(
    db: &DatabaseConnection,
    job: Generation,
    owner: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Option<Asset>, DbErr> {
    let take = AssetMove::Take { owner: owner.to_owned(), lease_until };
    let guard = asset_moves::at_generation(job.number).add(asset_moves::takeable(now));
    asset_moves::apply(db, job.asset, &take, guard, now).await
}

/// [`held`] for a row already read.
fn holds(asset: &Asset, job: Generation, owner: &str) -> bool {
    asset.id == job.asset && asset.generation == job.number && asset.lease_owner.as_deref() == Some(owner)
}

/// Extends a lease; false when the lease was lost (taken over or cleared).
pub async fn renew_lease(
    db: &DatabaseConnection,
    job: Generation,
    owner: &str,
    lease_until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let updated = video_assets::Entity::update_many()
        .col_expr(video_assets::Column::LeaseUntil, Expr::value(lease_until))
        .filter(held(job, owner))
        .filter(video_assets::Column::Status.eq(AssetStatus::Generating))
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Gives a lease back at once (shutdown): the next start takes the job over
/// without waiting for the lease to run out.
pub async fn release_lease(db: &DatabaseConnection, job: Generation, owner: &str) -> Result<(), DbErr> {
    video_assets::Entity::update_many()
        .col_expr(video_assets::Column::LeaseUntil, Expr::value(DateTime::<Utc>::UNIX_EPOCH))
        .col_expr(video_assets::Column::Stage, Expr::value(Stage::Interrupted))
        .filter(held(job, owner))
        .filter(video_assets::Column::Status.eq(AssetStatus::Generating))
        .exec(db)
        .await?;
    Ok(())
}

/// Sets the human-readable stage shown to waiting users and in /status.
pub async fn set_stage(db: &DatabaseConnection, job: Generation, owner: &str, stage: Stage) -> Result<(), DbErr> {
    video_assets::Entity::update_many()
        .col_expr(video_assets::Column::Stage, Expr::value(stage))
        .col_expr(video_assets::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(held(job, owner))
        .exec(db)
        .await?;
    Ok(())
}

/// Remembers the rendered file so a resumed job uploads it instead of rendering again.
pub async fn set_file_path(db: &DatabaseConnection, job: Generation, owner: &str, path: &str) -> Result<(), DbErr> {
    video_assets::Entity::update_many()
        .col_expr(video_assets::Column::FilePath, Expr::value(path))
        .filter(held(job, owner))
        .exec(db)
        .await?;
    Ok(())
}

/// Records what the generation held by `owner` makes the video with.
pub async fn set_made_with(db: &DatabaseConnection, job: Generation, owner: &str, made: &MadeWith) -> Result<(), DbErr> {
    video_assets::Entity::update_many()
        .col_expr(video_assets::Column::MadeModel, Expr::value(made.model.clone()))
        .col_expr(video_assets::Column::MadeAspectRatio, Expr::value(made.aspect_ratio.clone()))
        .col_expr(video_assets::Column::MadeDurationSecs, Expr::value(i32::try_from(made.duration_secs).unwrap_or(i32::MAX)))
        .col_expr(video_assets::Column::MadeResolution, Expr::value(made.resolution.clone()))
        .filter(held(job, owner))
        .exec(db)
        .await?;
    Ok(())
}

/// What became of the asset when its generation finished.
#[derive(Debug)]
pub struct Finished {
    pub asset: Asset,
    /// Requests still waiting for this asset (pending), seen in the same
    /// serializable transaction that made the asset available, so that no
    /// request recorded concurrently can be missed.
    pub waiting: Vec<RequestId>,
}

/// generating → available with Telegram's `file_id` (or, with none, with
/// the local file kept for the next requester).
pub async fn mark_available(
    db: &DatabaseConnection,
    job: Generation,
    owner: &str,
    file: Option<(&FileId, &str)>,
) -> Result<Option<Finished>, DbErr> {
    let owner = owner.to_owned();
    let file = file.map(|(id, unique)| (id.clone(), unique.to_owned()));
    serializable(db, move |txn| {
        let owner = owner.clone();
        let file = file.clone();
        Box::pin(async move {
            let publish = AssetMove::Publish { file };
            let Some(asset) = asset_moves::apply(txn, job.asset, &publish, held(job, &owner), Utc::now()).await? else {
                return Ok(None);
            };
            // searchable from the same commit on (similar offers, inline mode)
            super::search::index_in(txn, &asset).await?;
            let waiting = user_requests::Entity::find()
                .select_only()
                .column(user_requests::Column::Id)
                .filter(user_requests::Column::AssetId.eq(asset.id))
                .filter(user_requests::Column::Status.eq(RequestStatus::Pending))
                .order_by_asc(user_requests::Column::Id)
                .into_tuple::<RequestId>()
                .all(txn)
                .await?;
            Ok(Some(Finished { asset, waiting }))
        })
    })
    .await
}

/// generating → failed: every request still waiting fails with `reason`.
/// Returns how many requests failed, or `None` if this worker no longer
/// owned the generation.
pub async fn mark_failed(db: &DatabaseConnection, job: Generation, owner: &str, reason: &Failure) -> Result<Option<u64>, DbErr> {
    let owner = owner.to_owned();
    let reason = reason.clone();
    serializable(db, move |txn| {
        let owner = owner.clone();
        let reason = reason.clone();
        Box::pin(async move {
            let Some(asset) = find(txn, job.asset).await? else { return Ok(None) };
            if !holds(&asset, job, &owner) {
                return Ok(None);
            }
            let now = Utc::now();
            // A failure costs the waiting users nothing.
            super::credits::release_waiting_in(txn, job.asset).await?;
            // A safety refusal is remembered on the key, with the failure:
            // the next request is answered from it (never a transient failure).
            if let Failure::Refused(refusal) = &reason {
                super::refusals::remember_in(txn, job.asset, refusal).await?;
            }
            super::search::unindex_in(txn, &asset).await?;
            asset_moves::apply(txn, job.asset, &AssetMove::Fail(reason.clone()), held(job, &owner), now).await?;
            let failed = user_requests::Entity::update_many()
                .col_expr(user_requests::Column::Status, Expr::value(RequestStatus::Failed))
                .col_expr(user_requests::Column::Error, Expr::value(reason.clone()))
                .col_expr(user_requests::Column::UpdatedAt, Expr::value(now))
                .filter(user_requests::Column::AssetId.eq(job.asset))
                .filter(user_requests::Column::Status.eq(RequestStatus::Pending))
                .exec(txn)
                .await?;
            Ok(Some(failed.rows_affected))
        })
    })
    .await
}

/// Generations whose worker died: the lease ran out long ago. Each is moved
/// to a new generation (so a stale job of the dead worker cannot run it
/// too) and returned for dispatch.
///
/// The new generation takes over the work of the one it replaces: in the
/// same transaction as the move, the steps that are done or were submitted
/// to a provider are carried over ([`stages::carry_over`]), so the staged
/// generator reuses them and polls the recorded tasks instead of paying
/// again. This is the only path on which steps cross generations: a
/// generation started anew after a failure or an operator's /clear (by
/// [`requests`](super::requests)) starts without any.
pub async fn reclaim_expired(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<Vec<Generation>, DbErr> {
    let expired = video_assets::Entity::find()
        .filter(video_assets::Column::Status.eq(AssetStatus::Generating))
        .filter(video_assets::Column::LeaseUntil.lt(now).or(video_assets::Column::LeaseUntil.is_null()))
        .all(db)
        .await?;
    let mut jobs = Vec::new();
    for asset in expired {
        let (id, from) = (asset.id, asset.generation);
        let carried = serializable(db, move |txn| {
            Box::pin(async move {
                let reclaim = AssetMove::Reclaim { generation: from + 1 };
                let guard = asset_moves::at_generation(from).add(asset_moves::lease_expired(now));
                if asset_moves::apply(txn, id, &reclaim, guard, now).await?.is_none() {
                    return Ok(None);
                }
                let carried = stages::carry_over(txn, id, from, from + 1).await?;
                super::approvals::carry_over(txn, id, from, from + 1).await?;
                Ok(Some(carried))
            })
        })
        .await?;
        let Some(carried) = carried else { continue };
        if carried != Carried::default() {
            tracing::info!(asset_id = %id, from, done = carried.done, submitted = carried.submitted, "steps carried over to the new generation");
        }
        if carried.unsure > 0 {
            // no task recorded: they run again, and the lost submit may be billed
            tracing::warn!(asset_id = %id, from, steps = carried.unsure, "steps were running without a recorded task when the worker stopped");
        }
        jobs.push(Generation { asset: id, number: from + 1 });
    }
    Ok(jobs)
}
