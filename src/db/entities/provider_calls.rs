use sea_orm::entity::prelude::*;

use crate::domain::AssetId;

/// One billable call to an AI provider, for the costs in /status and /stats.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "provider_calls")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `None` for calls made for no asset (transcribing a voice message).
    pub asset_id: Option<AssetId>,
    /// "openai", "runway", "vertex".
    pub provider: String,
    /// "chat", "speech", "transcription", "text_to_image", "image_to_video", "veo".
    pub operation: String,
    /// Wall-clock time of the call; for a task, from submission to its result.
    pub seconds: f64,
    /// The configured price of the call in millionths of a dollar (0 when it failed).
    pub cost_micros: i64,
    pub ok: bool,
    pub created_at: DateTimeUtc,
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
