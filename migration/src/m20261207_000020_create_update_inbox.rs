use sea_orm_migration::prelude::*;

/// `update_inbox`: updates fetched by long polling and not yet handled.
/// An update is written here before Telegram is told it was received (the
/// next `getUpdates` offset), and deleted once handled; so a chat's slow
/// update (a voice message being transcribed) never holds up the next
/// fetch, and a crash loses nothing: what is left here is handled again at
/// start-up.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UpdateInbox::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(UpdateInbox::UpdateId).big_integer().not_null().primary_key())
                    .col(ColumnDef::new(UpdateInbox::Body).text().not_null())
                    .col(ColumnDef::new(UpdateInbox::ReceivedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(UpdateInbox::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum UpdateInbox {
    Table,
    UpdateId,
    Body,
    ReceivedAt,
}
