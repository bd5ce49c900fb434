use sea_orm_migration::prelude::*;

use crate::m20261124_000002_create_user_requests::UserRequests;

/// `user_requests.progress_message_id`: the "being made" note the bot sent
/// for a waiting request, edited in place as the generation progresses.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(UserRequests::Table)
                    .add_column(ColumnDef::new(ProgressMessage::ProgressMessageId).big_integer().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(UserRequests::Table).drop_column(ProgressMessage::ProgressMessageId).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ProgressMessage {
    ProgressMessageId,
}
