//! Queries on `video_assets`: the generation lifecycle of one prompt.

use chrono::{DateTime, Utc};
use sea_orm::ExprTrait;
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};

use super::entities::{operator_actions, user_requests, video_assets};
use super::retry::serializable;
use super::stages::{self, Carried};
use crate::domain::{
    Actor, AssetId, AssetStatus, Choices, Failure, FileId, Generation, GeneratorKind, HoldState, KEY_VERSION, MadeWith, Prompt,
    PromptKey, Recipe, RequestId, RequestStatus, Stage,
};

pub type Asset = video_assets::Model;

pub async fn find_by_key<C: ConnectionTrait>(db: &C, key: &PromptKey) -> Result<Option<Asset>, DbErr> {
    by_key(key).one(db).await
}

/// The asset of `key` (by its unique index).
pub(crate) fn by_key(key: &PromptKey) -> Select<video_assets::Entity> {
    video_assets::Entity::find().filter(video_assets::Column::PromptKey.eq(key.clone()))
}

pub async fn find<C: ConnectionTrait>(db: &C, id: AssetId) -> Result<Option<Asset>, DbErr> {
    video_assets::Entity::find_by_id(id).one(db).await
}

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
                let mut active: video_assets::ActiveModel = asset.into();
                active.status = Set(AssetStatus::Pending);
                active.generation = Set(next);
                active.dispatched_generation = Set(next);
                active.dispatched_at = Set(Some(now));
                active.stage = Set(Some(Stage::Waiting));
                active.lease_owner = Set(None);
                active.lease_until = Set(None);
                active.update(txn).await?;
                stages::carry_over(txn, job.asset, job.number, next).await?;
                super::approvals::carry_over(txn, job.asset, job.number, next).await?;
                return Ok(Claimed::Waiting { waiting: Generation { asset: job.asset, number: next }, ahead });
            }
            let mut active: video_assets::ActiveModel = asset.clone().into();
            active.status = Set(AssetStatus::Generating);
            active.lease_owner = Set(Some(owner.clone()));
            active.lease_until = Set(Some(lease_until));
            active.attempts = Set(asset.attempts + 1);
            active.stage = Set(Some(Stage::Queued));
            active.updated_at = Set(now);
            Ok(Claimed::Taken(active.update(txn).await?))
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
    let updated = video_assets::Entity::update_many()
        .col_expr(video_assets::Column::Status, Expr::value(AssetStatus::Generating))
        .col_expr(video_assets::Column::LeaseOwner, Expr::value(owner))
        .col_expr(video_assets::Column::LeaseUntil, Expr::value(lease_until))
        .col_expr(video_assets::Column::Attempts, Expr::col(video_assets::Column::Attempts).add(1))
        .col_expr(video_assets::Column::Stage, Expr::value(Stage::Queued))
        .col_expr(video_assets::Column::UpdatedAt, Expr::value(now))
        .filter(video_assets::Column::Id.eq(job.asset))
        .filter(video_assets::Column::Generation.eq(job.number))
        .filter(
            video_assets::Column::Status.eq(AssetStatus::Pending).or(video_assets::Column::Status
                .eq(AssetStatus::Generating)
                .and(video_assets::Column::LeaseUntil.lt(now).or(video_assets::Column::LeaseUntil.is_null()))),
        )
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        return Ok(None);
    }
    find(db, job.asset).await
}

