use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

/// The catalog search (similar videos offered, inline mode):
/// - `search_terms`: the postings — one row per (term, asset) for every
///   available prompt's own video (no remix, no extension); `term` is the
///   64-bit id of a word stem, `recipe` the 64-bit id of the asset's
///   choices and generator. Primary key (term, asset_id) — on SQLite a
///   `WITHOUT ROWID` table, so the key is the table — and an index on
///   (term, recipe, asset_id) for "same choices" lookups: a query reads
///   only the postings of its own words, never all assets.
/// - `search_state`: how far the start-up re-index of rows made before
///   this migration got (`name` = `reindexed_upto`, `value` = asset id).
/// - `similar_offers`: a prompt waiting for the user's choice between a
///   similar video (▶️) and their own wording (✨).
/// - `inline_starts`: a prompt typed in inline mode, kept under the
///   `start_parameter` of the answer's button (the prompt's digest).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Sqlite => {
                db.execute_unprepared(
                    "CREATE TABLE IF NOT EXISTS search_terms (term INTEGER NOT NULL, asset_id INTEGER NOT NULL, \
                     recipe INTEGER NOT NULL, PRIMARY KEY (term, asset_id)) WITHOUT ROWID",
                )
                .await?;
            }
            _ => {
                db.execute_unprepared(
                    "CREATE TABLE IF NOT EXISTS search_terms (term BIGINT NOT NULL, asset_id BIGINT NOT NULL, \
                     recipe BIGINT NOT NULL, PRIMARY KEY (term, asset_id))",
                )
                .await?;
            }
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_search_terms_recipe")
                    .table(SearchTerms::Table)
                    .col(SearchTerms::Term)
                    .col(SearchTerms::Recipe)
                    .col(SearchTerms::AssetId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SearchState::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(SearchState::Name).string_len(32).not_null().primary_key())
                    .col(ColumnDef::new(SearchState::Value).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SimilarOffers::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(SimilarOffers::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(SimilarOffers::UserId).big_integer().not_null())
                    .col(ColumnDef::new(SimilarOffers::ChatId).big_integer().not_null())
                    .col(ColumnDef::new(SimilarOffers::MessageId).big_integer().not_null())
                    .col(ColumnDef::new(SimilarOffers::RawText).text().not_null())
                    .col(ColumnDef::new(SimilarOffers::Language).string_len(8).not_null())
                    .col(ColumnDef::new(SimilarOffers::AssetId).big_integer().not_null())
                    .col(ColumnDef::new(SimilarOffers::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(SimilarOffers::AnsweredAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(InlineStarts::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(InlineStarts::Parameter).string_len(64).not_null().primary_key())
                    .col(ColumnDef::new(InlineStarts::Prompt).text().not_null())
                    .col(ColumnDef::new(InlineStarts::CreatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SearchTerms::Table.into_iden(),
            SearchState::Table.into_iden(),
            SimilarOffers::Table.into_iden(),
            InlineStarts::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum SearchTerms {
    Table,
    Term,
    Recipe,
    AssetId,
}

#[derive(DeriveIden)]
enum SearchState {
    Table,
    Name,
    Value,
}

#[derive(DeriveIden)]
enum SimilarOffers {
    Table,
    Id,
    UserId,
    ChatId,
    MessageId,
    RawText,
    Language,
    AssetId,
    CreatedAt,
    AnsweredAt,
}

#[derive(DeriveIden)]
enum InlineStarts {
    Table,
    Parameter,
    Prompt,
    CreatedAt,
}
