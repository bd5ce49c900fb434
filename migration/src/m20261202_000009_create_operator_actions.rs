use sea_orm_migration::prelude::*;

use crate::m20261124_000001_create_video_assets::VideoAssets;

/// `operator_actions`: what an operator did to an asset (a clear), who did
/// it — a Telegram operator (`telegram:<user id>`) or the console
/// (`console:<name given at login>`) — and when.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OperatorActions::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(OperatorActions::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(OperatorActions::AssetId).big_integer().not_null())
                    .col(ColumnDef::new(OperatorActions::Action).string_len(16).not_null())
                    .col(ColumnDef::new(OperatorActions::Operator).string_len(160).not_null())
                    .col(ColumnDef::new(OperatorActions::CreatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_operator_actions_asset")
                            .from(OperatorActions::Table, OperatorActions::AssetId)
                            .to(VideoAssets::Table, VideoAssets::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_operator_actions_asset")
                    .table(OperatorActions::Table)
                    .col(OperatorActions::AssetId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(OperatorActions::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
pub enum OperatorActions {
    Table,
    Id,
    AssetId,
    Action,
    Operator,
    CreatedAt,
}
