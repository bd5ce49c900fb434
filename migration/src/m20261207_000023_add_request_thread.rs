use sea_orm_migration::prelude::*;

use crate::m20261124_000002_create_user_requests::UserRequests;

/// `user_requests.message_thread_id`: the forum topic the request was asked
/// in, so its answers (the video, notes, a failure notice) go to that
/// topic. Null for private chats, plain groups and a forum's General topic
/// (which is addressed by leaving the thread out).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(UserRequests::Table)
                    .add_column(ColumnDef::new(Thread::MessageThreadId).big_integer().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(UserRequests::Table).drop_column(Thread::MessageThreadId).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Thread {
    MessageThreadId,
}
