//! Queries on `video_assets`: finding an asset (by key, id, prompt, file),
//! its `file_id` replaced or forgotten, what the cache and the console
//! read, and the previous release's rows re-keyed. A generation's moves
//! are [`super::generations`]; a /clear is [`super::clear`].

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Select,
};

use super::entities::video_assets;
use super::retry::serializable;
use crate::domain::{AssetId, AssetStatus, Choices, FileId, GeneratorKind, KEY_VERSION, Prompt, PromptKey, Recipe};

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

/// Replaces an available asset's `file_id` that Telegram refused (`stale`)
/// with the one a new upload of the same file got: the row now. `None` when the asset
/// changed meanwhile (renewed by another sender, cleared).
pub async fn replace_file_id(
    db: &DatabaseConnection,
    asset: AssetId,
    stale: &FileId,
    file_id: &FileId,
    file_unique_id: &str,
) -> Result<Option<Asset>, DbErr> {
    let updated = video_assets::Entity::update_many()
        .col_expr(video_assets::Column::FileId, Expr::value(file_id.clone()))
        .col_expr(video_assets::Column::FileUniqueId, Expr::value(file_unique_id))
        .col_expr(video_assets::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(video_assets::Column::Id.eq(asset))
        .filter(video_assets::Column::Status.eq(AssetStatus::Available))
        .filter(video_assets::Column::FileId.eq(stale.clone()))
        .exec_with_returning(db)
        .await?;
    Ok(updated.into_iter().next())
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
