use sea_orm_migration::prelude::*;

use crate::m20261124_000001_create_video_assets::VideoAssets;

/// An extension is an asset of its own: `video_assets.parent_id` is the
/// asset whose video it continues (null for a prompt's own video) and
/// `extension_depth` how many extensions deep it is (0 for a prompt's own
/// video, the parent's depth + 1 for an extension), bounded by
/// `MAX_EXTENSIONS`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(VideoAssets::Table)
                    .add_column(ColumnDef::new(Extension::ParentId).big_integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(VideoAssets::Table)
                    .add_column(ColumnDef::new(Extension::ExtensionDepth).integer().not_null().default(0))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(VideoAssets::Table).drop_column(Extension::ExtensionDepth).to_owned()).await?;
        manager.alter_table(Table::alter().table(VideoAssets::Table).drop_column(Extension::ParentId).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Extension {
    ParentId,
    ExtensionDepth,
}
