//! An operator's /clear: an asset's video dropped with every extension
//! made of it, its waiters failed as cleared (their holds released), and
//! the action recorded — in one serializable transaction.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::asset_moves;
use super::assets::{Asset, find_by_key};
use super::entities::{operator_actions, user_requests, video_assets};
use super::retry::serializable;
use crate::domain::{Actor, AssetId, AssetMove, AssetStatus, Failure, HoldState, PromptKey, RequestId, RequestStatus};

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
                asset_moves::apply(txn, id, &AssetMove::Clear, Condition::all(), now).await?;
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
