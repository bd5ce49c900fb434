//! Queries on `update_inbox`: updates fetched by long polling, kept until
//! handled so that confirming them to Telegram never loses one.

use std::collections::HashSet;

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::entities::update_inbox;

/// Keeps `updates` (id, JSON) and returns the ids that were not kept
/// already (the others are handled, or being handled, from an earlier keep).
#[tracing::instrument(skip_all, fields(updates = updates.len()))]
pub async fn keep(db: &DatabaseConnection, updates: &[(i64, String)]) -> Result<HashSet<i64>, DbErr> {
    if updates.is_empty() {
        return Ok(HashSet::new());
    }
    let ids: Vec<i64> = updates.iter().map(|(id, _)| *id).collect();
    let known: HashSet<i64> = update_inbox::Entity::find()
        .select_only()
        .column(update_inbox::Column::UpdateId)
        .filter(update_inbox::Column::UpdateId.is_in(ids))
        .into_tuple()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let now = Utc::now();
    let rows: Vec<update_inbox::ActiveModel> = updates
        .iter()
        .filter(|(id, _)| !known.contains(id))
        .map(|(id, body)| update_inbox::ActiveModel { update_id: Set(*id), body: Set(body.clone()), received_at: Set(now) })
        .collect();
    let new: HashSet<i64> = rows.iter().filter_map(|r| r.update_id.clone().take()).collect();
    if !rows.is_empty() {
        update_inbox::Entity::insert_many(rows)
            .on_conflict(sea_orm::sea_query::OnConflict::column(update_inbox::Column::UpdateId).do_nothing().to_owned())
            .exec_without_returning(db)
            .await?;
    }
    Ok(new)
}

/// The update `id` was handled.
#[tracing::instrument(skip(db))]
pub async fn done(db: &DatabaseConnection, id: i64) -> Result<(), DbErr> {
    update_inbox::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

/// Updates kept but never handled (the process stopped first), oldest first.
#[tracing::instrument(skip(db))]
pub async fn left(db: &DatabaseConnection) -> Result<Vec<(i64, String)>, DbErr> {
    Ok(update_inbox::Entity::find()
        .order_by_asc(update_inbox::Column::UpdateId)
        .all(db)
        .await?
        .into_iter()
        .map(|row| (row.update_id, row.body))
        .collect())
}
