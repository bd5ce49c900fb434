use sea_orm_migration::prelude::*;

use crate::m20261124_000001_create_video_assets::VideoAssets;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UserRequests::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(UserRequests::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(UserRequests::TelegramUserId).big_integer().not_null())
                    .col(ColumnDef::new(UserRequests::ChatId).big_integer().not_null())
                    .col(ColumnDef::new(UserRequests::MessageId).big_integer().not_null())
                    .col(ColumnDef::new(UserRequests::RawText).text().not_null())
                    .col(ColumnDef::new(UserRequests::AssetId).big_integer().not_null())
                    .col(ColumnDef::new(UserRequests::Status).string_len(16).not_null())
                    .col(ColumnDef::new(UserRequests::Error).text().null())
                    .col(ColumnDef::new(UserRequests::ClaimedUntil).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(UserRequests::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(UserRequests::UpdatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(UserRequests::DeliveredAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(UserRequests::NotifiedAt).timestamp_with_time_zone().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_user_requests_asset")
                            .from(UserRequests::Table, UserRequests::AssetId)
                            .to(VideoAssets::Table, VideoAssets::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // A re-delivered Telegram update must not become a second request.
        manager
            .create_index(
                Index::create()
                    .name("uq_user_requests_chat_message")
                    .table(UserRequests::Table)
                    .col(UserRequests::ChatId)
                    .col(UserRequests::MessageId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_user_requests_asset_status")
                    .table(UserRequests::Table)
                    .col(UserRequests::AssetId)
                    .col(UserRequests::Status)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_user_requests_user")
                    .table(UserRequests::Table)
                    .col(UserRequests::TelegramUserId)
                    .col(UserRequests::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_user_requests_status").table(UserRequests::Table).col(UserRequests::Status).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(UserRequests::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
pub enum UserRequests {
    Table,
    Id,
    TelegramUserId,
    ChatId,
    MessageId,
    RawText,
    AssetId,
    Status,
    Error,
    ClaimedUntil,
    CreatedAt,
    UpdatedAt,
    DeliveredAt,
    NotifiedAt,
}
