use sea_orm_migration::prelude::*;

use crate::m20261124_000001_create_video_assets::VideoAssets;
use crate::m20261124_000002_create_user_requests::UserRequests;

/// Indexes for a million videos: no query the service runs while it serves
/// reads every asset.
///
/// - `(status, updated_at, id)`: the cache warm-up (the newest available
///   videos) and the console's lists by state, newest first, read only
///   the rows they show.
/// - `(updated_at, id)`: the replicas' look for assets cleared in the last
///   second (every 500 ms) and the console's unfiltered list.
/// - `(parent_id)`: a video's extensions (clearing, the sweep's question
///   whether an extension is being made).
/// - `(file_path)`: the sweep's question which asset a video file belongs to.
/// - `user_requests (telegram_user_id, status, id)`: `/history` (a user's
///   delivered videos, newest first) reads only that user's delivered rows.
#[derive(DeriveMigrationName)]
pub struct Migration;

const ASSET_INDEXES: [(&str, &[Scale]); 4] = [
    ("idx_video_assets_status_updated", &[Scale::Status, Scale::UpdatedAt, Scale::Id]),
    ("idx_video_assets_updated", &[Scale::UpdatedAt, Scale::Id]),
    ("idx_video_assets_parent", &[Scale::ParentId]),
    ("idx_video_assets_file_path", &[Scale::FilePath]),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, columns) in ASSET_INDEXES {
            let mut index = Index::create().name(name).table(VideoAssets::Table).if_not_exists().to_owned();
            for column in columns {
                index.col(*column);
            }
            manager.create_index(index).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_user_requests_user_status")
                    .table(UserRequests::Table)
                    .col(UserRequests::TelegramUserId)
                    .col(UserRequests::Status)
                    .col(UserRequests::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("idx_user_requests_user_status").table(UserRequests::Table).to_owned()).await?;
        for (name, _) in ASSET_INDEXES {
            manager.drop_index(Index::drop().name(name).table(VideoAssets::Table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Scale {
    Status,
    UpdatedAt,
    Id,
    ParentId,
    FilePath,
}
