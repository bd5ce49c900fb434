use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(VideoAssets::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(VideoAssets::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(VideoAssets::PromptKey).string_len(64).not_null().unique_key())
                    .col(ColumnDef::new(VideoAssets::Prompt).text().not_null())
                    .col(ColumnDef::new(VideoAssets::Status).string_len(16).not_null())
                    .col(ColumnDef::new(VideoAssets::Generation).big_integer().not_null().default(0))
                    .col(ColumnDef::new(VideoAssets::DispatchedGeneration).big_integer().not_null().default(0))
                    .col(ColumnDef::new(VideoAssets::FileId).text().null())
                    .col(ColumnDef::new(VideoAssets::FileUniqueId).text().null())
                    .col(ColumnDef::new(VideoAssets::FilePath).text().null())
                    .col(ColumnDef::new(VideoAssets::LastError).text().null())
                    .col(ColumnDef::new(VideoAssets::Attempts).integer().not_null().default(0))
                    .col(ColumnDef::new(VideoAssets::Stage).text().null())
                    .col(ColumnDef::new(VideoAssets::LeaseOwner).text().null())
                    .col(ColumnDef::new(VideoAssets::LeaseUntil).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(VideoAssets::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(VideoAssets::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_video_assets_status").table(VideoAssets::Table).col(VideoAssets::Status).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(VideoAssets::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
pub enum VideoAssets {
    Table,
    Id,
    PromptKey,
    Prompt,
    Status,
    Generation,
    DispatchedGeneration,
    FileId,
    FileUniqueId,
    FilePath,
    LastError,
    Attempts,
    Stage,
    LeaseOwner,
    LeaseUntil,
    CreatedAt,
    UpdatedAt,
}
