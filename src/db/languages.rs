//! Which language a person reads, for texts the bot sends them on its own
//! (not as the answer to a request of theirs, which carries its language).

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use super::entities::{user_languages, user_requests};
use crate::domain::{AssetId, Lang, UserId};

/// Records `user`'s language (from their last message or press).
#[tracing::instrument(skip(db))]
pub async fn remember<C: ConnectionTrait>(db: &C, user: UserId, lang: Lang) -> Result<(), DbErr> {
    let row = user_languages::ActiveModel { user_id: Set(user), language: Set(lang), updated_at: Set(Utc::now()) };
    user_languages::Entity::insert(row)
        .on_conflict(
            OnConflict::column(user_languages::Column::UserId)
                .update_columns([user_languages::Column::Language, user_languages::Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// `user`'s language as last seen: recorded from a message or press, else
/// the language of their latest request; `None` when the bot never heard
/// from them.
#[tracing::instrument(skip(db))]
pub async fn of<C: ConnectionTrait>(db: &C, user: UserId) -> Result<Option<Lang>, DbErr> {
    if let Some(row) = user_languages::Entity::find_by_id(user).one(db).await? {
        return Ok(Some(row.language));
    }
    let latest = user_requests::Entity::find()
        .filter(user_requests::Column::TelegramUserId.eq(user))
        .order_by_desc(user_requests::Column::Id)
        .one(db)
        .await?;
    Ok(latest.map(|r| r.language))
}

/// `user`'s latest request for `asset`: its language and the prompt as
/// they typed it.
#[tracing::instrument(skip(db))]
pub async fn request_for<C: ConnectionTrait>(
    db: &C,
    user: UserId,
    asset: AssetId,
) -> Result<Option<user_requests::Model>, DbErr> {
    user_requests::Entity::find()
        .filter(user_requests::Column::TelegramUserId.eq(user))
        .filter(user_requests::Column::AssetId.eq(asset))
        .order_by_desc(user_requests::Column::Id)
        .one(db)
        .await
}
