//! Queries on `pending_extensions`: a user pressed "➕ Extend" and the bot
//! waits for their continuation (their next text message in that chat).

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

use super::entities::pending_extensions;
use crate::domain::{AssetId, ChatId, UserId};

/// Waits for `user`'s continuation of `parent` in `chat`, replacing an
/// older wait of theirs there.
pub async fn await_continuation(db: &DatabaseConnection, chat: ChatId, user: UserId, parent: AssetId) -> Result<(), DbErr> {
    let row = pending_extensions::ActiveModel {
        chat_id: Set(chat),
        user_id: Set(user),
        parent_id: Set(parent),
        created_at: Set(Utc::now()),
    };
    pending_extensions::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([pending_extensions::Column::ChatId, pending_extensions::Column::UserId])
                .update_columns([pending_extensions::Column::ParentId, pending_extensions::Column::CreatedAt])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The video `user` is about to continue in `chat`, and since when the
/// bot waits for it.
pub async fn awaited(
    db: &DatabaseConnection,
    chat: ChatId,
    user: UserId,
) -> Result<Option<(AssetId, chrono::DateTime<Utc>)>, DbErr> {
    Ok(pending_extensions::Entity::find_by_id((chat, user)).one(db).await?.map(|row| (row.parent_id, row.created_at)))
}

/// The continuation of `parent` arrived (or was refused): stop waiting. A
/// newer press (another parent) is left alone.
pub async fn done(db: &DatabaseConnection, chat: ChatId, user: UserId, parent: AssetId) -> Result<(), DbErr> {
    pending_extensions::Entity::delete_many()
        .filter(pending_extensions::Column::ChatId.eq(chat))
        .filter(pending_extensions::Column::UserId.eq(user))
        .filter(pending_extensions::Column::ParentId.eq(parent))
        .exec(db)
        .await?;
    Ok(())
}

/// `/cancel`: stops waiting for `user`'s continuation in `chat`. True when
/// the bot was waiting for one.
pub async fn cancel(db: &DatabaseConnection, chat: ChatId, user: UserId) -> Result<bool, DbErr> {
    let deleted = pending_extensions::Entity::delete_many()
        .filter(pending_extensions::Column::ChatId.eq(chat))
        .filter(pending_extensions::Column::UserId.eq(user))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected > 0)
}
