use sea_orm::entity::prelude::*;

use crate::domain::ImageDigest;

/// A photo the bot downloaded for a remix: Telegram's stable
/// `file_unique_id` → the digest of its bytes, and a `file_id` to download
/// it by again (a forwarded photo is known without downloading it; a
/// worker on another machine fetches it).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "photos")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub file_unique_id: String,
    pub digest: ImageDigest,
    pub file_id: String,
    /// `image/jpeg`, `image/png`, …
    pub mime: String,
    pub size: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
