//! Queries on `refusals`: what is known of an asset key's safety. A
//! refusal is remembered in the transaction that fails its asset, read by
//! the recording transaction (the next request is answered from it), and
//! lifted by `/allow` (verdict `allowed`) or `/clear` (the row goes).

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, ExprTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::assets::Asset;
use super::entities::{operator_actions, provider_calls, refusals, video_assets};
use super::retry::serializable;
use crate::domain::{Actor, AssetId, Failure, Prompt, RefusalReason, RefusalSource, Verdict};

pub type Refusal = refusals::Model;

/// The rows of `assets`, by asset.
pub(crate) async fn for_assets<C: ConnectionTrait>(db: &C, assets: &[AssetId]) -> Result<HashMap<AssetId, Refusal>, DbErr> {
    if assets.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(refusals::Entity::find()
        .filter(refusals::Column::AssetId.is_in(assets.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|row| (row.asset_id, row))
        .collect())
}

/// The row of one asset.
pub async fn of_asset<C: ConnectionTrait>(db: &C, asset: AssetId) -> Result<Option<Refusal>, DbErr> {
    refusals::Entity::find().filter(refusals::Column::AssetId.eq(asset)).one(db).await
}

fn row(asset: AssetId, verdict: Verdict, reason: Option<&RefusalReason>, calls: i64) -> refusals::ActiveModel {
    let now = Utc::now();
    refusals::ActiveModel {
        id: NotSet,
        asset_id: Set(asset),
        verdict: Set(verdict),
        source: Set(reason.map(|r| r.source)),
        reason: Set(reason.map(ToString::to_string)),
        answered: Set(0),
        calls_spent: Set(calls),
        decided_by: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// Remembers `reason` as the asset's refusal (in the transaction that
/// fails it), with the provider calls the asset's refused generation made.
/// A row already there (passed, allowed, an older refusal) becomes this
/// refusal; the requests it answered stay counted.
pub(crate) async fn remember_in<C: ConnectionTrait>(txn: &C, asset: AssetId, reason: &RefusalReason) -> Result<(), DbErr> {
    let calls = provider_calls::Entity::find()
        .filter(provider_calls::Column::AssetId.eq(asset))
        .filter(provider_calls::Column::Ok.eq(true))
        .count(txn)
        .await?;
    let calls = i64::try_from(calls).unwrap_or(i64::MAX);
    refusals::Entity::insert(row(asset, Verdict::Refused, Some(reason), calls))
        .on_conflict(
            OnConflict::column(refusals::Column::AssetId)
                .update_columns([
                    refusals::Column::Verdict,
                    refusals::Column::Source,
                    refusals::Column::Reason,
                    refusals::Column::CallsSpent,
                    refusals::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// Moderation passed the asset's key: it is not asked again for it.
pub async fn record_passed(db: &DatabaseConnection, asset: AssetId) -> Result<(), DbErr> {
    refusals::Entity::insert(row(asset, Verdict::Passed, None, 0))
        .on_conflict(OnConflict::column(refusals::Column::AssetId).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Counts requests answered from memory (in the recording transaction).
pub(crate) async fn count_answered_in<C: ConnectionTrait>(txn: &C, answered: &HashMap<AssetId, i64>) -> Result<(), DbErr> {
    for (asset, n) in answered {
        refusals::Entity::update_many()
            .col_expr(refusals::Column::Answered, Expr::col(refusals::Column::Answered).add(*n))
            .filter(refusals::Column::AssetId.eq(*asset))
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// Forgets the refusals of `assets` (an operator's `/clear`).
pub(crate) async fn forget_in<C: ConnectionTrait>(txn: &C, assets: &[AssetId]) -> Result<u64, DbErr> {
    if assets.is_empty() {
        return Ok(0);
    }
    let gone = refusals::Entity::delete_many()
        .filter(refusals::Column::AssetId.is_in(assets.iter().copied()))
        .filter(refusals::Column::Verdict.eq(Verdict::Refused))
        .exec(txn)
        .await?;
    Ok(gone.rows_affected)
}

/// `/allow <prompt>`: lifts the refusal of every recipe of `prompt` (as
/// `/clear` finds them); the next request generates, without moderation
/// or the blocked words. Recorded in `operator_actions` as `allow`.
/// Returns how many refusals were lifted.
pub async fn allow(db: &DatabaseConnection, prompt: &Prompt, by: &Actor) -> Result<u64, DbErr> {
    let prompt = prompt.clone();
    let by = by.to_string();
    serializable(db, move |txn| {
        let prompt = prompt.clone();
        let by = by.clone();
        Box::pin(async move {
            let assets: Vec<AssetId> = super::assets::of_prompt(txn, &prompt).await?.into_iter().map(|a| a.id).collect();
            let refused: Vec<AssetId> = for_assets(txn, &assets)
                .await?
                .into_values()
                .filter(|row| row.verdict == Verdict::Refused)
                .map(|row| row.asset_id)
                .collect();
            if refused.is_empty() {
                return Ok(0);
            }
            let now = Utc::now();
            refusals::Entity::update_many()
                .col_expr(refusals::Column::Verdict, Expr::value(Verdict::Allowed))
                .col_expr(refusals::Column::DecidedBy, Expr::value(by.clone()))
                .col_expr(refusals::Column::UpdatedAt, Expr::value(now))
                .filter(refusals::Column::AssetId.is_in(refused.iter().copied()))
                .exec(txn)
                .await?;
            let actions: Vec<operator_actions::ActiveModel> = refused
                .iter()
                .map(|asset| operator_actions::ActiveModel {
                    asset_id: Set(*asset),
                    action: Set("allow".to_owned()),
                    operator: Set(by.clone()),
                    created_at: Set(now),
                    ..Default::default()
                })
                .collect();
            operator_actions::Entity::insert_many(actions).exec_without_returning(txn).await?;
            Ok(refused.len() as u64)
        })
    })
    .await
}

/// What refusals did, for `/stats` and the console.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefusalTotals {
    /// Keys refused now, by who refused.
    pub by_source: Vec<(RefusalSource, u64)>,
    /// Requests answered from memory (no moderation, no provider call, no charge).
    pub answered: u64,
    /// Provider calls those answers did not make again.
    pub calls_saved: u64,
    /// Refusals an operator lifted.
    pub allowed: u64,
}

pub async fn totals(db: &DatabaseConnection) -> Result<RefusalTotals, DbErr> {
    let rows: Vec<(Verdict, Option<RefusalSource>, i64, i64)> = refusals::Entity::find()
        .select_only()
        .column(refusals::Column::Verdict)
        .column(refusals::Column::Source)
        .column(refusals::Column::Answered)
        .column(refusals::Column::CallsSpent)
        .filter(refusals::Column::Verdict.ne(Verdict::Passed))
        .into_tuple()
        .all(db)
        .await?;
    let mut totals =
        RefusalTotals { by_source: RefusalSource::ALL.iter().map(|s| (*s, 0)).collect(), ..RefusalTotals::default() };
    for (verdict, source, answered, calls) in rows {
        let answered = u64::try_from(answered).unwrap_or_default();
        totals.answered += answered;
        totals.calls_saved += answered * u64::try_from(calls).unwrap_or_default();
        match (verdict, source) {
            (Verdict::Allowed, _) => totals.allowed += 1,
            (Verdict::Refused, Some(source)) => {
                if let Some(line) = totals.by_source.iter_mut().find(|(s, _)| *s == source) {
                    line.1 += 1;
                }
            }
            _ => {}
        }
    }
    Ok(totals)
}

/// Refused assets, newest refusal first, for the console.
pub async fn refused_assets(db: &DatabaseConnection, limit: u64) -> Result<Vec<(Refusal, Asset)>, DbErr> {
    let rows = refusals::Entity::find()
        .filter(refusals::Column::Verdict.eq(Verdict::Refused))
        .order_by_desc(refusals::Column::UpdatedAt)
        .limit(limit)
        .find_also_related(video_assets::Entity)
        .all(db)
        .await?;
    Ok(rows.into_iter().filter_map(|(row, asset)| asset.map(|a| (row, a))).collect())
}

/// The failure a request answered from memory ends with.
pub(crate) fn failure_of(row: &Refusal) -> Option<Failure> {
    row.refusal().map(Failure::Refused)
}

/// Whether `asset` may be refused by the blocked words or moderation: not
/// when an operator allowed it.
pub(crate) fn screened(row: Option<&Refusal>) -> bool {
    row.is_none_or(|row| row.verdict != Verdict::Allowed)
}
