use sea_orm_migration::prelude::*;

use crate::m20261124_000001_create_video_assets::VideoAssets;

/// `video_assets.dispatched_at`: when the job of the current generation was
/// last pushed. A pending generation whose job has not started long after
/// this is pushed again: the queue may have lost it (a Redis restart
/// without persistence, a wiped job table).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(VideoAssets::Table)
                    .add_column(ColumnDef::new(Dispatch::DispatchedAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(VideoAssets::Table).drop_column(Dispatch::DispatchedAt).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Dispatch {
    DispatchedAt,
}
