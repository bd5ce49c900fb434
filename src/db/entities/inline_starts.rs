use sea_orm::entity::prelude::*;

/// A prompt typed in inline mode that matched nothing exactly, kept under
/// the `start_parameter` of the answer's button: `/start <parameter>` in
/// the private chat asks for it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inline_starts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub parameter: String,
    pub prompt: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
