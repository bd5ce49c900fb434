use sea_orm::entity::prelude::*;

use crate::domain::{Choices, Format, Length, Quality, UserId};

/// A user's choices (`/settings`): quality, format and length of their next
/// videos. No row: the deployment's defaults.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_choices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: UserId,
    pub quality: Quality,
    pub format: Format,
    pub length: Length,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub fn choices(&self) -> Choices {
        Choices { quality: self.quality, format: self.format, length: self.length }
    }
}
