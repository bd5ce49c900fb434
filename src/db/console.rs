//! Read-only queries of the operator console: assets by prompt text and
//! state, an asset's requests, provider calls and operator actions, the
//! waiting requests. Lists are bounded; the newest come first.

use sea_orm::ExprTrait;
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select};

use super::assets::Asset;
use super::entities::{operator_actions, provider_calls, user_requests, video_assets};
use super::requests::Request;
use crate::domain::{AssetId, AssetStatus, RequestStatus};

pub type ProviderCall = provider_calls::Model;
pub type OperatorAction = operator_actions::Model;

/// `%text%` for LIKE, with LIKE's own wildcards in `text` taken literally.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Assets whose normalized prompt contains `text` (already normalized the
/// same way: case-folded, so the match ignores case) or whose prompt as
/// typed contains `typed` (as the operator typed it, trimmed) and, if
/// given, in `state`; most recently changed first.
#[tracing::instrument(skip(db))]
pub async fn search_assets(
    db: &DatabaseConnection,
    text: Option<&str>,
    typed: Option<&str>,
    state: Option<AssetStatus>,
    limit: u64,
) -> Result<Vec<Asset>, DbErr> {
    search_assets_query(text, typed, state, limit).all(db).await
}

/// [`search_assets`]'s query. Without text it reads only the rows it shows
/// (by the index on (status, updated_at, id), or on (updated_at, id) for
/// any state); with text it walks the newest first until `limit` match.
pub(crate) fn search_assets_query(
    text: Option<&str>,
    typed: Option<&str>,
    state: Option<AssetStatus>,
    limit: u64,
) -> Select<video_assets::Entity> {
    let mut query = video_assets::Entity::find();
    let like = |column: video_assets::Column, text: &str| {
        Expr::col(column).like(sea_orm::sea_query::LikeExpr::new(contains_pattern(text)).escape('\\'))
    };
    let mut any = Condition::any();
    if let Some(text) = text.filter(|t| !t.is_empty()) {
        any = any.add(like(video_assets::Column::Prompt, text));
    }
    if let Some(typed) = typed.filter(|t| !t.is_empty()) {
        any = any.add(like(video_assets::Column::TypedPrompt, typed));
    }
    if !any.is_empty() {
        query = query.filter(any);
    }
    if let Some(state) = state {
        query = query.filter(video_assets::Column::Status.eq(state));
    }
    query.order_by_desc(video_assets::Column::UpdatedAt).order_by_desc(video_assets::Column::Id).limit(limit)
}

/// Requests for one asset, newest first.
#[tracing::instrument(skip(db))]
pub async fn requests_for_asset(db: &DatabaseConnection, asset_id: AssetId, limit: u64) -> Result<Vec<Request>, DbErr> {
    user_requests::Entity::find()
        .filter(user_requests::Column::AssetId.eq(asset_id))
        .order_by_desc(user_requests::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Requests still waiting for their video, oldest first, with their asset.
#[tracing::instrument(skip(db))]
pub async fn waiting_requests(db: &DatabaseConnection, limit: u64) -> Result<Vec<(Request, Option<Asset>)>, DbErr> {
    user_requests::Entity::find()
        .filter(user_requests::Column::Status.eq(RequestStatus::Pending))
        .order_by_asc(user_requests::Column::Id)
        .limit(limit)
        .find_also_related(video_assets::Entity)
        .all(db)
        .await
}

/// Provider calls made for one asset, newest first.
#[tracing::instrument(skip(db))]
pub async fn calls_for_asset(db: &DatabaseConnection, asset_id: AssetId, limit: u64) -> Result<Vec<ProviderCall>, DbErr> {
    provider_calls::Entity::find()
        .filter(provider_calls::Column::AssetId.eq(asset_id))
        .order_by_desc(provider_calls::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// What operators did to one asset, newest first.
#[tracing::instrument(skip(db))]
pub async fn actions_for_asset(db: &DatabaseConnection, asset_id: AssetId) -> Result<Vec<OperatorAction>, DbErr> {
    operator_actions::Entity::find()
        .filter(operator_actions::Column::AssetId.eq(asset_id))
        .order_by_desc(operator_actions::Column::Id)
        .limit(100)
        .all(db)
        .await
}

/// How many requests each of `assets` has.
#[tracing::instrument(skip(db, assets))]
pub async fn request_counts(db: &DatabaseConnection, assets: &[AssetId]) -> Result<Vec<(AssetId, i64)>, DbErr> {
    if assets.is_empty() {
        return Ok(Vec::new());
    }
    user_requests::Entity::find()
        .select_only()
        .column(user_requests::Column::AssetId)
        .column_as(Expr::from(Func::count(Expr::col(user_requests::Column::Id))), "n")
        .filter(user_requests::Column::AssetId.is_in(assets.iter().copied()))
        .group_by(user_requests::Column::AssetId)
        .into_tuple()
        .all(db)
        .await
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn like_wildcards_in_the_search_are_literal() {
        assert_eq!(contains_pattern("zoë"), "%zoë%");
        assert_eq!(contains_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
