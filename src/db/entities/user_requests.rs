use sea_orm::entity::prelude::*;

use crate::domain::{AssetId, ChatId, Failure, HoldState, Lang, MessageId, RequestId, RequestStatus, ThreadId, UserId};

/// One row per user message that asked for a video.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_requests")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: RequestId,
    pub telegram_user_id: UserId,
    pub chat_id: ChatId,
    pub message_id: MessageId,
    pub raw_text: String,
    pub asset_id: AssetId,
    pub status: RequestStatus,
    pub error: Option<Failure>,
    /// A sender holds this request until then; a crashed sender's claim expires.
    pub claimed_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// When the video reached the user.
    pub delivered_at: Option<DateTimeUtc>,
    /// When the user was told that the request failed.
    pub notified_at: Option<DateTimeUtc>,
    /// The "being made" note sent for it, edited as the generation progresses.
    pub progress_message_id: Option<MessageId>,
    /// Delivered by a paid broadcast send (`allow_paid_broadcast`).
    pub paid_broadcast: bool,
    /// Credits held for this request (0 when credits are off).
    pub price: i64,
    /// Where the held price is: held, captured (delivered) or released (failed).
    pub hold: Option<HoldState>,
    /// It started or joined a generation: it counts against the user's
    /// rate limit and waiting requests (a cache hit does not).
    pub limited: bool,
    /// The language of the user who asked: texts sent later use it.
    pub language: Lang,
    /// The forum topic it was asked in: every answer goes there. `None`
    /// in private chats, groups without topics and a forum's General topic.
    #[sea_orm(column_name = "message_thread_id")]
    pub thread_id: Option<ThreadId>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::video_assets::Entity",
        from = "Column::AssetId",
        to = "super::video_assets::Column::Id",
        on_delete = "Cascade"
    )]
    VideoAsset,
}

impl Related<super::video_assets::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::VideoAsset.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
