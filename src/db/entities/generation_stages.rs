use sea_orm::entity::prelude::*;

use crate::domain::AssetId;

/// One step of a staged generation. Unique per (asset, generation, kind,
/// segment); `segment` is -1 for the steps of the whole asset.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "generation_stages")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub asset_id: AssetId,
    pub generation: i64,
    pub kind: StageKind,
    pub segment: i32,
    /// What the step was given (a prompt, a script excerpt).
    pub input: Option<String>,
    pub provider: Option<String>,
    /// Written right after the provider accepted a task and before polling
    /// it, so that a re-run polls the same task instead of paying again.
    pub provider_task_id: Option<String>,
    /// When that task was submitted: its time limit counts from here.
    pub submitted_at: Option<DateTimeUtc>,
    /// A file path for images, clips, voice and the video; the text for
    /// the script and prompts.
    pub output: Option<String>,
    pub status: StageStatus,
    pub error: Option<String>,
    /// The bytes of a finished step no provider can hand out again (the
    /// voice-over), so a takeover on another machine writes its file back
    /// instead of paying again; emptied when the intermediates are swept.
    pub payload: Option<Vec<u8>>,
    /// How many times the step was started.
    pub attempts: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// Which step a row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
pub enum StageKind {
    #[sea_orm(string_value = "script")]
    Script,
    #[sea_orm(string_value = "image_prompt")]
    ImagePrompt,
    #[sea_orm(string_value = "image")]
    Image,
    #[sea_orm(string_value = "animation_prompt")]
    AnimationPrompt,
    #[sea_orm(string_value = "clip")]
    Clip,
    #[sea_orm(string_value = "voice")]
    Voice,
    #[sea_orm(string_value = "assemble")]
    Assemble,
}

/// pending → running → done | failed (a failed step runs again on the next attempt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum StageStatus {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "running")]
    Running,
    #[sea_orm(string_value = "done")]
    Done,
    #[sea_orm(string_value = "failed")]
    Failed,
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
