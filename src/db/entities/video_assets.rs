use sea_orm::entity::prelude::*;

use crate::domain::{AssetId, AssetStatus, Failure, FileId, Generation, PromptKey, Stage};

/// One row per distinct normalized prompt.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "video_assets")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: AssetId,
    /// Hex SHA-256 of the normalized prompt.
    #[sea_orm(unique)]
    pub prompt_key: PromptKey,
    /// The normalized prompt (the text behind `prompt_key`).
    pub prompt: String,
    pub status: AssetStatus,
    /// Bumped every time the asset moves into `pending`.
    pub generation: i64,
    /// The highest generation a job was pushed for (the outbox marker).
    pub dispatched_generation: i64,
    /// When the current generation's job was last pushed.
    pub dispatched_at: Option<DateTimeUtc>,
    pub file_id: Option<FileId>,
    pub file_unique_id: Option<String>,
    pub file_path: Option<String>,
    pub last_error: Option<Failure>,
    pub attempts: i32,
    pub stage: Option<Stage>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The asset whose video this one extends (None: a prompt's own video).
    pub parent_id: Option<AssetId>,
    /// 0 for a prompt's own video; the parent's depth + 1 for an extension.
    pub extension_depth: i32,
    /// The prompt (an extension: the continuation) as the request that
    /// started its generation typed it, trimmed; `prompt` is the
    /// normalized text behind the key.
    pub typed_prompt: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::user_requests::Entity")]
    UserRequests,
}

impl Related<super::user_requests::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::UserRequests.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The text as typed: drawn in the video, given to the providers, and
    /// quoted where no requester's own text is at hand (the normalized
    /// text for a row older than the column).
    pub fn typed(&self) -> &str {
        self.typed_prompt.as_deref().filter(|t| !t.trim().is_empty()).unwrap_or(&self.prompt)
    }

    /// The generation this row is on now.
    pub fn current_generation(&self) -> Generation {
        Generation { asset: self.id, number: self.generation }
    }
}
