use sea_orm_migration::prelude::*;

use crate::m20261124_000001_create_video_assets::VideoAssets;

/// `generation_stages`: one row per step of a staged generation (script,
/// per-segment prompts, images, clips, voice-over, assembly), so that a
/// re-run resumes from the last finished step and polls a provider task it
/// already paid for instead of submitting it again.
///
/// `provider_calls`: one row per billable provider call, for costs in
/// /status and /stats.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(GenerationStages::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(GenerationStages::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(GenerationStages::AssetId).big_integer().not_null())
                    .col(ColumnDef::new(GenerationStages::Generation).big_integer().not_null())
                    .col(ColumnDef::new(GenerationStages::Kind).string_len(24).not_null())
                    // -1 for the stages of the whole asset (script, voice, assembly)
                    .col(ColumnDef::new(GenerationStages::Segment).integer().not_null())
                    .col(ColumnDef::new(GenerationStages::Input).text().null())
                    .col(ColumnDef::new(GenerationStages::Provider).string_len(32).null())
                    .col(ColumnDef::new(GenerationStages::ProviderTaskId).text().null())
                    .col(ColumnDef::new(GenerationStages::SubmittedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(GenerationStages::Output).text().null())
                    .col(ColumnDef::new(GenerationStages::Status).string_len(16).not_null())
                    .col(ColumnDef::new(GenerationStages::Error).text().null())
                    .col(ColumnDef::new(GenerationStages::Attempts).integer().not_null().default(0))
                    .col(ColumnDef::new(GenerationStages::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(GenerationStages::UpdatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_generation_stages_asset")
                            .from(GenerationStages::Table, GenerationStages::AssetId)
                            .to(VideoAssets::Table, VideoAssets::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_generation_stages_step")
                    .table(GenerationStages::Table)
                    .col(GenerationStages::AssetId)
                    .col(GenerationStages::Generation)
                    .col(GenerationStages::Kind)
                    .col(GenerationStages::Segment)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProviderCalls::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(ProviderCalls::Id).big_integer().not_null().auto_increment().primary_key())
                    // null for calls made for no asset (transcribing a voice message)
                    .col(ColumnDef::new(ProviderCalls::AssetId).big_integer().null())
                    .col(ColumnDef::new(ProviderCalls::Provider).string_len(32).not_null())
                    .col(ColumnDef::new(ProviderCalls::Operation).string_len(32).not_null())
                    .col(ColumnDef::new(ProviderCalls::Seconds).double().not_null())
                    .col(ColumnDef::new(ProviderCalls::CostMicros).big_integer().not_null())
                    .col(ColumnDef::new(ProviderCalls::Ok).boolean().not_null())
                    .col(ColumnDef::new(ProviderCalls::CreatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_provider_calls_asset")
                            .from(ProviderCalls::Table, ProviderCalls::AssetId)
                            .to(VideoAssets::Table, VideoAssets::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_provider_calls_asset")
                    .table(ProviderCalls::Table)
                    .col(ProviderCalls::AssetId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ProviderCalls::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(GenerationStages::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
pub enum GenerationStages {
    Table,
    Id,
    AssetId,
    Generation,
    Kind,
    Segment,
    Input,
    Provider,
    ProviderTaskId,
    SubmittedAt,
    Output,
    Status,
    Error,
    Attempts,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub enum ProviderCalls {
    Table,
    Id,
    AssetId,
    Provider,
    Operation,
    Seconds,
    CostMicros,
    Ok,
    CreatedAt,
}
