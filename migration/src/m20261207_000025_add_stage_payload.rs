use sea_orm_migration::prelude::*;

/// `generation_stages.payload`: the bytes of a finished step that no
/// provider can hand out again (the voice-over: the speech call answers
/// with the audio itself, no task to fetch it from later). A takeover on
/// another machine, where the step's file is not, writes the file back
/// from here instead of paying for the call again. Emptied once the
/// generation's intermediate files are swept.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(GenerationStages::Table)
                    .add_column(ColumnDef::new(GenerationStages::Payload).blob().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(GenerationStages::Table).drop_column(GenerationStages::Payload).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum GenerationStages {
    Table,
    Payload,
}