/// The asset's row while `owner` holds the lease on `job`'s generation.
fn held(job: Generation, owner: &str) -> Condition {
    Condition::all()
        .add(video_assets::Column::Id.eq(job.asset))
        .add(video_assets::Column::Generation.eq(job.number))
        .add(video_assets::Column::LeaseOwner.eq(owner))
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

/// Replaces an available asset's `file_id` that Telegram refused (`stale`)
/// with the one a new upload of the same file got. False when the asset
/// changed meanwhile (renewed by another sender, cleared).
pub async fn replace_file_id(
    db: &DatabaseConnection,
    asset: AssetId,
    stale: &FileId,
    file_id: &FileId,
    file_unique_id: &str,
) -> Result<bool, DbErr> {
    let updated = video_assets::Entity::update_many()
        .col_expr(video_assets::Column::FileId, Expr::value(file_id.clone()))
        .col_expr(video_assets::Column::FileUniqueId, Expr::value(file_unique_id))
        .col_expr(video_assets::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(video_assets::Column::Id.eq(asset))
        .filter(video_assets::Column::Status.eq(AssetStatus::Available))
        .filter(video_assets::Column::FileId.eq(stale.clone()))
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Drops a `file_id` Telegram refused when no copy of the video is stored:
/// the asset stays available without one, so the next request generates it
/// again.
pub async fn forget_file_id(db: &DatabaseConnection, asset: AssetId, stale: &FileId) -> Result<bool, DbErr> {
    let updated = video_assets::Entity::update_many()
        .col_expr(video_assets::Column::FileId, Expr::value(Option::<FileId>::None))
        .col_expr(video_assets::Column::FileUniqueId, Expr::value(Option::<String>::None))
        .col_expr(video_assets::Column::FilePath, Expr::value(Option::<String>::None))
        .col_expr(video_assets::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(video_assets::Column::Id.eq(asset))
        .filter(video_assets::Column::Status.eq(AssetStatus::Available))
        .filter(video_assets::Column::FileId.eq(stale.clone()))
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
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
            let Some(asset) = find(txn, job.asset).await? else { return Ok(None) };
            if !holds(&asset, job, &owner) {
                return Ok(None);
            }
            let mut active: video_assets::ActiveModel = asset.into();
            active.status = Set(AssetStatus::Available);
            active.file_id = Set(file.as_ref().map(|f| f.0.clone()));
            active.file_unique_id = Set(file.as_ref().map(|f| f.1.clone()));
            active.last_error = Set(None);
            active.stage = Set(None);
            active.lease_owner = Set(None);
            active.lease_until = Set(None);
            active.updated_at = Set(Utc::now());
            let asset = active.update(txn).await?;
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
            let mut active: video_assets::ActiveModel = asset.into();
            active.status = Set(AssetStatus::Failed);
            active.last_error = Set(Some(reason.clone()));
            active.stage = Set(None);
            active.lease_owner = Set(None);
            active.lease_until = Set(None);
            active.updated_at = Set(now);
            active.update(txn).await?;
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

/// Result of an operator's /clear.
#[derive(Debug, PartialEq, Eq)]
pub enum Cleared {
    /// The cached video was dropped, with every extension made of it; the
    /// next request regenerates it.
    Cleared { asset_id: AssetId, cleared: Vec<ClearedAsset> },
    /// Nothing cached under that prompt.
    Unknown,
    /// A generation of it, or of an extension of it, is running; clearing
    /// now would race it.
    InProgress,
    /// Already failed or cleared, and so is every extension of it: the next
    /// request regenerates anyway.
    AlreadyClear,
}

/// One asset a clear dropped: its cache key and the file to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearedAsset {
    pub id: AssetId,
    pub key: PromptKey,
    pub file_path: Option<String>,
}

/// Whether a generation of the asset may be running or resume.
fn in_progress(asset: &Asset) -> bool {
    matches!(asset.status, AssetStatus::Pending | AssetStatus::Generating | AssetStatus::Awaiting)
}

/// Whether the asset still has a video to drop.
fn has_video(asset: &Asset) -> bool {
    asset.status == AssetStatus::Available || asset.file_id.is_some() || asset.file_path.is_some()
}

/// Every extension made of `root`'s video, and of those, recursively.
async fn descendants<C: ConnectionTrait>(txn: &C, root: AssetId) -> Result<Vec<Asset>, DbErr> {
    let mut found = Vec::new();
    let mut frontier = vec![root];
    // A chain is at most MAX_EXTENSIONS (≤ 100) long; the bound guards against a cycle.
    for _ in 0..128 {
        if frontier.is_empty() {
            break;
        }
        let children = video_assets::Entity::find()
            .filter(video_assets::Column::ParentId.is_in(frontier.iter().copied()))
            .order_by_asc(video_assets::Column::Id)
            .all(txn)
            .await?;
        frontier = children.iter().map(|c| c.id).filter(|id| *id != root).collect();
        found.extend(children.into_iter().filter(|c| c.id != root));
    }
    Ok(found)
}

/// Drops the cached `file_id` and file of an asset so that the next request
/// regenerates it — and of every extension made of its video (recursively),
/// so that the same continuation of the new video is made anew rather than
/// answered with the old video's extension. History rows stay.
/// Each asset cleared is recorded in `operator_actions` with `by`, in the
/// same transaction (`clear`; `clear:parent` on an extension cleared with
/// the video it continues).
pub async fn clear(db: &DatabaseConnection, key: &PromptKey, by: &Actor) -> Result<Cleared, DbErr> {
    let key = key.clone();
    let by = by.to_string();
    serializable(db, move |txn| {
        let key = key.clone();
        let by = by.clone();
        Box::pin(async move {
            let Some(asset) = find_by_key(txn, &key).await? else { return Ok(Cleared::Unknown) };
            let asset_id = asset.id;
            let extensions = descendants(txn, asset_id).await?;
            if in_progress(&asset) || extensions.iter().any(in_progress) {
                return Ok(Cleared::InProgress);
            }
            // a remembered safety refusal is forgotten: the next request is screened anew
            let mut family: Vec<AssetId> = vec![asset_id];
            family.extend(extensions.iter().map(|e| e.id));
            let forgotten = super::refusals::forget_in(txn, &family).await?;
            let now = Utc::now();
            let mut targets: Vec<(Asset, &str)> = Vec::new();
            if has_video(&asset) {
                targets.push((asset, "clear"));
            }
            targets.extend(extensions.into_iter().filter(has_video).map(|e| (e, "clear:parent")));
            if targets.is_empty() {
                if forgotten == 0 {
                    return Ok(Cleared::AlreadyClear);
                }
                operator_actions::ActiveModel {
                    asset_id: Set(asset_id),
                    action: Set("clear".to_owned()),
                    operator: Set(by.clone()),
                    created_at: Set(now),
                    ..Default::default()
                }
                .insert(txn)
                .await?;
                return Ok(Cleared::Cleared { asset_id, cleared: Vec::new() });
            }
            let mut cleared = Vec::new();
            for (asset, action) in targets {
                // Someone may be receiving the old video right now; their request
                // is served from the old file_id, which stays valid on Telegram.
                cleared.push(ClearedAsset { id: asset.id, key: asset.prompt_key.clone(), file_path: asset.file_path.clone() });
                super::search::unindex_in(txn, &asset).await?;
                let id = asset.id;
                let mut active: video_assets::ActiveModel = asset.into();
                active.status = Set(AssetStatus::Failed);
                active.file_id = Set(None);
                active.file_unique_id = Set(None);
                active.file_path = Set(None);
                active.last_error = Set(Some(Failure::Cleared));
                active.stage = Set(None);
                active.updated_at = Set(now);
                active.update(txn).await?;
                operator_actions::ActiveModel {
                    asset_id: Set(id),
                    action: Set(action.to_owned()),
                    operator: Set(by.clone()),
                    created_at: Set(now),
                    ..Default::default()
                }
                .insert(txn)
                .await?;
            }
            let failed = fail_waiters_of_cleared(txn, &cleared, now).await?;
            if failed > 0 {
                tracing::info!(%asset_id, failed, "requests still waiting for the cleared video failed as cleared; their credits went back");
            }
            Ok(Cleared::Cleared { asset_id, cleared })
        })
    })
    .await
}

/// The requests still waiting for a video an operator just cleared (a
/// fan-out had not reached them yet, or was sending to them): each fails
/// with reason `cleared` and gets its held credits back, in the clear's
/// transaction, and its user is told (a failure notice is due). None is
/// left pending: a cleared asset is `failed`, and nothing would ever send
/// it or regenerate it for them.
///
/// Why not send them the old video? The operator removed it — usually
/// because it should not be shown — so it is not sent to anyone who has
/// not got it yet. A send already under way may still land (Telegram has
/// the file); its request stays failed, nothing is captured for it, and
/// the user is told the video was removed. Asking again makes a new one.
async fn fail_waiters_of_cleared(
    txn: &sea_orm::DatabaseTransaction,
    cleared: &[ClearedAsset],
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let waiting: Vec<RequestId> = user_requests::Entity::find()
        .select_only()
        .column(user_requests::Column::Id)
        .filter(user_requests::Column::AssetId.is_in(cleared.iter().map(|c| c.id)))
        .filter(user_requests::Column::Status.eq(RequestStatus::Pending))
        .into_tuple()
        .all(txn)
        .await?;
    if waiting.is_empty() {
        return Ok(0);
    }
    let failed = user_requests::Entity::update_many()
        .col_expr(user_requests::Column::Status, Expr::value(RequestStatus::Failed))
        .col_expr(user_requests::Column::Error, Expr::value(Failure::Cleared))
        .col_expr(user_requests::Column::ClaimedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(user_requests::Column::UpdatedAt, Expr::value(now))
        .filter(user_requests::Column::Id.is_in(waiting.iter().copied()))
        .filter(user_requests::Column::Status.eq(RequestStatus::Pending))
        .exec(txn)
        .await?;
    super::credits::settle_in(txn, &waiting, HoldState::Released).await?;
    Ok(failed.rows_affected)
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
                let updated = video_assets::Entity::update_many()
                    .col_expr(video_assets::Column::Status, Expr::value(AssetStatus::Pending))
                    .col_expr(video_assets::Column::Generation, Expr::value(from + 1))
                    .col_expr(video_assets::Column::LeaseOwner, Expr::value(Option::<String>::None))
                    .col_expr(video_assets::Column::Stage, Expr::value(Stage::Requeued))
                    .col_expr(video_assets::Column::UpdatedAt, Expr::value(now))
                    .filter(video_assets::Column::Id.eq(id))
                    .filter(video_assets::Column::Generation.eq(from))
                    .filter(video_assets::Column::Status.eq(AssetStatus::Generating))
                    .filter(video_assets::Column::LeaseUntil.lt(now).or(video_assets::Column::LeaseUntil.is_null()))
                    .exec(txn)
                    .await?;
                if updated.rows_affected != 1 {
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

/// Assets whose prompt key starts with `prefix` (a video file is named
/// after the first characters of its asset's key).
pub async fn with_key_prefix(db: &DatabaseConnection, prefix: &str) -> Result<Vec<Asset>, DbErr> {
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(Vec::new());
    }
    let prefix = prefix.to_ascii_lowercase();
    let found = with_key_prefix_query(&prefix).all(db).await?;
    Ok(found.into_iter().filter(|a| a.prompt_key.as_str().starts_with(&prefix)).collect())
}

/// Keys from `prefix` up to the first key past every key it starts
/// (lowercase hex: `g` sorts after each digit): a range of the unique
/// index, where `LIKE 'prefix%'` reads every asset (SQLite's `LIKE` is
/// case-blind, so its index can't serve it).
pub(crate) fn with_key_prefix_query(prefix: &str) -> Select<video_assets::Entity> {
    video_assets::Entity::find()
        .filter(video_assets::Column::PromptKey.gte(prefix))
        .filter(video_assets::Column::PromptKey.lt(format!("{prefix}g")))
}

/// Assets whose video file is `path` (a file named after a key the asset
/// no longer has: written before the upgrade re-keyed it). Looked up by the
/// whole path, which has an index; the sweep passes the path it found the
/// file at, the one the generation wrote (`<data dir>/videos/<name>`).
pub async fn with_file_path(db: &DatabaseConnection, path: &str) -> Result<Vec<Asset>, DbErr> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    with_file_path_query(path).all(db).await
}

pub(crate) fn with_file_path_query(path: &str) -> Select<video_assets::Entity> {
    video_assets::Entity::find().filter(video_assets::Column::FilePath.eq(path))
}

/// The assets of `prompt`'s own videos, one per recipe it was made with
/// (not its extensions), oldest first.
pub async fn of_prompt<C: ConnectionTrait>(db: &C, prompt: &Prompt) -> Result<Vec<Asset>, DbErr> {
    video_assets::Entity::find()
        .filter(video_assets::Column::PromptDigest.eq(prompt.legacy_key()))
        .filter(video_assets::Column::ParentId.is_null())
        .filter(video_assets::Column::Prompt.eq(prompt.as_str()))
        .order_by_asc(video_assets::Column::Id)
        .all(db)
        .await
}

/// Re-keys the rows the previous release wrote (key version 1: keyed by
/// the normalized prompt alone) as videos of `defaults` made by
/// `generator` — what that release made them with — so that every cached
/// prompt stays a hit. Extensions follow their parents (their key covers
/// the parent's). Idempotent: rows already re-keyed are left alone, so
/// replicas starting together agree. Returns how many rows were re-keyed.
#[tracing::instrument(skip(db))]
pub async fn rekey_legacy(db: &DatabaseConnection, defaults: Choices, generator: GeneratorKind) -> Result<u64, DbErr> {
    let mut done = 0;
    loop {
        // Parents before children: a child's key needs its parent's new key.
        let batch = video_assets::Entity::find()
            .filter(video_assets::Column::KeyVersion.lt(KEY_VERSION))
            .order_by_asc(video_assets::Column::ExtensionDepth)
            .order_by_asc(video_assets::Column::Id)
            .limit(500)
            .all(db)
            .await?;
        if batch.is_empty() {
            break;
        }
        let rekeyed = serializable(db, |txn| {
            let batch = batch.clone();
            Box::pin(async move {
                let mut rekeyed = 0u64;
                for row in batch {
                    let recipe = Recipe::new(defaults, generator);
                    let Some((prompt, key)) = new_key(txn, &row, &recipe).await? else {
                        // left under its old key, which no request meets any more
                        tracing::warn!(asset_id = %row.id, "an asset of the previous release could not be re-keyed");
                        video_assets::Entity::update_many()
                            .col_expr(video_assets::Column::KeyVersion, Expr::value(KEY_VERSION))
                            .filter(video_assets::Column::Id.eq(row.id))
                            .exec(txn)
                            .await?;
                        rekeyed += 1;
                        continue;
                    };
                    let updated = video_assets::Entity::update_many()
                        .col_expr(video_assets::Column::PromptKey, Expr::value(key))
                        .col_expr(video_assets::Column::KeyVersion, Expr::value(KEY_VERSION))
                        .col_expr(video_assets::Column::Quality, Expr::value(recipe.choices.quality.token()))
                        .col_expr(video_assets::Column::Format, Expr::value(recipe.choices.format.token()))
                        .col_expr(video_assets::Column::Length, Expr::value(recipe.choices.length.token()))
                        .col_expr(video_assets::Column::Generator, Expr::value(recipe.generator.token()))
                        .col_expr(video_assets::Column::PromptDigest, Expr::value(prompt.legacy_key()))
                        .filter(video_assets::Column::Id.eq(row.id))
                        .filter(video_assets::Column::KeyVersion.lt(KEY_VERSION))
                        .exec(txn)
                        .await?;
                    rekeyed += updated.rows_affected;
                }
                Ok(rekeyed)
            })
        })
        .await?;
        if rekeyed == 0 {
            // another replica re-keyed these rows first: wait for it to
            // finish (or take over if it dies), so no request here meets
            // a row still under its old key
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        done += rekeyed;
    }
    if done > 0 {
        tracing::info!(assets = done, "re-keyed the previous release's assets with the default recipe");
    }
    Ok(done)
}

/// The re-keyed row's prompt and key: its prompt's under `recipe`, or (an
/// extension) over its parent's new key. `None` for a row that can't be
/// re-keyed (an empty prompt, a parent gone or not re-keyed).
async fn new_key<C: ConnectionTrait>(txn: &C, row: &Asset, recipe: &Recipe) -> Result<Option<(Prompt, PromptKey)>, DbErr> {
    let Ok(prompt) = Prompt::parse(&row.prompt, usize::MAX) else { return Ok(None) };
    let key = match row.parent_id {
        None => PromptKey::of(&prompt, recipe),
        Some(parent) => match video_assets::Entity::find_by_id(parent).one(txn).await? {
            Some(parent) if parent.key_version >= KEY_VERSION => PromptKey::extension(&parent.prompt_key, &prompt),
            _ => return Ok(None),
        },
    };
    Ok(Some((prompt, key)))
}

/// Whether an extension of one of `parents` is pending, being generated or
/// waiting for an approval (it may be reading its parent's video).
pub async fn extension_in_progress(db: &DatabaseConnection, parents: &[AssetId]) -> Result<bool, DbErr> {
    if parents.is_empty() {
        return Ok(false);
    }
    Ok(extension_in_progress_query(parents).count(db).await? > 0)
}

pub(crate) fn extension_in_progress_query(parents: &[AssetId]) -> Select<video_assets::Entity> {
    video_assets::Entity::find()
        .filter(video_assets::Column::ParentId.is_in(parents.iter().copied()))
        .filter(video_assets::Column::Status.is_in([AssetStatus::Pending, AssetStatus::Generating, AssetStatus::Awaiting]))
}

/// Counts of assets by status, for /stats and benchmarks.
pub async fn count_by_status(db: &DatabaseConnection, status: AssetStatus) -> Result<u64, DbErr> {
    video_assets::Entity::find().filter(video_assets::Column::Status.eq(status)).count(db).await
}

/// The most recently finished videos, for warming the cache: only the three
/// columns the cache holds (prompts and errors of 10,000 rows would be read,
/// sorted and dropped for nothing).
pub async fn recent_available(db: &DatabaseConnection, limit: u64) -> Result<Vec<(AssetId, PromptKey, FileId)>, DbErr> {
    recent_available_query(limit).into_tuple().all(db).await
}

/// By the index on (status, updated_at, id): reads the `limit` rows it
/// returns, not every available asset to sort them.
pub(crate) fn recent_available_query(limit: u64) -> Select<video_assets::Entity> {
    video_assets::Entity::find()
        .select_only()
        .column(video_assets::Column::Id)
        .column(video_assets::Column::PromptKey)
        .column(video_assets::Column::FileId)
        .filter(video_assets::Column::Status.eq(AssetStatus::Available))
        .filter(video_assets::Column::FileId.is_not_null())
        .order_by_desc(video_assets::Column::UpdatedAt)
        .order_by_desc(video_assets::Column::Id)
        .limit(limit)
}

/// Keys of assets that stopped being available since `since` (cleared or
/// being regenerated): other replicas drop them from their caches.
pub async fn unavailable_since(db: &DatabaseConnection, since: DateTime<Utc>) -> Result<Vec<PromptKey>, DbErr> {
    unavailable_since_query(since).into_tuple().all(db).await
}

/// Asked every 500 ms by every replica: by the index on `updated_at`, it
/// reads the rows changed since, not every asset.
pub(crate) fn unavailable_since_query(since: DateTime<Utc>) -> Select<video_assets::Entity> {
    video_assets::Entity::find()
        .select_only()
        .column(video_assets::Column::PromptKey)
        .filter(video_assets::Column::UpdatedAt.gte(since))
        .filter(video_assets::Column::Status.ne(AssetStatus::Available))
}

/// Generation attempts ever started, over all assets: summed by the
/// database (one pass, nothing sent back but the sum).
pub async fn total_attempts(db: &DatabaseConnection) -> Result<u64, DbErr> {
    let sum: Option<Option<i64>> = video_assets::Entity::find()
        .select_only()
        .column_as(Expr::from(Func::sum(Expr::col(video_assets::Column::Attempts))), "total")
        .into_tuple()
        .one(db)
        .await?;
    Ok(sum.flatten().map_or(0, |total| u64::try_from(total).unwrap_or_default()))
}
