use sea_orm::entity::prelude::*;

use crate::domain::{AssetId, ChatId, UserId};

/// A user pressed "➕ Extend" and the bot waits for their continuation.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pending_extensions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub chat_id: ChatId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: UserId,
    /// The asset whose video is to be continued.
    pub parent_id: AssetId,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
