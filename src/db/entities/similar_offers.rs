use sea_orm::entity::prelude::*;

use crate::domain::{AssetId, ChatId, Lang, MessageId, UserId};

/// A prompt waiting for its user's choice: the similar video `asset_id`
/// (▶️) or the user's own wording `raw_text` (✨). Answered once.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "similar_offers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: UserId,
    pub chat_id: ChatId,
    /// The message that asked (the request is recorded under it).
    pub message_id: MessageId,
    pub raw_text: String,
    pub language: Lang,
    pub asset_id: AssetId,
    pub created_at: DateTimeUtc,
    pub answered_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
