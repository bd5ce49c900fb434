use sea_orm::entity::prelude::*;

use crate::domain::{AssetId, RefusalReason, RefusalSource, Verdict};

/// What is known of an asset key's safety (see migration 21): refused,
/// allowed by an operator, or passed by moderation.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refusals")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub asset_id: AssetId,
    pub verdict: Verdict,
    /// Who refused (a refusal, or an allowed one: who had refused it).
    pub source: Option<RefusalSource>,
    /// The stored [`RefusalReason`] of a refusal.
    pub reason: Option<String>,
    /// Requests answered from memory with this refusal.
    pub answered: i64,
    /// Provider calls the refused generation made: what each answer from memory saved.
    pub calls_spent: i64,
    /// `/allow`: who (`telegram:<id>`, `console:<name>`).
    pub decided_by: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl Model {
    /// The refusal this row remembers, when it is one.
    pub fn refusal(&self) -> Option<RefusalReason> {
        (self.verdict == Verdict::Refused).then(|| RefusalReason::parse(self.reason.as_deref().unwrap_or_default()))
    }
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
