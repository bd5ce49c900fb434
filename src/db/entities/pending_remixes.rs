use sea_orm::entity::prelude::*;

use crate::domain::{ChatId, ImageDigest, UserId};

/// A user sent a photo without a caption and the bot waits for what should
/// happen in it — their next text message in that chat.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pending_remixes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub chat_id: ChatId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: UserId,
    /// The photo to animate (its bytes are known by this digest).
    pub digest: ImageDigest,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
