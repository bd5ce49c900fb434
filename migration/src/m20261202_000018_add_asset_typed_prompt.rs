use sea_orm_migration::prelude::*;

use crate::m20261124_000001_create_video_assets::VideoAssets;

/// `video_assets.typed_prompt`: the prompt as the request that started the
/// asset's generation typed it (trimmed), for what is drawn in the video,
/// given to the providers and quoted where no requester of its own is at
/// hand (the shared upload's caption). `prompt` stays the normalized key's
/// text. Assets recorded before it take their first request's text.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(VideoAssets::Table).add_column(ColumnDef::new(Typed::TypedPrompt).text().null()).to_owned(),
            )
            .await?;
        // Plain SQL both SQLite and PostgreSQL run: the earliest request's text.
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE video_assets SET typed_prompt = (SELECT TRIM(r.raw_text) FROM user_requests r \
                 WHERE r.asset_id = video_assets.id ORDER BY r.id LIMIT 1) WHERE typed_prompt IS NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(VideoAssets::Table).drop_column(Typed::TypedPrompt).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Typed {
    TypedPrompt,
}
