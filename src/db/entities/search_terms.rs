use sea_orm::entity::prelude::*;

/// One posting of the catalog search: the word stem `term` (its 64-bit
/// id) is in the prompt of available asset `asset_id`, made with `recipe`
/// (the 64-bit id of its choices and generator).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "search_terms")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub term: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub asset_id: i64,
    pub recipe: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
