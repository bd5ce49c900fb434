use sea_orm_migration::prelude::*;

use crate::m20261124_000002_create_user_requests::UserRequests;

/// `user_requests.paid_broadcast`: the video reached the user through a
/// paid broadcast send (`allow_paid_broadcast`, 0.1 Stars), for /stats.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(UserRequests::Table)
                    .add_column(ColumnDef::new(Paid::PaidBroadcast).boolean().not_null().default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(UserRequests::Table).drop_column(Paid::PaidBroadcast).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Paid {
    PaidBroadcast,
}
