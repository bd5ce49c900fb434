use sea_orm_migration::prelude::*;

/// `user_languages`: the language of a person the bot writes to without
/// answering a request of theirs — the operators asked to approve a
/// generation (`APPROVALS=operators`). Recorded from their messages and
/// button presses (their Telegram `language_code`), one row per user.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UserLanguages::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(UserLanguages::UserId).big_integer().not_null().primary_key())
                    .col(ColumnDef::new(UserLanguages::Language).string_len(8).not_null())
                    .col(ColumnDef::new(UserLanguages::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(UserLanguages::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
pub enum UserLanguages {
    Table,
    UserId,
    Language,
    UpdatedAt,
}
