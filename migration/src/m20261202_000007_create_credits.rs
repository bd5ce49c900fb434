use sea_orm_migration::prelude::*;

/// Credits: one account per user (a cached balance, always equal to the
/// sum of the user's ledger rows), the ledger of every movement, and the
/// Stars payments — unique per `telegram_payment_charge_id`, so a payment
/// is credited (and refunded) once however often Telegram tells us.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CreditAccounts::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(CreditAccounts::UserId).big_integer().not_null().primary_key())
                    .col(ColumnDef::new(CreditAccounts::Balance).big_integer().not_null())
                    .col(ColumnDef::new(CreditAccounts::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(CreditAccounts::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CreditLedger::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(CreditLedger::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(CreditLedger::UserId).big_integer().not_null())
                    .col(ColumnDef::new(CreditLedger::Kind).string_len(16).not_null())
                    .col(ColumnDef::new(CreditLedger::Amount).big_integer().not_null())
                    .col(ColumnDef::new(CreditLedger::RequestId).big_integer().null())
                    .col(ColumnDef::new(CreditLedger::ChargeId).string_len(255).null())
                    .col(ColumnDef::new(CreditLedger::Note).text().null())
                    .col(ColumnDef::new(CreditLedger::CreatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_credit_ledger_user")
                    .table(CreditLedger::Table)
                    .col(CreditLedger::UserId)
                    .col(CreditLedger::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_credit_ledger_kind").table(CreditLedger::Table).col(CreditLedger::Kind).to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(StarPayments::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(StarPayments::ChargeId).string_len(255).not_null().primary_key())
                    .col(ColumnDef::new(StarPayments::UserId).big_integer().not_null())
                    .col(ColumnDef::new(StarPayments::Stars).big_integer().not_null())
                    .col(ColumnDef::new(StarPayments::Credits).big_integer().not_null())
                    .col(ColumnDef::new(StarPayments::Payload).text().not_null())
                    .col(ColumnDef::new(StarPayments::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(StarPayments::RefundedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(StarPayments::RefundedCredits).big_integer().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(StarPayments::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(CreditLedger::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(CreditAccounts::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
pub enum CreditAccounts {
    Table,
    UserId,
    Balance,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub enum CreditLedger {
    Table,
    Id,
    UserId,
    Kind,
    Amount,
    RequestId,
    ChargeId,
    Note,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum StarPayments {
    Table,
    ChargeId,
    UserId,
    Stars,
    Credits,
    Payload,
    CreatedAt,
    RefundedAt,
    RefundedCredits,
}
