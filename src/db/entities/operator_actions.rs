use sea_orm::entity::prelude::*;

use crate::domain::AssetId;

/// What an operator did to an asset, and who.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "operator_actions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub asset_id: AssetId,
    /// "clear".
    pub action: String,
    /// `telegram:<user id>` or `console:<name>` (see `domain::Actor`).
    pub operator: String,
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
