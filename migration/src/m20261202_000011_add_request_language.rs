use sea_orm_migration::prelude::*;

use crate::m20261124_000002_create_user_requests::UserRequests;

/// `user_requests.language`: the language of the user who asked (`en`,
/// `ru`), so texts sent later — notes, progress edits, the caption,
/// failure notices — are in it. Requests recorded before it count as English.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(UserRequests::Table)
                    .add_column(ColumnDef::new(Language::Language).string_len(8).not_null().default("en"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(UserRequests::Table).drop_column(Language::Language).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Language {
    Language,
}
