use sea_orm_migration::prelude::*;

use crate::m20261124_000002_create_user_requests::UserRequests;

/// `user_requests.price` and `hold`: the credits held for the request and
/// whether they are still held, captured (delivered) or released (failed);
/// `limited`: the request started or joined a generation, so it counts
/// against the user's rate limit and waiting requests (a cache hit does not).
/// One column per statement: SQLite alters one thing at a time.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let add = |column: ColumnDef| Table::alter().table(UserRequests::Table).add_column(column).to_owned();
        manager.alter_table(add(ColumnDef::new(Hold::Price).big_integer().not_null().default(0).to_owned())).await?;
        manager.alter_table(add(ColumnDef::new(Hold::Hold).string_len(16).null().to_owned())).await?;
        manager.alter_table(add(ColumnDef::new(Hold::Limited).boolean().not_null().default(false).to_owned())).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_user_requests_user_limited")
                    .table(UserRequests::Table)
                    .col(UserRequests::TelegramUserId)
                    .col(Hold::Limited)
                    .col(UserRequests::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("idx_user_requests_hold").table(UserRequests::Table).col(Hold::Hold).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("idx_user_requests_hold").table(UserRequests::Table).to_owned()).await?;
        manager.drop_index(Index::drop().name("idx_user_requests_user_limited").table(UserRequests::Table).to_owned()).await?;
        for column in [Hold::Limited, Hold::Hold, Hold::Price] {
            manager.alter_table(Table::alter().table(UserRequests::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
#[allow(clippy::enum_variant_names, reason = "each variant is a column's name; `hold` is the column")]
enum Hold {
    Price,
    Hold,
    Limited,
}
