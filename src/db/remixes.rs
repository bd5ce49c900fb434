//! Queries on `photos` (a photo's `file_unique_id` → the digest of its
//! bytes) and `pending_remixes` (a photo sent without a caption waits for
//! its words).

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};

use super::entities::{pending_remixes, photos};
use crate::domain::{ChatId, ImageDigest, UserId};

pub type Photo = photos::Model;

/// The photo Telegram knows as `file_unique_id`, if it was downloaded before.
#[tracing::instrument(skip(db))]
pub async fn by_unique_id(db: &DatabaseConnection, file_unique_id: &str) -> Result<Option<Photo>, DbErr> {
    photos::Entity::find_by_id(file_unique_id.to_owned()).one(db).await
}

/// A photo with these bytes (any of the uploads that carried them), to
/// download it again by its `file_id`; newest first.
#[tracing::instrument(skip(db))]
pub async fn by_digest(db: &DatabaseConnection, digest: &ImageDigest) -> Result<Vec<Photo>, DbErr> {
    photos::Entity::find()
        .filter(photos::Column::Digest.eq(digest.clone()))
        .order_by_desc(photos::Column::CreatedAt)
        .all(db)
        .await
}

/// Records a downloaded photo (a repeat of a known `file_unique_id` keeps
/// the first row: the bytes are the same).
#[tracing::instrument(skip(db))]
pub async fn remember(
    db: &DatabaseConnection,
    file_unique_id: &str,
    file_id: &str,
    digest: &ImageDigest,
    mime: &str,
    size: i64,
) -> Result<(), DbErr> {
    let row = photos::ActiveModel {
        file_unique_id: Set(file_unique_id.to_owned()),
        digest: Set(digest.clone()),
        file_id: Set(file_id.to_owned()),
        mime: Set(mime.to_owned()),
        size: Set(size),
        created_at: Set(Utc::now()),
    };
    photos::Entity::insert(row)
        .on_conflict(OnConflict::column(photos::Column::FileUniqueId).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Waits for the words of `user`'s photo `digest` in `chat`, replacing an
/// older wait of theirs there.
#[tracing::instrument(skip(db))]
pub async fn await_caption(db: &DatabaseConnection, chat: ChatId, user: UserId, digest: &ImageDigest) -> Result<(), DbErr> {
    let row = pending_remixes::ActiveModel {
        chat_id: Set(chat),
        user_id: Set(user),
        digest: Set(digest.clone()),
        created_at: Set(Utc::now()),
    };
    pending_remixes::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([pending_remixes::Column::ChatId, pending_remixes::Column::UserId])
                .update_columns([pending_remixes::Column::Digest, pending_remixes::Column::CreatedAt])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The photo whose words the bot waits for from `user` in `chat`.
#[tracing::instrument(skip(db))]
pub async fn awaited(db: &DatabaseConnection, chat: ChatId, user: UserId) -> Result<Option<ImageDigest>, DbErr> {
    Ok(pending_remixes::Entity::find_by_id((chat, user)).one(db).await?.map(|row| row.digest))
}

/// The words for `digest` arrived: stop waiting (a newer photo is left alone).
#[tracing::instrument(skip(db))]
pub async fn done(db: &DatabaseConnection, chat: ChatId, user: UserId, digest: &ImageDigest) -> Result<(), DbErr> {
    pending_remixes::Entity::delete_many()
        .filter(pending_remixes::Column::ChatId.eq(chat))
        .filter(pending_remixes::Column::UserId.eq(user))
        .filter(pending_remixes::Column::Digest.eq(digest.clone()))
        .exec(db)
        .await?;
    Ok(())
}

/// `/cancel` (or a ➕ press): stop waiting for words; true if the bot was.
#[tracing::instrument(skip(db))]
pub async fn cancel(db: &DatabaseConnection, chat: ChatId, user: UserId) -> Result<bool, DbErr> {
    let deleted = pending_remixes::Entity::delete_many()
        .filter(pending_remixes::Column::ChatId.eq(chat))
        .filter(pending_remixes::Column::UserId.eq(user))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected > 0)
}
