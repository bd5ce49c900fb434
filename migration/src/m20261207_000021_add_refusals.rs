use sea_orm_migration::prelude::*;

use crate::m20261124_000001_create_video_assets::VideoAssets;

/// `refusals`: what is known about an asset key's safety, one row per
/// asset — `refused` (moderation, a blocked word or a provider's safety
/// filter said no: the next request is answered from here, with no call
/// and no charge), `allowed` (an operator's `/allow`: moderation and the
/// blocked words are skipped) or `passed` (moderation said yes: a cache
/// miss of the same key is not moderated again). `answered` counts the
/// requests answered from memory, `calls_spent` what the refused attempt
/// had cost in provider calls (each answer from memory saved that much).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Refusals::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Refusals::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(Refusals::AssetId).big_integer().not_null())
                    .col(ColumnDef::new(Refusals::Verdict).string_len(16).not_null())
                    .col(ColumnDef::new(Refusals::Source).string_len(16).null())
                    .col(ColumnDef::new(Refusals::Reason).text().null())
                    .col(ColumnDef::new(Refusals::Answered).big_integer().not_null().default(0))
                    .col(ColumnDef::new(Refusals::CallsSpent).big_integer().not_null().default(0))
                    .col(ColumnDef::new(Refusals::DecidedBy).string_len(160).null())
                    .col(ColumnDef::new(Refusals::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Refusals::UpdatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_refusals_asset")
                            .from(Refusals::Table, Refusals::AssetId)
                            .to(VideoAssets::Table, VideoAssets::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("ux_refusals_asset").table(Refusals::Table).col(Refusals::AssetId).unique().to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Refusals::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
pub enum Refusals {
    Table,
    Id,
    AssetId,
    Verdict,
    Source,
    Reason,
    Answered,
    CallsSpent,
    DecidedBy,
    CreatedAt,
    UpdatedAt,
}
