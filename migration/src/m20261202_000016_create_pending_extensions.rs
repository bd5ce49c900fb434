use sea_orm_migration::prelude::*;

/// `pending_extensions`: a user pressed "➕ Extend" under a video and the
/// bot waits for the continuation — their next text message in that chat.
/// One row per (chat, user), replaced by a newer press, deleted when the
/// continuation arrives or on /cancel. In the database so it survives
/// restarts and is seen by every bot replica.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PendingExtensions::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(PendingExtensions::ChatId).big_integer().not_null())
                    .col(ColumnDef::new(PendingExtensions::UserId).big_integer().not_null())
                    .col(ColumnDef::new(PendingExtensions::ParentId).big_integer().not_null())
                    .col(ColumnDef::new(PendingExtensions::CreatedAt).timestamp_with_time_zone().not_null())
                    .primary_key(Index::create().col(PendingExtensions::ChatId).col(PendingExtensions::UserId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(PendingExtensions::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
pub enum PendingExtensions {
    Table,
    ChatId,
    UserId,
    ParentId,
    CreatedAt,
}
