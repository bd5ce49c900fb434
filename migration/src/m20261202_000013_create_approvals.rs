use sea_orm_migration::prelude::*;

use crate::m20261124_000001_create_video_assets::VideoAssets;

/// `approvals`: one row per gate (script, images, clips) of a generation
/// that waits for a person (`APPROVALS` on). The row is the truth of the
/// wait: it survives restarts, its state moves from `pending` exactly once
/// (a conditional update), and the reconciler times it out after its
/// `deadline`. `messages` lists the (chat, message) pairs of the messages
/// whose inline keyboard decides it, so each can show the decision.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Approvals::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Approvals::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(Approvals::AssetId).big_integer().not_null())
                    .col(ColumnDef::new(Approvals::Generation).big_integer().not_null())
                    .col(ColumnDef::new(Approvals::Gate).string_len(16).not_null())
                    .col(ColumnDef::new(Approvals::State).string_len(16).not_null())
                    // the requester (APPROVALS=requester); null: the operators decide
                    .col(ColumnDef::new(Approvals::ApproverUserId).big_integer().null())
                    .col(ColumnDef::new(Approvals::ApproverChatId).big_integer().null())
                    .col(ColumnDef::new(Approvals::Messages).text().null())
                    .col(ColumnDef::new(Approvals::PromptedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Approvals::DecidedBy).big_integer().null())
                    .col(ColumnDef::new(Approvals::DecidedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Approvals::Deadline).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Approvals::CreatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_approvals_asset")
                            .from(Approvals::Table, Approvals::AssetId)
                            .to(VideoAssets::Table, VideoAssets::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_approvals_gate")
                    .table(Approvals::Table)
                    .col(Approvals::AssetId)
                    .col(Approvals::Generation)
                    .col(Approvals::Gate)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("idx_approvals_state").table(Approvals::Table).col(Approvals::State).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Approvals::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
pub enum Approvals {
    Table,
    Id,
    AssetId,
    Generation,
    Gate,
    State,
    ApproverUserId,
    ApproverChatId,
    Messages,
    PromptedAt,
    DecidedBy,
    DecidedAt,
    Deadline,
    CreatedAt,
}
