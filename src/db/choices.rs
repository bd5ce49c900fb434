//! Users' choices (`/settings`): read for every new request, written by a
//! press on the settings screen. In the database, so they survive restarts
//! and every replica reads the same.

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};

use super::entities::user_choices;
use crate::domain::{Choice, Choices, UserId};

/// `user`'s choices; `defaults` when they never changed one.
#[tracing::instrument(skip(db))]
pub async fn of<C: ConnectionTrait>(db: &C, user: UserId, defaults: Choices) -> Result<Choices, DbErr> {
    Ok(user_choices::Entity::find_by_id(user).one(db).await?.map_or(defaults, |row| row.choices()))
}

/// Stores `choices` as `user`'s.
#[tracing::instrument(skip(db))]
pub async fn set<C: ConnectionTrait>(db: &C, user: UserId, choices: Choices) -> Result<(), DbErr> {
    let row = user_choices::ActiveModel {
        user_id: Set(user),
        quality: Set(choices.quality),
        format: Set(choices.format),
        length: Set(choices.length),
        updated_at: Set(Utc::now()),
    };
    user_choices::Entity::insert(row)
        .on_conflict(
            OnConflict::column(user_choices::Column::UserId)
                .update_columns([
                    user_choices::Column::Quality,
                    user_choices::Column::Format,
                    user_choices::Column::Length,
                    user_choices::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Applies one `choice` to `user`'s choices and returns them. A press
/// changes one field: two presses racing on different fields keep both
/// only when serialized, so this reads and writes in one transaction.
#[tracing::instrument(skip(db))]
pub async fn choose(db: &sea_orm::DatabaseConnection, user: UserId, choice: Choice, defaults: Choices) -> Result<Choices, DbErr> {
    super::serializable(db, move |txn| {
        Box::pin(async move {
            let choices = of(txn, user, defaults).await?.with(choice);
            set(txn, user, choices).await?;
            Ok(choices)
        })
    })
    .await
}
