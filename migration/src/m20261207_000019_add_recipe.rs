use sea_orm_migration::prelude::*;

use crate::m20261124_000001_create_video_assets::VideoAssets;

/// What a video is made from joins its key.
///
/// - `video_assets`: the recipe (`quality`, `format`, `length`, `generator`,
///   and for a remix `image_digest`), `key_version` (1: the previous
///   release's key, the digest of the normalized prompt alone; 2: the
///   recipe's key), and what the video was made with (`made_model`,
///   `made_aspect_ratio`, `made_duration_secs`, `made_resolution`), and
///   `prompt_digest` (the digest of the normalized prompt alone, indexed:
///   how operators find every recipe's asset of a prompt). Rows of
///   the previous release keep key version 1 here; the service re-keys them
///   at start-up as the deployment's default recipe (only it knows
///   `GENERATOR` and `DEFAULT_*`), so every cached prompt stays a hit.
/// - `user_choices`: each user's quality, format and length (`/settings`).
/// - `photos`: a photo's `file_unique_id` → the digest of its bytes and a
///   `file_id` to download it by (a forwarded photo is a hit without
///   downloading it again; a worker on another machine fetches it).
/// - `pending_remixes`: a photo sent without a caption waits for its words.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        let columns = [
            ColumnDef::new(Recipe::KeyVersion).integer().not_null().default(1).to_owned(),
            ColumnDef::new(Recipe::Quality).string_len(16).not_null().default("fast").to_owned(),
            ColumnDef::new(Recipe::Format).string_len(16).not_null().default("16:9").to_owned(),
            ColumnDef::new(Recipe::Length).string_len(16).not_null().default("short").to_owned(),
            ColumnDef::new(Recipe::Generator).string_len(16).not_null().default("local").to_owned(),
            ColumnDef::new(Recipe::ImageDigest).string_len(64).null().to_owned(),
            ColumnDef::new(Recipe::MadeModel).text().null().to_owned(),
            ColumnDef::new(Recipe::MadeAspectRatio).string_len(16).null().to_owned(),
            ColumnDef::new(Recipe::MadeDurationSecs).integer().null().to_owned(),
            ColumnDef::new(Recipe::MadeResolution).string_len(16).null().to_owned(),
            ColumnDef::new(Recipe::PromptDigest).string_len(64).null().to_owned(),
        ];
        for mut column in columns {
            manager.alter_table(Table::alter().table(VideoAssets::Table).add_column(&mut column).to_owned()).await?;
        }
        // Operators find a prompt's assets (every recipe) by the digest of
        // its normalized text (an index on the text itself would refuse a
        // long prompt on PostgreSQL).
        manager
            .create_index(
                Index::create()
                    .name("idx_video_assets_prompt_digest")
                    .table(VideoAssets::Table)
                    .col(Recipe::PromptDigest)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_video_assets_key_version")
                    .table(VideoAssets::Table)
                    .col(Recipe::KeyVersion)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UserChoices::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(UserChoices::UserId).big_integer().not_null().primary_key())
                    .col(ColumnDef::new(UserChoices::Quality).string_len(16).not_null())
                    .col(ColumnDef::new(UserChoices::Format).string_len(16).not_null())
                    .col(ColumnDef::new(UserChoices::Length).string_len(16).not_null())
                    .col(ColumnDef::new(UserChoices::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Photos::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Photos::FileUniqueId).string_len(128).not_null().primary_key())
                    .col(ColumnDef::new(Photos::Digest).string_len(64).not_null())
                    .col(ColumnDef::new(Photos::FileId).text().not_null())
                    .col(ColumnDef::new(Photos::Mime).string_len(64).not_null())
                    .col(ColumnDef::new(Photos::Size).big_integer().not_null())
                    .col(ColumnDef::new(Photos::CreatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_photos_digest").table(Photos::Table).col(Photos::Digest).if_not_exists().to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PendingRemixes::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(PendingRemixes::ChatId).big_integer().not_null())
                    .col(ColumnDef::new(PendingRemixes::UserId).big_integer().not_null())
                    .col(ColumnDef::new(PendingRemixes::Digest).string_len(64).not_null())
                    .col(ColumnDef::new(PendingRemixes::CreatedAt).timestamp_with_time_zone().not_null())
                    .primary_key(Index::create().col(PendingRemixes::ChatId).col(PendingRemixes::UserId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(PendingRemixes::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Photos::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(UserChoices::Table).to_owned()).await?;
        manager.drop_index(Index::drop().name("idx_video_assets_key_version").table(VideoAssets::Table).to_owned()).await?;
        manager.drop_index(Index::drop().name("idx_video_assets_prompt_digest").table(VideoAssets::Table).to_owned()).await?;
        for column in [
            Recipe::PromptDigest,
            Recipe::MadeResolution,
            Recipe::MadeDurationSecs,
            Recipe::MadeAspectRatio,
            Recipe::MadeModel,
            Recipe::ImageDigest,
            Recipe::Generator,
            Recipe::Length,
            Recipe::Format,
            Recipe::Quality,
            Recipe::KeyVersion,
        ] {
            manager.alter_table(Table::alter().table(VideoAssets::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Recipe {
    KeyVersion,
    Quality,
    Format,
    Length,
    Generator,
    ImageDigest,
    MadeModel,
    MadeAspectRatio,
    MadeDurationSecs,
    MadeResolution,
    PromptDigest,
}

#[derive(DeriveIden)]
enum UserChoices {
    Table,
    UserId,
    Quality,
    Format,
    Length,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Photos {
    Table,
    FileUniqueId,
    Digest,
    FileId,
    Mime,
    Size,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PendingRemixes {
    Table,
    ChatId,
    UserId,
    Digest,
    CreatedAt,
}
